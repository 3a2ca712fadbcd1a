"""`lvmkit list DIR --copies DEST`: which archive sets are in both places, missing, or differ.

Two sets are the same when their SHA256SUMS are the same text: the checksums of every
file of the set (each copy was checked against them on arrival).
"""

from __future__ import annotations

import posixpath
from dataclasses import asdict, dataclass

from lvmkit.archive.archive_set import SUMS
from lvmkit.ops.copy_transfer import Place
from lvmkit.ops.listing import list_sets

IN_BOTH = "in both"
DIFFERS = "DIFFERS"
NOT_COPIED = "not copied"
ONLY_COPY = "only in the copies"


@dataclass(frozen=True)
class CopyState:
    name: str
    state: str

    def as_dict(self) -> dict:
        return asdict(self)


def published_sums(place: Place) -> dict[str, str | None]:
    """{set name: its SHA256SUMS text, or None if unreadable} of the published sets in the place."""
    sums = {}
    for listed in list_sets(place.host, place.directory):
        name = posixpath.basename(listed.path)
        if name.startswith("."):  # a partial or a set being pruned: not published
            continue
        result = place.host.run(["cat", "--", f"{listed.path}/{SUMS}"], check=False)
        sums[name] = result.stdout if result.returncode == 0 else None
    return sums


def compare(source: Place, copies: Place) -> list[CopyState]:
    here, there = published_sums(source), published_sums(copies)
    rows = []
    for name in sorted(set(here) | set(there)):
        if name not in there:
            rows.append(CopyState(name, NOT_COPIED))
        elif name not in here:
            rows.append(CopyState(name, ONLY_COPY))
        elif here[name] is None or here[name] != there[name]:
            rows.append(CopyState(name, DIFFERS))
        else:
            rows.append(CopyState(name, IN_BOTH))
    return rows


def render(rows: list[CopyState]) -> str:
    if not rows:
        return "no archive sets in either place"
    width = max(len(row.name) for row in rows)
    return "\n".join(f"{row.name.ljust(width)}  {row.state}" for row in rows)
