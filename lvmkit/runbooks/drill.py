"""The snapshot-overflow drill: a throwaway volume, the seed's snapshot overflowed by hand,
and lvmkit's backup during a flood, failing cleanly or kept alive by autoextend.

The drill's volume is made by a plan of its own (lvcreate, the filesystem, the mount, the
data), whose undo removes what was made when a step fails.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.core.plan import Plan, Step, execute
from lvmkit.core.scripts import packaged_script
from lvmkit.core.sizes import human
from lvmkit.lvm.filesystem import mkfs_argv
from lvmkit.lvm.guard import GuardSettings, SnapshotInvalidated
from lvmkit.lvm.names import validate_lv_name, validate_vg_name
from lvmkit.lvm.reports import get_lv, list_lvs
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours
from lvmkit.ops import backup as backup_module
from lvmkit.ops.backup import BackupRequest
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.flow import StepFailed, log
from lvmkit.runbooks.tables import lv_table

DRILL_TAG = "lvmkit-drill"  # the drill's own volumes; not "lvmkit": cleanup never takes them


DRILL_ROOT = "/run/lvmkit-drill"


FLOOD = packaged_script(__package__, "flood.sh")  # new data on the origin while the snapshot is read


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


def volume_plan(drill: Drill) -> Plan:
    """The throwaway volume's making, step by step; its undo removes what was made."""
    device, mountpoint, data = drill.device, drill.mountpoint, f"{drill.mountpoint}/data"
    return Plan(f"make the drill's volume {drill.origin}", [
        Step(f"create volume {drill.origin} ({drill.size}, tag {DRILL_TAG})",
             [["lvcreate", "--yes", "--size", drill.size, "--name", drill.name, "--addtag", DRILL_TAG, drill.vg]],
             undo_commands=[["lvremove", "--yes", drill.origin]],
             undo=lambda host: remove_if_ours(host, drill.vg, drill.name, DRILL_TAG),
             undo_armed_before=True),  # lvcreate can fail half-way and leave the volume behind
        Step(f"make an ext4 filesystem on {device}", [mkfs_argv("ext4", device)]),
        Step(f"mount it at {mountpoint}", [["mkdir", "-p", mountpoint], ["mount", device, mountpoint]],
             undo_commands=[["umount", mountpoint], ["rmdir", "--", mountpoint]], undo_armed_before=True),
        Step(f"copy a few thousand files into {data}", [["cp", "-a", "/usr/share/zoneinfo", data], ["sync"]]),
    ])


def make_throwaway_volume(host: Host, vg: str, name: str, size: str = "64M") -> Drill:
    """A small ext4 volume of the drill's own, mounted, holding a few thousand files."""
    drill = Drill(validate_vg_name(vg), validate_lv_name(name), size)
    if get_lv(host, vg, name) is not None:
        raise UsageError(f"{vg}/{name} exists already: give the drill another name")
    execute(volume_plan(drill), host, log=log)  # on failure its undo removes what it made
    drill.checksum = _data_checksum(host, drill)
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
    # One step to the ceiling (the origin's size, more than the flood): a second, later step
    # came too late on a loaded lab (4 emulated guests on 2 cores) and the snapshot overflowed.
    guard = GuardSettings(poll_interval_s=0.5, autoextend=autoextend, extend_at_percent=50.0,
                          autoextend_step="100%ORIGIN")
    request = BackupRequest(origin=drill.origin, dest=dest, engine="tar", snapshot_size=snapshot_size, guard=guard)
    writer = host.start(["bash", "-c", FLOOD, "bash", drill.mountpoint, f"{drill.vg}-{drill.name}",
                         str(flood_mib), pause])
    error = None
    try:
        # prepare, plan, execute as backup() does, keeping the run: a failed one's guard
        # holds the readings of the overflow, which the drill plots
        run = backup_module.prepare(host, request, log=log)
        backup_module.execute_run(host, run, backup_module.plan(run), log)
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
    if error is None:
        snapshot = run.manifest.snapshot
        rows += [["snapshot", f"{human(snapshot.size_bytes)} at first, {human(snapshot.final_size_bytes)} "
                              f"at the end, peak {snapshot.peak_percent or 0:.1f}% used"],
                 *[[f"extended at {e.used_percent:.0f}%", f"{human(e.from_bytes)} -> {human(e.to_bytes)}"]
                   for e in snapshot.extensions]]
    show(Table(["", ""], rows, "what lvmkit did" + (" with autoextend" if autoextend else "")))
    if left or partial:
        raise StepFailed(f"the backup left {', '.join(left + partial)} behind")
    if autoextend and error is not None:
        raise StepFailed("the backup failed even with autoextend")
    if not autoextend and error is None:
        raise StepFailed("the snapshot did not overflow: flood more (flood_mib) or take a smaller snapshot_size")
    if error is None:
        return run.manifest.to_dict()
    # No manifest for a failed backup: the guard's readings as the manifest would hold them.
    return {"error": str(error), "snapshot": {"size_bytes": run.snapshot.size_bytes,
                                              "readings": [asdict(r) for r in run.guard.readings.values()]}}


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
