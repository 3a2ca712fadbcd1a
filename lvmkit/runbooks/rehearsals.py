"""The history of the DR rehearsals, read from their records, and the check for a slow one.

Each dr-rehearsal run keeps its recovery report (rehearsal.json) in its record folder, and
the runner copies the numbers into the run's run.json as `recovery` (`recovery_of`). The
history is those run.json files, read where they are: no file of its own in the records
folder, which the audit chain would report as added after a run. A rehearsal counts
for the trend when it succeeded and rehearsed the same volume with the same engine: a
rehearsal of another volume or engine says nothing about this one's speed.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from lvmkit.runbooks import audit

REHEARSAL_JSON = "rehearsal.json"  # what the dr-rehearsal runbook keeps in its record (steps.recovery_report)
RUNBOOK = "dr-rehearsal"
SLOWER_BY = 0.20  # slower than the previous rehearsals' median RTO by more than this: flagged


@dataclass(frozen=True)
class Rehearsal:
    record: str  # the record folder's name
    start: str  # when the run began (UTC, ISO 8601)
    rto_s: float  # recovery time: restore and proof
    rpo_s: float  # recovery point: the restored data's age when it was back


@dataclass(frozen=True)
class Verdict:
    rto_s: float
    previous_median_s: float | None  # None: no earlier rehearsal to compare with
    compared_with: int  # how many earlier rehearsals

    @property
    def limit_s(self) -> float | None:
        return None if self.previous_median_s is None else self.previous_median_s * (1 + SLOWER_BY)

    @property
    def slow(self) -> bool:
        return self.limit_s is not None and self.rto_s > self.limit_s

    def summary(self) -> str:
        if self.previous_median_s is None:
            return f"RTO {self.rto_s:.1f} s: the first rehearsal of this volume here, nothing to compare with yet"
        word = "SLOWER THAN USUAL" if self.slow else "as usual"
        return (f"RTO {self.rto_s:.1f} s: {word} (the median of the {self.compared_with} earlier rehearsals is "
                f"{self.previous_median_s:.1f} s; flagged above {self.limit_s:.1f} s, {SLOWER_BY:.0%} more)")


def recovery_of(record: Path) -> dict | None:
    """What run.json records of a rehearsal: its RTO, RPO, volume and engine; None when the
    run kept no recovery report (another runbook, or a rehearsal that failed before it)."""
    path = record / REHEARSAL_JSON
    if not path.is_file():
        return None
    report = json.loads(path.read_text(encoding="utf-8"))
    return {key: report[key] for key in ("rto_s", "rpo_s", "origin", "engine", "proved")}


def history(records: Path, origin: str, engine: str, *, before: str | None = None) -> list[Rehearsal]:
    """The succeeded rehearsals of `origin` with `engine` in RECORDS, oldest first; with
    `before` (a record folder's name), only the runs recorded before it. Only records the
    audit chain vouches for count: a run.json edited after its run, or a folder the log does
    not name, would otherwise move the median that flags a slow rehearsal."""
    chain = audit.verify(records)
    found = []
    for name in chain.entries:
        if name in chain.by_record:
            continue  # damaged or edited: audit verify reports it; the trend leaves it out
        if before is not None and name >= before:
            continue  # record names begin with their UTC start: they sort in time
        run = audit.read_run_json(records / name)
        recovery = run.get("recovery") if run else None
        if (run is None or run.get("runbook") != RUNBOOK or run.get("outcome") != "succeeded"
                or not isinstance(recovery, dict) or recovery.get("origin") != origin
                or recovery.get("engine") != engine):
            continue
        found.append(Rehearsal(name, run["start"], float(recovery["rto_s"]), float(recovery["rpo_s"])))
    return sorted(found, key=lambda r: (r.start, r.record))


def judge(previous: list[Rehearsal], rto_s: float) -> Verdict:
    """Is `rto_s` slower than the median of the `previous` rehearsals' by more than 20%?"""
    if not previous:
        return Verdict(rto_s, None, 0)
    return Verdict(rto_s, statistics.median(r.rto_s for r in previous), len(previous))
