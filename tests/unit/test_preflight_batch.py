"""A backup's preflight as one batch of queries: the batch's framing, and each check judged
from the outputs recorded from the real batch in the lab (tests/fixtures/record_probe.py),
replayed by tests/unit/recorded_preflight.py."""

from __future__ import annotations

import json
import os

import pytest

from lvmkit.core.batch import BATCH_SCRIPT, BatchError, Query, batch_argv, parse_batch
from lvmkit.core.journal import JournalEntry, count_commands
from lvmkit.core.preflight import PreflightError
from lvmkit.lvm.watch import read_argv

from .recorded_preflight import RECORDED, preflight, queries, recorded

# --- the batch -----------------------------------------------------------------------------

def test_batch_argv_is_one_constant_script_with_each_argv_as_parameters():
    argv = batch_argv([Query("uid", ["id", "-u"]), Query("odd", ["cat", "--", "/x/$(reboot); y"])])
    assert argv == ["bash", "-c", BATCH_SCRIPT, "bash", "uid", "2", "id", "-u", "odd", "3", "cat", "--", "/x/$(reboot); y"]
    assert "reboot" not in BATCH_SCRIPT


@pytest.mark.parametrize("name, argv", [("two words", ["id"]), ("", ["id"]), ("uid", [])])
def test_batch_argv_with_a_bad_part_refuses_it(name, argv):
    with pytest.raises(ValueError, match="a word for a name and an argv"):
        batch_argv([Query(name, argv)])


def test_parse_batch_with_recorded_probe_gives_each_part_its_code_and_outputs():
    answers = parse_batch(recorded("ext4vol"), queries("ext4vol"))
    assert list(answers) == ["uid", "lvs", "vgs", "lock", "blkid", "tools", "mounts", "used", "devno", "segments",
                             "pvs", "fstab", "fsparams", "version0", "dest"]
    assert (answers["uid"].returncode, answers["uid"].stdout) == (0, "0\n")
    assert answers["lock"].returncode == 1 and "No such file or directory" in answers["lock"].stderr
    assert answers["lock"].stdout == ""
    assert json.loads(answers["lvs"].stdout)["report"][0]["lv"][0]["lv_name"] == "ext4vol"
    assert answers["used"].stdout.splitlines()[1].split() == ["28463104", "/srv/lvmkit-lab/ext4vol"]
    assert answers["devno"].stdout == "fd:0\n"  # major 253 (device-mapper), minor 0


def test_parse_batch_with_a_part_missing_says_the_batch_ended_early():
    cut = recorded("ext4vol").split("@@ dest")[0]
    with pytest.raises(BatchError, match="no output for dest"):
        parse_batch(cut, queries("ext4vol"))


def test_parse_batch_with_parts_out_of_order_refuses_them():
    with pytest.raises(BatchError, match="expected the part uid"):
        parse_batch(recorded("ext4vol").replace("@@ uid", "@@ lvs", 1), queries("ext4vol"))


def test_parse_batch_with_a_line_outside_the_framing_refuses_it():
    with pytest.raises(BatchError, match="not in the batch's framing"):
        parse_batch("Warning: Permanently added the host key\n" + recorded("ext4vol"), queries("ext4vol"))


def test_parse_batch_with_an_extra_part_refuses_it():
    with pytest.raises(BatchError, match="expected the part no more parts"):
        parse_batch(recorded("ext4vol") + "@@ extra 0\n", queries("ext4vol"))


# --- the checks, from the recorded answers -------------------------------------------------

def test_run_preflight_with_recorded_ext4_volume_passes_every_check_in_one_command(scripted_host):
    found = preflight(scripted_host, "ext4vol")
    assert found.checks.passed
    assert [c.name for c in found.checks.checks] == [
        "running as root", "origin exists and is active", "no other run of the origin", "filesystem supported",
        "tools installed", "room for the snapshot", "snapshot name free", "no stale lvmkit snapshot of the origin",
        "destination root's alone", "destination not on a volume backed up",
        "destination writable", "archive name free", "room at the destination",
    ]
    assert (found.origin.name, found.filesystem.type, found.holder) == ("ext4vol", "ext4", None)
    assert found.origin_mounts == ["/srv/lvmkit-lab/ext4vol"]
    assert found.expected_bytes == 28463104
    assert found.snapshot.extents == 13  # 20% of 256 MiB in 4 MiB extents, rounded up
    assert found.engine_version == "fsarchiver 0.8.7 (2023-03-19)"  # fsarchiver -V writes it on stderr


def test_run_preflight_with_recorded_thin_volume_judges_its_pool(scripted_host):
    found = preflight(scripted_host, "thinvol")
    assert found.snapshot.thin
    room = next(c for c in found.checks.checks if c.name == "room for the snapshot")
    assert room.passed and room.detail.startswith("thin pool labvg/pool ")


