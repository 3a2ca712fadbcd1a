"""The command journal: one JSON line per command, the raw evidence of a run."""

from __future__ import annotations

import hashlib
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
class Private:
    """What the journal keeps out of a command's entry, recording its size and sha256 instead.

    `stdout`: a content digest or a file list is bulky and tells what is on the volume.
    `stderr`: kept unless asked (errors are the journal's point; a hook may print anything).
    `arguments_from`: the argv's words from this index on (a hook's may hold a password)."""

    stdout: bool = True
    stderr: bool = False
    arguments_from: int | None = None

    def argv(self, argv: list[str]) -> list[str]:
        if self.arguments_from is None or len(argv) <= self.arguments_from:
            return list(argv)
        kept = argv[self.arguments_from:]
        return [*argv[:self.arguments_from], f"[{len(kept)} argument(s) {summary(chr(0).join(kept))}]"]

    def outputs(self, stdout: str, stderr: str) -> tuple[str, str]:
        return (summary(stdout) if self.stdout and stdout else stdout,
                summary(stderr) if self.stderr and stderr else stderr)


BULKY = Private()  # the usual case: stdout out, stderr and argv kept


def summary(text: str) -> str:
    """What the journal keeps of a text it must not hold: enough to match it, nothing of it."""
    data = text.encode("utf-8", errors="surrogateescape")
    return f"[kept out of the journal: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}]"


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

    def __init__(self, path: Path | None = None, *, keep_private: bool = False):
        self.path = Path(path) if path else None
        # True only where the whole output is needed and nothing private is at stake: the
        # workflow recordings of the tests (tests/fixtures/record_workflows.py) replay it.
        self.keep_private = keep_private
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


@dataclass(frozen=True)
class CommandCount:
    """The commands a run sent to its target, as its journal recorded them."""

    queries: int  # read-only commands
    changes: int  # commands that change state
    monitoring: int  # the snapshot guard's readings, counted apart: one every poll interval

    @property
    def total(self) -> int:
        """Queries and changes: the work of the run, whatever its length."""
        return self.queries + self.changes

    def describe(self) -> str:
        return (f"{self.total} commands on the target ({self.queries} queries, {self.changes} changes), "
                f"and {self.monitoring} readings of the snapshot")


def count_commands(entries: list[JournalEntry], host: str, monitoring_prefix: list[str]) -> CommandCount:
    """Count `entries` run on `host` (planned ones of a dry run are not sent, so not counted);
    those whose argv begins with `monitoring_prefix` are the guard's readings."""
    sent = [e for e in entries if e.host == host and not e.planned]
    watching = [e for e in sent if e.argv[:len(monitoring_prefix)] == monitoring_prefix]
    others = [e for e in sent if e.argv[:len(monitoring_prefix)] != monitoring_prefix]
    changes = sum(1 for e in others if e.changes_state)
    return CommandCount(queries=len(others) - changes, changes=changes, monitoring=len(watching))


def _open_private(path: Path):
    """Append to `path`, created 0600; an older journal readable by others is made 0600.

    Only a regular file is tightened: `--journal /dev/null` must leave /dev/null as it is."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    mode = os.fstat(descriptor).st_mode
    if stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077:
        os.fchmod(descriptor, 0o600)
    return os.fdopen(descriptor, "a", encoding="utf-8")
