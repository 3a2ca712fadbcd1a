"""What the runbooks' cells call: one function per step, each showing what it did.

The notebooks do `from lvmkit.runbooks import steps` and call `steps.X(...)`: this module
gives every runbook its names. The backup's, the restore's and verify's steps are here;
the shared flow (prepare, plan, approve, execute), the tables, the proofs, the group's
steps and the overflow drill live in modules of their own and are named here too.

The functions act through lvmkit's public pieces (prepare, plan, execute, verify) and a
Host, which sends argv lists to the target and journals them; none starts a process of
its own. Each raises an LvmkitError when its step failed, after undoing what the step
did, so that papermill records the failing cell and stops there.
"""

from __future__ import annotations

import json
from datetime import datetime

from lvmkit.archive import signature
from lvmkit.core.host import Host
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.core.sizes import human
from lvmkit.lvm.guard import GuardSettings
from lvmkit.lvm.reports import get_lv
from lvmkit.lvm.snapshot import remove_if_ours, run_tag
from lvmkit.ops import backup as backup_module
from lvmkit.ops import restore as restore_module
from lvmkit.ops import verify as verify_module
from lvmkit.ops.backup import BackupRequest, BackupRun
from lvmkit.ops.restore import RestoreRequest, RestoreRun
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.drill import (
    DRILL_ROOT,
    DRILL_TAG,
    FLOOD,
    Drill,
    backup_during_flood,
    flood,
    lvm_report,
    make_throwaway_volume,
    remove_hand_snapshot,
    snapshot_by_hand,
    tear_down,
)
from lvmkit.runbooks.flow import (
    StepFailed,
    call_with,
    check_approval,
    connect,
    executed,
    keep,
    log,
    planned,
    prepared,
)
from lvmkit.runbooks.group_steps import execute_group, freeze_window, group_summary, plan_group, prepare_group
from lvmkit.runbooks.job_steps import connect_job, load_job, run_scheduled_job
from lvmkit.runbooks.plot_steps import drill_usage, recovery_trend, snapshot_usage
from lvmkit.runbooks.proofs import check_nothing_left
from lvmkit.runbooks.rebuild_steps import execute_rebuild, plan_rebuild, prepare_rebuild, rebuild_report
from lvmkit.runbooks.tables import commands, lv_table, named, plan_table, preflight_table, records_table

# Every name a notebook, the planners or the tests take from steps.
__all__ = [
    "DRILL_ROOT", "DRILL_TAG", "FLOOD", "Drill", "StepFailed", "backup_during_flood", "backup_summary", "call_with",
    "check_approval", "check_nothing_left", "commands", "connect", "connect_job", "drill_usage", "execute_backup",
    "execute_group", "execute_rebuild", "execute_restore", "flood", "freeze_window", "group_summary", "keep", "load_job", "log",
    "lv_table", "lvm_report", "make_throwaway_volume", "plan_backup", "plan_group", "plan_rebuild", "plan_restore",
    "plan_table", "preflight_table", "prepare_backup", "prepare_group", "prepare_rebuild",
    "prepare_rehearsal_restore", "prepare_restore", "prove_restore", "rebuild_report", "records_table",
    "recovery_report", "recovery_trend", "remove_hand_snapshot", "run_scheduled_job", "snapshot_by_hand",
    "snapshot_usage", "tear_down",
    "tear_down_scratch", "verify_archive",
]


# --- backup ------------------------------------------------------------------------------


def prepare_backup(host: Host, origin: str, dest: str, engine: str = "fsarchiver", snapshot_size: str = "",
                   autoextend: bool = False, keep_snapshot_on_failure: bool = False,
                   engine_options: dict | None = None, run_id: str = "", *,
                   guard: GuardSettings | None = None, display: bool = True) -> BackupRun:
    """Run the backup's preflight checks (read-only) and show them; raise if one fails."""
    request = BackupRequest(
        origin=origin, dest=dest, engine=engine, snapshot_size=snapshot_size or None,
        engine_options={str(k): str(v) for k, v in (engine_options or {}).items()},
        keep_snapshot_on_failure=keep_snapshot_on_failure,
        guard=guard or GuardSettings(autoextend=autoextend),
    )
    return prepared(host, lambda: backup_module.prepare(host, request, run_id=run_id or None, log=log), display)


def plan_backup(run: BackupRun, approved_plan: str = "") -> Plan:
    """The backup's plan, shown step by step; checked against the approved plan if there is one."""
    return planned(backup_module.plan(run), approved_plan)


