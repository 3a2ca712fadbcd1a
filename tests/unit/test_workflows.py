"""Whole workflows replayed from the lab: what the approved plan shows is what runs.

Each test runs lvmkit's orchestration (prepare, plan, execute; verify; cleanup) against a
ReplayHost fed with a real run's journal (tests/fixtures/record_workflows.py). A command
not recorded next, a recorded command never run, or a state-changing command that its
acting plan step does not declare (or that runs outside any step) fails the test.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import pytest

from lvmkit import cli
from lvmkit.core import schemas
from lvmkit.core.declared import UndeclaredCommand
from lvmkit.core.plan import StepRecord
from lvmkit.jobs import cli as jobs_cli
from lvmkit.ops import backup, cleanup, group, prune, restore, verify
from lvmkit.ops.retention import Policy
from lvmkit.runbooks import approval, planning, steps
from lvmkit.runbooks.catalog import find
from tests.fixtures.record_workflows import (
    DEST,
    FORGED,
    PRUNE_DEST,
    PRUNE_POLICY,
    RESTIC,
    RESTIC_DEST,
    RESTIC_POLICY,
    RESTIC_RESTORED,
    RESTIC_SET,
    RESTORED,
    RUN_IDS,
    SET_NAME,
    VG,
    backup_request,
    config_path,
    group_request,
    record_job,
    restic_request,
)
from tests.unit.replay import ReplayHost

SET_PATH = f"{DEST}/{SET_NAME}"


def quiet(message: str) -> None:
    pass


def assert_all_declared(records: list[StepRecord]) -> None:
    assert [r.undeclared for r in records if r.undeclared] == []
    assert all(r.outcome == "done" for r in records), [(r.title, r.outcome) for r in records]


def replay_backup(workflow: str, request: backup.BackupRequest):
    """The backup recorded as `workflow`, replayed: every command as recorded, every change declared."""
    host = ReplayHost.of(workflow)
    run = backup.prepare(host, request, RUN_IDS[workflow], log=quiet)
    the_plan = backup.plan(run)
    records = backup.execute_run(host, run, the_plan, log=quiet)
    host.assert_done()
    assert_all_declared(records)
    return host, run, the_plan


def replay_restore(workflow: str, request: restore.RestoreRequest):
    """The restore recorded as `workflow`, replayed likewise."""
    host = ReplayHost.of(workflow)
    run = restore.prepare(host, request, RUN_IDS[workflow])
    records = restore.execute_run(host, run, restore.plan(run), log=quiet)
    host.assert_done()
    assert_all_declared(records)
    return run


def test_backup_replayed_runs_only_what_its_plan_declares():
    _, run, the_plan = replay_backup("backup", backup_request())
    assert run.manifest.name == SET_NAME and run.manifest.archive_sha256
    assert the_plan.steps[0].title.startswith(f"take the lock of {VG}/pln_a")
    assert the_plan.steps[-1].title == f"release the lock of {VG}/pln_a"


def test_backup_plan_shows_the_engine_inside_its_umask_wrapper():
    host = ReplayHost.of("backup")
    run = backup.prepare(host, backup_request(), RUN_IDS["backup"], log=quiet)
    read = next(s for s in backup.plan(run).steps if s.title.startswith("read the snapshot"))
    assert read.commands[0][:4] == ["sh", "-c", 'umask 077 && exec "$@"', "sh"]
    assert read.commands[0][4] == "fsarchiver"
    assert "when the step fails or is interrupted" in backup.plan(run).render()


def test_backup_whose_plan_hides_the_wrapper_is_refused_before_the_engine_runs():
    # The plan as it was: the read step showed the engine's argv, and ran it wrapped.
    host = ReplayHost.of("backup", lenient=True)
    run = backup.prepare(host, backup_request(), RUN_IDS["backup"], log=quiet)
    the_plan = backup.plan(run)
    read = next(s for s in the_plan.steps if s.title.startswith("read the snapshot"))
    wrapped = read.commands[0]
    read.commands[0] = wrapped[4:]
    with pytest.raises(UndeclaredCommand, match="read the snapshot"):
        backup.execute_run(host, run, the_plan, log=quiet)
    assert wrapped not in host.executed  # refused before it ran
    assert ["rm", "-rf", "--", run.paths.partial] in host.unrecorded  # and the undo ran


def test_restore_replayed_runs_only_what_its_plan_declares():
    run = replay_restore("restore", restore.RestoreRequest(SET_PATH, to_new=f"{VG}/{RESTORED}"))
    assert run.comparison.equal


def test_group_backup_replayed_runs_only_what_its_plan_declares():
    host = ReplayHost.of("group")
    run = group.prepare(host, group_request(), quiet, run_id=RUN_IDS["group"])
    the_plan = group.plan(run)
    records = group.execute_run(host, run, the_plan, log=quiet)
    host.assert_done()
    assert_all_declared(records)
    assert [m.lv for m in run.manifest.members] == ["pln_a", "pln_b"]
    # sealed now (the replay's commands are recorded; the time is this run's own), as a single set's
    assert datetime.fromisoformat(run.manifest.ended).utcoffset() == timedelta(0)
    assert schemas.problems(run.manifest.to_dict(), "manifest.json") == []
    freeze = next(s for s in the_plan.steps if s.title.startswith("freeze"))
    assert ["dmsetup", "resume", f"{VG}-pln_a"] in freeze.undo_commands  # its undo is shown too


def test_deep_verify_replayed_runs_nothing_outside_a_plan():
    host = ReplayHost.of("verify")
    result = verify.verify(host, SET_PATH, deep=True, run_id=RUN_IDS["verify"], log=quiet)
    host.assert_done()
    assert result.passed, result.checks.render()
    assert any(c.name.startswith("deep:") and c.passed for c in result.checks.checks)


def test_cleanup_replayed_runs_nothing_outside_a_plan():
    host = ReplayHost.of("cleanup")
    report = cleanup.cleanup(host, destinations=[DEST], only_runs=[RUN_IDS["cleanup"]])
    host.assert_done()
    assert report.clean
    assert [a.kind for a in report.actions] == [
        "unmount", "remove volume", "remove partial archive set", "remove directory", "remove directory"]


def test_cleanup_dry_run_plans_the_same_commands_and_runs_none():
    host = ReplayHost.of("cleanup")
    report = cleanup.cleanup(host, dry_run=True, destinations=[DEST], only_runs=[RUN_IDS["cleanup"]])
    host.assert_done()  # every read as recorded, and each change of the real run planned
    assert [a.outcome for a in report.actions] == ["planned"] * 5
    assert [argv[0] for argv in host.planned] == ["umount", "lvremove", "rm", "sh"]


def group_values() -> dict:
    return {"members": f"{VG}/pln_a,{VG}/pln_b", "dest": DEST, "name": "pln-group"}


def test_group_backup_plan_is_computed_again_alike_for_its_approved_run_id(tmp_path):
    book = find("group-backup")
    approved_plan, preflight = planning.compute("group-backup", ReplayHost.of("group"), group_values(), RUN_IDS["group"])
    assert preflight.passed
    kept = approval.new_record(book.name, book.sha256, "replay", group_values(), RUN_IDS["group"], approved_plan,
                               preflight.as_list())
    path = approval.save(tmp_path, kept)
    again, _ = planning.compute("group-backup", ReplayHost.of("group"), group_values(), RUN_IDS["group"])
    approval.require_same(approval.load(path), plan=again, runbook=book.name, runbook_sha256=book.sha256,
                          parameters=group_values())
    steps.check_approval(again, str(path))  # the notebook's plan cell
    assert any(s.title.startswith("freeze") for s in again.steps)


def test_group_backup_plan_with_another_run_id_is_refused():
    approved_plan, preflight = planning.compute("group-backup", ReplayHost.of("group"), group_values(), RUN_IDS["group"])
    kept = approval.new_record("group-backup", "x", "replay", group_values(), RUN_IDS["group"], approved_plan,
                               preflight.as_list())
    other_run = "20261130T020000Z-othr"
    other = group.plan(group.prepare(ReplayHost.of("group", lenient=True), group_request(), quiet, run_id=other_run))
    with pytest.raises(approval.PlanNotApproved, match="pln_a-lvmkit-othr"):
        approval.require_same(kept, plan=other)


def test_plan_with_conditional_commands_survives_its_record():
    host = ReplayHost.of("backup")
    request = dataclasses.replace(backup_request(), guard=dataclasses.replace(backup_request().guard, autoextend=True))
    the_plan = backup.plan(backup.prepare(host, request, RUN_IDS["backup"], log=quiet))
    assert "when the snapshot is 60% used or more" in the_plan.render()
    assert approval.plan_sha256(the_plan.as_dict()) == the_plan.sha256


PREPARES = {
    "backup": lambda host: backup.prepare(host, backup_request(), RUN_IDS["backup"], log=quiet),
    "restore": lambda host: restore.prepare(host, restore.RestoreRequest(SET_PATH, to_new=f"{VG}/{RESTORED}"),
                                            RUN_IDS["restore"]),
    "group": lambda host: group.prepare(host, group_request(), quiet, run_id=RUN_IDS["group"]),
}
PLANS = {"backup": backup.plan, "restore": restore.plan, "group": group.plan}


@pytest.mark.parametrize("workflow", sorted(PREPARES))
def test_prepare_asks_exactly_the_recorded_queries_and_plan_asks_none(workflow):
    host = ReplayHost.of(workflow)
    run = PREPARES[workflow](host)
    assert run.preflight.passed
    # Everything up to the run's first change was asked, nothing after it: the lock comes next.
    assert host.recording[0]["changes_state"] and host.recording[0]["argv"][-1].endswith(".lock")
    left = len(host.recording)
    the_plan = PLANS[workflow](run)
    assert len(host.recording) == left
    assert the_plan.steps[0].title.startswith("take the lock of")


def test_prune_replayed_runs_only_what_its_plan_declares():
    host = ReplayHost.of("prune")
    decision = prune.decide(host, PRUNE_DEST, PRUNE_POLICY)
    records = prune.remove(host, decision, log=quiet)
    host.assert_done()
    assert_all_declared(records)
    assert sorted(item.path.rsplit("/", 1)[1] for item in decision.removed) == sorted(FORGED)


def test_job_run_replayed_runs_only_what_its_plans_declare(tmp_path):
    """Backup, verify and prune of one job: every change inside a step that declares it."""
    host = ReplayHost.of("job")
    result = record_job(host, config_path(tmp_path), log=quiet)
    host.assert_done()
    assert result.ok, result.error
    assert result.archive_set == f"{PRUNE_DEST}/pln-job"
    assert result.facts["verified"] is True and result.facts["pruned"] == 1


def test_job_check_asks_the_recorded_preflight_and_changes_nothing(tmp_path, monkeypatch, capsys):
    """The replay refuses any change outside a plan's step: job check must make none."""
    host = ReplayHost.of("job")
    monkeypatch.setattr(jobs_cli, "connect", lambda spec, journal: host)
    monkeypatch.setattr(backup, "new_run_id", lambda: RUN_IDS["job"])
    argv = ["--journal", str(tmp_path / "journal.jsonl"), "job", "check", "--config", str(config_path(tmp_path))]
    assert cli.main(argv) == 0
    assert "1 of 1 jobs ready" in capsys.readouterr().out
    first_change = next(i for i, entry in enumerate(ReplayHost.of("job").recording) if entry["changes_state"])
    assert len(host.executed) == first_change, "every query before the job's first change, and nothing else"


