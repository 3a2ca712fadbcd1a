"""The retention rules (restic's `forget --keep-*`): every period boundary, keep-last,
combinations, and the oldest-set rule."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.ops.retention import Candidate, Policy, apply_policy


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def decide(times: list[str], **rules) -> dict[str, tuple[str, ...]]:
    """{time: reasons} of the kept sets; a removed set is absent."""
    decisions = apply_policy([Candidate(t, at(t)) for t in times], Policy(**rules))
    return {d.key: d.reasons for d in decisions if d.keep}


def test_apply_policy_with_keep_last_keeps_the_newest_n():
    times = ["2026-11-01T02:00", "2026-11-02T02:00", "2026-11-03T02:00", "2026-11-04T02:00"]
    assert decide(times, last=2) == {"2026-11-04T02:00": ("last",), "2026-11-03T02:00": ("last",)}


def test_apply_policy_returns_newest_first_whatever_the_input_order():
    times = ["2026-11-02T02:00", "2026-11-04T02:00", "2026-11-01T02:00"]
    decisions = apply_policy([Candidate(t, at(t)) for t in times], Policy(last=1))
    assert [d.key for d in decisions] == ["2026-11-04T02:00", "2026-11-02T02:00", "2026-11-01T02:00"]
    assert [d.keep for d in decisions] == [True, False, False]


def test_apply_policy_with_daily_keeps_the_newest_of_one_day_only():
    times = ["2026-11-03T01:00", "2026-11-03T13:00", "2026-11-03T23:59", "2026-11-04T00:00"]
    assert decide(times, daily=2) == {"2026-11-04T00:00": ("daily",), "2026-11-03T23:59": ("daily",)}


def test_apply_policy_keeps_the_oldest_set_when_a_rule_has_count_left():
    times = ["2026-11-03T01:00", "2026-11-03T13:00", "2026-11-03T23:59"]
    assert decide(times, daily=2) == {"2026-11-03T23:59": ("daily",), "2026-11-03T01:00": ("daily (oldest)",)}


def test_apply_policy_keeps_no_oldest_set_once_the_count_is_used_up():
    times = ["2026-11-03T01:00", "2026-11-04T01:00"]
    assert decide(times, daily=1) == {"2026-11-04T01:00": ("daily",)}


def test_apply_policy_with_hourly_splits_at_the_full_hour():
    times = ["2026-11-03T10:00", "2026-11-03T10:59", "2026-11-03T11:00"]
    assert decide(times, hourly=2) == {"2026-11-03T11:00": ("hourly",), "2026-11-03T10:59": ("hourly",)}


def test_apply_policy_with_weekly_changes_week_on_monday_iso():
    # 2026-11-29 is a Sunday, 2026-11-30 a Monday; 2026-11-23 the Monday before.
    times = ["2026-11-23T02:00", "2026-11-29T23:00", "2026-11-30T01:00", "2026-12-06T23:00"]
    kept = decide(times, weekly=2)
    assert kept == {"2026-12-06T23:00": ("weekly",), "2026-11-29T23:00": ("weekly",)}


def test_apply_policy_with_weekly_puts_new_year_days_in_the_iso_week_of_the_old_year():
    # 2024-12-30 (Monday) and 2025-01-02 are both in ISO week 2025-W01; 2024-12-29 in 2024-W52.
    times = ["2024-12-29T12:00", "2024-12-30T12:00", "2025-01-02T12:00"]
    assert decide(times, weekly=2) == {"2025-01-02T12:00": ("weekly",), "2024-12-29T12:00": ("weekly",)}
    assert decide(times, yearly=2) == {"2025-01-02T12:00": ("yearly",), "2024-12-30T12:00": ("yearly",)}


def test_apply_policy_with_monthly_changes_month_at_midnight_of_the_first():
    times = ["2026-01-15T02:00", "2026-01-31T23:59", "2026-02-01T00:00", "2026-02-28T02:00"]
    assert decide(times, monthly=2) == {"2026-02-28T02:00": ("monthly",), "2026-01-31T23:59": ("monthly",)}


def test_apply_policy_with_yearly_changes_year_at_new_year():
    times = ["2024-06-01T02:00", "2025-12-31T23:59", "2026-01-01T00:00", "2026-06-01T02:00"]
    assert decide(times, yearly=2) == {"2026-06-01T02:00": ("yearly",), "2025-12-31T23:59": ("yearly",)}


def test_apply_policy_counts_each_rule_independently_like_restic():
    # The newest set is kept by both rules and uses up one of each rule's counts.
    times = ["2026-11-01T02:00", "2026-11-02T02:00", "2026-11-03T02:00"]
    assert decide(times, last=1, daily=2) == {"2026-11-03T02:00": ("last", "daily"), "2026-11-02T02:00": ("daily",)}


def test_apply_policy_combines_rules_over_two_months_of_daily_sets():
    start = at("2026-10-01T02:00")
    times = [(start + timedelta(days=n)).isoformat()[:16] for n in range(61)]  # 1 Oct .. 30 Nov
    kept = decide(times, last=2, daily=4, weekly=3, monthly=3)
    assert kept == {
        "2026-11-30T02:00": ("last", "daily", "weekly", "monthly"),
        "2026-11-29T02:00": ("last", "daily", "weekly"),  # Sunday: ends week 48
        "2026-11-28T02:00": ("daily",),
        "2026-11-27T02:00": ("daily",),
        "2026-11-22T02:00": ("weekly",),  # Sunday: ends week 47
        "2026-10-31T02:00": ("monthly",),
        "2026-10-01T02:00": ("monthly (oldest)",),
    }


def test_apply_policy_without_rules_keeps_everything():
    assert decide(["2026-11-01T02:00", "2026-11-02T02:00"]) == {
        "2026-11-02T02:00": ("no rule given: everything is kept",),
        "2026-11-01T02:00": ("no rule given: everything is kept",)}


def test_apply_policy_of_no_sets_decides_nothing():
    assert apply_policy([], Policy(last=3)) == []


@pytest.mark.parametrize("count", [-1, 1.5, "3", True])
def test_policy_with_a_count_that_is_not_a_whole_number_is_refused(count):
    with pytest.raises(UsageError, match="keep-daily"):
        Policy(daily=count)


def test_apply_policy_gives_the_worked_example_of_docs_retention_md():
    start = at("2026-09-28T02:00")
    times = [(start + timedelta(days=n)).isoformat()[:16] for n in range(64)] + ["2026-11-30T14:00"]
    kept = decide(times, last=2, daily=5, weekly=3, monthly=3)
    assert kept == {
        "2026-11-30T14:00": ("last", "daily", "weekly", "monthly"),
        "2026-11-30T02:00": ("last",),
        "2026-11-29T02:00": ("daily", "weekly"),
        "2026-11-28T02:00": ("daily",),
        "2026-11-27T02:00": ("daily",),
        "2026-11-26T02:00": ("daily",),
        "2026-11-22T02:00": ("weekly",),
        "2026-10-31T02:00": ("monthly",),
        "2026-09-30T02:00": ("monthly",),
    }
    assert len(times) - len(kept) == 56
