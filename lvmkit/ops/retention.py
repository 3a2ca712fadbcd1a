"""Retention rules: which archive sets a policy keeps, and by which rule.

The rules are restic's (`restic forget --keep-*`, internal/restic/snapshot_policy.go), which
borg's `prune --keep-*` share in meaning:

- Sets are taken newest first. `last N` keeps the N newest.
- Each of `hourly`, `daily`, `weekly`, `monthly`, `yearly` N keeps the newest set of each of
  the N most recent periods that hold a set: going newest first, a set is kept when its
  period differs from the period of the set that rule kept last, until the rule has kept N.
- Weeks are ISO weeks (Monday to Sunday; the week of 31 Dec 2024 is 2025-W01), as restic's.
- A rule that has kept fewer than N when it reaches the oldest set keeps the oldest set too,
  so that the history kept is as long as the counts allow (restic 0.14+, borg 1.2+).
- The rules count independently: one set can be kept by several rules at once, and each of
  them counts it (restic's behaviour; borg's differs here: a set kept by an earlier rule
  does not use up a later rule's count).
- A set no rule keeps is removed. An empty policy keeps everything (restic) but callers
  should refuse it, as borg does: a prune with no rule is almost always a mistake.

Periods are taken in the time zone of each set's time stamp (lvmkit writes UTC).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Callable

from lvmkit.core.errors import UsageError


@dataclass(frozen=True)
class Policy:
    last: int = 0
    hourly: int = 0
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0

    def __post_init__(self):
        for rule in fields(self):
            count = getattr(self, rule.name)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise UsageError(f"keep-{rule.name} {count!r}: give a whole number, 0 or more")

    @property
    def empty(self) -> bool:
        return not any(self.as_dict().values())

    def as_dict(self) -> dict[str, int]:
        return {rule.name: getattr(self, rule.name) for rule in fields(self)}

    def describe(self) -> str:
        kept = [f"{count} {rule}" for rule, count in self.as_dict().items() if count]
        return "keep " + ", ".join(kept) if kept else "keep everything (no rule)"


RULES = tuple(rule.name for rule in fields(Policy))

# The period a time falls in, for each rule; "last" gives every set a period of its own.
PERIODS: dict[str, Callable[[datetime, int], object]] = {
    "last": lambda when, position: position,
    "hourly": lambda when, position: (when.year, when.month, when.day, when.hour),
    "daily": lambda when, position: (when.year, when.month, when.day),
    "weekly": lambda when, position: when.isocalendar()[:2],
    "monthly": lambda when, position: (when.year, when.month),
    "yearly": lambda when, position: when.year,
}


@dataclass(frozen=True)
class Candidate:
    key: str  # what names the set to the caller (its path)
    time: datetime


@dataclass(frozen=True)
class Decision:
    key: str
    time: datetime
    keep: bool
    reasons: tuple[str, ...]  # the rules that keep it, e.g. ("daily", "weekly (oldest)")


def apply_policy(candidates: list[Candidate], policy: Policy) -> list[Decision]:
    """A decision for every candidate, newest first."""
    ordered = sorted(candidates, key=lambda c: c.time, reverse=True)
    if policy.empty:
        return [Decision(c.key, c.time, True, ("no rule given: everything is kept",)) for c in ordered]
    remaining = policy.as_dict()
    last_period: dict[str, object] = {}
    decisions = []
    for position, candidate in enumerate(ordered):
        oldest = position == len(ordered) - 1
        reasons = []
        for rule in RULES:
            if remaining[rule] <= 0:
                continue
            period = PERIODS[rule](candidate.time, position)
            if rule in last_period and period == last_period[rule] and not oldest:
                continue
            # The oldest set is kept by a rule with count left even within a period the
            # rule already kept: it stretches the history kept (restic, borg).
            extra = rule in last_period and period == last_period[rule]
            last_period[rule] = period
            remaining[rule] -= 1
            reasons.append(f"{rule} (oldest)" if extra else rule)
        decisions.append(Decision(candidate.key, candidate.time, bool(reasons), tuple(reasons)))
    return decisions
