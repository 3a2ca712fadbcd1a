"""Change-managed runs: a plan approved by its sha256; a different plan is refused, saying what differs."""

from __future__ import annotations

import io

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.core.plan import Plan, Step
from lvmkit.runbooks import approval, planning, runner, steps
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.runner import RunRequest, run_runbook

from .conftest import ScriptedHost

RUN_ID = "20261126T023323Z-8f9a"


def backup_plan(extents: int = 13, dest: str = "/backups") -> Plan:
    snapshot = f"ext4vol-lvmkit-{RUN_ID[-4:]}"
    return Plan(f"back up labvg/ext4vol with tar to {dest}/labvg-ext4vol-{RUN_ID}", [
        Step(f"create snapshot labvg/{snapshot} ({extents} extents) of labvg/ext4vol",
             [["lvcreate", "--snapshot", "--extents", str(extents), "--name", snapshot, "labvg/ext4vol"]],
             undo_commands=[["lvremove", "--yes", f"labvg/{snapshot}"]]),
        Step("read", [["tar", "--create", "--file", f"{dest}/x.tar.zst", "/run/lvmkit/x"]]),
    ])


def record(plan: Plan | None = None, **changes) -> approval.PlanRecord:
    book = find("backup")
    fields = dict(runbook="backup", runbook_sha256=book.sha256, host="ssh://root@lab:22",
                  parameters={"origin": "labvg/ext4vol", "dest": "/backups"}, run_id=RUN_ID,
                  plan=plan or backup_plan(), preflight=[])
    fields.update(changes)
    return approval.new_record(**fields)


def test_plan_record_keeps_lvmkits_own_plan_hash():
    plan = backup_plan()
    kept = record(plan)
    assert kept.sha256 == plan.sha256 == approval.plan_sha256(kept.plan)
    assert approval.PlanRecord.from_json(kept.to_json(), "x") == kept


def test_differences_with_same_plan_and_request_are_none():
    kept = record()
    assert approval.differences(kept, plan=backup_plan(), runbook="backup", runbook_sha256=kept.runbook_sha256,
                                host=kept.host, parameters=dict(kept.parameters)) == []


def test_differences_with_changed_system_show_the_changed_commands():
    found = approval.differences(record(), plan=backup_plan(extents=26))
    text = "\n".join(found)
    assert f"plan sha256: approved {backup_plan().sha256}, now {backup_plan(extents=26).sha256}" in text
    assert "-      $ lvcreate --snapshot --extents 13" in text
    assert "+      $ lvcreate --snapshot --extents 26" in text


def test_differences_with_changed_request_name_each_change():
    kept = record()
    found = approval.differences(kept, plan=backup_plan(), runbook_sha256="f" * 64, host="ssh://root@other:22",
                                 parameters={"origin": "labvg/ext4vol", "dest": "/elsewhere"})
    assert "parameter dest: approved '/backups', now '/elsewhere'" in found
    assert "host: approved ssh://root@lab:22, now ssh://root@other:22" in found
    assert any(line.startswith("the runbook's text changed since the approval") for line in found)


def test_require_same_with_different_plan_refuses_saying_what_differs():
    with pytest.raises(approval.PlanNotApproved) as raised:
        approval.require_same(record(), plan=backup_plan(dest="/other"))
    message = str(raised.value)
    assert message.startswith(f"refusing to run: the plan differs from the approved plan {backup_plan().sha256}")
    assert "+plan: back up labvg/ext4vol with tar to /other/" in message


def test_load_approved_with_malformed_or_unknown_hash_says_how_to_get_one(tmp_path):
    with pytest.raises(UsageError, match="full sha256"):
        approval.load_approved(tmp_path, "abc123")
    with pytest.raises(UsageError, match="compute it there first with `lvmkit runbook plan"):
        approval.load_approved(tmp_path, "a" * 64)


def test_load_approved_with_plan_file_edited_refuses(tmp_path):
    path = approval.save(tmp_path, record())
    path.write_text(path.read_text().replace("--extents", "--size"))
    with pytest.raises(approval.PlanNotApproved, match="was edited"):
        approval.load_approved(tmp_path, record().sha256)


def test_check_approval_in_the_notebook_passes_the_approved_plan_and_refuses_another(tmp_path, capsys):
    path = approval.save(tmp_path, record())
    steps.check_approval(backup_plan(), str(path))
    assert "the plan is the approved one" in capsys.readouterr().out
    with pytest.raises(approval.PlanNotApproved, match="extents 14"):
        steps.check_approval(backup_plan(extents=14), str(path))


def test_planners_exist_for_the_runbooks_that_change_storage():
    assert planning.has_plan("backup") and planning.has_plan("restore") and planning.has_plan("dr-rehearsal")
    assert not planning.has_plan("verify")
    with pytest.raises(UsageError, match="has no plan to approve"):
        planning.compute("snapshot-overflow-drill", ScriptedHost(), {}, RUN_ID)


@pytest.fixture
def approved(tmp_path, monkeypatch):
    """A kept approval of the backup runbook, a scripted host, and a planner returning `current`."""
    host = ScriptedHost(name="ssh://root@lab:22")
    kept = record()
    approval.save(tmp_path, kept)
    current = {"plan": backup_plan()}
    asked = []

    def compute(runbook, host_, values, run_id):
        asked.append(run_id)
        return current["plan"], None

    monkeypatch.setattr(runner, "connect", lambda spec, journal: host)
    monkeypatch.setattr(planning, "compute", compute)
    request = RunRequest(find("backup"), {"origin": "labvg/ext4vol", "dest": "/backups"}, "lab", tmp_path,
                         "alice", approve=kept.sha256)
    return {"request": request, "current": current, "asked": asked, "records": tmp_path}


def test_run_with_approval_and_changed_plan_refuses_before_anything_runs(approved):
    approved["current"]["plan"] = backup_plan(extents=20)
    with pytest.raises(approval.PlanNotApproved, match="extents 20"):
        run_runbook(approved["request"], stream=io.StringIO())
    assert approved["asked"] == [RUN_ID], "the plan is computed again with the approved run id"
    assert sorted(p.name for p in approved["records"].iterdir()) == ["plans"], "no record: nothing ran"


def test_run_with_approval_and_other_parameters_refuses(approved):
    request = approved["request"]
    changed = RunRequest(request.runbook, {**request.values, "dest": "/elsewhere"}, request.host_spec,
                         request.records, request.operator, approve=request.approve)
    with pytest.raises(approval.PlanNotApproved, match="parameter dest: approved '/backups', now '/elsewhere'"):
        run_runbook(changed, stream=io.StringIO())
