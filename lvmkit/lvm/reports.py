"""LVM as data: reports from lvs/vgs/pvs turned into frozen dataclasses (names: lvm/names.py).

The query functions run a report command through a Host; the parse_* functions take the raw
JSON text, so tests feed them recorded outputs. Both JSON flavours are accepted:
`--reportformat json` (LVM 2.02.158 and later: every value a string, "" when undefined) and
`--reportformat json_std` (LVM 2.03.17 and later: counts and percentages unquoted, null
when undefined, string lists such as lv_tags as JSON arrays; sizes stay strings, "" when
undefined, as recorded from LVM 2.03.31). lvmkit itself asks for `json`, which every
LVM with JSON reports understands.

Sizes are bytes (int). Percentages are `float | None`: None means "not applicable", never 0.
`lv_time` becomes a timezone-aware datetime (None when LVM reports none).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from lvmkit.core.errors import CommandError, LvmkitError
from lvmkit.core.host import Host
from lvmkit.lvm.names import parse_lv_spec, validate_lv_name, validate_vg_name

# The report fields lvmkit asks for, in this order (`-o` takes them comma-joined).
# The lab recorder imports these to record the fixtures in tests/fixtures/lvm/.
LV_FIELDS = (
    "lv_name", "vg_name", "lv_attr", "lv_size", "origin", "origin_size", "pool_lv",
    "data_percent", "snap_percent", "metadata_percent", "lv_tags", "lv_path", "lv_dm_path",
    "lv_uuid", "lv_time",
)
# No segment fields (segtype, seg_*): with one, lvs prints a row per segment, and an LV
# extended in pieces (a snapshot grown by --autoextend) shows up twice.
VG_FIELDS = (
    "vg_name", "vg_uuid", "vg_size", "vg_free", "vg_extent_size", "vg_extent_count",
    "vg_free_count", "lv_count", "snap_count", "pv_count", "vg_attr", "vg_tags",
)
PV_FIELDS = ("pv_name", "vg_name", "pv_size", "pv_free", "pv_uuid", "pv_attr")

# LVM prints lv_time with report/time_format, by default "%Y-%m-%d %T %z".
LV_TIME_FORMAT = "%Y-%m-%d %H:%M:%S %z"


class ReportError(LvmkitError):
    """An LVM report could not be understood; the message names the command."""


class VolumeGroupNotFound(LvmkitError):
    """The volume group asked for does not exist on the host."""

    def __init__(self, host: str, vg: str):
        self.vg = vg
        super().__init__(
            f'volume group "{vg}" not found on {host}; `vgs` lists the volume groups there'
        )


# --- lv_attr -------------------------------------------------------------------------------

def _one(name: str, meanings: dict[str, object]) -> tuple[tuple[str, ...], dict[str, tuple]]:
    return (name,), {char: (value,) for char, value in meanings.items()}


_ALLOCATION = {"a": "anywhere", "c": "contiguous", "i": "inherited", "l": "cling", "n": "normal"}

# One entry per character of lv_attr, in order: the field(s) it sets and, for every character
# LVM may print there, the value(s). Taken from lvs(8) NOTES and checked against LVM's
# lv_attr_dup_with_info_and_seg_status() (lib/metadata/lv.c). Anything else is refused.
_LV_ATTR_POSITIONS = (
    _one("volume_type", {
        "C": "cache", "m": "mirrored", "M": "mirrored_no_initial_sync", "o": "origin",
        "O": "origin_merging_snapshot", "g": "integrity", "r": "raid",
        "R": "raid_no_initial_sync", "s": "snapshot", "S": "merging_snapshot", "p": "pvmove",
        "v": "virtual", "i": "image", "I": "image_out_of_sync", "l": "mirror_log",
        "c": "under_conversion", "V": "thin", "t": "thin_pool", "T": "thin_pool_data",
        "d": "vdo_pool", "D": "vdo_pool_data",
        "e": "metadata",  # raid, thin/cache pool or integrity metadata, or the pool metadata spare
        "-": "plain",
    }),
    _one("permissions", {
        "w": "writeable", "r": "read_only", "R": "read_only_activation",
        "-": None,  # pvmove LVs
    }),
    # Capitalised while the LV is locked against allocation changes (during pvmove).
    (("allocation_policy", "allocation_locked"), {
        **{char: (policy, False) for char, policy in _ALLOCATION.items()},
        **{char.upper(): (policy, True) for char, policy in _ALLOCATION.items()},
        "-": (None, False),
    }),
    _one("fixed_minor", {"m": True, "-": False}),
    _one("state", {
        "a": "active", "h": "historical", "s": "suspended", "I": "invalid_snapshot",
        "S": "invalid_suspended_snapshot", "m": "snapshot_merge_failed",
        "M": "suspended_snapshot_merge_failed", "d": "device_present_without_tables",
        "i": "device_present_with_inactive_table", "c": "thin_pool_check_needed",
        "C": "suspended_thin_pool_check_needed", "X": "unknown", "-": "inactive",
    }),
    _one("device_open", {"o": True, "-": False, "X": None}),
    _one("target_type", {
        "C": "cache", "m": "mirror", "r": "raid", "s": "snapshot", "t": "thin",
        "u": "unknown", "v": "virtual", "-": None,
    }),
    _one("zero_new_blocks", {"z": True, "-": False}),
    _one("health", {
        "p": "partial", "X": "unknown", "r": "refresh_needed", "m": "mismatches",
        "w": "writemostly", "s": "reshaping", "R": "remove_after_reshape", "F": "failed",
        "D": "out_of_data_space", "M": "metadata_read_only", "E": "error", "-": None,
    }),
    _one("skip_activation", {"k": True, "-": False}),
)

# States in which the LV has a live device-mapper table.
_LIVE_STATES = frozenset({
    "active", "suspended", "invalid_snapshot", "invalid_suspended_snapshot",
    "snapshot_merge_failed", "suspended_snapshot_merge_failed", "thin_pool_check_needed",
    "suspended_thin_pool_check_needed",
})


@dataclass(frozen=True)
class LvAttr:
    """The 10 characters of lv_attr, decoded (see lvs(8), NOTES)."""

    raw: str
    volume_type: str
    permissions: str | None
    allocation_policy: str | None
    allocation_locked: bool
    fixed_minor: bool
    state: str
    device_open: bool | None  # None: LVM could not tell (X)
    target_type: str | None
    zero_new_blocks: bool
    health: str | None
    skip_activation: bool

    @classmethod
    def parse(cls, raw: str, source: str = "lvs") -> LvAttr:
        if not isinstance(raw, str) or len(raw) != len(_LV_ATTR_POSITIONS):
            raise ReportError(
                f"{source}: lv_attr {raw!r} is not {len(_LV_ATTR_POSITIONS)} characters long"
            )
        fields: dict[str, object] = {"raw": raw}
        for position, (char, (names, meanings)) in enumerate(zip(raw, _LV_ATTR_POSITIONS, strict=False), 1):
            if char not in meanings:
                known = "".join(sorted(meanings))
                raise ReportError(
                    f"{source}: lv_attr {raw!r} has unknown character {char!r} at position "
                    f"{position} ({names[0]}); known there: {known!r}"
                )
            fields.update(zip(names, meanings[char], strict=False))
        return cls(**fields)

    @property
    def is_snapshot(self) -> bool:
        """A thick (copy-on-write) snapshot; thin snapshots are thin volumes with an origin."""
        return self.volume_type in ("snapshot", "merging_snapshot")

    @property
    def is_invalid_snapshot(self) -> bool:
        return self.state in ("invalid_snapshot", "invalid_suspended_snapshot")

    @property
    def is_thin(self) -> bool:
        return self.volume_type == "thin"

    @property
    def is_thin_pool(self) -> bool:
        return self.volume_type == "thin_pool"

    @property
    def is_origin(self) -> bool:
        return self.volume_type in ("origin", "origin_merging_snapshot")

    @property
    def is_active(self) -> bool:
        return self.state in _LIVE_STATES

    @property
    def is_open(self) -> bool:
        return self.device_open is True


# --- the volumes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PhysicalVolume:
    name: str  # the device, e.g. /dev/loop0
    vg_name: str | None  # None for a PV in no volume group
    size: int
    free: int
    uuid: str
    attr: str


@dataclass(frozen=True)
class VolumeGroup:
    name: str
    uuid: str
    size: int
    free: int
    extent_size: int
    extent_count: int
    free_count: int
    lv_count: int
    snap_count: int
    pv_count: int
    attr: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class LogicalVolume:
    name: str  # without the brackets LVM puts around hidden LVs
    vg_name: str
    hidden: bool
    attr: LvAttr
    size: int
    origin: str | None
    origin_size: int | None
    pool_lv: str | None
    data_percent: float | None
    snap_percent: float | None
    metadata_percent: float | None
    tags: tuple[str, ...]
    path: str | None  # /dev/VG/LV; None for hidden LVs
    dm_path: str | None
    uuid: str
    time: datetime | None

    @property
    def full_name(self) -> str:
        return f"{self.vg_name}/{self.name}"

    @property
    def is_thin_snapshot(self) -> bool:
        return self.attr.is_thin and self.origin is not None


# --- decoding reports ----------------------------------------------------------------------

def parse_lvs(text: str, source: str = "lvs") -> list[LogicalVolume]:
    """Decode `lvs --reportformat json|json_std -o LV_FIELDS` output."""
    return [_logical_volume(row, source) for row in _report_rows(text, "lv", LV_FIELDS, source)]


def parse_vgs(text: str, source: str = "vgs") -> list[VolumeGroup]:
    """Decode `vgs --reportformat json|json_std -o VG_FIELDS` output."""
    return [_volume_group(row, source) for row in _report_rows(text, "vg", VG_FIELDS, source)]


def parse_pvs(text: str, source: str = "pvs") -> list[PhysicalVolume]:
    """Decode `pvs --reportformat json|json_std -o PV_FIELDS` output."""
    return [_physical_volume(row, source) for row in _report_rows(text, "pv", PV_FIELDS, source)]


def _report_rows(text: str, kind: str, fields: tuple[str, ...], source: str) -> list[dict]:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ReportError(f"{source}: output is not JSON ({error}): {text[:200]!r}") from error
    reports = document.get("report") if isinstance(document, dict) else None
    if not isinstance(reports, list):
        raise ReportError(f"{source}: output has no \"report\" list: {text[:200]!r}")
    sections = [r[kind] for r in reports if isinstance(r, dict) and kind in r]
    if not sections or not all(isinstance(s, list) for s in sections):
        raise ReportError(f"{source}: output has no \"{kind}\" report: {text[:200]!r}")
    rows = [row for section in sections for row in section]
    for row in rows:
        missing = [f for f in fields if not isinstance(row, dict) or f not in row]
        if missing:
            raise ReportError(f"{source}: report row lacks {', '.join(missing)}: {row!r}")
    return rows


def _logical_volume(row: dict, source: str) -> LogicalVolume:
    name, hidden = _unbracket(_text(row, "lv_name", source))
    return LogicalVolume(
        name=name,
        vg_name=_text(row, "vg_name", source),
        hidden=hidden,
        attr=LvAttr.parse(_text(row, "lv_attr", source), source),
        size=_size(row, "lv_size", source),
        origin=_name_or_none(row, "origin", source),
        origin_size=_size_or_none(row, "origin_size", source),
        pool_lv=_name_or_none(row, "pool_lv", source),
        data_percent=_percent(row, "data_percent", source),
        snap_percent=_percent(row, "snap_percent", source),
        metadata_percent=_percent(row, "metadata_percent", source),
        tags=_tags(row, "lv_tags", source),
        path=_text(row, "lv_path", source) or None,
        dm_path=_text(row, "lv_dm_path", source) or None,
        uuid=_text(row, "lv_uuid", source),
        time=_time(row, "lv_time", source),
    )


def _volume_group(row: dict, source: str) -> VolumeGroup:
    return VolumeGroup(
        name=_text(row, "vg_name", source),
        uuid=_text(row, "vg_uuid", source),
        size=_size(row, "vg_size", source),
        free=_size(row, "vg_free", source),
        extent_size=_size(row, "vg_extent_size", source),
        extent_count=_size(row, "vg_extent_count", source),
        free_count=_size(row, "vg_free_count", source),
        lv_count=_size(row, "lv_count", source),
        snap_count=_size(row, "snap_count", source),
        pv_count=_size(row, "pv_count", source),
        attr=_text(row, "vg_attr", source),
        tags=_tags(row, "vg_tags", source),
    )


def _physical_volume(row: dict, source: str) -> PhysicalVolume:
    return PhysicalVolume(
        name=_text(row, "pv_name", source),
        vg_name=_text(row, "vg_name", source) or None,
        size=_size(row, "pv_size", source),
        free=_size(row, "pv_free", source),
        uuid=_text(row, "pv_uuid", source),
        attr=_text(row, "pv_attr", source),
    )


def _bad(source: str, row: dict, field: str, expected: str) -> ReportError:
    return ReportError(f"{source}: field {field} is {row[field]!r}, expected {expected}")


def _text(row: dict, field: str, source: str) -> str:
    value = row[field]
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(source, row, field, "a string")
    return value


def _unbracket(name: str) -> tuple[str, bool]:
    """LVM shows hidden (internal) LVs as [name]."""
    if name.startswith("[") and name.endswith("]"):
        return name[1:-1], True
    return name, False


def _name_or_none(row: dict, field: str, source: str) -> str | None:
    return _unbracket(_text(row, field, source))[0] or None


def _size_or_none(row: dict, field: str, source: str) -> int | None:
    value = row[field]
    if value is None or value == "":
        return None
    # json_std gives JSON numbers; bool is an int in Python but never a size.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise _bad(source, row, field, "a whole number of bytes (run with --units b --nosuffix)")


def _size(row: dict, field: str, source: str) -> int:
    value = _size_or_none(row, field, source)
    if value is None:
        raise _bad(source, row, field, "a number")
    return value


def _percent(row: dict, field: str, source: str) -> float | None:
    value = row[field]
    if value is None or value == "":
        return None  # not applicable to this LV: not 0
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise _bad(source, row, field, "a percentage")


def _tags(row: dict, field: str, source: str) -> tuple[str, ...]:
    value = row[field]
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        return tuple(value)  # json_std
    if isinstance(value, str):
        # json: one comma-separated string (tags cannot contain commas).
        return tuple(tag for tag in value.split(",") if tag)
    raise _bad(source, row, field, "tags")


def _time(row: dict, field: str, source: str) -> datetime | None:
    value = _text(row, field, source)
    if not value:
        return None
    try:
        return datetime.strptime(value, LV_TIME_FORMAT)
    except ValueError as error:
        raise _bad(source, row, field, "a time like '2026-11-26 02:40:11 +0000'") from error


# --- querying a host -----------------------------------------------------------------------

def _report_argv(command: str, fields, *selectors: str, all_lvs=False) -> list[str]:
    # --units b --nosuffix: sizes as plain byte counts, which parse without rounding.
    return [command, "--reportformat", "json", "--units", "b", "--nosuffix",
            *(["-a"] if all_lvs else []), "-o", ",".join(fields), *selectors]


_VG_NOT_FOUND = re.compile(r'Volume group "(?P<vg>[^"]*)" not found')
_LV_NOT_FOUND = re.compile(r'Failed to find logical volume "(?P<vg>[^"/]*)/(?P<lv>[^"]*)"')


def _query(host: Host, parse, command: str, fields, *selectors: str, all_lvs=False) -> list:
    """Run a report command and decode it; a missing VG becomes VolumeGroupNotFound."""
    argv = _report_argv(command, fields, *selectors, all_lvs=all_lvs)
    try:
        stdout = host.run(argv).stdout
    except CommandError as error:
        missing = _VG_NOT_FOUND.search(error.stderr_tail)
        if missing:
            raise VolumeGroupNotFound(host.name, missing["vg"]) from error
        raise
    return parse(stdout, source=" ".join([command, *selectors]))


def missing_vg(stderr: str) -> str | None:
    """The volume group a failed report names as not found, if that is why it failed."""
    found = _VG_NOT_FOUND.search(stderr)
    return found["vg"] if found else None


def vg_lvs_argv(vg: str) -> list[str]:
    """The report list_lvs(host, vg) runs: every LV of the VG, hidden ones included."""
    return _report_argv("lvs", LV_FIELDS, validate_vg_name(vg), all_lvs=True)


def vgs_argv(vg: str) -> list[str]:
    """The report list_vgs(host, vg) runs."""
    return _report_argv("vgs", VG_FIELDS, validate_vg_name(vg))


def list_pvs(host: Host) -> list[PhysicalVolume]:
    return _query(host, parse_pvs, "pvs", PV_FIELDS)


def list_vgs(host: Host, vg: str | None = None) -> list[VolumeGroup]:
    selectors = [validate_vg_name(vg)] if vg is not None else []
    return _query(host, parse_vgs, "vgs", VG_FIELDS, *selectors)


def list_lvs(host: Host, vg: str | None = None) -> list[LogicalVolume]:
    """All LVs, hidden ones included (`-a`); `vg` may be a VG name or one "VG/LV"."""
    if vg is None:
        selectors = []
    elif "/" in vg:
        selectors = ["/".join(parse_lv_spec(vg))]
    else:
        selectors = [validate_vg_name(vg)]
    return _query(host, parse_lvs, "lvs", LV_FIELDS, *selectors, all_lvs=True)


def get_lv(host: Host, vg: str, lv: str) -> LogicalVolume | None:
    """The LV, or None if the VG has no such LV; raises VolumeGroupNotFound for a missing VG."""
    spec = f"{validate_vg_name(vg)}/{validate_lv_name(lv)}"
    try:
        volumes = list_lvs(host, spec)
    except CommandError as error:
        missing = _LV_NOT_FOUND.search(error.stderr_tail)
        if missing and (missing["vg"], missing["lv"]) == (vg, lv):
            return None
        raise
    matches = [v for v in volumes if (v.vg_name, v.name) == (vg, lv)]
    if len(matches) > 1:
        raise ReportError(f"lvs {spec}: reported {len(matches)} volumes named {spec}")
    return matches[0] if matches else None
