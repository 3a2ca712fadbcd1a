"""Cheap live readings while an engine runs: snapshot usage and bytes read.

`dmsetup status` reads the kernel's counters directly; `lvs` would scan LVM metadata
(about 0.9 s per call in the emulated lab), too costly to poll.
"""

from __future__ import annotations

from dataclasses import dataclass

from .host import Host

# The largest `rchar` (bytes read) among the processes of a process group: the process that
# reads the source reads the most; pipes behind it read at most as much again.
_GROUP_BYTES_READ = (
    'for p in $(pgrep -g "$1"); do sed -n "s/^rchar: //p" "/proc/$p/io" 2>/dev/null; done'
)


def dm_name(vg: str, lv: str) -> str:
    """device-mapper's name for VG/LV: hyphens inside either name are doubled."""
    return f"{vg.replace('-', '--')}-{lv.replace('-', '--')}"


def thin_pool_device(vg: str, pool: str) -> str:
    """The pool's own device (its "-tpool" layer), whose status carries the data usage."""
    return dm_name(vg, pool) + "-tpool"


@dataclass(frozen=True)
class SnapshotReading:
    present: bool  # False: the device is gone (removed, or dropped after an overflow)
    invalid: bool  # the kernel marked it invalid: it overflowed
    percent: float | None  # copy-on-write space used (thick) or pool data used (thin)


def read_snapshot(host: Host, vg: str, name: str, thin_pool: str | None = None) -> SnapshotReading:
    """A thick snapshot's own usage, or for a thin snapshot its pool's data usage."""
    device = thin_pool_device(vg, thin_pool) if thin_pool else dm_name(vg, name)
    result = host.run(["dmsetup", "status", device], check=False)
    if result.returncode != 0:
        return SnapshotReading(present=False, invalid=True, percent=None)
    return parse_status(result.stdout)


def parse_status(status: str) -> SnapshotReading:
    words = status.split()
    if len(words) < 4:
        return SnapshotReading(True, True, None)
    target = words[2]
    if target == "snapshot":
        if words[3] in ("Invalid", "Overflow", "Merge"):  # the kernel's words for a lost snapshot
            return SnapshotReading(True, True, 100.0)
        used, total = (int(n) for n in words[3].split("/"))
        return SnapshotReading(True, False, round(100.0 * used / total, 2))
    if target == "thin-pool":
        if words[3] == "Fail":
            return SnapshotReading(True, True, None)
        used, total = (int(n) for n in words[5].split("/"))  # data blocks; words[4] is metadata
        out_of_space = "out_of_data_space" in words
        return SnapshotReading(True, out_of_space, round(100.0 * used / total, 2))
    return SnapshotReading(True, False, None)


def group_bytes_read(host: Host, pid: int) -> int | None:
    result = host.run(["bash", "-c", _GROUP_BYTES_READ, "bash", str(pid)], check=False)
    counts = [int(word) for word in result.stdout.split() if word.isdigit()]
    return max(counts) if counts else None
