"""What is on a host: volume groups, volumes and snapshots, as data and as a table."""

from __future__ import annotations

from dataclasses import dataclass

from .host import Host
from .lvm import LogicalVolume, VolumeGroup, list_lvs, list_vgs
from .sizes import human

LVMKIT_TAG = "lvmkit"  # every volume lvmkit creates carries it


@dataclass(frozen=True)
class HostStatus:
    host: str
    volume_groups: list[VolumeGroup]
    volumes: list[LogicalVolume]

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
            "volumes": [_volume_dict(lv) for lv in self.volumes if not lv.hidden],
        }


def read_status(host: Host) -> HostStatus:
    return HostStatus(host.name, list_vgs(host), list_lvs(host))


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
            usage(lv), "yes" if LVMKIT_TAG in lv.tags else "",
        ])
    lines += _table(["LV", "KIND", "ATTR", "SIZE", "ORIGIN", "USAGE", "LVMKIT"], rows)
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


def _volume_dict(lv: LogicalVolume) -> dict:
    return {
        "vg": lv.vg_name, "name": lv.name, "kind": kind(lv), "attr": lv.attr.raw,
        "size_bytes": lv.size, "origin": lv.origin, "pool": lv.pool_lv,
        "snapshot_percent": lv.snap_percent, "data_percent": lv.data_percent,
        "invalid": lv.attr.is_invalid_snapshot, "active": lv.attr.is_active,
        "open": lv.attr.is_open, "tags": list(lv.tags), "created_by_lvmkit": LVMKIT_TAG in lv.tags,
    }


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [header, *rows]]
