"""The layout a volume came from: what a rebuild on a blank disk needs to make it again.

Asked in the backup's preflight batch (read-only): the volume group's physical volumes, a
segment report of its volumes (segment type, stripes, thin pool chunk and metadata size,
tags), the filesystem's creation parameters (`dumpe2fs -h` for ext2/3/4, `xfs_info` for
XFS) and /etc/fstab. Decoded here into one JSON-ready dict, written to the archive set as
layout.json (lvmkit.archive.archive_set.LAYOUT) beside `vgcfgbackup -f` of the group.
"""

from __future__ import annotations

import re

from lvmkit.core.batch import Query
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import CommandResult
from lvmkit.lvm.filesystem import FilesystemInfo
from lvmkit.lvm.reports import (
    PV_FIELDS,
    LogicalVolume,
    VolumeGroup,
    _report_argv,
    _report_rows,
    _size_or_none,
    _tags,
    _text,
    _unbracket,
    parse_pvs,
    validate_vg_name,
)

LAYOUT_SCHEMA = 1
# A segment report: one row per segment (an LV extended in pieces has several).
SEGMENT_FIELDS = ("lv_name", "vg_name", "segtype", "stripes", "stripe_size", "chunk_size",
                  "lv_metadata_size", "seg_size", "pool_lv", "lv_tags")

# The filesystem's creation parameters, by its type as blkid reads it from the device.
# xfs_info takes an unmounted device too (it runs xfs_db then).
_FILESYSTEM_PARAMETERS = r"""type=$(blkid -p -o value -s TYPE "$1") || exit 2
case $type in
  ext2|ext3|ext4) exec dumpe2fs -h "$1" ;;
  xfs) exec xfs_info "$1" ;;
  *) echo "unsupported filesystem: $type" >&2; exit 3 ;;
esac
"""


class LayoutError(LvmkitError):
    """The layout's reports could not be understood."""


def layout_queries(vg: str) -> list[Query]:
    """The read-only parts the preflight batch adds (the origin's device is asked as "fsparams")."""
    validate_vg_name(vg)
    return [
        Query("segments", _report_argv("lvs", SEGMENT_FIELDS, vg, all_lvs=True)),
        Query("pvs", _report_argv("pvs", PV_FIELDS, "--select", f"vg_name={vg}")),
        Query("fstab", ["cat", "/etc/fstab"]),
    ]


def fs_parameters_query(device: str) -> Query:
    return Query("fsparams", ["sh", "-c", _FILESYSTEM_PARAMETERS, "sh", device])


def parse_segments(text: str, source: str = "lvs segments") -> list[dict]:
    """Decode a segment report (SEGMENT_FIELDS): one dict per segment, sizes in bytes."""
    segments = []
    for row in _report_rows(text, "lv", SEGMENT_FIELDS, source):
        name, hidden = _unbracket(_text(row, "lv_name", source))
        segments.append({
            "lv": name, "hidden": hidden, "type": _text(row, "segtype", source),
            "stripes": _size_or_none(row, "stripes", source),
            "stripe_size": _size_or_none(row, "stripe_size", source),
            "chunk_size": _size_or_none(row, "chunk_size", source),
            "metadata_size": _size_or_none(row, "lv_metadata_size", source),
            "size": _size_or_none(row, "seg_size", source),
            "pool": _unbracket(_text(row, "pool_lv", source))[0] or None,
            "tags": list(_tags(row, "lv_tags", source)),
        })
    return segments


_DUMPE2FS_LINE = re.compile(r"([A-Za-z][A-Za-z /#-]*):\s*(.*)")


def parse_dumpe2fs(text: str) -> dict:
    """The ext2/3/4 superblock as `dumpe2fs -h` prints it: the parameters mkfs.ext4 takes."""
    fields = {}
    for line in text.splitlines():
        match = _DUMPE2FS_LINE.fullmatch(line.rstrip())
        if match:
            fields[match[1]] = match[2].strip()
    if "Filesystem UUID" not in fields or "Block size" not in fields:
        raise LayoutError(f"dumpe2fs -h printed no superblock: {text[:200]!r}")
    label = fields.get("Filesystem volume name", "")
    return {
        "uuid": fields["Filesystem UUID"],
        "label": "" if label == "<none>" else label,
        "features": fields.get("Filesystem features", "").split(),
        "block_size": int(fields["Block size"]),
        "inode_size": int(fields.get("Inode size", "0")),
        "block_count": int(fields.get("Block count", "0")),
        "inode_count": int(fields.get("Inode count", "0")),
        "reserved_block_count": int(fields.get("Reserved block count", "0")),
    }


