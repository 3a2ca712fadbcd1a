"""Finding and removing what dead runs left, from outputs recorded in the lab.

The recording (tests/fixtures/record_cleanup.py) staged run RUN, the run that
lvm/lvs-lab.json tags `rec_valid` with: its snapshot mounted at MOUNTPOINT, its lock on
labvg/ext4vol (written by "controller-a"), its partial archive set with a marker; beside
it a lock of run OTHER on "controller-b" with a partial archive set, a lock that is not
JSON, a partial archive set without a marker, and the empty run directories that other
runs in the shared lab had left. lvs-lab.json also has untagged snapshots (rec_overflowed,
rec_thin). The fake process table says whether controller-a's holder lives.
"""

from __future__ import annotations

import json

import pytest

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import CommandResult, Host
from lvmkit.lvm.lock import list_locks_argv, remove_if_same_argv
from lvmkit.lvm.reports import LV_FIELDS
from lvmkit.ops.cleanup import (
    StaleMount,
    StaleVolume,
    cleanup,
    find_stale,
    findmnt_argv,
    partials_argv,
    render,
    rmdir_each_argv,
    run_directories_argv,
)
from lvmkit.ops.cleanup_temporaries import temporaries_argv
from tests.fixtures import record_temporaries as temporaries_staged

from .conftest import ScriptedHost

RUN = "20261126T000000Z"
OTHER = "20261126T010000Z-beef"
MOUNTPOINT = f"/run/lvmkit/{RUN}/labvg-ext4vol"
DEST = "/var/tmp/cln_rec_dest"
PARTIAL = f"{DEST}/.labvg-ext4vol-{RUN}.partial"
LOCK = "/run/lvmkit/locks/labvg-ext4vol.lock"
LVS = ["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-a", "-o", ",".join(LV_FIELDS)]
CONTROLLER = {"hostname": "controller-a"}


def dead(pid):
    return None


def alive(pid):
    return ["/usr/bin/python3", "-m", "lvmkit.cli", "backup"]


class PlanningHost(ScriptedHost):
    """A ScriptedHost that, like Host, only plans state-changing commands in a dry run."""

    def run(self, argv, *, changes=False, check=True, input=None, timeout=None, private=None):
        result = super().run(argv, changes=changes, check=check, input=input, timeout=timeout)
        if self.dry_run and changes:
            return CommandResult(list(argv), 0, "", "", 0.0, planned=True)
        return result


def expect_discovery(host, fixture_text, *, dests=(DEST,), all_runs=False, temporaries="temporaries-none.out"):
    """`all_runs`: no only_runs, so each destination's published sets are searched for
    verify's temporaries too (answered with cleanup/`temporaries`)."""
    host.expect(list_locks_argv(), stdout=fixture_text("cleanup/locks-listing.out"))
    host.expect(LVS, stdout=fixture_text("lvm/lvs-lab.json"))
    host.expect(findmnt_argv(), stdout=fixture_text("cleanup/findmnt-run-mount.json"))
    host.expect(run_directories_argv(), stdout=fixture_text("cleanup/run-directories.out"))
    for dest in dests:
        host.expect(partials_argv(dest), stdout=fixture_text("cleanup/partials.out"))
        if all_runs:
            host.expect(temporaries_argv(dest), stdout=fixture_text(f"cleanup/{temporaries}"))


def lock_content(fixture_text) -> str:
    return fixture_text("cleanup/lock-ext4vol.json")


def other_run_directories(fixture_text) -> list[str]:
    listed = fixture_text("cleanup/run-directories.out").splitlines()
    return [d for d in listed if not d.startswith(f"/run/lvmkit/{RUN}") and d != "/run/lvmkit/locks"]


# --- finding ---------------------------------------------------------------------------


