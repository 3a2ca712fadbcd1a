"""Turn a --host value into a Host: `local`, `lab` or `ssh://[user@]host[:port]`."""

from __future__ import annotations

import os
from pathlib import Path

from . import lab
from .errors import UsageError
from .host import Host, parse_ssh_url
from .journal import Journal

DEFAULT_JOURNAL = Path("/var/log/lvmkit/journal.jsonl")


def default_journal_path() -> Path:
    return Path(os.environ.get("LVMKIT_JOURNAL", DEFAULT_JOURNAL))


def connect(spec: str, journal: Journal, *, dry_run: bool = False) -> Host:
    local = Host(journal=journal, dry_run=dry_run)
    if spec == "local":
        return local
    if spec == "lab":
        return lab.connect(local)
    if spec.startswith("ssh://"):
        return parse_ssh_url(spec, journal=journal, dry_run=dry_run)
    raise UsageError(f"cannot parse host {spec!r}: expected 'local', 'lab' or ssh://[user@]host[:port]")
