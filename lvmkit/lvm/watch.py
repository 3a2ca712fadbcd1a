"""Cheap live readings while an engine runs: snapshot usage and bytes read.

`dmsetup status` reads the kernel's counters directly; `lvs` would scan LVM metadata
(about 0.9 s per call in the emulated lab), too costly to poll.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from lvmkit.core.host import Host

# One round trip for both readings: the snapshot's status line, then the bytes read
# (`rchar`) by each process of the engine's process group. The process that reads the source
# reads the most; pipes behind it read at most as much again, so the largest count is it.
_READ_BOTH = """
dmsetup status "$1" 2>/dev/null || echo "missing"
[ -n "$2" ] || exit 0
for p in $(pgrep -g "$2"); do sed -n "s/^rchar: /rchar /p" "/proc/$p/io" 2>/dev/null; done
"""


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
    bytes_read: int | None = None  # by the engine, when asked for


def read_argv(device: str, engine_pid: int | None = None) -> list[str]:
    return ["bash", "-c", _READ_BOTH, "bash", device, "" if engine_pid is None else str(engine_pid)]


def read_snapshot(host: Host, vg: str, name: str, thin_pool: str | None = None,
                  engine_pid: int | None = None) -> SnapshotReading:
    """A thick snapshot's own usage, or for a thin snapshot its pool's data usage; with an
    engine's pid, also the bytes its process group has read, in the same round trip."""
    device = thin_pool_device(vg, thin_pool) if thin_pool else dm_name(vg, name)
    output = host.run(read_argv(device, engine_pid), check=False).stdout.splitlines()
    status = output[0] if output else "missing"
    counts = [int(line.split()[1]) for line in output[1:] if line.startswith("rchar ")]
    reading = SnapshotReading(False, True, None) if status == "missing" else parse_status(status)
    return replace(reading, bytes_read=max(counts) if counts else None)


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
