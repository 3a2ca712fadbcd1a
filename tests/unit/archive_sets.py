"""Archive sets as the backup writes them, made in a real directory with the real sha256sum,
and the restore's preflight of one: shared by the closure, signature and encryption tests.

The manifests are the ones real backups wrote in the lab (tests/fixtures/manifest/), with the
checksums of the files written here.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

from lvmkit.archive.archive_set import parse_sums
from lvmkit.archive.manifest import from_json
from lvmkit.core.host import Host
from lvmkit.core.preflight import Preflight
from lvmkit.ops.restore import check_archive

from .conftest import FIXTURES


def recorded_manifest(name: str):
    """A manifest a real backup wrote in the lab, e.g. recorded_manifest("group.json")."""
    path = FIXTURES / "manifest" / name
    return from_json(path.read_text(), str(path))


def write_sums(directory: Path, names: list[str]) -> str:
    """SHA256SUMS of `names` (relative to `directory`) by the real sha256sum; returns its text."""
    sums = subprocess.run(["sha256sum", "--", *names], cwd=directory, check=True, capture_output=True, text=True).stdout
    (directory / "SHA256SUMS").write_text(sums)
    return sums


def make_set(directory: Path, files: dict[str, bytes], base: str = "single-tar-thick.json") -> Path:
    """A set as the backup writes it: the archive and digest, a manifest recording their
    checksums, and SHA256SUMS of all three."""
    directory.mkdir(mode=0o700)
    for name, data in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    manifest = recorded_manifest(base)
    checksums = parse_sums(write_sums(directory, sorted(files)))  # escaped names kept, as the backup keeps them
    archive = manifest.engine.archive
    manifest = dataclasses.replace(manifest, checksums=checksums, archive_sha256=checksums.get(archive),
                                   digest=dataclasses.replace(manifest.digest, sha256=checksums["digest.json"]))
    (directory / "manifest.json").write_text(manifest.to_json())
    write_sums(directory, [*sorted(files), "manifest.json"])
    return directory


def checked(directory: Path, trust=None) -> Preflight:
    """The restore's checks of the set in `directory` (trust: an allowed_signers file)."""
    checks = Preflight()
    check_archive(Host(), str(directory), checks, trust)
    return checks


def failure(checks: Preflight) -> str:
    """The details of the checks that failed, a line each."""
    return "\n".join(c.detail for c in checks.checks if not c.passed)
