"""Sizes as operators write them (5G, 512M, 20%ORIGIN) and as people read them."""

from __future__ import annotations

import re

from lvmkit.core.errors import UsageError

# LVM's units are binary whatever their case: -L 5G and -L 5g both mean 5 GiB.
UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}
_ABSOLUTE = re.compile(r"(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[bkmgtp]?)(?:i?b)?", re.IGNORECASE)
_PERCENT = re.compile(r"(?P<percent>\d+(?:\.\d+)?)%ORIGIN", re.IGNORECASE)


def parse_size(text: str, origin_bytes: int | None = None) -> int:
    """Bytes for '5G', '512M', '1.5g', '4096', or 'N%ORIGIN' (needs origin_bytes)."""
    text = (text or "").strip()
    if match := _PERCENT.fullmatch(text):
        percent = float(match["percent"])
        if not 0 < percent <= 100:
            raise UsageError(f"size {text!r}: a percentage of the origin must be above 0 and at most 100")
        if origin_bytes is None:
            raise UsageError(f"size {text!r} is relative to an origin, and there is none here")
        return int(origin_bytes * percent / 100)
    if match := _ABSOLUTE.fullmatch(text):
        size = int(float(match["number"]) * UNITS[match["unit"].lower()])
        if size <= 0:
            raise UsageError(f"size {text!r} is zero; give a positive size such as 512M or 5G")
        return size
    raise UsageError(f"cannot read size {text!r}: write a number with a unit (512M, 5G, 1.5T) "
                     "or a share of the origin (20%ORIGIN)")


def round_up(size: int, unit: int) -> int:
    return -(-size // unit) * unit


def human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
