"""Where an lvmkit backup's time goes, read from the journal of the run."""

from __future__ import annotations

from lvmkit.archive.archive_set import SHA256_LINES
from lvmkit.core.journal import JournalEntry
from lvmkit.core.runs import private
from lvmkit.lvm.watch import read_argv

PARTS = ("preflight", "snapshot", "content digest", "engine", "checksums", "other commands")
MONITORING = "monitoring"  # runs in a thread beside the other commands: not on the critical path

_WATCH_SCRIPT = read_argv("/dev/x")[2]
MONITORING_PREFIX = read_argv("/dev/x")[:3]  # the guard's readings, whatever the device (count_commands)
_ENGINE_PREFIX = private([])


def part_of(entry: JournalEntry, after_snapshot: bool) -> str:
    argv = entry.argv
    if argv[:2] == ["bash", "-c"] and argv[2] == _WATCH_SCRIPT:
        return MONITORING
    # every version's digest scripts, one command or two: the only scripts walking the tree with -xdev
    if argv[:2] == ["bash", "-c"] and "-xdev" in argv[2]:
        return "content digest"
    if argv[:len(_ENGINE_PREFIX)] == _ENGINE_PREFIX:
        return "engine"
    if argv[0] in ("lvcreate", "lvremove"):
        return "snapshot"
    if "sha256sum" in argv or SHA256_LINES in argv:
        return "checksums"
    return "other commands" if after_snapshot else "preflight"


def breakdown(journal: list[JournalEntry], wall_s: float) -> dict[str, float]:
    """Seconds per part; `lvmkit itself` is the wall time no command accounts for
    (Python's start-up, planning, the pauses between commands)."""
    parts = dict.fromkeys((*PARTS, MONITORING), 0.0)
    after_snapshot = False
    for entry in journal:
        after_snapshot = after_snapshot or entry.argv[0] == "lvcreate"
        parts[part_of(entry, after_snapshot)] += entry.duration_s
    serial = sum(seconds for part, seconds in parts.items() if part != MONITORING)
    parts["lvmkit itself"] = max(wall_s - serial, 0.0)
    return parts
