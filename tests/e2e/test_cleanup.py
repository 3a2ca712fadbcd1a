"""`cleanup` and the origin lock against real LVM: a crashed run, staged by hand.

The lab is shared with other engineers' tests, whose runs may be live and hold no lock:
every cleanup here is limited to this test's own run (`only_runs`), and the crashed run's
snapshot is of this test's scratch volume, not of labvg/ext4vol (a tagged snapshot of
ext4vol would fail other tests' backups of it at their preflight check). Everything made
here is named cln_ and removed at the end, whatever happens.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess

import pytest

from lvmkit.core.runs import RUN_MARKER
from lvmkit.lvm.lock import LockHeld, acquire, create_lock_argv, list_locks, lock_path, release, remove_if_same
from lvmkit.lvm.reports import get_lv, list_lvs
from lvmkit.lvm.snapshot import LVMKIT_TAG, run_tag
from lvmkit.ops.cleanup import cleanup, find_stale, render

from .conftest import LAB_VG


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process of this controller that has ended (and was reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def stale_lock_content(run_id: str, origin: str, pid: int) -> str:
    return json.dumps({"run_id": run_id, "origin": origin, "controller": socket.gethostname(),
                       "pid": pid, "command": "backup", "started": "2000-01-01T00:00:00+00:00"})


def exists(host, path: str) -> bool:
    return host.run(["test", "-e", path], check=False).returncode == 0


def run_mounts(host, run_id: str) -> list[str]:
    targets = host.run(["findmnt", "--list", "--noheadings", "--output", "TARGET"]).stdout.split()
    return [t for t in targets if t.startswith(f"/run/lvmkit/{run_id}/")]


@pytest.fixture
def crashed_run(lvm_host, scratch_volume, unique, dead_pid):
    """What a backup killed with SIGKILL leaves: snapshot, mount, lock, partial archive set.

    Beside it, an untagged snapshot of the same volume (not lvmkit's) and a partial archive
    set without a marker (whose run is unknown): cleanup must leave both.
    """
    run_id = f"20000101T000000Z-cln_{unique}"
    origin = scratch_volume["lv"]
    snapshot, not_ours = f"cln_{unique}", f"cln_notours_{unique}"
    mountpoint = f"/run/lvmkit/{run_id}/{LAB_VG}-{origin}"
    lock = lock_path(LAB_VG, origin)
    lock_content = stale_lock_content(run_id, f"{LAB_VG}/{origin}", dead_pid)
    dest = f"/var/tmp/cln_{unique}"
    partial = f"{dest}/.{LAB_VG}-{origin}-{run_id}.partial"
    unmarked = f"{dest}/.cln_unmarked.partial"
    run = lvm_host.run
    try:
        run(["lvcreate", "--quiet", "--snapshot", "--extents", "2", "--name", snapshot,
             "--addtag", LVMKIT_TAG, "--addtag", run_tag(run_id), f"{LAB_VG}/{origin}"], changes=True)
        run(["lvcreate", "--quiet", "--snapshot", "--extents", "2", "--name", not_ours, f"{LAB_VG}/{origin}"],
            changes=True)
        run(["mkdir", "-p", mountpoint], changes=True)
        run(["mount", "-o", "ro", f"/dev/{LAB_VG}/{snapshot}", mountpoint], changes=True)
        run(create_lock_argv(lock), changes=True, input=lock_content + "\n")
        for directory in (partial, unmarked):
            run(["mkdir", "-p", "-m", "0700", directory], changes=True)
            run(["sh", "-c", 'head -c 65536 /dev/urandom > "$1"', "sh", f"{directory}/fsarchiver.fsa"], changes=True)
        run(["sh", "-c", 'printf "%s\\n" "$2" > "$1"', "sh", f"{partial}/{RUN_MARKER}", run_id], changes=True)
        yield {"run_id": run_id, "origin": origin, "snapshot": snapshot, "not_ours": not_ours,
               "mountpoint": mountpoint, "lock": lock, "dest": dest, "partial": partial, "unmarked": unmarked}
    finally:
        run(["umount", mountpoint], changes=True, check=False)
        run(["rmdir", mountpoint, f"/run/lvmkit/{run_id}"], changes=True, check=False)
        for name in (snapshot, not_ours):
            run(["lvremove", "--quiet", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)
        remove_if_same(lvm_host, lock, lock_content)  # only the lock this test wrote
        run(["rm", "-rf", "--", dest], changes=True, check=False)


def test_cleanup_with_crashed_run_removes_its_leftovers_and_leaves_what_is_not_its(lvm_host, crashed_run):
    run_id, dest = crashed_run["run_id"], crashed_run["dest"]
    only = {"destinations": [dest], "only_runs": {run_id}}

    state = find_stale(lvm_host, **only)
    assert [v.name for v in state.volumes] == [crashed_run["snapshot"]]
    assert [m.target for m in state.mounts] == [crashed_run["mountpoint"]]
    assert [lk.path for lk in state.locks] == [crashed_run["lock"]] and state.locks[0].alive is False
    assert [p.path for p in state.partials] == [crashed_run["partial"]]
    assert state.directories == [crashed_run["mountpoint"], f"/run/lvmkit/{run_id}"]

    planned = cleanup(lvm_host, dry_run=True, **only)
    assert planned.dry_run and {a.outcome for a in planned.actions} == {"planned"}
    assert run_mounts(lvm_host, run_id) == [crashed_run["mountpoint"]], "a dry run changes nothing"
    assert get_lv(lvm_host, LAB_VG, crashed_run["snapshot"]) is not None
    assert exists(lvm_host, crashed_run["lock"]) and exists(lvm_host, crashed_run["partial"])

    report = cleanup(lvm_host, **only)
    assert report.clean, render(report)
    assert [a.kind for a in report.actions] == [
        "unmount", "remove volume", "remove partial archive set", "remove directory", "remove directory",
        "remove lock"]
    assert run_mounts(lvm_host, run_id) == []
    assert not exists(lvm_host, f"/run/lvmkit/{run_id}")
    assert [lv.name for lv in list_lvs(lvm_host, LAB_VG) if run_tag(run_id) in lv.tags] == []
    assert not exists(lvm_host, crashed_run["lock"]) and not exists(lvm_host, crashed_run["partial"])
    not_ours = get_lv(lvm_host, LAB_VG, crashed_run["not_ours"])
    assert not_ours is not None and LVMKIT_TAG not in not_ours.tags, "an untagged snapshot is never removed"
    assert exists(lvm_host, crashed_run["unmarked"]), "a partial archive set of unknown run is never removed"

    again = cleanup(lvm_host, **only)
    assert again.actions == [] and again.clean
    assert render(again) == f"cleanup on {lvm_host.name}\n  nothing to clean up"


def test_acquire_twice_raises_lock_held_naming_the_first_run_and_release_frees_it(lvm_host, unique):
    lv = f"cln_{unique}"  # a lock is a name: the volume need not exist
    first_run, second_run = f"20000101T000000Z-cln_{unique}", f"20000101T000001Z-cln_{unique}"
    lock = acquire(lvm_host, LAB_VG, lv, first_run, "backup")
    try:
        with pytest.raises(LockHeld) as raised:
            acquire(lvm_host, LAB_VG, lv, second_run, "backup")
        message = str(raised.value)
        assert message.startswith(
            f"{LAB_VG}/{lv} is being backed up by run {first_run} (pid {os.getpid()} on {socket.gethostname()}, since ")
        assert message.endswith("; wait for it to finish")
        ours = [lk for lk in list_locks(lvm_host) if lk.run_id == first_run]
        assert len(ours) == 1 and ours[0].alive is True
    finally:
        assert release(lvm_host, lock) is True
    assert release(lvm_host, lock) is False, "release is idempotent"
    assert release(lvm_host, acquire(lvm_host, LAB_VG, lv, second_run, "backup")) is True


def test_acquire_with_stale_lock_of_dead_pid_points_to_lvmkit_cleanup_which_removes_it(lvm_host, unique, dead_pid):
    lv = f"cln_{unique}"
    dead_run, new_run = f"20000101T000000Z-cln_{unique}", f"20000101T000001Z-cln_{unique}"
    path, content = lock_path(LAB_VG, lv), stale_lock_content(dead_run, f"{LAB_VG}/{lv}", dead_pid)
    lvm_host.run(create_lock_argv(path), changes=True, input=content + "\n")
    try:
        with pytest.raises(LockHeld) as raised:
            acquire(lvm_host, LAB_VG, lv, new_run, "backup")
        message = str(raised.value)
        assert f"stale lock: run {dead_run} (pid {dead_pid} on {socket.gethostname()}" in message
        assert "died without cleaning up" in message and "`lvmkit cleanup`" in message
        assert exists(lvm_host, path), "a stale lock is never taken over silently"

        report = cleanup(lvm_host, only_runs={dead_run})
        assert [(a.kind, a.target, a.outcome) for a in report.actions] == [("remove lock", path, "done")]
        assert release(lvm_host, acquire(lvm_host, LAB_VG, lv, new_run, "backup")) is True
    finally:
        remove_if_same(lvm_host, path, content)
