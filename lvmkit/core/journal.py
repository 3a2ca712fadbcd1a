"""The command journal: one JSON line per command, the raw evidence of a run."""

from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

# Output beyond this many characters keeps only its end: errors are at the end,
# and a journal must stay readable next to a multi-gigabyte archive.
OUTPUT_LIMIT = 16_384


def bounded(text: str, limit: int = OUTPUT_LIMIT) -> str:
    if len(text) <= limit:
        return text
    return f"[... {len(text) - limit} characters cut ...]" + text[-limit:]


@dataclass(frozen=True)
class JournalEntry:
    host: str
    argv: list[str]
    changes_state: bool
    planned: bool  # True when a dry run recorded the command instead of running it
    start: str  # UTC, ISO 8601
    end: str
    duration_s: float
    returncode: int | None
    stdout: str
    stderr: str


class Journal:
    """Collects entries in memory and, when given a path, appends each to a JSON-lines file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else None
        self.entries: list[JournalEntry] = []
        self._lock = threading.Lock()  # the snapshot watcher records from its own thread
        if self.path:
            # The journal holds commands' arguments and outputs: root's alone. A directory
            # made here is 0700; one that exists (/tmp, say) is left as it is.
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)

    def record(self, entry: JournalEntry) -> None:
        with self._lock:
            self.entries.append(entry)
            if self.path:
                with _open_private(self.path) as stream:
                    stream.write(json.dumps(asdict(entry), sort_keys=True) + "\n")

    @staticmethod
    def read(path: Path) -> list[JournalEntry]:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        return [JournalEntry(**json.loads(line)) for line in lines if line.strip()]


def _open_private(path: Path):
    """Append to `path`, created 0600; an older journal readable by others is made 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    if stat.S_IMODE(os.fstat(descriptor).st_mode) & 0o077:
        os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "a", encoding="utf-8")
