"""What the runbooks' cells call: one function per step, each showing what it did.

The functions act through lvmkit's public pieces (prepare, plan, execute, verify) and a
Host, which sends argv lists to the target and journals them; none starts a process of
its own. Each shows its result as a table (HTML in the notebook and its rendering, text
in papermill's log) and raises an LvmkitError when its step failed, after undoing what
the step did, so that papermill records the failing cell and stops there.
"""

from __future__ import annotations

import functools
import inspect
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from shlex import join

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import Journal
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.core.preflight import Check, PreflightError
from lvmkit.core.runs import RUN_ROOT
from lvmkit.core.sizes import human
from lvmkit.lvm.guard import GuardSettings, SnapshotInvalidated
from lvmkit.lvm.reports import get_lv, list_lvs, validate_lv_name, validate_vg_name
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours, run_tag
from lvmkit.ops import backup as backup_module
from lvmkit.ops import group as group_module
from lvmkit.ops import restore as restore_module
from lvmkit.ops import verify as verify_module
from lvmkit.ops.backup import BackupRequest, BackupRun
from lvmkit.ops.group import GroupRequest, GroupRun
from lvmkit.ops.hooks import Hook
from lvmkit.ops.restore import RestoreRequest, RestoreRun
from lvmkit.runbooks import approval
from lvmkit.runbooks.display import Table, show
from lvmkit.targets import connect as connect_target

DRILL_TAG = "lvmkit-drill"  # the drill's own volumes; not "lvmkit": cleanup never takes them
DRILL_ROOT = "/run/lvmkit-drill"
OUTPUT_TAIL = 300  # characters of a command's output shown in the commands table


class StepFailed(LvmkitError):
    """A runbook step found what it checks to be wrong (content differs, something was left)."""


def log(message: str) -> None:
    """lvmkit's progress lines, into the cell's output."""
    print(message, flush=True)


# --- connecting --------------------------------------------------------------------------


def connect(host_spec: str, journal_path: str = "") -> Host:
    """The target host; every command sent there is appended to the run's journal."""
    journal = Journal(Path(journal_path) if journal_path else None)
    host = connect_target(host_spec, journal)
    show(Table(["", ""], [["target", f"{host.name} ({host_spec})"],
                          ["journal", journal_path or "(in memory only)"],
                          ["controller time", utc_now().isoformat(timespec="seconds")]],
               "where the commands go"))
    return host


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
    with _showing_preflight(display):
        run = backup_module.prepare(host, request, run_id=run_id or None, log=log)
    if display:
        show(preflight_table(run.preflight.checks, f"preflight on {host.name}: every check passed, nothing changed yet"))
    return run


def plan_backup(run: BackupRun, approved_plan: str = "") -> Plan:
    """The backup's plan, shown step by step; checked against the approved plan if there is one."""
    the_plan = backup_module.plan(run)
    check_approval(the_plan, approved_plan)
    show(plan_table(the_plan))
    return the_plan


