"""The bare-metal rehearsal's steps: rebuild every volume on a blank disk, prove each, time it."""

from __future__ import annotations

from lvmkit.core.host import Host
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.ops import rebuild as rebuild_module
from lvmkit.ops.rebuild import RebuildRequest, RebuildRun
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.flow import StepFailed, executed, planned, prepared


def prepare_rebuild(host: Host, source_dir: str, device: str, vg: str, new_uuids: bool = False,
                    run_id: str = "", *, display: bool = True) -> RebuildRun:
    """Choose each volume's newest verified set and check the new disk; nothing changes."""
    request = RebuildRequest(source_dir, device, vg, new_uuids=new_uuids)
    run = prepared(host, lambda: rebuild_module.prepare(host, request, run_id=run_id or None), display)
    if display:
        show(Table(["volume", "archive set", "engine", "size", "thin pool"],
                   [[s.volume, s.path, s.manifest.engine.name, s.layout["volume"]["size"],
                     s.layout["volume"]["pool"] or ""] for s in (v.source for v in run.volumes)],
                   "what will be rebuilt"))
    return run


def plan_rebuild(run: RebuildRun, approved_plan: str = "") -> Plan:
    return planned(rebuild_module.plan(run), approved_plan)


def execute_rebuild(host: Host, run: RebuildRun, the_plan: Plan) -> list[StepRecord]:
    """Create the PV, VG, pools and volumes, restore and prove each; undone if a step fails."""
    return executed(rebuild_module.execute_run, host, run, the_plan)


def rebuild_report(run: RebuildRun) -> dict:
    """Recovery time per volume and in total, each volume's proof, and the fstab lines to use."""
    show(Table(["volume", "rebuilt as", "recovery time (s)", "proof", "filesystem UUID"],
               [[v.source.volume, v.target, f"{v.duration_s:.1f}",
                 v.restore.comparison.summary() if v.restore.comparison else "not proved", v.uuid or ""]
                for v in run.volumes] + [["total", run.request.vg, f"{run.duration_s:.1f}", "", ""]],
               "recovery time"))
    show(Table(["lines for /etc/fstab"], [[line] for line in run.fstab_lines()]))
    if not run.proved:
        raise StepFailed("a rebuilt volume's content differs from its archive set")
    return run.as_dict()
