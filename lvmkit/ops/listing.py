"""`lvmkit list DIR`: the archive sets in a directory, newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from lvmkit.archive.archive_set import MANIFEST, ArchiveError, read_file
from lvmkit.archive.closure import VERIFICATION
from lvmkit.archive.manifest import GroupManifest, Manifest, from_json
from lvmkit.core.host import Host, utc_now
from lvmkit.core.paths import target_path
from lvmkit.core.sizes import human


@dataclass(frozen=True)
class ListedSet:
    path: str
    manifest: Manifest | GroupManifest | None
    verification: dict | None
    problem: str | None = None

    @property
    def ended(self) -> str:
        """When the backup ended; "" for an unreadable set, or a group's sealed before its manifest said."""
        return (self.manifest.ended or "") if self.manifest is not None else ""


def list_sets(host: Host, directory: str) -> list[ListedSet]:
    # find takes no `--`: only an absolute path keeps a directory from being read as an
    # expression (`find -delete ...` deletes).
    target_path(directory, "directory")
    found = host.run(["find", directory, "-mindepth", "2", "-maxdepth", "2", "-name", MANIFEST,
                      "-printf", "%h\\0"]).stdout
    sets = [_read_set(host, path) for path in found.split("\0") if path]
    return sorted(sets, key=lambda s: s.ended, reverse=True)


def _read_set(host: Host, path: str) -> ListedSet:
    try:
        manifest = from_json(read_file(host, f"{path}/{MANIFEST}"), f"{path}/{MANIFEST}")
    except ArchiveError as error:
        return ListedSet(path, None, None, str(error))
    result = host.run(["cat", "--", f"{path}/{VERIFICATION}"], check=False)
    if result.returncode != 0:
        return ListedSet(path, manifest, None)
    try:  # written by verify, but by anyone who can write the set too: never trusted to parse
        verification = json.loads(result.stdout)
    except (ValueError, RecursionError) as error:
        return ListedSet(path, manifest, None, f"{path}/{VERIFICATION} is not JSON ({str(error)[:80]})")
    if not isinstance(verification, dict) or not isinstance(verification.get("passed"), bool):
        return ListedSet(path, manifest, None, f"{path}/{VERIFICATION} has no passed: true or false")
    return ListedSet(path, manifest, verification)


def render(sets: list[ListedSet]) -> str:
    rows = [["ARCHIVE SET", "ORIGIN", "ENGINE", "SIZE", "AGE", "VERIFIED"]]
    now = utc_now()
    for listed in sets:
        if listed.manifest is None:
            rows.append([listed.path, "?", "?", "?", "?", f"damaged: {listed.problem}"])
            continue
        m = listed.manifest
        verified = f"damaged: {listed.problem}" if listed.problem else _verified(listed.verification)
        if isinstance(m, GroupManifest):  # its members' own sets hold the sizes
            members = ",".join(f"{member.vg}/{member.lv}" for member in m.members)
            rows.append([listed.path, f"group {members}", m.engine.name, "?", _age(now, m.ended), verified])
            continue
        rows.append([listed.path, f"{m.origin.vg}/{m.origin.lv}", m.engine.name,
                     human(m.bytes_written), _age(now, m.ended), verified])
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)).rstrip() for row in rows)


def _age(now: datetime, ended: str | None) -> str:
    if not ended:
        return "?"
    seconds = (now - datetime.fromisoformat(ended)).total_seconds()
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f}{unit}"
    return f"{seconds:.0f}s"


def _verified(verification: dict | None) -> str:
    if verification is None:
        return "not verified"
    outcome = "passed" if verification.get("passed") else "FAILED"
    finished = verification.get("finished")
    return f"{outcome}{' (deep)' if verification.get('deep') else ''} {finished[:19] if isinstance(finished, str) else ''}"