def execute_backup(host: Host, run: BackupRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the plan under the origin's lock; on failure the completed steps are undone."""
    records = backup_module.execute_run(host, run, the_plan, log)
    show(records_table(records))
    return records


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
        ["engine", f"{_named(m.engine.name, m.engine.version)} ({m.engine.level} level), "
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


def keep(record_dir: str, name: str, data: dict) -> None:
    """Keep `data` as JSON in the run's record folder (nothing without a record folder)."""
    if not record_dir:
        print(f"no record folder: {name} is not kept")
        return
    path = Path(record_dir) / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"kept {name} in the record folder {record_dir}")


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
    mounts = [m for m in _mount_targets(host) if m.startswith(f"{RUN_ROOT}/{run.run_id}/")]
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


def commands(host: Host) -> Table:
    """Every command this run sent to the target: when, how long, exit code, the end of its output."""
    rows = []
    for number, entry in enumerate(host.journal.entries, 1):
        output = (entry.stderr.strip() or entry.stdout.strip())[-OUTPUT_TAIL:]
        command = join(entry.argv)
        rows.append([number, entry.start[11:22], f"{entry.duration_s:.2f}",
                     "planned" if entry.planned else entry.returncode,
                     "yes" if entry.changes_state else "", command[:400], output])
    return Table(["#", "start (UTC)", "s", "exit", "changes", "command", "output (end)"], rows,
                 f"{len(rows)} commands on {host.name}, as journaled",
                 text_columns=["#", "start (UTC)", "s", "exit", "changes", "command"])


# --- restore -----------------------------------------------------------------------------


def prepare_restore(host: Host, archive: str, to: str = "", confirm: str = "", to_new: str = "",
                    scratch: bool = False, run_id: str = "", *, display: bool = True) -> RestoreRun:
    """Check the archive set (manifest, every checksum) and the target before anything changes."""
    request = RestoreRequest(archive, to=to or None, confirm=confirm or None, to_new=to_new or None, scratch=scratch)
    with _showing_preflight(display):
        run = restore_module.prepare(host, request, run_id=run_id or None)
    if display:
        show(preflight_table(run.preflight.checks, f"preflight on {host.name}: every check passed, nothing changed yet"))
    return run


def plan_restore(run: RestoreRun, approved_plan: str = "") -> Plan:
    the_plan = restore_module.plan(run)
    check_approval(the_plan, approved_plan)
    show(plan_table(the_plan))
    return the_plan


def execute_restore(host: Host, run: RestoreRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the restore under the target's lock; its duration is the recovery time."""
    records = restore_module.execute_run(host, run, the_plan, log)
    show(records_table(records))
    return records


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


# --- consistency groups ------------------------------------------------------------------


def prepare_group(host: Host, members: str, dest: str, engine: str = "fsarchiver", pre_snapshot: str = "",
                  post_snapshot: str = "", hook_timeout_s: float = 60.0, freeze_timeout_s: float = 30.0,
                  run_id: str = "") -> GroupRun:
    """Run the group's preflight (read-only): every member's checks, the room the snapshots share,
    the freeze on this LVM and kernel, the hooks, the destination; show it, raise if one fails."""
    if run_id:
        # group.prepare makes a run id of its own: an approved one could not be kept.
        raise UsageError("a group backup cannot run with an approved plan's run id (it has no plan to approve)")
    if freeze_timeout_s <= 0:
        raise UsageError(f"freeze_timeout_s must be positive, not {freeze_timeout_s:g}")
    request = GroupRequest(
        members=group_module.parse_members(members), dest=dest, engine=engine,
        pre_snapshot=Hook.parse("pre-snapshot", pre_snapshot or None, hook_timeout_s),
        post_snapshot=Hook.parse("post-snapshot", post_snapshot or None, hook_timeout_s),
        freeze_timeout_s=freeze_timeout_s,
    )
    with _showing_preflight(display=True):
        run = group_module.prepare(host, request, log)
    show(preflight_table(run.preflight.checks, f"preflight on {host.name}: every check passed, nothing changed yet"))
    return run


def plan_group(run: GroupRun, approved_plan: str = "") -> Plan:
    """The group's plan, shown step by step; checked against the approved plan if there is one."""
    the_plan = group_module.plan(run)
    check_approval(the_plan, approved_plan)
    show(plan_table(the_plan))
    return the_plan


def execute_group(host: Host, run: GroupRun, the_plan: Plan) -> list[StepRecord]:
    """Execute the plan holding every member's lock, as `lvmkit backup --group` does; on failure the
    completed steps are undone (members resumed, snapshots removed, the post-snapshot hook run)."""
    records = group_module.execute_run(host, run, the_plan, log)
    show(records_table(records))
    return records


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
        ["window, target's clock (UTC)", f"{_epoch(window['start_epoch'])} to {_epoch(window['end_epoch'])}"],
        ["watchdog", f"would have resumed every member after {timeout:g} s; "
                     f"{timeout - window['frozen_s']:.1f} s to spare"],
    ]
    hooks = {hook["role"]: hook for hook in run.hooks}
    for hook in run.hooks:
        took = _seconds_between(hook["started"], hook["ended"])
        rows.append([f"{hook['role']} hook", f"{join(hook['argv'])}: {took:.1f} s (timeout {hook['timeout_s']:g} s)"])
    if "pre-snapshot" in hooks and "post-snapshot" in hooks:
        held_s = _seconds_between(hooks["pre-snapshot"]["started"], hooks["post-snapshot"]["ended"])
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
        ["engine", f"{_named(engine.name, engine.version)} ({engine.level} level), "
                   f"options {json.dumps(engine.options, sort_keys=True)}"],
        ["volume groups", ", ".join(g.volume_groups) + (" (one instant across them)"
                                                         if g.spans_volume_groups else "")],
        ["freeze", f"{g.freeze_window.frozen_s * 1000:.0f} ms: {g.freeze_mechanism}"],
        ["check it anywhere", f"cd {run.paths.final} && sha256sum -c SHA256SUMS"],
        ["verify it with lvmkit", f"lvmkit verify {run.paths.final}"],
        ["restore every member", f"lvmkit restore-group {run.paths.final} --to-new-suffix _restored"],
    ], "the group's archive set"))
    return g.to_dict()


