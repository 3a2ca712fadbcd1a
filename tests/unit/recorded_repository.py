"""restic's and borg's answers recorded on a host by tests/fixtures/record_repository.py, and a
repository engine's manifest: shared by the repository-engine and restic-parent tests."""

from __future__ import annotations

import json
from dataclasses import replace

from lvmkit.archive.manifest import RepositoryRecord, from_json

from .conftest import FIXTURES

SECRET_FILE = "/etc/lvmkit/restic.pass"
OPTIONS = {"restic": {"repository": "/srv/restic", "password_file": SECRET_FILE},
           "borg": {"repository": "/srv/borg", "password_file": SECRET_FILE}}
REPORT = "/backups/.labvg-ext4vol-20261130T040000Z-abcd.partial/{}"


def recorded(engine: str, case: str) -> dict:
    return json.loads((FIXTURES / "repository" / f"{engine}.json").read_text())["cases"][case]


def repository_manifest(engine: str, snapshot: str):
    """A manifest recorded in the lab (tar's), made a repository engine's."""
    manifest = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "fixture")
    record = RepositoryRecord(tool=engine, location=OPTIONS[engine]["repository"], id=snapshot, added_bytes=1,
                              files=1, bytes_processed=1)
    return replace(manifest, engine=replace(manifest.engine, name=engine, options=OPTIONS[engine]),
                   repository=record)
