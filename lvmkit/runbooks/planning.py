"""The plans of the runbooks that change storage, computed as their notebooks compute them.

A runbook that changes storage has a planner: it runs the same preparation function its
notebook's preflight cell calls (read-only), with the run's parameters and the approved
run id (the names of snapshots, mounts and archive sets derive from it), and returns
lvmkit's Plan, whose sha256 a change ticket approves. Runbooks that only read (verify) or
that are exercises (the overflow drill) have none.
"""

from __future__ import annotations

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.core.plan import Plan
from lvmkit.core.preflight import Preflight
from lvmkit.ops import backup as backup_module
from lvmkit.ops import group as group_module
from lvmkit.ops import rebuild as rebuild_module
from lvmkit.ops import restore as restore_module
from lvmkit.runbooks import steps


def _backup(host: Host, values: dict, run_id: str) -> tuple[Plan, Preflight]:
    run = steps.call_with(steps.prepare_backup, values, host=host, run_id=run_id, display=False)
    return backup_module.plan(run), run.preflight


def _restore(host: Host, values: dict, run_id: str) -> tuple[Plan, Preflight]:
    run = steps.call_with(steps.prepare_restore, values, host=host, run_id=run_id, display=False)
    return restore_module.plan(run), run.preflight


def _group(host: Host, values: dict, run_id: str) -> tuple[Plan, Preflight]:
    run = steps.call_with(steps.prepare_group, values, host=host, run_id=run_id, display=False)
    return group_module.plan(run), run.preflight


def _rebuild(host: Host, values: dict, run_id: str) -> tuple[Plan, Preflight]:
    run = steps.call_with(steps.prepare_rebuild, values, host=host, run_id=run_id, display=False)
    return rebuild_module.plan(run), run.preflight


# The DR rehearsal's restore reads the archive set its backup makes: only the backup can be
# planned ahead, and it is what the approval covers.
PLANNERS = {"backup": _backup, "restore": _restore, "dr-rehearsal": _backup, "group-backup": _group,
            "postgresql-backup": _group, "bare-metal-rehearsal": _rebuild}


def has_plan(runbook: str) -> bool:
    return runbook in PLANNERS


def compute(runbook: str, host: Host, values: dict, run_id: str) -> tuple[Plan, Preflight]:
    planner = PLANNERS.get(runbook)
    if planner is None:
        raise UsageError(f"runbook {runbook} has no plan to approve (runbooks with one: {', '.join(PLANNERS)})")
    return planner(host, values, run_id)
