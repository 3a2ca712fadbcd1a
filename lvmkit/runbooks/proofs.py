"""What the runbooks prove after a run: nothing it made is left behind."""

from __future__ import annotations

from lvmkit.core.host import Host
from lvmkit.core.runs import RUN_ROOT
from lvmkit.lvm.reports import list_lvs
from lvmkit.lvm.snapshot import run_tag
from lvmkit.ops.backup import BackupRun
from lvmkit.ops.group import GroupRun
from lvmkit.ops.restore import RestoreRun
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.flow import StepFailed


def check_nothing_left(host: Host, run: BackupRun | RestoreRun | GroupRun) -> None:
    """Prove the run cleaned up: no volume with its run tag, no mount under its run directory;
    for a group, also no member still suspended and no watchdog still waiting."""
    if isinstance(run, GroupRun):
        vgs = sorted({m.origin.vg_name for m in run.members})
    else:
        vgs = [run.vg if isinstance(run, RestoreRun) else run.origin.vg_name]
    tag = run_tag(run.run_id)
    # A restore's target is what the operator asked for, not a leftover (unless it is a scratch volume).
    wanted = f"{run.vg}/{run.lv}" if isinstance(run, RestoreRun) and not run.request.scratch else None
    present = [v for vg in vgs for v in list_lvs(host, vg)]
    volumes = [v.full_name for v in present if tag in v.tags and v.full_name != wanted]
    mounts = [m for m in mount_targets(host) if m.startswith(f"{RUN_ROOT}/{run.run_id}/")]
    rows = [[f"volumes tagged {tag}", ", ".join(volumes) or "none"],
            [f"mounts under {RUN_ROOT}/{run.run_id}/", ", ".join(mounts) or "none"]]
    left = volumes + mounts
    if isinstance(run, GroupRun):
        members = {f"{m.origin.vg_name}/{m.origin.name}" for m in run.members}
        # A member left suspended would block its application's writers for good.
        suspended = [v.full_name for v in present if v.full_name in members and "suspended" in v.attr.state]
        pidfile = run.watchdog_files[0]
        waiting = host.run(["test", "-e", pidfile], check=False).returncode == 0
        rows += [["members still suspended", ", ".join(suspended) or "none (every member's lv_attr says active)"],
                 ["watchdog", f"still waiting: {pidfile} is there" if waiting else "stopped (its pid file is gone)"]]
        left += suspended + ([f"the watchdog ({pidfile})"] if waiting else [])
    show(Table(["what", "left behind"], rows, "cleanup"))
    if left:
        raise StepFailed(f"run {run.run_id} left {', '.join(left)} behind; `lvmkit cleanup` removes it")


def mount_targets(host: Host) -> list[str]:
    return host.run(["findmnt", "--list", "--noheadings", "--output", "TARGET"]).stdout.split()