def test_run_preflight_with_recorded_missing_volume_group_names_it(scripted_host):
    with pytest.raises(PreflightError, match='origin exists: volume group "novg" not found') as raised:
        preflight(scripted_host, "novg")
    assert [c.name for c in raised.value.checks] == ["running as root", "origin exists"]


def test_run_preflight_with_recorded_missing_volume_names_it(scripted_host):
    with pytest.raises(PreflightError, match="no logical volume labvg/nolv"):
        preflight(scripted_host, "nolv")


def test_run_preflight_with_a_tool_missing_fails_that_check_alone(scripted_host):
    output = recorded("ext4vol").replace("@@ tools 0\n", "@@ tools 0\no fsarchiver\n")
    with pytest.raises(PreflightError) as raised:
        preflight(scripted_host, "ext4vol", output)
    failed = [c for c in raised.value.checks if not c.passed]
    assert [c.name for c in failed] == ["tools installed"]
    assert failed[0].detail == "missing: fsarchiver; install with: apt-get install fsarchiver"


def test_run_preflight_with_the_archive_name_taken_fails_that_check_alone(scripted_host):
    output = recorded("ext4vol").replace("o final=0\n", "o final=1\n")
    with pytest.raises(PreflightError, match="exists already; lvmkit never overwrites") as raised:
        preflight(scripted_host, "ext4vol", output)
    assert [c.name for c in raised.value.checks if not c.passed] == ["archive name free"]


def test_run_preflight_with_a_snapshot_too_large_gives_the_numbers(scripted_host):
    with pytest.raises(PreflightError, match=r"the snapshot needs 900\.0 GiB .* but labvg has"):
        preflight(scripted_host, "ext4vol", snapshot_size="900G")


def test_probe_queries_of_a_group_member_leave_the_destination_to_the_group():
    assert [q.name for q in queries("ext4vol", in_group=True)][-1] == "version0"


# --- counting the commands -----------------------------------------------------------------

def journal_entry(argv, changes=False, host="lab", planned=False):
    return JournalEntry(host=host, argv=argv, changes_state=changes, planned=planned, start="", end="",
                        duration_s=0.1, returncode=0, stdout="", stderr="")


def test_count_commands_splits_queries_and_changes_and_counts_the_guard_apart():
    device = "labvg-ext4vol--lvmkit--32db"
    entries = [
        journal_entry(["bash", "-c", BATCH_SCRIPT, "bash"]),
        journal_entry(["lvcreate", "--snapshot"], changes=True),
        journal_entry(read_argv(device)),
        journal_entry(read_argv(device, engine_pid=4242)),
        journal_entry(["mount"], changes=True),
        journal_entry(["lvs"], host="local"),  # another host's
        journal_entry(["lvremove"], changes=True, planned=True),  # a dry run's, never sent
    ]
    count = count_commands(entries, "lab", read_argv(device)[:-1])
    assert (count.queries, count.changes, count.monitoring, count.total) == (1, 2, 2, 3)
    assert count.describe() == "3 commands on the target (1 queries, 2 changes), and 2 readings of the snapshot"


def test_run_preflight_with_recorded_ext4_volume_judges_the_destination_by_its_owner_and_device(scripted_host):
    checks = {c.name: c for c in preflight(scripted_host, "ext4vol").checks.checks}
    assert checks["destination root's alone"].detail == (
        f"{RECORDED['dest']}: owned by root, mode 755, no parent writable by others")
    assert checks["destination not on a volume backed up"].passed
    assert checks["destination not on a volume backed up"].detail.startswith(f"{RECORDED['dest']} is on device 0:")


def test_run_preflight_with_the_destination_on_the_origin_refuses_naming_the_device(scripted_host):
    """The recorded origin is 253:0 (fd:0); the destination said to be on it (st_dev of 253:0)."""
    output = recorded("ext4vol").replace("o devno=28\n", f"o devno={os.makedev(253, 0)}\n")
    with pytest.raises(PreflightError, match=r"is on /dev/labvg/ext4vol \(253:0\), which this backup snapshots"):
        preflight(scripted_host, "ext4vol", output)


def test_run_preflight_with_a_destination_writable_by_others_refuses_it(scripted_host):
    dest = RECORDED["dest"]
    output = recorded("ext4vol").replace(f"o owner=755 0 {dest}\n", f"o owner=777 0 {dest}\n")
    with pytest.raises(PreflightError, match=rf"{dest} is writable by others \(mode 777\): `chmod o-w {dest}`"):
        preflight(scripted_host, "ext4vol", output)
