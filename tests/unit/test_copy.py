"""lvmkit copy: the destination's parsing, the copy plan, the check on arrival, the copy lock.

tests/fixtures/copy/*.out are the real output of coreutils 9.1's `sha256sum --quiet --strict
-c` (Debian 12) on a set with a damaged and a missing file, and on a name holding a backslash.
"""

from __future__ import annotations

import shlex

import pytest

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host, SshHost, missing_tools_argv
from lvmkit.core.journal import Journal
from lvmkit.core.plan import acting
from lvmkit.ops import copy as copy_module
from lvmkit.ops.copy_lock import CopyRunning, holding, is_running
from lvmkit.ops.copy_transfer import Place, check_argv, failed_files, publish_argv, rsync_argv
from lvmkit.targets import copy_place

from .conftest import FIXTURES

SET = "/backups/labvg-www-20261130T010203Z-ab12"
SUMS = "0" * 64 + "  manifest.json\n" + "1" * 64 + "  filesystem.tar.zst\n"
MANIFEST = (FIXTURES / "manifest" / "single-tar-thick.json").read_text()  # recorded in the lab


@pytest.fixture
def local(tmp_path):
    return Host(journal=Journal(tmp_path / "journal.jsonl"))


def ssh_host(tmp_path, address="backup.example", user="root", port=22) -> SshHost:
    return SshHost(journal=Journal(None), address=address, user=user, port=port, control_dir=tmp_path / "ssh")


@pytest.mark.parametrize("spec, address, user, port, directory", [
    ("ssh://backup.example/copies", "backup.example", None, 22, "/copies"),
    ("ssh://ops@10.0.0.7:2222/srv/copies", "10.0.0.7", "ops", 2222, "/srv/copies"),
])
def test_copy_place_with_ssh_url_gives_host_and_directory(local, spec, address, user, port, directory):
    place = copy_place(spec, local)
    assert isinstance(place.host, SshHost)
    assert (place.host.address, place.host.user, place.host.port, place.directory) == (address, user, port, directory)


def test_copy_place_with_absolute_path_is_on_the_controller(local):
    place = copy_place("/copies", local)
    assert place.host is local and place.directory == "/copies"


@pytest.mark.parametrize("spec, said", [
    ("copies", "relative"),
    ("-copies", "begins with '-'"),
    ("/copies/../etc", "'..'"),
    ("/copies/", "not normalised"),
    ("ssh://backup.example", "names no directory"),
    ("ssh://backup.example/", "names no directory"),
    ("ssh://backup.example/a/../b", "'..'"),
    ("ssh://bad host/copies", "cannot parse host"),
    ("ssh://backup.example:70000/copies", "out of range"),
    ("sftp://backup.example/copies", "ssh://[user@]host[:port]/DIR"),
])
def test_copy_place_refuses_bad_destination_naming_it(local, spec, said):
    with pytest.raises(UsageError) as raised:
        copy_place(spec, local)
    assert said in str(raised.value)


@pytest.mark.parametrize("value", [0, -5, 10_000_001])
def test_bwlimit_out_of_range_is_refused(value):
    with pytest.raises(LvmkitError, match="--bwlimit"):
        copy_module.validate_bwlimit(value)


def test_rsync_argv_pulls_over_ssh_with_the_hosts_own_options(tmp_path, local):
    target = ssh_host(tmp_path, port=2200)
    argv = rsync_argv(target, SET, local, "/copies/.x.copy-partial", bwlimit_kib=500)
    assert argv[:6] == ["rsync", "-aHAXS", "--numeric-ids", "--partial", "--delete-during", "--bwlimit=500"]
    shell = shlex.split(argv[argv.index("-e") + 1])
    assert shell[0] == "ssh" and shell[1:] == target.ssh_options()
    assert argv[-2:] == [f"backup.example:{SET}/", "/copies/.x.copy-partial/"]


def test_rsync_argv_for_a_login_other_than_root_runs_rsync_through_sudo(tmp_path, local):
    argv = rsync_argv(local, SET, ssh_host(tmp_path, user="ops"), "/copies/.x.copy-partial")
    assert "--rsync-path=sudo -n rsync" in argv


def test_rsync_argv_between_two_remote_hosts_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not two"):
        rsync_argv(ssh_host(tmp_path), SET, ssh_host(tmp_path, "other.example"), "/copies/.x.copy-partial")


def prepared(target, controller, dest: Place, tmp_path) -> copy_module.CopyRun:
    return copy_module.CopyRun(copy_module.CopyRequest(SET, dest, staging="/var/lib/lvmkit/copies",
                                                       lock_dir=tmp_path / "locks"),
                               "labvg-www-20261130T010203Z-ab12", Place(target, "/backups"), SUMS, False)


def test_plan_to_a_controller_directory_pulls_checks_and_publishes(tmp_path, local):
    run = prepared(ssh_host(tmp_path), local, Place(local, "/copies"), tmp_path)
    the_plan = copy_module.plan(run, local)
    partial = "/copies/.labvg-www-20261130T010203Z-ab12.copy-partial"
    commands = [step.commands for step in the_plan.steps]
    assert commands[0] == [["install", "-d", "-m", "0700", "--", partial]]
    assert commands[1][0][0] == "rsync" and commands[1][0][-1] == f"{partial}/"
    assert commands[2] == [check_argv(partial)]
    assert commands[3] == [publish_argv(partial, "/copies/labvg-www-20261130T010203Z-ab12", "/copies")]
    assert len(the_plan.steps) == 4  # no staging: the controller is one end


