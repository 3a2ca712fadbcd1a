"""restic's parent snapshot: each backup tags its origin, the preflight lists the repository's
snapshots of that origin and names the latest one this host made as `--parent`. Every answer
is restic's own, recorded by tests/fixtures/record_repository.py (docs/repositories.md, "Costs")."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lvmkit.archive.engines import ENGINES
from lvmkit.archive.manifest import ManifestError, from_json
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import CommandResult
from lvmkit.core.preflight import Preflight
from lvmkit.ops.backup_preflight import check_parent, probe_queries
from tests.unit.recorded_repository import REPORT, recorded, repository_manifest

from .conftest import FIXTURES

RESTIC = ENGINES["restic"]
OPTIONS = {"repository": "/srv/restic", "password_file": "/etc/lvmkit/restic.pass"}
ORIGIN = "labvg/ext4vol"  # the recorder's
HOSTNAME = json.loads((FIXTURES / "repository" / "restic.json").read_text())["hostname"]  # where it recorded


def chosen(case: str, hostname: str = HOSTNAME):
    answer = recorded("restic", case)
    return RESTIC.choose_parent(answer["returncode"], answer["stdout"], answer["stderr"], hostname)


def snapshot_id(case: str) -> str:
    """The short id a recorded backup reported."""
    return RESTIC.parse_report(recorded("restic", case)["report"])["id"]


def test_backup_argv_tags_the_origin_and_names_the_parent_only_when_there_is_one():
    first = RESTIC.backup_argv("/run/lvmkit/r1/labvg-ext4vol", REPORT.format("restic.json"), "ext4", OPTIONS,
                               origin=ORIGIN)
    assert "--parent" not in first and first[-5:] == ["--tag", "lvmkit", "--tag", "lvmkit-origin:labvg/ext4vol", "."]
    later = RESTIC.backup_argv("/run/lvmkit/r2/labvg-ext4vol", REPORT.format("restic.json"), "ext4", OPTIONS,
                               origin=ORIGIN, parent="ab" * 32)
    assert later[-3:] == ["--parent", "ab" * 32, "."]


def test_earlier_snapshots_argv_lists_the_origins_tag_and_restic_keeps_colon_and_slash_in_it():
    assert RESTIC.earlier_snapshots_argv(OPTIONS, ORIGIN)[-4:] == ["snapshots", "--json", "--tag",
                                                                   "lvmkit-origin:labvg/ext4vol"]
    listed = json.loads(recorded("restic", "earlier_one")["stdout"])
    assert listed[0]["tags"] == ["lvmkit", "lvmkit-origin:labvg/ext4vol"]


def test_choose_parent_in_an_empty_repository_names_none_and_says_every_file_is_read():
    parent = chosen("earlier_none")
    assert parent.id is None and "restic reads every file" in parent.said


def test_choose_parent_ignores_snapshots_of_lvmkit_before_origin_tags():
    # the repository holds one snapshot tagged only "lvmkit": the first new backup reads everything
    assert chosen("earlier_untagged_only").id is None


def test_choose_parent_ignores_other_origins_snapshots():
    assert recorded("restic", "earlier_other_origin")["stdout"].strip() == "[]"
    assert chosen("earlier_other_origin").id is None


def test_choose_parent_after_one_backup_names_it_by_its_full_id():
    parent = chosen("earlier_one")
    assert len(parent.id) == 64 and parent.id.startswith(snapshot_id("backup_first"))
    assert parent.said.startswith(f"parent snapshot {snapshot_id('backup_first')} of ")


def test_choose_parent_after_two_backups_names_the_latest():
    assert chosen("earlier_two").id.startswith(snapshot_id("backup_second"))


def test_choose_parent_ignores_snapshots_other_hosts_made():
    parent = chosen("earlier_two", hostname="another-host")
    assert parent.id is None and "its 2 are from other hosts" in parent.said


def test_choose_parent_while_a_prune_holds_the_exclusive_lock_raises_restics_words():
    with pytest.raises(LvmkitError, match="could not list the repository's snapshots: .*locked exclusively"):
        chosen("earlier_locked")


def test_choose_parent_of_output_it_does_not_know_refuses_it():
    with pytest.raises(LvmkitError, match="in a form lvmkit does not know"):
        RESTIC.choose_parent(0, '{"not": "a list"}', "", HOSTNAME)


def test_backup_with_the_parent_reads_only_the_changed_files():
    second = recorded("restic", "backup_second")
    assert second["argv"][second["argv"].index("--parent") + 1] == chosen("earlier_one").id
    summary = json.loads(second["report"])
    # the recorder added one file between the backups; the two others were not read again
    assert (summary["files_new"], summary["files_changed"], summary["files_unmodified"]) == (1, 0, 2)


def test_backup_with_a_parent_forgotten_since_the_preflight_fails_naming_it():
    unknown = recorded("restic", "backup_unknown_parent")
    assert unknown["returncode"] != 0 and "no matching ID found" in unknown["stderr"]


def answers(case: str, hostname: str = HOSTNAME) -> dict[str, CommandResult]:
    answer = recorded("restic", case)
    return {"earlier": CommandResult(answer["argv"], answer["returncode"], answer["stdout"], answer["stderr"], 0.0),
            "hostname": CommandResult(["uname", "-n"], 0, hostname + "\n", "", 0.0)}


def test_check_parent_passes_naming_the_parent_or_that_there_is_none():
    checks = Preflight()
    assert check_parent(RESTIC, ORIGIN, answers("earlier_one"), checks).id == chosen("earlier_one").id
    assert check_parent(RESTIC, ORIGIN, answers("earlier_none"), checks).id is None
    assert checks.passed and [check.name for check in checks.checks] == ["earlier snapshot of the origin"] * 2
    assert checks.checks[1].detail.startswith("labvg/ext4vol: no earlier snapshot of this origin")


def test_check_parent_of_a_locked_repository_fails_before_any_snapshot():
    checks = Preflight()
    assert check_parent(RESTIC, ORIGIN, answers("earlier_locked"), checks) is None
    assert not checks.passed and "locked exclusively" in checks.checks[0].detail


def test_check_parent_of_borg_asks_nothing():
    checks = Preflight()
    assert check_parent(ENGINES["borg"], ORIGIN, {}, checks) is None and checks.checks == []


def test_probe_queries_of_restic_list_the_origins_snapshots_and_the_hostname_borg_neither():
    restic = probe_queries("labvg", "ext4vol", RESTIC, [], None, OPTIONS)
    assert [(q.name, q.argv) for q in restic[-2:]] == [("earlier", RESTIC.earlier_snapshots_argv(OPTIONS, ORIGIN)),
                                                       ("hostname", ["uname", "-n"])]
    borg = probe_queries("labvg", "ext4vol", ENGINES["borg"], [], None, OPTIONS)
    assert borg[-1].name == "repository"


def test_manifest_records_the_parent_and_one_from_before_parents_still_reads():
    manifest = repository_manifest("restic", "e42b79b9")
    assert manifest.repository.parent is None and "parent" not in manifest.to_json()
    assert from_json(manifest.to_json(), "old") == manifest
    with_parent = replace(manifest, repository=replace(manifest.repository, parent=chosen("earlier_one").id))
    assert from_json(with_parent.to_json(), "new") == with_parent
    damaged = with_parent.to_json().replace(chosen("earlier_one").id, "--output=/etc/passwd")
    with pytest.raises(ManifestError, match="repository.parent"):
        from_json(damaged, "damaged")