def test_find_stale_with_dead_holder_finds_the_runs_volume_mount_directories_partial_and_lock(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, all_runs=True)
    state = find_stale(scripted_host, destinations=[DEST], cmdline_of=dead, **CONTROLLER)
    assert state.volumes == [StaleVolume("labvg", "rec_valid", RUN, "ext4vol")]
    assert state.mounts == [StaleMount(MOUNTPOINT, "/dev/mapper/labvg-cln_rec_snap", RUN)]
    assert [p.path for p in state.partials] == [PARTIAL]
    assert [lk.path for lk in state.locks] == [LOCK]
    assert state.directories[:2] == [MOUNTPOINT, f"/run/lvmkit/{RUN}"], "deepest first"
    assert sorted(state.directories[2:]) == sorted(other_run_directories(fixture_text)), \
        "empty directories of other finished runs, which hold no lock, are stale too"
    assert "/run/lvmkit/locks" not in state.directories
    assert [lk.run_id for lk in state.live] == [OTHER]
    assert sorted(u.what for u in state.unknown) == [
        "/run/lvmkit/locks/labvg-cln_rec_bad.lock", f"{DEST}/.cln_rec_unmarked.partial"]


def test_find_stale_limited_to_a_volume_group_keeps_its_runs_and_leaves_another_groups(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, all_runs=True, temporaries="temporaries.out")
    state = find_stale(scripted_host, destinations=[DEST], cmdline_of=dead, vg="labvg", **CONTROLLER)
    assert state.volumes == [StaleVolume("labvg", "rec_valid", RUN, "ext4vol")]
    assert [lk.path for lk in state.locks] == [LOCK] and [p.path for p in state.partials] == [PARTIAL]
    assert state.directories == [MOUNTPOINT, f"/run/lvmkit/{RUN}"], "other runs' directories name no group"
    assert state.temporaries == [] and not [u for u in state.unknown if "verification.json." in u.what], \
        "verify's temporaries: left to a cleanup of the whole machine"
    expect_discovery(scripted_host, fixture_text, all_runs=True)
    other = find_stale(scripted_host, destinations=[DEST], cmdline_of=dead, vg="fleetvg", **CONTROLLER)
    assert other.empty and other.live == [] and other.unknown == []


def test_find_stale_with_untagged_snapshots_never_lists_them(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, dests=())
    state = find_stale(scripted_host, cmdline_of=dead, **CONTROLLER)
    assert [v.name for v in state.volumes] == ["rec_valid"], "rec_overflowed and rec_thin carry no lvmkit tag"


def test_find_stale_with_live_holder_leaves_the_run_alone(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, all_runs=True)
    state = find_stale(scripted_host, destinations=[DEST], cmdline_of=alive, **CONTROLLER)
    assert state.volumes == [] and state.mounts == [] and state.partials == [] and state.locks == []
    assert not [d for d in state.directories if RUN in d]
    assert sorted(lk.run_id for lk in state.live) == [RUN, OTHER]


def test_find_stale_with_holder_on_another_controller_treats_the_run_as_live(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, dests=())
    state = find_stale(scripted_host, hostname="controller-z", cmdline_of=dead)
    assert state.volumes == [] and state.mounts == [] and state.locks == []
    assert all(lk.alive is None for lk in state.live)


