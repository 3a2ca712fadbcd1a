"""What is on a host: volume groups, volumes and snapshots, as data and as a table."""

from __future__ import annotations

from dataclasses import dataclass, field

from lvmkit.core.host import Host
from lvmkit.core.sizes import human
from lvmkit.lvm.lock import LockInfo, list_locks
from lvmkit.lvm.reports import LogicalVolume, VolumeGroup, list_lvs, list_vgs
from lvmkit.lvm.snapshot import LVMKIT_TAG, run_tag

RUN_TAG_PREFIX = run_tag("")


@dataclass(frozen=True)
class HostStatus:
    host: str
    volume_groups: list[VolumeGroup]
    volumes: list[LogicalVolume]
    locks: list[LockInfo] = field(default_factory=list)

    @property
    def snapshots(self) -> list[LogicalVolume]:
        return [lv for lv in self.volumes if lv.attr.is_snapshot or lv.is_thin_snapshot]

    def as_dict(self) -> dict:
        return {
            "host": self.host,
            "volume_groups": [
                {"name": vg.name, "size_bytes": vg.size, "free_bytes": vg.free, "lv_count": vg.lv_count,
                 "snapshot_count": vg.snap_count, "tags": list(vg.tags)}
                for vg in self.volume_groups
            ],
            "volumes": [_volume_dict(lv, self.locks) for lv in self.volumes if not lv.hidden],
            "locks": [lock.as_dict() for lock in self.locks],
        }


    def only_vg(self, vg: str) -> HostStatus:
        """The part of the status that belongs to volume group `vg` (a fleet host owns one VG)."""
        return HostStatus(self.host, [g for g in self.volume_groups if g.name == vg],
                          [lv for lv in self.volumes if lv.vg_name == vg],
                          [lock for lock in self.locks if (lock.origin or "").partition("/")[0] == vg])


def read_status(host: Host, vg: str | None = None) -> HostStatus:
    status = HostStatus(host.name, list_vgs(host), list_lvs(host), list_locks(host))
    return status.only_vg(vg) if vg else status


def render(status: HostStatus) -> str:
    lines = [f"host {status.host}", ""]
    lines += _table(
        ["VG", "SIZE", "FREE", "LVS", "SNAPSHOTS"],
        [[vg.name, human(vg.size), human(vg.free), str(vg.lv_count), str(vg.snap_count)]
         for vg in status.volume_groups],
    )
    lines.append("")
    rows = []
    for lv in status.volumes:
        if lv.hidden:
            continue
        rows.append([
            f"{lv.vg_name}/{lv.name}", kind(lv), lv.attr.raw, human(lv.size), lv.origin or "",
            usage(lv), lvmkit_state(lv, status.locks),
        ])
    lines += _table(["LV", "KIND", "ATTR", "SIZE", "ORIGIN", "USAGE", "LVMKIT"], rows)
    if status.locks:
        state = {True: "running", False: "STALE: run `lvmkit cleanup`", None: "on another controller"}
        lines += ["", *_table(["LOCK", "RUN", "COMMAND", "HOLDER", "SINCE", "STATE"],
                              [[lock.origin or lock.path, lock.run_id or "?", lock.command or "?",
                                f"pid {lock.pid} on {lock.controller}", lock.started or "?",
                                lock.problem or state[lock.alive]] for lock in status.locks])]
    return "\n".join(lines)


def kind(lv: LogicalVolume) -> str:
    if lv.attr.is_snapshot:
        return "invalid snapshot" if lv.attr.is_invalid_snapshot else "snapshot"
    if lv.attr.is_thin_pool:
        return "thin pool"
    if lv.attr.is_thin:
        return "thin snapshot" if lv.origin else "thin"
    return "volume"


def usage(lv: LogicalVolume) -> str:
    percent = lv.snap_percent if lv.attr.is_snapshot else lv.data_percent
    return "" if percent is None else f"{percent:.2f}%"


def lvmkit_state(lv: LogicalVolume, locks: list[LockInfo]) -> str:
    """For a volume lvmkit made: "running" while its run holds a lock, else "STALE"."""
    if LVMKIT_TAG not in lv.tags:
        return ""
    live_runs = {lock.run_id for lock in locks if lock.alive is not False}
    runs = [tag.removeprefix(RUN_TAG_PREFIX) for tag in lv.tags if tag.startswith(RUN_TAG_PREFIX)]
    return "running" if any(run in live_runs for run in runs) else "STALE"


def _volume_dict(lv: LogicalVolume, locks: list[LockInfo]) -> dict:
    return {
        "vg": lv.vg_name, "name": lv.name, "kind": kind(lv), "attr": lv.attr.raw,
        "size_bytes": lv.size, "origin": lv.origin, "pool": lv.pool_lv,
        "snapshot_percent": lv.snap_percent, "data_percent": lv.data_percent,
        "invalid": lv.attr.is_invalid_snapshot, "active": lv.attr.is_active,
        "open": lv.attr.is_open, "tags": list(lv.tags), "created_by_lvmkit": LVMKIT_TAG in lv.tags,
        "stale": lvmkit_state(lv, locks) == "STALE",
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)).rstrip()
            for row in [header, *rows]]
