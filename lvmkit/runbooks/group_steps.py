"""The consistency group's runbook steps: preflight, plan, execution, the freeze window, the summary."""

from __future__ import annotations

import json
from shlex import join

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.core.sizes import human
from lvmkit.ops import group as group_module
from lvmkit.ops.group import GroupRequest, GroupRun
from lvmkit.ops.hooks import Hook
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.flow import executed, log, planned, prepared
from lvmkit.runbooks.tables import epoch, named, seconds_between


def prepare_group(host: Host, members: str, dest: str, engine: str = "fsarchiver", pre_snapshot: str = "",
                  post_snapshot: str = "", hook_timeout_s: float = 60.0, freeze_timeout_s: float = 30.0,
                  run_id: str = "", *, name: str = "", display: bool = True) -> GroupRun:
    """Run the group's preflight (read-only): every member's checks, the room the snapshots share,
    the freeze on this LVM and kernel, the hooks, the destination; show it, raise if one fails.
    With an approved plan's run id, the snapshots and the set get the names that plan shows."""
    if freeze_timeout_s <= 0:
        raise UsageError(f"freeze_timeout_s must be positive, not {freeze_timeout_s:g}")
    request = GroupRequest(
        members=group_module.parse_members(members), dest=dest, engine=engine,
        pre_snapshot=Hook.parse("pre-snapshot", pre_snapshot or None, hook_timeout_s),
        post_snapshot=Hook.parse("post-snapshot", post_snapshot or None, hook_timeout_s),
        freeze_timeout_s=freeze_timeout_s, name=name or None,
    )
    return prepared(host, lambda: group_module.prepare(host, request, log, run_id=run_id or None), display)


def plan_group(run: GroupRun, approved_plan: str = "") -> Plan:
    """The group's plan, shown step by step; checked against the approved plan if there is one."""
    return planned(group_module.plan(run), approved_plan)


def execute_group(host: Host, run: GroupRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the plan (it takes every member's lock first), as `lvmkit backup --group` does; on failure
    the completed steps are undone (members resumed, snapshots removed, the post-snapshot hook run)."""
    return executed(group_module.execute_run, host, run, the_plan)


def freeze_window(run: GroupRun) -> dict:
    """How long the members were frozen (their writers blocked), the watchdog's margin, the hooks."""
    window, timeout = run.window, run.request.freeze_timeout_s
    unfrozen = [f"{m.origin.vg_name}/{m.origin.name}" for m in run.members if not m.origin_mounts]
    rows = [
        ["frozen", f"{window['frozen_s'] * 1000:.0f} ms, from the first dmsetup suspend to the last resume"],
        ["what it cost", "a write to a frozen member waited at most that long"],
        ["suspending took", f"{window['suspend_s'] * 1000:.0f} ms of it; then one lvcreate per member, "
                            f"each resuming its own origin"],
        ["frozen devices", ", ".join(window["frozen_devices"]) or "none (no member was mounted)"],
        ["not frozen (not mounted)", ", ".join(unfrozen) or "none"],
        ["window, target's clock (UTC)", f"{epoch(window['start_epoch'])} to {epoch(window['end_epoch'])}"],
        ["watchdog", f"would have resumed every member after {timeout:g} s; "
                     f"{timeout - window['frozen_s']:.1f} s to spare"],
    ]
    hooks = {hook["role"]: hook for hook in run.hooks}
    for hook in run.hooks:
        took = seconds_between(hook["started"], hook["ended"])
        rows.append([f"{hook['role']} hook", f"{join(hook['argv'])}: {took:.1f} s (timeout {hook['timeout_s']:g} s)"])
    if "pre-snapshot" in hooks and "post-snapshot" in hooks:
        held_s = seconds_between(hooks["pre-snapshot"]["started"], hooks["post-snapshot"]["ended"])
        rows.append(["application held by its hooks", f"{held_s:.1f} s, pre-snapshot hook's start to post-snapshot "
                                                      f"hook's end (controller's clock)"])
    show(Table(["", ""], rows, "the freeze window"))
    if window["frozen_s"] > timeout / 2:
        print(f"the window took more than half of freeze_timeout_s ({timeout:g} s): raise it before a slower "
              f"day makes the watchdog fire and the backup fail")
    return window


def group_summary(run: GroupRun) -> dict:
    """Each member's part of the group's archive set, and the group's manifest in short."""
    rows = []
    for member in run.members:
        m = member.manifest
        snapshot = m.snapshot
        size = "thin (from the pool)" if snapshot.thin else human(snapshot.size_bytes)
        rows.append([
            f"{m.origin.vg}/{m.origin.lv}",
            f"{m.filesystem.type}, {human(m.origin.size_bytes)}",
            "yes" if member.origin_mounts else "no (not mounted)",
            f"{snapshot.name}, {size}, peak {snapshot.peak_percent or 0:.1f}% used",
            human(m.bytes_read) if m.bytes_read is not None else "unknown",
            human(m.bytes_written),
            f"{m.digest.files} files, {human(m.digest.bytes)}",
            f"{run.paths.final}/{member.paths.name}",
        ])
    show(Table(["member", "filesystem", "frozen", "snapshot", "read", "archive", "content digest", "member set"],
               rows, f"{len(rows)} members, one instant"))
    g = run.manifest
    engine = run.members[0].manifest.engine  # one engine for every member
    show(Table(["", ""], [
        ["archive set", run.paths.final],
        ["engine", f"{named(engine.name, engine.version)} ({engine.level} level), "
                   f"options {json.dumps(engine.options, sort_keys=True)}"],
        ["volume groups", ", ".join(g.volume_groups) + (" (one instant across them)"
                                                            if g.spans_volume_groups else "")],
        ["freeze", f"{g.freeze_window.frozen_s * 1000:.0f} ms: {g.freeze_mechanism}"],
        ["check it anywhere", f"cd {run.paths.final} && sha256sum -c SHA256SUMS"],
        ["verify it with lvmkit", f"lvmkit verify {run.paths.final}"],
        ["restore every member", f"lvmkit restore-group {run.paths.final} --to-new-suffix _restored"],
    ], "the group's archive set"))
    return g.to_dict()