def test_find_stale_with_only_runs_ignores_every_other_run(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    other = other_run_directories(fixture_text)[0]
    only = other.split("/")[3]
    state = find_stale(scripted_host, destinations=[DEST], only_runs={only}, cmdline_of=dead, **CONTROLLER)
    assert state.directories == [other]
    assert not (state.volumes or state.mounts or state.partials or state.locks or state.unknown or state.live)


def test_find_stale_with_missing_destination_names_it(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, dests=())
    exit_line, stderr = fixture_text("cleanup/partials-missing.stderr").split("\n", 1)
    scripted_host.expect(partials_argv(f"{DEST}/missing"), returncode=int(exit_line.split()[1]), stderr=stderr)
    with pytest.raises(LvmkitError, match=f"{DEST}/missing is not a directory"):
        find_stale(scripted_host, destinations=[f"{DEST}/missing"], cmdline_of=dead, **CONTROLLER)


def test_find_stale_with_garbled_findmnt_output_names_the_command(scripted_host, fixture_text):
    scripted_host.expect(list_locks_argv(), stdout="")
    scripted_host.expect(LVS, stdout=fixture_text("lvm/lvs-lab.json"))
    scripted_host.expect(findmnt_argv(), stdout='{"filesystems": [{"target": "/"}]}')
    with pytest.raises(LvmkitError, match="findmnt --json --list --output TARGET,SOURCE"):
        find_stale(scripted_host)


# --- removing --------------------------------------------------------------------------


def expect_unmount(host, fixture_text, outcome="done"):
    if outcome == "done":
        host.expect(["umount", MOUNTPOINT], changes=True)
    else:
        exit_line, stderr = fixture_text(f"cleanup/umount-{outcome}.stderr").split("\n", 1)
        host.expect(["umount", MOUNTPOINT], changes=True, returncode=int(exit_line.split()[1]), stderr=stderr)


def expect_volume_removal(host, fixture_text, in_use=False):
    host.expect([*LVS, "labvg/rec_valid"], stdout=fixture_text("lvm/lvs-lab.json"))
    if in_use:
        exit_line, stderr = fixture_text("cleanup/lvremove-in-use.stderr").split("\n", 1)
        host.expect(["lvremove", "--yes", "labvg/rec_valid"], changes=True,
                    returncode=int(exit_line.split()[1]), stderr=stderr)
    else:
        host.expect(["lvremove", "--yes", "labvg/rec_valid"], changes=True)


def expect_rest_of_run(host, fixture_text, lock_said="removed"):
    host.expect(["rm", "-rf", "--one-file-system", "--", PARTIAL], changes=True)
    host.expect(rmdir_each_argv([MOUNTPOINT, f"/run/lvmkit/{RUN}"]), changes=True,
                stdout=fixture_text("cleanup/rmdir.out"))
    host.expect(remove_if_same_argv(LOCK, lock_content(fixture_text)), changes=True, stdout=lock_said + "\n")


def test_cleanup_with_dead_run_unmounts_first_then_removes_volume_partial_directories_and_lock_last(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text)
    expect_volume_removal(scripted_host, fixture_text)
    expect_rest_of_run(scripted_host, fixture_text)
    report = cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    assert report.clean and not report.dry_run
    assert [(a.kind, a.target, a.outcome) for a in report.actions] == [
        ("unmount", MOUNTPOINT, "done"),
        ("remove volume", "labvg/rec_valid", "done"),
        ("remove partial archive set", PARTIAL, "done"),
        ("remove directory", MOUNTPOINT, "done"),
        ("remove directory", f"/run/lvmkit/{RUN}", "done"),
        ("remove lock", LOCK, "done"),
    ]
    text = render(report)
    assert f"unmounted {MOUNTPOINT} (run {RUN})" in text
    assert f"removed volume labvg/rec_valid (run {RUN})" in text
    assert "which is dead" in text


def test_cleanup_without_filter_also_removes_other_dead_runs_directories_and_leaves_live_and_unknown(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text, all_runs=True)
    expect_unmount(scripted_host, fixture_text)
    expect_volume_removal(scripted_host, fixture_text)
    scripted_host.expect(["rm", "-rf", "--one-file-system", "--", PARTIAL], changes=True)
    directories = [MOUNTPOINT, f"/run/lvmkit/{RUN}", *other_run_directories(fixture_text)]
    # The loop prints each directory it removed, one a line (as in cleanup/rmdir.out).
    scripted_host.expect(rmdir_each_argv(directories), changes=True, stdout="".join(d + "\n" for d in directories))
    scripted_host.expect(remove_if_same_argv(LOCK, lock_content(fixture_text)), changes=True, stdout="removed\n")
    report = cleanup(scripted_host, destinations=[DEST], cmdline_of=dead, **CONTROLLER)
    assert report.clean
    assert [lk.run_id for lk in report.live] == [OTHER]
    text = render(report)
    assert "left alone (lvmkit cannot tell which run they belong to):" in text
    assert ".cln_rec_unmarked.partial: partial archive set without a .lvmkit-run marker" in text
    assert f"runs in progress, not touched:\n  {OTHER}: verify of labvg/cln_rec_other" in text


def stale_temporaries(fixture_text) -> list[str]:
    """The old temporaries of verify in the recorded listing (paths inside the destination it
    staged, tests/fixtures/record_temporaries.py): the one in a set, the one in a group's member set."""
    entries = [entry.split(" ", 1) for entry in fixture_text("cleanup/temporaries.out").split("\0")[:-1]]
    return sorted(f"{DEST}/{path}" for kind, path in entries if kind == "old" and not path.endswith(".ab-12c")
                  and path.rpartition("/")[0] in (temporaries_staged.SET, f"{temporaries_staged.GROUP}/"
                                                                       f"{temporaries_staged.MEMBER}"))


def expect_whole_machine_cleanup(host, fixture_text, temporaries: list[str]) -> None:
    expect_discovery(host, fixture_text, all_runs=True, temporaries="temporaries.out")
    expect_unmount(host, fixture_text)
    expect_volume_removal(host, fixture_text)
    host.expect(["rm", "-rf", "--one-file-system", "--", PARTIAL], changes=True)
    for path in temporaries:
        host.expect(["rm", "-f", "--", path], changes=True)
    directories = [MOUNTPOINT, f"/run/lvmkit/{RUN}", *other_run_directories(fixture_text)]
    host.expect(rmdir_each_argv(directories), changes=True, stdout="".join(d + "\n" for d in directories))
    host.expect(remove_if_same_argv(LOCK, lock_content(fixture_text)), changes=True, stdout="removed\n")


def test_cleanup_of_a_destination_removes_verifys_old_temporaries_after_partials_and_reports_a_recent_one(
        scripted_host, fixture_text):
    temporaries = stale_temporaries(fixture_text)
    assert len(temporaries) == 2  # a set's and a group member set's (the recording's other files are not)
    expect_whole_machine_cleanup(scripted_host, fixture_text, temporaries)
    report = cleanup(scripted_host, destinations=[DEST], cmdline_of=dead, **CONTROLLER)
    scripted_host.assert_done()
    assert report.clean
    kinds = [a.kind for a in report.actions]
    assert kinds.index("remove partial archive set") < kinds.index("remove temporary file") < kinds.index(
        "remove directory")
    assert [(a.target, a.run_id, a.outcome) for a in report.actions if a.kind == "remove temporary file"] == [
        (path, None, "done") for path in temporaries]
    text = render(report)
    assert f"removed temporary file {temporaries[0]}: left by an interrupted `lvmkit verify`" in text
    (recent,) = [u for u in report.unknown if "verification.json." in u.what]
    assert recent.what.startswith(f"{DEST}/labvg-ext4vol-") and "a verify may be writing it" in recent.why


def test_cleanup_dry_run_shows_verifys_temporaries_in_its_plan_and_removes_none(fixture_text):
    host = PlanningHost()
    temporaries = stale_temporaries(fixture_text)
    expect_whole_machine_cleanup(host, fixture_text, temporaries)
    report = cleanup(host, dry_run=True, destinations=[DEST], cmdline_of=dead, **CONTROLLER)
    host.assert_done()
    assert {a.outcome for a in report.actions} == {"planned"}
    assert all(f"would remove temporary file {path}: left by an interrupted `lvmkit verify`" in render(report)
               for path in temporaries)


def test_cleanup_with_busy_mount_leaves_everything_of_the_run_and_keeps_its_lock(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text, "busy")
    report = cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    assert not report.clean
    assert {a.kind: a.outcome for a in report.actions} == {
        "unmount": "kept", "remove volume": "kept", "remove partial archive set": "kept",
        "remove directory": "kept", "remove lock": "kept"}
    text = render(report)
    assert "NOT unmounted" in text and "target is busy" in text and "fuser -vm" in text
    assert "run `lvmkit cleanup` again" in text


def test_cleanup_with_volume_in_use_reports_failure_and_keeps_the_rest_of_the_run(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text)
    expect_volume_removal(scripted_host, fixture_text, in_use=True)
    report = cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    outcomes = {a.kind: a for a in report.actions}
    assert outcomes["remove volume"].outcome == "failed"
    assert "contains a filesystem in use" in outcomes["remove volume"].detail
    assert outcomes["remove lock"].outcome == "kept" and outcomes["remove partial archive set"].outcome == "kept"
    assert not report.clean


def test_cleanup_with_mount_already_gone_carries_on(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text, "not-mounted")
    expect_volume_removal(scripted_host, fixture_text)
    expect_rest_of_run(scripted_host, fixture_text)
    assert cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER).clean