# --- verify ------------------------------------------------------------------------------


def verify_archive(host: Host, archive: str, deep: bool = False, scratch_vg: str = "") -> verify_module.VerifyResult:
    """Checksums, manifest, the engine's own test, the digest; deep: a restore into a scratch volume."""
    result = verify_module.verify(host, archive, deep=deep, scratch_vg=scratch_vg or None, log=log)
    show(preflight_table(result.checks.checks, f"verification of {archive}{' (deep)' if deep else ''}"))
    if not result.passed:
        failed = [c for c in result.checks.checks if not c.passed]
        raise StepFailed("verification failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))
    return result


# --- the snapshot-overflow drill ----------------------------------------------------------

# Waits until lvmkit has mounted its snapshot of the origin, then writes $3 MiB of new data
# to the origin, one MiB every $4 seconds, each synced so that it reaches the volume at once.
FLOOD = r'''
until ls -d /run/lvmkit/*/"$2" >/dev/null 2>&1; do sleep 0.1; done
for i in $(seq 1 "$3"); do
    head -c 1048576 /dev/urandom >> "$1/flood.bin"
    sync "$1/flood.bin"
    sleep "$4"
done
'''


@dataclass
class Drill:
    """A throwaway volume of the drill's own, and what the drill made on the way."""

    vg: str
    name: str
    size: str
    checksum: str = ""
    hand_snapshot: str | None = None
    archives: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"{self.vg}/{self.name}"

    @property
    def device(self) -> str:
        return f"/dev/{self.vg}/{self.name}"

    @property
    def mountpoint(self) -> str:
        return f"{DRILL_ROOT}/{self.name}"


def _tears_down_on_failure(step):
    """A drill step that fails removes everything the drill made before it raises."""
    @functools.wraps(step)
    def guarded(host: Host, drill: Drill, *args, **kwargs):
        try:
            return step(host, drill, *args, **kwargs)
        except BaseException:
            log("the drill step failed: tearing the drill down")
            tear_down(host, drill, display=False)
            raise
    return guarded


def make_throwaway_volume(host: Host, vg: str, name: str, size: str = "64M") -> Drill:
    """A small ext4 volume of the drill's own, mounted, holding a few thousand files."""
    drill = Drill(validate_vg_name(vg), validate_lv_name(name), size)
    if get_lv(host, vg, name) is not None:
        raise UsageError(f"{vg}/{name} exists already: give the drill another name")
    host.run(["lvcreate", "--yes", "--size", size, "--name", name, "--addtag", DRILL_TAG, vg], changes=True)
    try:
        host.run(["mkfs.ext4", "-q", drill.device], changes=True)
        host.run(["mkdir", "-p", drill.mountpoint], changes=True)
        host.run(["mount", drill.device, drill.mountpoint], changes=True)
        host.run(["cp", "-a", "/usr/share/zoneinfo", f"{drill.mountpoint}/data"], changes=True)
        host.run(["sync"], changes=True)
        drill.checksum = _data_checksum(host, drill)
    except BaseException:
        tear_down(host, drill, display=False)
        raise
    volume = get_lv(host, vg, name)
    files = len(drill.checksum.splitlines())
    show(Table(["", ""], [["volume", f"{drill.origin} ({human(volume.size)}, tag {DRILL_TAG})"],
                          ["mounted at", drill.mountpoint],
                          ["data", f"{files} files in {drill.mountpoint}/data (a copy of /usr/share/zoneinfo)"]],
               "the throwaway volume"))
    return drill


@_tears_down_on_failure
def snapshot_by_hand(host: Host, drill: Drill, snapshot_size: str = "8M"):
    """The seed's command: lvcreate -L SIZE -s -n NAME ORIGIN, with a small SIZE."""
    name = f"{drill.name}-snap"
    host.run(["lvcreate", f"-L{snapshot_size}", "-s", "-n", name, "--addtag", DRILL_TAG, drill.device],
             changes=True)
    drill.hand_snapshot = name
    snapshot = get_lv(host, drill.vg, name)
    show(lv_table(snapshot, "the new snapshot, as LVM reports it"))
    return snapshot


@_tears_down_on_failure
def flood(host: Host, drill: Drill, mebibytes: int = 40) -> None:
    """Write new data to the origin: each first write to a block copies the old block into the snapshot."""
    began = time.monotonic()
    host.run(["dd", "if=/dev/urandom", f"of={drill.mountpoint}/flood.bin", "bs=1M", f"count={mebibytes}",
              "conv=fsync", "status=none"], changes=True)
    print(f"wrote {mebibytes} MiB to {drill.origin} in {time.monotonic() - began:.1f} s")


@_tears_down_on_failure
def lvm_report(host: Host, drill: Drill):
    """What LVM says of the overflowed snapshot, and that the origin did not suffer."""
    snapshot = get_lv(host, drill.vg, drill.hand_snapshot)
    show(lv_table(snapshot, "the snapshot after the flood"))
    intact = _data_checksum(host, drill) == drill.checksum
    origin = get_lv(host, drill.vg, drill.name)
    show(Table(["", ""], [["origin", f"{drill.origin}: lv_attr {origin.attr.raw}, state {origin.attr.state}"],
                          ["origin's data", "unchanged (every file's sha256 as before)" if intact else "CHANGED"]],
               "the origin"))
    if not snapshot.attr.is_invalid_snapshot:
        raise StepFailed(f"the snapshot survived the flood ({snapshot.snap_percent}% used): write more than "
                         f"its size, or take a smaller one")
    if not intact:
        raise StepFailed(f"the data on {drill.origin} changed: an overflow must never touch the origin")
    return snapshot


@_tears_down_on_failure
def remove_hand_snapshot(host: Host, drill: Drill) -> None:
    """The seed's lvremove, for the worthless snapshot; and the flood's file goes too."""
    if drill.hand_snapshot:
        remove_if_ours(host, drill.vg, drill.hand_snapshot, DRILL_TAG)
        print(f"removed {drill.vg}/{drill.hand_snapshot}")
        drill.hand_snapshot = None
    host.run(["rm", "-f", "--", f"{drill.mountpoint}/flood.bin"], changes=True)
    host.run(["sync"], changes=True)


@_tears_down_on_failure
def backup_during_flood(host: Host, drill: Drill, dest: str, snapshot_size: str = "8M", flood_mib: int = 40,
                        autoextend: bool = False) -> dict:
    """A backup with lvmkit while a writer floods the origin; without autoextend it must fail cleanly."""
    pause = "0.25" if autoextend else "0.05"  # slower: autoextend has time to keep up
    guard = GuardSettings(poll_interval_s=0.5, autoextend=autoextend, extend_at_percent=50.0,
                          autoextend_step="50%ORIGIN")
    request = BackupRequest(origin=drill.origin, dest=dest, engine="tar", snapshot_size=snapshot_size, guard=guard)
    writer = host.start(["bash", "-c", FLOOD, "bash", drill.mountpoint, f"{drill.vg}-{drill.name}",
                         str(flood_mib), pause])
    error, run = None, None
    try:
        run = backup_module.backup(host, request, log=log)
        drill.archives.append(run.paths.final)
    except SnapshotInvalidated as raised:
        error = raised
    finally:
        writer.terminate()
        writer.wait(check=False)
        host.run(["rm", "-f", "--", f"{drill.mountpoint}/flood.bin"], changes=True)
    left = [v.full_name for v in list_lvs(host, drill.vg) if LVMKIT_TAG in v.tags and v.origin == drill.name]
    partial = host.run(["find", dest, "-maxdepth", "1", "-name", ".*.partial"]).stdout.split()
    rows = [["backup", "FAILED: " + str(error) if error else f"succeeded: {run.paths.final}"],
            ["lvmkit snapshots of the origin left", ", ".join(left) or "none"],
            ["partial archive sets left", ", ".join(partial) or "none"]]
    if run is not None:
        snapshot = run.manifest.snapshot
        rows += [["snapshot", f"{human(snapshot.size_bytes)} at first, {human(snapshot.final_size_bytes)} "
                              f"at the end, peak {snapshot.peak_percent or 0:.1f}% used"],
                 *[[f"extended at {e.used_percent:.0f}%", f"{human(e.from_bytes)} -> {human(e.to_bytes)}"]
                   for e in snapshot.extensions]]
    show(Table(["", ""], rows, "what lvmkit did" + (" with autoextend" if autoextend else "")))
    if left or partial:
        raise StepFailed(f"the backup left {', '.join(left + partial)} behind")
    if autoextend and run is None:
        raise StepFailed("the backup failed even with autoextend")
    if not autoextend and error is None:
        raise StepFailed("the snapshot did not overflow: flood more (flood_mib) or take a smaller snapshot_size")
    return {"error": str(error)} if error else run.manifest.to_dict()


def tear_down(host: Host, drill: Drill, *, display: bool = True) -> None:
    """Remove all the drill made: its snapshot, its archive sets, the mount, the volume."""
    if drill.hand_snapshot:
        remove_if_ours(host, drill.vg, drill.hand_snapshot, DRILL_TAG)
        drill.hand_snapshot = None
    for archive in drill.archives:
        host.run(["rm", "-rf", "--", archive], changes=True)
    host.run(["umount", drill.mountpoint], changes=True, check=False)
    host.run(["rmdir", "--", drill.mountpoint], changes=True, check=False)
    remove_if_ours(host, drill.vg, drill.name, DRILL_TAG)
    left = [v.full_name for v in list_lvs(host, drill.vg) if DRILL_TAG in v.tags and v.name.startswith(drill.name)]
    if display:
        show(Table(["", ""], [["removed", f"{drill.origin}, {len(drill.archives)} archive set(s), {drill.mountpoint}"],
                              [f"volumes tagged {DRILL_TAG} left", ", ".join(left) or "none"]], "teardown"))
    if left:
        raise StepFailed(f"the drill left {', '.join(left)} behind")


def _data_checksum(host: Host, drill: Drill) -> str:
    listing = host.run(["find", f"{drill.mountpoint}/data", "-type", "f", "-exec", "sha256sum", "{}", "+"]).stdout
    return "\n".join(sorted(listing.splitlines()))


# --- tables ------------------------------------------------------------------------------


def preflight_table(checks: list[Check], title: str) -> Table:
    return Table(["check", "result", "detail"], [[c.name, "PASS" if c.passed else "FAIL", c.detail] for c in checks],
                 title)


def plan_table(the_plan: Plan) -> Table:
    rows = [[number, step.title, "\n".join(f"$ {join(argv)}" for argv in step.commands),
             "\n".join(f"$ {join(argv)}" for argv in step.undo_commands) or ("(custom)" if step.undo else "")]
            for number, step in enumerate(the_plan.steps, 1)]
    return Table(["#", "step", "commands", "undo on failure"], rows,
                 f"plan: {the_plan.title}\nsha256 {the_plan.sha256}")


def records_table(records: list[StepRecord]) -> Table:
    rows = [[n, r.title, r.outcome, f"{r.duration_s:.1f}"] for n, r in enumerate(records, 1)]
    return Table(["#", "step", "outcome", "seconds"], rows, f"executed: {len(records)} steps")


def lv_table(volume, title: str) -> Table:
    attr = volume.attr
    usage = f"{volume.snap_percent:.2f}%" if volume.snap_percent is not None else "(not reported)"
    return Table(["field", "value"], [
        ["volume", volume.full_name], ["size", human(volume.size)], ["origin", volume.origin or ""],
        ["lv_attr", attr.raw], ["volume type (1st character)", attr.volume_type],
        ["state (5th character)", attr.state], ["snapshot usage (snap_percent)", usage],
        ["valid", "no: invalidated, its frozen view is lost" if attr.is_invalid_snapshot else "yes"],
    ], title)


# --- helpers -----------------------------------------------------------------------------


@contextmanager
def _showing_preflight(display: bool):
    """When the preflight fails, show every check (passed and failed) before the error propagates."""
    try:
        yield
    except PreflightError as error:
        if display:
            show(preflight_table(error.checks, "preflight: FAILED, nothing was changed"))
        raise


def check_approval(the_plan: Plan, approved_plan: str) -> None:
    """Refuse the plan unless it is the approved one (when the run is change-managed)."""
    if not approved_plan:
        print("no approved plan given: this run is not change-managed")
        return
    approved = approval.load(Path(approved_plan))
    approval.require_same(approved, plan=the_plan)
    print(f"the plan is the approved one: sha256 {the_plan.sha256}")


def _mount_targets(host: Host) -> list[str]:
    return host.run(["findmnt", "--list", "--noheadings", "--output", "TARGET"]).stdout.split()


def _epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def _seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _named(name: str, version: str) -> str:
    """fsarchiver's version string names it already; tar's is a bare number."""
    return version if version.startswith(name) else f"{name} {version}".strip()


def call_with(function, values: dict, **extra):
    """Call `function` with the entries of `values` it takes (a runbook's parameters), and `extra`."""
    accepted = inspect.signature(function).parameters
    return function(**{k: v for k, v in values.items() if k in accepted}, **extra)
