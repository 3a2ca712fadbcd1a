"""`lvmkit prune`: decisions over a directory of real archive sets (their listing recorded in
the lab by tests/fixtures/record_prune.py), the guards, and the removal plan."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lvmkit import cli
from lvmkit.archive.manifest import from_json
from lvmkit.core.errors import UsageError
from lvmkit.ops import prune
from lvmkit.ops.retention import Policy
from tests.fixtures.record_prune import DIR
from tests.unit.conftest import FIXTURES

XFS = f"{DIR}/labvg-xfsvol-"
THIN = f"{DIR}/labvg-thinvol-"


def replay(host) -> None:
    """Expect every read prune's decision made in the lab, answered as it was there."""
    for command in json.loads((FIXTURES / "prune" / "decide.json").read_text()):
        host.expect(command["argv"], stdout=command["stdout"], stderr=command["stderr"],
                    returncode=command["returncode"], changes=command["changes"])


def decided(host, policy: Policy, **options) -> dict[str, tuple[bool, tuple[str, ...]]]:
    replay(host)
    decision = prune.decide(host, DIR, policy, **options)
    return {item.path.removeprefix(DIR + "/"): (item.keep, item.reasons) for item in decision.items}


def test_decide_applies_the_rules_per_origin_and_keeps_the_newest_verified_set(scripted_host):
    assert decided(scripted_host, Policy(last=1)) == {
        "labvg-thinvol-20261130T030000Z": (True, ("last",)),
        "labvg-thinvol-20261101T030000Z": (False, ()),
        "labvg-xfsvol-20261130T020000Z": (True, ("last",)),
        "labvg-xfsvol-20261129T020000Z": (False, ()),
        "labvg-xfsvol-20261128T020000Z": (True, (prune.FAILED_KEPT,)),
        "labvg-xfsvol-20261120T020000Z": (True, (prune.NEWEST_VERIFIED,)),
        "labvg-xfsvol-20261031T020000Z": (False, ()),
    }


def test_decide_leaves_failed_sets_out_of_the_rules_and_removes_them_only_when_asked(scripted_host):
    kept = decided(scripted_host, Policy(daily=3), prune_failed=True)
    assert kept["labvg-xfsvol-20261128T020000Z"] == (False, (prune.FAILED_REMOVED,))
    # The failed set takes no day: the three days kept are 30 Nov, 29 Nov and 20 Nov.
    assert kept["labvg-xfsvol-20261120T020000Z"] == (True, ("daily", prune.NEWEST_VERIFIED))
    assert kept["labvg-xfsvol-20261031T020000Z"] == (False, ())


def test_decide_with_monthly_keeps_the_last_set_of_each_month(scripted_host):
    kept = decided(scripted_host, Policy(monthly=2))
    assert kept["labvg-xfsvol-20261130T020000Z"] == (True, ("monthly",))
    assert kept["labvg-xfsvol-20261031T020000Z"] == (True, ("monthly",))
    assert kept["labvg-xfsvol-20261129T020000Z"] == (False, ())
    assert kept["labvg-thinvol-20261101T030000Z"] == (True, ("monthly (oldest)",))  # same month as 30 Nov


def test_decide_never_touches_other_origins_hidden_sets_or_what_is_not_a_set(scripted_host):
    replay(scripted_host)
    decision = prune.decide(scripted_host, DIR, Policy(last=1), origins={"labvg/thinvol"})
    assert {item.origin for item in decision.items} == {"labvg/thinvol"}
    assert f"{DIR}/not-a-set" in decision.ignored
    assert f"{DIR}/.labvg-xfsvol-20261201T000000Z.partial" in decision.ignored
    assert f"{XFS}20261130T020000Z" in decision.ignored


def test_decide_with_a_name_prefix_takes_only_that_jobs_sets(scripted_host):
    replay(scripted_host)
    decision = prune.decide(scripted_host, DIR, Policy(last=1), name_prefix="labvg-thinvol")
    assert {item.origin for item in decision.items} == {"labvg/thinvol"}


def test_remove_renames_each_set_to_a_hidden_name_then_deletes_it(scripted_host):
    replay(scripted_host)
    decision = prune.decide(scripted_host, DIR, Policy(last=1), origins={"labvg/thinvol"})
    old = f"{THIN}20261101T030000Z"
    hidden = f"{DIR}/.labvg-thinvol-20261101T030000Z.pruning"
    scripted_host.expect(["mv", "-T", "--", old, hidden], changes=True)
    scripted_host.expect(["rm", "-rf", "--", hidden], changes=True)
    records = prune.remove(scripted_host, decision, log=lambda message: None)
    assert [r.outcome for r in records] == ["done"]


def test_plan_declares_every_removal_and_hashes_them():
    item = prune.PruneItem(f"{THIN}20261101T030000Z", "labvg/thinvol", prune.datetime.now(prune.timezone.utc),
                           False, (), "none")
    decision = prune.PruneDecision(DIR, Policy(last=1), [item], [])
    the_plan = prune.plan(decision)
    assert the_plan.steps[0].commands == prune.removal_argvs(item.path)
    other = prune.plan(prune.PruneDecision(DIR, Policy(last=1), [], []))
    assert the_plan.sha256 != other.sha256


def test_set_facts_of_a_group_set_use_its_members_and_freeze_instant():
    group = from_json((FIXTURES / "manifest" / "group.json").read_text(), "group.json")
    members = tuple(replace(member, vg="vg0", lv=lv) for member, lv in zip(group.members, ("b", "a"), strict=True))
    window = replace(group.freeze_window, start_epoch=1764460800.5)
    facts = prune.set_facts(replace(group, name="g", members=members, freeze_window=window))
    assert facts.origin == "group:vg0/a+vg0/b" == prune.origin_key(group=["vg0/b", "vg0/a"])
    assert facts.started.isoformat() == "2025-11-30T00:00:00.500000+00:00"


def test_set_facts_of_a_set_without_a_readable_time_is_none():
    single = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "single-tar-thick.json")
    assert prune.set_facts(replace(single, started="yesterday")) is None
    assert prune.set_facts(replace(single, started="2026-11-30T01:02:03Z")).started.hour == 1


def test_prune_cli_without_any_rule_is_refused(capsys):
    assert cli.main(["prune", DIR]) == 2
    assert "give at least one --keep-last" in capsys.readouterr().err


@pytest.mark.parametrize("directory", ["backups", "-delete", "/b/../etc"])
def test_decide_refuses_a_path_that_is_not_absolute_and_normal(scripted_host, directory):
    with pytest.raises(UsageError, match="directory"):
        prune.decide(scripted_host, directory, Policy(last=1))