def test_cleanup_with_lock_replaced_meanwhile_leaves_the_new_lock(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text)
    expect_volume_removal(scripted_host, fixture_text)
    expect_rest_of_run(scripted_host, fixture_text, lock_said="other")
    report = cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    assert report.actions[-1].detail == "replaced meanwhile by another run's lock, which stays"


def test_cleanup_dry_run_plans_every_removal_in_the_same_order_and_changes_nothing(fixture_text):
    host = PlanningHost()
    expect_discovery(host, fixture_text)
    expect_unmount(host, fixture_text)
    host.expect([*LVS, "labvg/rec_valid"], stdout=fixture_text("lvm/lvs-lab.json"))
    host.expect(["lvremove", "--yes", "labvg/rec_valid"], changes=True)
    expect_rest_of_run(host, fixture_text)
    report = cleanup(host, dry_run=True, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    host.assert_done()
    assert report.dry_run and report.clean
    assert {a.outcome for a in report.actions} == {"planned"} and len(report.actions) == 6
    text = render(report)
    assert text.startswith("cleanup on scripted (dry run: nothing was changed)")
    assert f"would unmount {MOUNTPOINT}" in text and "would remove volume labvg/rec_valid" in text


def test_cleanup_with_nothing_stale_says_so_and_changes_nothing(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    report = cleanup(scripted_host, destinations=[DEST], only_runs={"20000101T000000Z-none"})
    assert report.actions == [] and report.clean
    assert render(report) == "cleanup on scripted\n  nothing to clean up"


def test_as_dict_with_dead_run_is_json_with_every_action(scripted_host, fixture_text):
    expect_discovery(scripted_host, fixture_text)
    expect_unmount(scripted_host, fixture_text, "busy")
    report = cleanup(scripted_host, destinations=[DEST], only_runs={RUN}, cmdline_of=dead, **CONTROLLER)
    data = json.loads(json.dumps(report.as_dict()))
    assert data["clean"] is False and data["dry_run"] is False
    assert data["actions"][0] == {"kind": "unmount", "target": MOUNTPOINT, "run_id": RUN, "outcome": "kept",
                                  "detail": data["actions"][0]["detail"]}


# --- the scripts themselves, run here with the same sh (dash on Debian) ----------------


def test_partials_script_lists_partial_sets_with_their_markers_and_skips_the_rest(tmp_path):
    (tmp_path / ".a.partial").mkdir()
    (tmp_path / ".a.partial" / ".lvmkit-run").write_text("20261126T000000Z\nextra\n")
    (tmp_path / ".b.partial").mkdir()
    (tmp_path / ".c.partial").symlink_to(tmp_path / ".a.partial")
    (tmp_path / ".d.partial").write_text("a file")
    (tmp_path / "published").mkdir()
    stdout = Host().run(partials_argv(str(tmp_path))).stdout
    assert stdout == ".a.partial\0marker\x0020261126T000000Z\0.b.partial\0none\0\0"


def test_rmdir_script_removes_empty_directories_only_and_prints_them(tmp_path):
    (tmp_path / "run" / "mp").mkdir(parents=True)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    argv = rmdir_each_argv([str(tmp_path / "run" / "mp"), str(tmp_path / "run"), str(tmp_path / "full")])
    assert Host().run(argv, changes=True).stdout == f"{tmp_path}/run/mp\n{tmp_path}/run\n"
    assert (tmp_path / "full" / "file").exists()
