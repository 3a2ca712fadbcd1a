"""Which archive sets a rebuild restores: each volume's newest verified set that has a layout.

A directory of archive sets may hold many sets of one volume, sets of consistency groups
(each member a set of its own) and sets from before lvmkit recorded layouts. A set counts
as verified when its own verification.json passed, or its group's did.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lvmkit.archive.archive_set import LAYOUT, ArchiveError, read_file
from lvmkit.archive.manifest import GroupManifest, Manifest, read_manifest
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host
from lvmkit.ops.listing import ListedSet, list_sets


@dataclass(frozen=True)
class Source:
    """One volume to rebuild: the set it comes from, its manifest and its layout."""

    path: str
    manifest: Manifest
    layout: dict

    @property
    def volume(self) -> str:
        return f"{self.manifest.origin.vg}/{self.manifest.origin.lv}"

    @property
    def lv(self) -> str:
        return self.manifest.origin.lv


@dataclass
class Selection:
    sources: list[Source]
    unverified: list[str]  # volumes with sets but none verified
    without_layout: list[str]  # volumes whose verified sets all predate layouts


def select_sources(host: Host, directory: str) -> Selection:
    candidates: dict[str, list[tuple[str, Manifest]]] = {}
    verified: set[str] = set()
    for listed in list_sets(host, directory):
        for path, manifest in _volume_sets(host, listed):
            volume = f"{manifest.origin.vg}/{manifest.origin.lv}"
            candidates.setdefault(volume, []).append((path, manifest))
            if (listed.verification or {}).get("passed"):
                verified.add(path)
    sources, unverified, without_layout = [], [], []
    for volume, sets in sorted(candidates.items()):
        good = sorted((s for s in sets if s[0] in verified), key=lambda s: s[1].ended, reverse=True)
        if not good:
            unverified.append(volume)
            continue
        with_layout = [s for s in good if s[1].layout is not None]
        if not with_layout:
            without_layout.append(volume)
            continue
        path, manifest = with_layout[0]
        sources.append(Source(path, manifest, _read_layout(host, path)))
    return Selection(sources, unverified, without_layout)


def _volume_sets(host: Host, listed: ListedSet) -> list[tuple[str, Manifest]]:
    """(path, manifest) of the volume sets a listed set stands for: itself, or a group's members."""
    manifest = listed.manifest
    if manifest is None:
        return []
    if not isinstance(manifest, GroupManifest):
        return [(listed.path, manifest)]
    members = []
    for member in manifest.members:
        path = f"{listed.path}/{member.archive_set}"
        try:
            found = read_manifest(host, path)
        except (ArchiveError, LvmkitError):
            continue  # a damaged member: its volume falls back to another set, or is named unverified
        if isinstance(found, Manifest):
            members.append((path, found))
    return members


def _read_layout(host: Host, path: str) -> dict:
    text = read_file(host, f"{path}/{LAYOUT}")
    try:
        return json.loads(text)
    except ValueError as error:
        raise ArchiveError(f"{path}/{LAYOUT} is not JSON ({error}); the archive set is damaged") from None
