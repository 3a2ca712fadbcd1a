"""The per-origin lock, from outputs recorded in the lab (tests/fixtures/record_cleanup.py).

Whether a holder lives is judged on the controller; these tests give `hostname` and a
fake process table (`cmdline_of`) instead of this machine's. The lock's shell scripts are
also run for real, here, in a temporary directory.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from lvmkit.core.errors import CommandError, LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.lvm.lock import (
    LockHeld,
    OriginLock,
    acquire,
    controller_cmdline,
    create_lock_argv,
    holder_alive,
    list_locks,
    list_locks_argv,
    lock_path,
    looks_like_lvmkit,
    parse_lock,
    process_start,
    release,
    remove_if_same,
    remove_if_same_argv,
    this_controller,
)

from .conftest import ScriptedHost

LOCK = "/run/lvmkit/locks/labvg-ext4vol.lock"
RUN = "20261126T000000Z"


def alive(pid):
    return ["/usr/bin/python3", "-m", "lvmkit.cli", "backup", "labvg/ext4vol"]


def dead(pid):
    return None


def reused(pid):
    return ["/usr/sbin/sshd", "-D"]


class InputHost(ScriptedHost):
    """A ScriptedHost that also keeps what each command was given on stdin."""

    def __init__(self):
        super().__init__()
        self.inputs: list[str | None] = []

    def run(self, argv, *, changes=False, check=True, input=None, timeout=None):
        self.inputs.append(input)
        return super().run(argv, changes=changes, check=check, input=input, timeout=timeout)


def expect_held(host, fixture_text, content=None):
    host.expect(create_lock_argv(LOCK), changes=True, returncode=1,
                stderr=fixture_text("cleanup/lock-exists.stderr"))
    host.expect(["cat", "--", LOCK], stdout=content or fixture_text("cleanup/lock-ext4vol.json"))


def holder(fixture_text) -> dict:
    return json.loads(fixture_text("cleanup/lock-ext4vol.json"))


def test_lock_path_with_plain_names_is_vg_dash_lv_under_run_lvmkit_locks():
    assert lock_path("labvg", "ext4vol") == LOCK


def test_lock_path_with_hyphens_doubles_them_like_device_mapper():
    assert lock_path("vg-a", "lv-b") == "/run/lvmkit/locks/vg--a-lv--b.lock"
    assert lock_path("vg-a", "lv-b") != lock_path("vg", "a-lv-b")


def test_lock_path_with_bad_name_is_refused():
    with pytest.raises(UsageError, match="contains"):
        lock_path("labvg", "x;rm -rf /")


def test_acquire_with_free_origin_writes_holder_json_atomically():
    host = InputHost()
    host.expect(create_lock_argv(LOCK), changes=True)
    lock = acquire(host, "labvg", "ext4vol", RUN, "backup", hostname="controller-a")
    host.assert_done()
    written = json.loads(host.inputs[0])
    assert written == json.loads(lock.content)
    assert {k: written[k] for k in ("run_id", "origin", "controller", "pid", "command")} == {
        "run_id": RUN, "origin": "labvg/ext4vol", "controller": "controller-a", "pid": os.getpid(),
        "command": "backup"}
    assert datetime.fromisoformat(written["started"]).utcoffset().total_seconds() == 0
    assert (lock.path, lock.run_id) == (LOCK, RUN)


def test_acquire_with_live_holder_raises_lock_held_naming_run_pid_controller_and_start(scripted_host, fixture_text):
    expect_held(scripted_host, fixture_text)
    with pytest.raises(LockHeld) as raised:
        acquire(scripted_host, "labvg", "ext4vol", "20261126T030000Z-aaaa", "backup",
                hostname="controller-a", cmdline_of=alive)
    h = holder(fixture_text)
    assert str(raised.value) == (
        f"labvg/ext4vol is being backed up by run {RUN} (pid {h['pid']} on controller-a, "
        f"since {h['started']}); wait for it to finish")
    assert raised.value.lock.alive is True


def test_acquire_with_dead_holder_says_stale_and_names_lvmkit_cleanup(scripted_host, fixture_text):
    expect_held(scripted_host, fixture_text)
    with pytest.raises(LockHeld) as raised:
        acquire(scripted_host, "labvg", "ext4vol", "20261126T030000Z-aaaa", "backup",
                hostname="controller-a", cmdline_of=dead)
    message = str(raised.value)
    assert f"stale lock: run {RUN} (pid {holder(fixture_text)['pid']} on controller-a" in message
    assert "died" in message and "`lvmkit cleanup` removes" in message


def test_acquire_with_pid_reused_by_another_program_says_stale(scripted_host, fixture_text):
    expect_held(scripted_host, fixture_text)
    with pytest.raises(LockHeld, match="stale lock"):
        acquire(scripted_host, "labvg", "ext4vol", "20261126T030000Z-aaaa", "backup",
                hostname="controller-a", cmdline_of=reused)


def test_acquire_with_holder_on_another_controller_treats_it_as_held(scripted_host, fixture_text):
    expect_held(scripted_host, fixture_text)
    with pytest.raises(LockHeld) as raised:
        acquire(scripted_host, "labvg", "ext4vol", "20261126T030000Z-aaaa", "backup",
                hostname="controller-z", cmdline_of=dead)
    message = str(raised.value)
    assert raised.value.lock.alive is None
    assert "is being backed up by run" in message and "wait for it to finish" in message
    assert "cannot check it from here" in message and "`lvmkit cleanup` on controller-a" in message


def test_acquire_with_unreadable_lock_refuses_and_never_takes_it(scripted_host, fixture_text):
    expect_held(scripted_host, fixture_text, content="half a lock")
    with pytest.raises(LockHeld, match="cannot read .*not JSON.*never takes over a lock"):
        acquire(scripted_host, "labvg", "ext4vol", RUN, "backup", hostname="controller-a", cmdline_of=dead)


def test_acquire_with_failure_and_no_lock_reraises_the_command_error(scripted_host, fixture_text):
    scripted_host.expect(create_lock_argv(LOCK), changes=True, returncode=1,
                         stderr=fixture_text("cleanup/lock-exists.stderr"))
    scripted_host.expect(["cat", "--", LOCK], returncode=1, stderr=fixture_text("cleanup/lock-missing.stderr"))
    with pytest.raises(CommandError, match="File exists"):
        acquire(scripted_host, "labvg", "ext4vol", RUN, "backup")


def test_acquire_in_dry_run_reads_the_lock_then_only_plans_its_creation(scripted_host, fixture_text):
    scripted_host.dry_run = True
    scripted_host.expect(["cat", "--", LOCK], returncode=1, stderr=fixture_text("cleanup/lock-missing.stderr"))
    scripted_host.expect(create_lock_argv(LOCK), changes=True)
    assert acquire(scripted_host, "labvg", "ext4vol", RUN, "backup").path == LOCK


def test_acquire_in_dry_run_with_lock_held_raises_before_planning(scripted_host, fixture_text):
    scripted_host.dry_run = True
    scripted_host.expect(["cat", "--", LOCK], stdout=fixture_text("cleanup/lock-ext4vol.json"))
    with pytest.raises(LockHeld, match="being backed up"):
        acquire(scripted_host, "labvg", "ext4vol", "20261126T030000Z-aaaa", "backup",
                hostname="controller-a", cmdline_of=alive)


def own_lock(fixture_text) -> OriginLock:
    return OriginLock("labvg", "ext4vol", RUN, LOCK, fixture_text("cleanup/lock-ext4vol.json").rstrip("\n"))


@pytest.mark.parametrize("said, removed", [("removed", True), ("gone", False), ("other", False)])
def test_release_removes_only_a_lock_still_holding_this_runs_content(scripted_host, fixture_text, said, removed):
    lock = own_lock(fixture_text)
    scripted_host.expect(remove_if_same_argv(LOCK, lock.content), changes=True, stdout=said + "\n")
    assert release(scripted_host, lock) is removed


def test_list_locks_with_recorded_locks_judges_each_holder(scripted_host, fixture_text):
    scripted_host.expect(list_locks_argv(), stdout=fixture_text("cleanup/locks-listing.out"))
    locks = {Path(lk.path).name: lk for lk in list_locks(scripted_host, hostname="controller-a", cmdline_of=dead)}
    assert sorted(locks) == ["labvg-cln_rec_bad.lock", "labvg-cln_rec_other.lock", "labvg-ext4vol.lock"]
    ours = locks["labvg-ext4vol.lock"]
    assert (ours.run_id, ours.origin, ours.command, ours.alive) == (RUN, "labvg/ext4vol", "backup", False)
    assert ours.path == LOCK and ours.content == fixture_text("cleanup/lock-ext4vol.json")
    other = locks["labvg-cln_rec_other.lock"]
    assert (other.run_id, other.controller, other.alive) == ("20261126T010000Z-beef", "controller-b", None)
    bad = locks["labvg-cln_rec_bad.lock"]
    assert bad.problem.startswith("not JSON") and bad.content == "half a lock" and bad.run_id is None


def test_list_locks_without_lock_directory_is_empty(scripted_host):
    scripted_host.expect(list_locks_argv(), stdout="")
    assert list_locks(scripted_host) == []


def test_list_locks_with_garbled_output_names_the_directory(scripted_host):
    scripted_host.expect(list_locks_argv(), stdout="labvg-ext4vol.lock\0")
    with pytest.raises(LvmkitError, match="/run/lvmkit/locks .*garbled"):
        list_locks(scripted_host)


@pytest.mark.parametrize("cmdline_of, expected", [
    (alive, True), (dead, False), (reused, False), (lambda pid: [], False),  # [] : a zombie
])
def test_holder_alive_on_this_controller_asks_the_process_table(cmdline_of, expected):
    assert holder_alive("controller-a", 4242, hostname="controller-a", cmdline_of=cmdline_of) is expected


def test_holder_alive_on_another_controller_cannot_tell():
    assert holder_alive("controller-b", 4242, hostname="controller-a", cmdline_of=dead) is None


@pytest.mark.parametrize("argv, expected", [
    (["/usr/bin/python3.11", "-m", "pytest"], True),
    (["/usr/local/bin/lvmkit", "backup"], True),
    (["/opt/venv/bin/python", "/usr/local/bin/lvmkit"], True),
    (["bash"], False),
    ([], False),
])
def test_looks_like_lvmkit_with_command_lines(argv, expected):
    assert looks_like_lvmkit(argv) is expected


def test_controller_cmdline_with_this_process_is_python():
    assert looks_like_lvmkit(controller_cmdline(os.getpid()))


def test_controller_cmdline_with_pid_above_pid_max_is_none():
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    assert controller_cmdline(pid_max + 1) is None


# --- the scripts themselves, run here with the same sh (dash on Debian) ----------------


def test_create_lock_script_with_free_name_writes_the_content_private(tmp_path):
    path = str(tmp_path / "locks" / "vg-lv.lock")
    Host().run(create_lock_argv(path), changes=True, input='{"run_id": "r1"}\n')
    assert Path(path).read_text() == '{"run_id": "r1"}\n'
    assert Path(path).stat().st_mode & 0o777 == 0o600
    assert os.listdir(tmp_path / "locks") == ["vg-lv.lock"], "no temporary file is left"


def test_create_lock_script_with_existing_lock_fails_and_keeps_it(tmp_path):
    path = str(tmp_path / "vg-lv.lock")
    Host().run(create_lock_argv(path), changes=True, input="first\n")
    with pytest.raises(CommandError, match="File exists"):
        Host().run(create_lock_argv(path), changes=True, input="second\n")
    assert Path(path).read_text() == "first\n"
    assert os.listdir(tmp_path) == ["vg-lv.lock"], "no temporary file is left"


def test_create_lock_script_with_directory_of_that_name_fails_instead_of_linking_into_it(tmp_path):
    path = tmp_path / "vg-lv.lock"
    path.mkdir()
    with pytest.raises(CommandError):
        Host().run(create_lock_argv(str(path)), changes=True, input="x\n")
    assert list(path.iterdir()) == []


def test_remove_if_same_script_removes_only_the_same_content(tmp_path):
    path = str(tmp_path / "vg-lv.lock")
    Path(path).write_text('{"run_id": "r1"}\n')
    assert remove_if_same(Host(), path, '{"run_id": "r2"}') == "other"
    assert Path(path).exists()
    assert remove_if_same(Host(), path, '{"run_id": "r1"}\n') == "removed"
    assert not Path(path).exists()
    assert remove_if_same(Host(), path, '{"run_id": "r1"}') == "gone"


def test_list_locks_script_frames_each_lock_and_skips_other_files(tmp_path):
    (tmp_path / "a.lock").write_text('{"x": 1}\n')
    (tmp_path / "b.lock").write_bytes(b"odd\0bytes\nhere")
    (tmp_path / ".new.Ab12Cd").write_text("temporary")
    (tmp_path / "dir.lock").mkdir()
    stdout = Host().run(list_locks_argv(str(tmp_path))).stdout
    assert stdout == "a.lock\0eyJ4IjogMX0K\0b.lock\0b2RkAGJ5dGVzCmhlcmU=\0"
    assert Host().run(list_locks_argv(str(tmp_path / "missing"))).stdout == ""


# --- holders named by machine id, boot id and process start time ----------------------


def identity_lock(**changes) -> str:
    """A lock as this lvmkit writes it for this very process, with `changes` applied."""

    data = {"run_id": RUN, "origin": "labvg/ext4vol", "controller": "ctl", "pid": os.getpid(),
            "command": "backup", "started": "2026-11-26T00:00:00+00:00", **this_controller(),
            "pid_start": process_start(os.getpid())}
    return json.dumps({**data, **changes})


def test_lock_of_this_very_process_is_alive():
    assert parse_lock(LOCK, identity_lock()).alive is True


def test_lock_of_another_machine_with_the_same_hostname_is_not_judged_dead():
    """Cloned VMs and containers share a hostname: a dead-looking pid there proves nothing."""
    lock = parse_lock(LOCK, identity_lock(machine_id="0" * 32, pid=999_999_999), hostname="ctl", cmdline_of=dead)
    assert lock.alive is None
    assert "another controller" in lock.describe()


def test_lock_of_an_earlier_boot_of_this_machine_is_dead():
    assert parse_lock(LOCK, identity_lock(boot_id="00000000-0000-0000-0000-000000000000")).alive is False


def test_lock_whose_pid_was_reused_by_a_later_process_is_dead():
    assert parse_lock(LOCK, identity_lock(pid_start="1")).alive is False


def test_acquire_records_machine_boot_and_process_start():
    host = InputHost()
    host.expect(create_lock_argv(LOCK), changes=True)
    lock = acquire(host, "labvg", "ext4vol", RUN, "backup", hostname="ctl")
    host.assert_done()
    data = json.loads(lock.content)
    assert data["machine_id"] == Path("/etc/machine-id").read_text().strip()
    assert data["boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert data["pid_start"] == Path(f"/proc/{os.getpid()}/stat").read_text().rpartition(")")[2].split()[19]
