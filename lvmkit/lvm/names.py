"""LVM's rules for volume group and logical volume names, checked before any name reaches a command.

Every name lvmkit passes to LVM (from the command line, a runbook's parameters, a job, a
manifest) goes through these: a name that LVM would refuse, or read as an option, is refused
here with the rule it breaks.
"""

from __future__ import annotations

import re

from lvmkit.core.errors import UsageError

NAME_MAX_LENGTH = 127
_NAME = re.compile(r"[A-Za-z0-9+_.-]+")
NAME_RULES = (
    "LVM names use only a-z A-Z 0-9 + _ . -, do not start with '-', are not '.' or '..', "
    f"and have at most {NAME_MAX_LENGTH} characters"
)
RESERVED_LV_SUBSTRINGS = (
    "_cdata", "_cmeta", "_corig", "_iorig", "_mimage", "_mlog", "_pmspare", "_rimage",
    "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
)
RESERVED_LV_PREFIXES = ("snapshot", "pvmove")


def _validate_name(name: object, kind: str) -> str:
    if not isinstance(name, str) or not name:
        raise UsageError(f"{kind} name {name!r} is empty or not text; {NAME_RULES}")
    problem = None
    if len(name) > NAME_MAX_LENGTH:
        problem = f"is {len(name)} characters long"
    elif not _NAME.fullmatch(name):
        bad = sorted({c for c in name if not _NAME.fullmatch(c)})
        problem = f"contains {', '.join(repr(c) for c in bad)}"
    elif name.startswith("-"):
        problem = "starts with '-'"
    elif name in (".", ".."):
        problem = "is reserved"
    if problem:
        raise UsageError(f"{kind} name {name!r} {problem}; {NAME_RULES}")
    return name


def validate_vg_name(name: str) -> str:
    """Return `name` if LVM accepts it as a VG name, else raise UsageError saying why."""
    return _validate_name(name, "volume group")


def validate_lv_name(name: str) -> str:
    """Return `name` if LVM accepts it as an LV name, else raise UsageError saying why."""
    _validate_name(name, "logical volume")
    reserved = [s for s in RESERVED_LV_SUBSTRINGS if s in name]
    if reserved:
        raise UsageError(
            f"logical volume name {name!r} contains {reserved[0]!r}, which LVM reserves for "
            f"its internal volumes (reserved: {', '.join(RESERVED_LV_SUBSTRINGS)})"
        )
    if name.startswith(RESERVED_LV_PREFIXES):
        raise UsageError(
            f"logical volume name {name!r} starts with a prefix LVM reserves "
            f"({' or '.join(RESERVED_LV_PREFIXES)}); choose another name"
        )
    return name


def parse_lv_spec(spec: str) -> tuple[str, str]:
    """Split "VG/LV" into (vg, lv), both validated."""
    if not isinstance(spec, str) or spec.count("/") != 1 or "" in spec.split("/"):
        raise UsageError(f"{spec!r} is not of the form VG/LV (one '/', e.g. vg0/home)")
    vg, lv = spec.split("/")
    return validate_vg_name(vg), validate_lv_name(lv)
