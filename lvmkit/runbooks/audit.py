"""The audit log: one line per run, each carrying the hash of the line before it.

RECORDS/audit.log is JSON lines, appended to and never rewritten. A line names a record
folder and the sha256 of its run.json; run.json holds the sha256 of every other file of
the folder. So the chain covers every byte of every record, and `verify` finds:

- a record edited (a file's hash, or run.json's, no longer matches),
- a record deleted (a folder or file named by the chain is gone),
- a record added (a folder or file that no line accounts for),
- records reordered (a line's `prev` no longer is the hash of the line before it, or its
  sequence number is out of place),
- a kept plan (RECORDS/plans/) edited or deleted: each run.json lists the sha256 of every
  plan there when it ended; a plan made after the last run is covered by the next one.

A record is flushed to disk (every file, its folder, RECORDS) before its line is appended,
and the line before append() returns: a power cut never leaves a line naming a record
whose bytes were lost.

Rewriting the whole chain from an edited line on is possible for whoever can write the
log, and so is cutting its last lines off cleanly; against both, keep the head hash that
each run reports somewhere else (the change ticket) and check it with
`lvmkit audit verify DIR --head HASH`: any head the chain passes through is accepted (a
later run appends to the chain, it does not invalidate an earlier ticket's head).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from lvmkit.core import schemas
from lvmkit.runbooks.approval import PLANS  # the plans kept for approval, beside the record folders
from lvmkit.runbooks.record_signing import LINE_FIELDS, RUN_JSON_SIG, check_record

AUDIT_LOG = "audit.log"
RUN_JSON = "run.json"
GENESIS = "0" * 64  # the `prev` of the first line
# What each line repeats from its run.json, to read the log without opening the records.
SUMMARY = ("runbook", "outcome", "start", "end", "operator", "change_id")
NOT_RECORDS = {AUDIT_LOG, f"{AUDIT_LOG}.lock", PLANS}  # in RECORDS, beside the record folders


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def line_hash(line: str | bytes) -> str:
    return hashlib.sha256(line if isinstance(line, bytes) else line.encode("utf-8")).hexdigest()


def folder_files(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` (relative POSIX paths), run.json left out; a
    symlink by the sha256 of its target's name (never followed)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            files[path.relative_to(folder).as_posix()] = f"symlink:{line_hash(os.readlink(path))}"
        elif path.is_file():
            relative = path.relative_to(folder).as_posix()
            if relative not in (RUN_JSON, RUN_JSON_SIG):  # the audit line covers these two
                files[relative] = sha256_file(path)
    return files


def plan_files(records: Path) -> dict[str, str]:
    """sha256 of every file in RECORDS/plans/, for run.json: the chain then covers them."""
    return folder_files(records / PLANS) if (records / PLANS).is_dir() else {}


def flush(folder: Path) -> None:
    """fsync every file and directory under `folder`, itself and its parent included."""
    for path in [*sorted(folder.rglob("*")), folder, folder.parent]:
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            continue
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def append(records: Path, record: str, run: dict, signed: dict | None = None) -> dict:
    """Append the line of the record folder `record` (its run.json written) to the audit log;
    `signed`: its signature's fields (record_signing.sign_record)."""
    log_path = records / AUDIT_LOG
    flush(records / record)  # the record's bytes on disk before a line names them
    # One writer at a time: two runs ending together must not both chain to the same line.
    with open(records / f"{AUDIT_LOG}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = _lines(log_path)
        entry = {
            "seq": len(lines) + 1,
            "prev": line_hash(lines[-1]) if lines else GENESIS,
            "record": record,
            "run_json_sha256": sha256_file(records / record / RUN_JSON),
            **{key: run.get(key) for key in SUMMARY},
            **{key: (signed or {})[key] for key in LINE_FIELDS if key in (signed or {})},
        }
        line = json.dumps(entry, sort_keys=True, separators=(",", ":"))
        with open(log_path, "a", encoding="utf-8") as stream:
            stream.write(line + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        flush_directory(records)  # a new audit.log's own entry
    return {**entry, "hash": line_hash(line)}


def flush_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@dataclass
class AuditReport:
    records: Path
    lines: int = 0
    head: str = GENESIS
    problems: list[str] = field(default_factory=list)
    given_head: str | None = None
    given_head_line: int | None = None  # the line whose hash is the given head (0: the empty log)
    uncovered_plans: list[str] = field(default_factory=list)  # kept after the last run
    # The problems found on a record's line or in its folder, by the folder's name (a folder no
    # line names too); the rest (a line naming no record, the plans, the head) only in `problems`.
    by_record: dict[str, list[str]] = field(default_factory=dict)
    entries: dict[str, dict] = field(default_factory=dict)  # each record's line, parsed, in the chain's order

    @property
    def intact(self) -> bool:
        return not self.problems

    def render(self) -> str:
        if not self.intact:
            return "\n".join([f"AUDIT FAILED: {len(self.problems)} problem(s) in {self.records}:",
                              *[f"  {p}" for p in self.problems]])
        lines = [f"audit log intact: {self.lines} record{'s' if self.lines != 1 else ''}, every file as recorded; "
                 f"head {self.head}"]
        if self.uncovered_plans:
            lines.append(f"{len(self.uncovered_plans)} plan(s) in {PLANS}/ kept after the last run: the next run's "
                         f"record covers them")
        if self.given_head is None:
            lines.append("no --head given: records cut off the end of the log cleanly would not show; "
                         "give a head kept elsewhere (a change ticket) to rule that out")
        else:
            later = self.lines - self.given_head_line
            lines.append(f"the given head is line {self.given_head_line} of the chain"
                         + (f"; {later} record{'s' if later != 1 else ''} appended since" if later else
                            " (the last line)"))
        return "\n".join(lines)


def read_run_json(folder: Path) -> dict | None:
    """A record's run.json as it is on disk; None when it is missing or not a JSON object
    (what that means is verify's to say)."""
    try:
        run = json.loads((folder / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return run if isinstance(run, dict) else None


def verify(records: Path, *, head: str | None = None, trust: str | None = None) -> AuditReport:
    """`trust`: an allowed_signers file; every record must then be signed by a key in it."""
    records = Path(records)
    report = AuditReport(records)
    log_path = records / AUDIT_LOG
    if not log_path.is_file():
        report.problems.append(f"no {AUDIT_LOG} in {records}")
        return report
    lines = _lines(log_path)
    report.lines = len(lines)
    named: dict[str, int] = {}
    plans: dict[str, tuple[str, str]] = {}  # plan file -> (sha256, the record that listed it last)
    previous = GENESIS
    heads = [GENESIS]  # the head after each line: a head kept elsewhere must be one of them
    for number, line in enumerate(lines, 1):
        where = f"{AUDIT_LOG} line {number}"
        found = len(report.problems)  # this line's problems start here
        if isinstance(line, bytes):
            report.problems.append(f"{where} is not UTF-8 text: damaged or edited")
            previous = line_hash(line)
            heads.append(previous)
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise ValueError("not an object")
        except ValueError:
            report.problems.append(f"{where} is not a JSON object: edited")
            previous = line_hash(line)
            heads.append(previous)
            continue
        for problem in schemas.problems(entry, "audit-line.json", limit=1):
            report.problems.append(f"{where}: field {problem} (docs/schemas/audit-line.json): edited")
        if entry.get("prev") != previous:
            report.problems.append(f"{where} does not chain to the line before it (prev {entry.get('prev')}, "
                                   f"expected {previous}): a line was edited, deleted, inserted or moved")
        if entry.get("seq") != number:
            report.problems.append(f"{where} has sequence number {entry.get('seq')}: lines were deleted, "
                                   f"added or reordered")
        previous = line_hash(line)
        heads.append(previous)
        record = entry.get("record")
        if not isinstance(record, str) or not record or "/" in record or record in NOT_RECORDS or record.startswith("."):
            report.problems.append(f"{where} names no valid record folder: {record!r}")
            continue
        if record in named:
            report.problems.append(f"{where} names {record} again (first on line {named[record]})")
            continue
        named[record] = number
        report.entries[record] = entry
        _check_record(records / record, entry, where, report.problems, plans, trust)
        if report.problems[found:]:
            report.by_record[record] = report.problems[found:]
    report.head = previous
    for path in sorted(records.iterdir()):
        if path.name not in NOT_RECORDS and path.name not in named:
            report.problems.append(f"{path.name} is not in {AUDIT_LOG}: added (or a run still in progress)")
            report.by_record[path.name] = report.problems[-1:]
    _check_plans(records, plans, report)
    if head is not None:
        report.given_head = head
        if head in heads:
            report.given_head_line = heads.index(head)
        else:
            report.problems.append(f"the chain never passes through the head {head} kept elsewhere (its head is "
                                   f"{report.head}): the log was cut short or rewritten")
    return report


def _check_plans(records: Path, listed: dict[str, tuple[str, str]], report: AuditReport) -> None:
    """Every plan a run listed is there as it was; plans made after the last run are noted."""
    actual = plan_files(records)
    for name, (digest, record) in sorted(listed.items()):
        if name not in actual:
            report.problems.append(f"{PLANS}/{name} is missing: deleted (record {record} listed it)")
        elif actual[name] != digest:
            report.problems.append(f"{PLANS}/{name} was edited (sha256 {actual[name]}, record {record} "
                                   f"listed {digest})")
    report.uncovered_plans = sorted(set(actual) - set(listed))


def _check_record(folder: Path, entry: dict, where: str, problems: list[str],
                  plans: dict[str, tuple[str, str]], trust: str | None = None) -> None:
    name = folder.name
    run_json = folder / RUN_JSON
    if not folder.is_dir():
        problems.append(f"record {name} ({where}) is missing: deleted")
        return
    if not run_json.is_file():
        problems.append(f"record {name}: {RUN_JSON} is missing: deleted")
        return
    if sha256_file(run_json) != entry.get("run_json_sha256"):
        problems.append(f"record {name}: {RUN_JSON} was edited (its sha256 is not the one in {where})")
        return
    problems += check_record(folder, entry, where, trust)
    try:
        run = json.loads(run_json.read_text(encoding="utf-8"))
        recorded = run["files"]
    except (ValueError, KeyError, TypeError):
        problems.append(f"record {name}: {RUN_JSON} lists no files")
        return
    found = schemas.problems(run, "run.json", limit=1)
    if found:
        problems.append(f"record {name}: {RUN_JSON} field {found[0]} (docs/schemas/run.json)")
        return
    if run.get("record") != name:
        problems.append(f"record {name}: its {RUN_JSON} says it is {run.get('record')!r}: renamed or swapped")
    for key in SUMMARY:  # the last line has no successor to chain it: its words are checked here
        if entry.get(key) != run.get(key):
            problems.append(f"{where} says {key} {entry.get(key)!r}, the record's {RUN_JSON} {run.get(key)!r}: edited")
    for plan, digest in sorted((run.get("plans") or {}).items()):
        plans[plan] = (digest, name)
    actual = folder_files(folder)
    for file, digest in sorted(recorded.items()):
        if digest == "symlink" and actual.get(file, "").startswith("symlink:"):
            continue  # recorded by an lvmkit that did not hash a symlink's target
        if file not in actual:
            problems.append(f"record {name}: {file} is missing: deleted")
        elif actual[file] != digest:
            problems.append(f"record {name}: {file} was edited (sha256 {actual[file]}, recorded {digest})")
    for file in sorted(set(actual) - set(recorded)):
        problems.append(f"record {name}: {file} was added after the run")


def _lines(path: Path) -> list[str | bytes]:
    """The log's lines as text; a line that is not UTF-8 stays bytes (verify reports it)."""
    if not path.exists():
        return []
    lines = []
    for raw in path.read_bytes().split(b"\n"):
        if raw:
            try:
                lines.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append(raw)
    return lines
