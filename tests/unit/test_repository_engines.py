"""restic and borg as engines: argv, passwords, and their real answers (recorded on a host by
tests/fixtures/record_repository.py) judged into lvmkit's errors."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from lvmkit.archive.engines import ENGINES
from lvmkit.archive.engines.borg import archive_set_name
from lvmkit.archive.engines.repository import password_given, with_repository
from lvmkit.archive.manifest import from_json
from lvmkit.core.errors import UsageError
from lvmkit.ops import prune
from lvmkit.ops.retention import Policy
from tests.unit.conftest import FIXTURES
from tests.unit.recorded_repository import OPTIONS, REPORT, SECRET_FILE, recorded, repository_manifest


def judged(engine: str, case: str) -> str | None:
    answer = recorded(engine, case)
    return ENGINES[engine].judge_probe(answer["returncode"], answer["stdout"] + answer["stderr"])


@pytest.mark.parametrize("engine", ["restic", "borg"])
def test_every_argv_names_the_password_file_never_a_password(engine):
    chosen = ENGINES[engine]
    options = OPTIONS[engine]
    argvs = [chosen.backup_argv("/run/lvmkit/r1/labvg-ext4vol", REPORT.format(chosen.archive_name), "ext4", options,
                                origin="labvg/ext4vol"),
             chosen.restore_argv("abcd1234", "/run/lvmkit/r2/target", "ext4", options),
             chosen.verify_argv("abcd1234", "ext4", options), chosen.probe_argv(options),
             chosen.forget_argv("abcd1234", options), chosen.compact_argv(options)]
    for argv in argvs:
        assert any(SECRET_FILE in word for word in argv), argv
        assert all(isinstance(word, str) for word in argv)


@pytest.mark.parametrize("engine", ["restic", "borg"])
@pytest.mark.parametrize("password", [{}, {"password_file": SECRET_FILE, "password_command": "pass show x"}])
def test_resolve_options_without_exactly_one_password_source_is_refused(engine, password):
    with pytest.raises(UsageError, match="exactly one of --password-file FILE or --password-command"):
        ENGINES[engine].resolve_options({"repository": "/srv/r", **password})


@pytest.mark.parametrize("engine, location", [
    ("restic", "sftp:backup@vault:/srv/restic"), ("restic", "sftp://backup@vault:2222//srv/restic"),
    ("restic", "/srv/restic"), ("borg", "ssh://backup@vault:2222/srv/borg"), ("borg", "/srv/borg"),
])
def test_resolve_options_accepts_a_path_or_the_tools_own_remote_form(engine, location):
    assert ENGINES[engine].resolve_options({"repository": location, "password_file": SECRET_FILE})["repository"] \
        == location


@pytest.mark.parametrize("engine, location, said", [
    ("restic", "ssh://vault/srv/r", "restic reaches a remote repository as sftp:"),
    ("borg", "sftp:vault:/srv/r", "borg reaches a remote repository as ssh://"),
    ("restic", "relative/repo", "expected an absolute path"), ("borg", "-x", "not a repository location"),
    ("restic", "/srv/../etc", "'..'"), ("restic", "", "give the repository"),
    ("restic", "rest:https://user:secret@host/", "expected an absolute path"),
])
def test_resolve_options_refuses_other_locations_saying_which_form_to_use(engine, location, said):
    with pytest.raises(UsageError, match="repository") as raised:
        ENGINES[engine].resolve_options({"repository": location, "password_file": SECRET_FILE})
    assert said in str(raised.value)


def test_backup_argv_with_hostile_paths_passes_them_as_parameters_of_a_constant_script():
    hostile = "/srv/it's $(reboot); `id`"
    options = {"repository": hostile + "/repo", "password_file": hostile + "/pw"}
    for engine in ("restic", "borg"):
        argv = ENGINES[engine].backup_argv(hostile + "/mount", hostile + "/.s.partial/report", "ext4", options,
                                           origin="vg0/data")
        assert argv[:2] == ["bash", "-c"] and hostile not in argv[2] and "$(" not in argv[2]
        assert argv[4:6] == [hostile + "/.s.partial/report", hostile + "/mount"]


def test_borg_reads_its_password_through_a_quoted_cat_command_in_its_environment():
    argv = ENGINES["borg"].probe_argv({"repository": "/srv/borg", "password_file": "/etc/my pass"})
    assert "BORG_PASSCOMMAND=cat -- '/etc/my pass'" in argv


def test_borg_names_the_archive_after_the_archive_set():
    argv = ENGINES["borg"].create_argv(OPTIONS["borg"], REPORT.format("borg.json"), "labvg/ext4vol", None)
    assert "/srv/borg::labvg-ext4vol-20261130T040000Z-abcd" in argv
    assert archive_set_name("/backups/labvg-x/borg.json") == "labvg-x"
    # a group's member: the group's name too, or every run's labvg-a would collide in the repository
    assert archive_set_name("/backups/.g-1.partial/.labvg-a.partial/borg.json") == "g-1+labvg-a"


@pytest.mark.parametrize("engine, case, said", [
    ("restic", "probe_ready", None),
    ("restic", "probe_missing", "no restic repository there"),
    ("restic", "probe_wrong_password", "wrong password for this repository"),
    ("restic", "probe_borg_repository", "that is a borg repository, not restic's"),
    ("restic", "probe_password_file_missing", "the password could not be read"),
    ("borg", "probe_ready", None),
    ("borg", "probe_missing", "no borg repository there"),
    ("borg", "probe_wrong_password", "the password is wrong or could not be read"),
    ("borg", "probe_restic_repository", "that is a restic repository, not borg's"),
    ("borg", "probe_locked", "the repository is locked by another borg"),
])
def test_judge_probe_of_each_recorded_answer_names_what_is_wrong(engine, case, said):
    problem = judged(engine, case)
    assert problem is None if said is None else said in problem


def test_restic_report_of_a_second_backup_shows_only_what_it_added():
    first = ENGINES["restic"].parse_report(recorded("restic", "backup_first")["report"])
    second = ENGINES["restic"].parse_report(recorded("restic", "backup_second")["report"])
    assert first["id"] != second["id"] and len(second["id"]) == 8
    # 100 kB of new data on top of 300 kB already in the repository
    assert second["bytes_processed"] > first["bytes_processed"] > second["added_bytes"] > 0


def test_borg_report_gives_the_archive_name_and_the_deduplicated_size():
    report = ENGINES["borg"].parse_report(recorded("borg", "backup_first")["report"])
    assert report["id"] == "labvg-ext4vol-20261130T040000Z-abcd" and report["added_bytes"] > 300_000


def test_restic_verify_of_an_unknown_snapshot_fails_as_restic_failed_it():
    assert recorded("restic", "verify")["returncode"] == 0
    unknown = recorded("restic", "verify_unknown_snapshot")
    assert unknown["returncode"] != 0 and "no matching ID found" in unknown["stderr"]


def test_restic_backup_into_an_exclusively_locked_repository_fails_naming_the_lock():
    locked = recorded("restic", "locked_backup")
    assert locked["returncode"] != 0 and "locked exclusively" in locked["stderr"]


def test_with_repository_adds_only_what_was_given():
    assert with_repository({}, "/srv/r", None, "pass show r") == {"repository": "/srv/r",
                                                                 "password_command": "pass show r"}
    assert with_repository({"x": "1"}, None, None, None) == {"x": "1"}


def test_password_given_now_refuses_both_sources_and_relative_files():
    with pytest.raises(UsageError, match="not both"):
        password_given("/a", "b")
    with pytest.raises(UsageError, match="relative"):
        password_given("pw", None)
    assert password_given(None, None) == {}


def repository_item(name: str, day: int, snapshot: str) -> prune.PruneItem:
    return prune.PruneItem(f"/backups/{name}", "labvg/ext4vol", datetime(2026, 11, day, tzinfo=timezone.utc),
                           False, (), "none", *prune.repository_commands(repository_manifest("restic", snapshot)))


def test_manifest_with_a_repository_reads_back_as_written_and_one_without_leaves_it_out():
    manifest = repository_manifest("borg", "labvg-ext4vol-x")
    assert from_json(manifest.to_json(), "test") == manifest
    plain = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "fixture")
    assert plain.repository is None and "repository" not in plain.to_json()
    assert plain.to_json() == (FIXTURES / "manifest" / "single-tar-thick.json").read_text()


def test_prune_plan_forgets_each_repository_snapshot_before_its_set_then_prunes_the_repository_once():
    items = [repository_item("a", 1, "aaaa1111"), repository_item("b", 2, "bbbb2222")]
    the_plan = prune.plan(prune.PruneDecision("/backups", Policy(last=1), items, []))
    base = ["restic", "--repo", "/srv/restic", "--password-file", SECRET_FILE]
    assert the_plan.steps[0].commands[0] == [*base, "forget", "aaaa1111"]
    assert the_plan.steps[0].commands[1][:2] == ["mv", "-T"]
    assert the_plan.steps[1].commands[0] == [*base, "forget", "bbbb2222"]
    assert [step.commands for step in the_plan.steps[2:]] == [[[*base, "prune"]]]


def test_prune_plan_of_sets_without_a_repository_compacts_nothing():
    plain = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "fixture")
    assert prune.repository_commands(plain) == ((), ())