_XFS_SECTION = re.compile(r"^(meta-data|data|naming|log|realtime)\s*=")
_XFS_PAIR = re.compile(r"([a-z][a-z0-9-]*)=([^\s,]+)")


def parse_xfs_info(text: str) -> dict:
    """XFS geometry as `xfs_info` prints it: {section: {key: value}} (numbers as int)."""
    geometry: dict[str, dict] = {}
    section = None
    for line in text.splitlines():
        started = _XFS_SECTION.match(line)
        if started:
            section = started[1]
            line = line[started.end():]
        elif not line.lstrip().startswith("="):
            continue
        else:
            line = line.lstrip()[1:]
        if section is None:
            continue
        # the first word after "=" may be a value without a key ("internal log", "version 2")
        for key, value in _XFS_PAIR.findall(line):
            geometry.setdefault(section, {})[key] = int(value) if value.isdigit() else value
    if "bsize" not in geometry.get("data", {}) or "isize" not in geometry.get("meta-data", {}):
        raise LayoutError(f"xfs_info printed no geometry: {text[:200]!r}")
    return geometry


def fstab_lines(text: str, vg: str, lv: str, uuid: str | None, label: str | None) -> list[str]:
    """The lines of /etc/fstab that mount the volume, by any name it has."""
    names = {f"/dev/{vg}/{lv}", f"/dev/mapper/{vg.replace('-', '--')}-{lv.replace('-', '--')}"}
    if uuid:
        names |= {f"UUID={uuid}", f'UUID="{uuid}"', f"/dev/disk/by-uuid/{uuid}"}
    if label:
        names |= {f"LABEL={label}", f'LABEL="{label}"'}
    return [line for line in text.splitlines()
            if line.split() and not line.lstrip().startswith("#") and line.split()[0] in names]


def describe(group: VolumeGroup, volumes: list[LogicalVolume], origin: LogicalVolume, fs: FilesystemInfo,
             answers: dict[str, CommandResult], mounts: list[str]) -> dict:
    """layout.json of `origin`: its VG, PVs, segments, thin pool, filesystem and fstab lines."""
    for part in ("segments", "pvs", "fsparams"):
        if answers[part].returncode != 0:
            raise LayoutError(f"recording the layout: {' '.join(answers[part].argv[:3])} failed "
                              f"(exit {answers[part].returncode}): {answers[part].stderr.strip()[-300:]}")
    segments = parse_segments(answers["segments"].stdout, f"lvs segments {group.name}")
    pvs = parse_pvs(answers["pvs"].stdout, f"pvs {group.name}")
    by_lv = {s["lv"]: [x for x in segments if x["lv"] == s["lv"]] for s in segments}
    params = answers["fsparams"].stdout
    filesystem = ({"type": fs.type, "ext": parse_dumpe2fs(params)} if fs.type.startswith("ext")
                  else {"type": fs.type, "xfs": parse_xfs_info(params)})
    uuid, label = fs.uuid, fs.label or ""
    fstab = answers["fstab"].stdout if answers["fstab"].returncode == 0 else ""
    pool = next((v for v in volumes if v.name == origin.pool_lv), None) if origin.pool_lv else None
    return {
        "schema": LAYOUT_SCHEMA,
        "volume_group": {"name": group.name, "uuid": group.uuid, "size": group.size,
                         "extent_size": group.extent_size, "tags": list(group.tags),
                         "physical_volumes": [{"name": p.name, "size": p.size, "uuid": p.uuid} for p in pvs]},
        "volume": {"name": origin.name, "size": origin.size, "uuid": origin.uuid, "thin": origin.attr.is_thin,
                   "pool": origin.pool_lv, "tags": list(origin.tags), "segments": _segments(by_lv, origin.name)},
        "thin_pool": None if pool is None else {
            "name": pool.name, "size": pool.size, "tags": list(pool.tags),
            "chunk_size": by_lv[pool.name][0]["chunk_size"], "metadata_size": by_lv[pool.name][0]["metadata_size"]},
        "filesystem": {**filesystem, "uuid": uuid, "label": label},
        "mountpoints": mounts,
        "fstab": fstab_lines(fstab, group.name, origin.name, uuid, label),
    }


def _segments(by_lv: dict[str, list[dict]], name: str) -> list[dict]:
    return [{k: s[k] for k in ("type", "stripes", "stripe_size", "size")} for s in by_lv.get(name, [])]