# --- restic: a backup into a repository, its restore, and a prune that forgets by id ----


def test_restic_backup_replayed_runs_only_what_its_plan_declares_and_names_no_password():
    host, run, the_plan = replay_backup("restic_backup", restic_request())
    assert run.manifest.repository.location == RESTIC["repository"] and run.manifest.repository.id
    assert run.manifest.bytes_written == run.manifest.repository.added_bytes
    read = next(s for s in the_plan.steps if s.title.startswith("read the snapshot"))
    assert "--password-file" in read.commands[0] and read.undo_commands[0][-2] == "forget"
    password = "pln-rec-password"
    assert not any(password in word for entry in host.executed for word in entry)


def test_restic_restore_replayed_is_proved_by_the_content_digest():
    run = replay_restore("restic_restore", restore.RestoreRequest(RESTIC_SET, to_new=f"{VG}/{RESTIC_RESTORED}"))
    assert run.comparison.equal, run.comparison.summary()


def test_restic_prune_replayed_forgets_the_snapshot_before_the_set_and_prunes_once():
    host = ReplayHost.of("restic_prune")
    decision = prune.decide(host, RESTIC_DEST, Policy(**RESTIC_POLICY))
    the_plan = prune.plan(decision)
    records = prune.remove(host, decision, log=quiet)
    host.assert_done()
    assert_all_declared(records)
    assert [item.path for item in decision.removed] == [RESTIC_SET]
    assert the_plan.steps[0].commands[0][-2] == "forget" and the_plan.steps[-1].commands == [
        ["restic", "--repo", RESTIC["repository"], "--password-file", RESTIC["password_file"], "prune"]]