def test_plan_between_two_remote_hosts_goes_through_staging_and_removes_it(tmp_path, local):
    dest = Place(ssh_host(tmp_path, "offsite.example"), "/copies")
    the_plan = copy_module.plan(prepared(ssh_host(tmp_path), local, dest, tmp_path), local)
    staging = "/var/lib/lvmkit/copies/.labvg-www-20261130T010203Z-ab12.copy-partial"
    pull, push = (step.commands[0] for step in the_plan.steps if step.commands[0][0] == "rsync")
    assert pull[-2:] == [f"backup.example:{SET}/", f"{staging}/"]
    assert pull[-2].startswith("backup.example:") and push[-1].startswith("offsite.example:")
    assert push[-2] == f"{staging}/"
    assert the_plan.steps[-1].commands == [["rm", "-rf", "--one-file-system", "--", staging]]


def expect_source_set(host) -> None:
    """The read-only queries of prepare() up to the destination: the set's manifest and sums, tools."""
    host.expect(["test", "-f", f"{SET}/manifest.json"])
    host.expect(["cat", "--", f"{SET}/manifest.json"], stdout=MANIFEST)
    host.expect(["cat", "--", f"{SET}/SHA256SUMS"], stdout=SUMS)
    host.expect(missing_tools_argv(["rsync", "sha256sum"]))


def test_prepare_refuses_a_different_set_of_that_name_at_the_destination(scripted_host, local, tmp_path):
    dest = scripted_host
    expect_source_set(dest)
    dest.expect(["test", "-d", "/copies"])
    dest.expect(["cat", "--", "/copies/labvg-www-20261130T010203Z-ab12/SHA256SUMS"], stdout=SUMS.replace("0", "2"))
    request = copy_module.CopyRequest(SET, Place(dest, "/copies"), lock_dir=tmp_path / "locks")
    with pytest.raises(copy_module.CopyRefused, match="differs"):
        copy_module.prepare(dest, dest, request)


def test_prepare_with_the_same_set_there_plans_nothing(scripted_host, tmp_path):
    host = scripted_host
    expect_source_set(host)
    host.expect(["test", "-d", "/copies"])
    host.expect(["cat", "--", "/copies/labvg-www-20261130T010203Z-ab12/SHA256SUMS"], stdout=SUMS)
    run = copy_module.prepare(host, host, copy_module.CopyRequest(SET, Place(host, "/copies")))
    assert run.already_there and run.plan is None


def test_prepare_with_a_missing_destination_directory_says_to_create_it(scripted_host):
    host = scripted_host
    expect_source_set(host)
    host.expect(["test", "-d", "/copies"], returncode=1)
    with pytest.raises(LvmkitError, match="is not a directory: create it"):
        copy_module.prepare(host, host, copy_module.CopyRequest(SET, Place(host, "/copies")))


def test_prepare_refuses_a_relative_archive_set_before_any_command(scripted_host):
    with pytest.raises(UsageError, match="relative"):
        copy_module.prepare(scripted_host, scripted_host,
                            copy_module.CopyRequest("backups/x", Place(scripted_host, "/copies")))


def test_failed_files_reads_sha256sums_report(fixture_text):
    assert failed_files(fixture_text("copy/sha256sum-check-failed.out")) == ["manifest.json", "filesystem.tar.zst"]
    assert failed_files(fixture_text("copy/sha256sum-check-escaped.out")) == ["we\\ird"]
    assert failed_files("garbled\n") is None


def test_arrival_removes_the_damaged_files_and_refuses(scripted_host, fixture_text, tmp_path, local):
    run = prepared(local, scripted_host, Place(scripted_host, "/copies"), tmp_path)
    arrival = copy_module.plan(run, local).steps[2]
    partial = "/copies/.labvg-www-20261130T010203Z-ab12.copy-partial"
    scripted_host.expect(check_argv(partial), stdout=fixture_text("copy/sha256sum-check-failed.out"), returncode=1)
    scripted_host.expect(["rm", "-f", "--", f"{partial}/manifest.json"], changes=True)
    scripted_host.expect(["rm", "-f", "--", f"{partial}/filesystem.tar.zst"], changes=True)
    with acting(arrival), pytest.raises(copy_module.CopyRefused, match="arrived damaged.*Run the copy again"):
        arrival.execute(scripted_host)


def test_copy_lock_refuses_a_second_copy_of_the_set_and_is_freed_after(tmp_path):
    locks = tmp_path / "locks"
    assert not is_running(locks, "set-a")
    with holding(locks, "set-a"):
        assert is_running(locks, "set-a")
        with pytest.raises(CopyRunning, match="a copy of set-a is running"), holding(locks, "set-a"):
            pass
        with holding(locks, "set-b"):
            pass
    assert not is_running(locks, "set-a")


def test_plan_from_a_local_target_to_another_host_pushes_directly(tmp_path, local):
    target = Host(journal=Journal(None))  # --host local: another Host object than the controller's
    dest = Place(ssh_host(tmp_path, "offsite.example"), "/copies")
    the_plan = copy_module.plan(prepared(target, local, dest, tmp_path), local)
    transfers = [step.commands[0] for step in the_plan.steps if step.commands[0][0] == "rsync"]
    assert len(transfers) == 1 and transfers[0][-2:] == [f"{SET}/", "offsite.example:/copies/"
                                                         ".labvg-www-20261130T010203Z-ab12.copy-partial/"]