def execute_backup(host: Host, run: BackupRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the plan (it takes the origin's lock first); on failure the completed steps are undone."""
    return executed(backup_module.execute_run, host, run, the_plan)


def backup_summary(run: BackupRun) -> dict:
    """The archive set's manifest in short: what was read, what was written, how to check it."""
    m = run.manifest
    snapshot = m.snapshot
    size = "thin (from the pool)" if snapshot.thin else human(snapshot.size_bytes)
    grown = ", ".join(f"{human(e.from_bytes)} -> {human(e.to_bytes)} at {e.used_percent:.0f}%"
                      for e in snapshot.extensions) or "never"
    rows = [
        ["archive set", run.paths.final],
        ["origin", f"{m.origin.vg}/{m.origin.lv} ({m.filesystem.type}, {human(m.origin.size_bytes)})"],
        ["engine", f"{named(m.engine.name, m.engine.version)} ({m.engine.level} level), "
                   f"options {json.dumps(m.engine.options, sort_keys=True)}"],
        ["snapshot", f"{snapshot.name}, {size}, peak {snapshot.peak_percent or 0:.1f}% used, grown: {grown}"],
        ["read", human(m.bytes_read) if m.bytes_read is not None else "unknown"],
        ["archive", human(m.bytes_written)],
        ["content digest", f"{m.digest.files} files, {human(m.digest.bytes)}, sha256 {m.digest.sha256}"],
        ["started", m.started],
        ["ended", m.ended],
        *[[f"sha256 {name}", digest] for name, digest in sorted(m.checksums.items())],
        ["check it anywhere", f"cd {run.paths.final} && sha256sum -c SHA256SUMS"],
    ]
    show(Table(["", ""], rows, "the archive set"))
    return m.to_dict()


# --- restore -----------------------------------------------------------------------------


def prepare_restore(host: Host, archive: str, to: str = "", confirm: str = "", to_new: str = "",
                    scratch: bool = False, run_id: str = "", *, display: bool = True) -> RestoreRun:
    """Check the archive set (manifest, every checksum) and the target before anything changes."""
    request = RestoreRequest(archive, to=to or None, confirm=confirm or None, to_new=to_new or None, scratch=scratch,
                             trust=signature.trust_file(None))  # the default allowed_signers, when configured
    return prepared(host, lambda: restore_module.prepare(host, request, run_id=run_id or None), display)


def plan_restore(run: RestoreRun, approved_plan: str = "") -> Plan:
    return planned(restore_module.plan(run), approved_plan)


def execute_restore(host: Host, run: RestoreRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the restore (it takes the target's lock first); its duration is the recovery time."""
    return executed(restore_module.execute_run, host, run, the_plan)


def prove_restore(host: Host, run: RestoreRun) -> None:
    """The restore is proved when the restored content equals the archived digest, file by file."""
    comparison = run.comparison
    show(Table(["", ""], [["restored onto", f"{run.vg}/{run.lv}"],
                          ["archived digest", f"{comparison.expected_count} paths"],
                          ["restored content", f"{comparison.actual_count} paths"],
                          ["result", comparison.summary()],
                          ["restore took", f"{run.duration_s:.1f} s"]],
               "content-digest proof"))
    if not comparison.equal:
        if run.request.scratch:
            _remove_scratch(host, run)
        raise StepFailed(f"the restored content differs from the archive: {comparison.summary()}")


def prepare_rehearsal_restore(host: Host, backup_run: BackupRun, scratch_name: str = "") -> RestoreRun:
    """The rehearsal's restore: the new archive set onto a scratch volume in the origin's group."""
    name = scratch_name or f"lvmkit-rehearsal-{backup_run.run_id}"
    target = f"{backup_run.origin.vg_name}/{name}"
    return prepare_restore(host, backup_run.paths.final, to_new=target, scratch=True)


def recovery_report(backup_run: BackupRun, restore_run: RestoreRun, record_dir: str = "") -> dict:
    """RTO: how long the restore took. RPO: how old the restored data was when it was back."""
    data_as_of = backup_run.manifest.started  # the snapshot was taken right after
    restored_at = restore_run.result["finished"]
    rpo = (datetime.fromisoformat(restored_at) - datetime.fromisoformat(data_as_of)).total_seconds()
    report = {
        "origin": f"{backup_run.origin.vg_name}/{backup_run.origin.name}",
        "archive": backup_run.paths.final,
        "engine": backup_run.engine.name,
        "restored_to": f"{restore_run.vg}/{restore_run.lv}",
        "proved": restore_run.comparison.equal,
        "paths_compared": restore_run.comparison.expected_count,
        "rto_s": restore_run.duration_s,
        "rpo_s": round(rpo, 3),
        "data_as_of": data_as_of,
        "restored_at": restored_at,
    }
    show(Table(["", ""], [
        ["RTO (recovery time)", f"{report['rto_s']:.1f} s: create the volume, restore, prove the content"],
        ["RPO (age of the restored data)", f"{report['rpo_s']:.1f} s: data as of {data_as_of}, back at {restored_at}"],
        ["proved", f"{report['proved']} ({report['paths_compared']} paths equal)"],
        ["archive", report["archive"]],
        ["restored to", report["restored_to"]],
    ], "recovery report"))
    keep(record_dir, "rehearsal.json", report)
    return report


def tear_down_scratch(host: Host, restore_run: RestoreRun) -> None:
    """Remove the rehearsal's scratch volume (only if it carries this run's tag)."""
    _remove_scratch(host, restore_run)
    left = get_lv(host, restore_run.vg, restore_run.lv)
    show(Table(["volume", "still there"], [[f"{restore_run.vg}/{restore_run.lv}", "yes" if left else "no"]],
               "teardown"))
    if left is not None:
        raise StepFailed(f"{restore_run.vg}/{restore_run.lv} is still there")


def _remove_scratch(host: Host, run: RestoreRun) -> None:
    remove_if_ours(host, run.vg, run.lv, run_tag(run.run_id))


# --- verify ------------------------------------------------------------------------------


def verify_archive(host: Host, archive: str, deep: bool = False, scratch_vg: str = "") -> verify_module.VerifyResult:
    """Checksums, manifest, the engine's own test, the digest; deep: a restore into a scratch volume."""
    result = verify_module.verify(host, archive, deep=deep, scratch_vg=scratch_vg or None, log=log,
                                  trust=signature.trust_file(None))
    show(preflight_table(result.checks.checks, f"verification of {archive}{' (deep)' if deep else ''}"))
    if not result.passed:
        failed = [c for c in result.checks.checks if not c.passed]
        raise StepFailed("verification failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
    return result
