"""Signals, a second run, and a killed run: lvmkit as an operator runs it, in a process of its own.

Each test starts `lvmkit backup` as a real process against the lab, waits for the step it
wants to interrupt (lvmkit prints each step as it starts it), and interrupts it there.
"""

from __future__ import annotations

import signal

import pytest

from lvmkit.core.preflight import PreflightError
from lvmkit.ops import cleanup
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.status import read_status

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers, lvmkit_volumes
from .lvmkit_process import LvmkitProcess


@pytest.fixture
def slow_origin(lvm_host, scratch_volume):
    """A scratch volume full of random data: zstd at level 19 reads it slowly enough to interrupt."""
    lvm_host.run(["dd", "if=/dev/urandom", f"of={scratch_volume['mountpoint']}/random.bin", "bs=1M",
                  "count=40", "conv=fsync", "status=none"], changes=True)
    scratch_volume["checksum"] = lvm_host.run(["sha256sum", f"{scratch_volume['mountpoint']}/random.bin"]).stdout
    scratch_volume["spec"] = f"{LAB_VG}/{scratch_volume['lv']}"
    return scratch_volume


def start_backup(request, origin, dest, *extra: str) -> LvmkitProcess:
    return LvmkitProcess(request.config.getoption("--lvm-host"), "backup", origin["spec"], "--dest", dest,
                         "--engine", "dd", "--engine-option", "zstd_level=19", *extra)


def test_sigterm_during_engine_undoes_everything_and_exits_143(lvm_host, slow_origin, dest, request):
    lvmkit = start_backup(request, slow_origin, dest)
    lvmkit.wait_for(r"\] read the snapshot with dd")
    lvmkit.process.send_signal(signal.SIGTERM)
    code, output = lvmkit.finish()
    assert code == 143
    assert "terminated (SIGTERM); what was done has been undone" in output
    assert "undo: create snapshot" in output
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["ls", "-A", dest]).stdout == ""
    assert lvm_host.run(["sha256sum", f"{slow_origin['mountpoint']}/random.bin"]).stdout == slow_origin["checksum"]
    # [z]: the pattern does not match its own text, which a login through sudo (the Vagrant VM)
    # puts in the command line of sudo, pgrep's parent: pgrep leaves out only itself.
    assert lvm_host.run(["pgrep", "-f", "[z]std -T"], check=False).stdout == "", "the engine stopped too"


def test_sigint_during_snapshot_creation_lets_it_finish_then_removes_it(lvm_host, slow_origin, dest, request):
    lvmkit = start_backup(request, slow_origin, dest)
    lvmkit.wait_for(r"\] create snapshot ")
    lvmkit.process.send_signal(signal.SIGINT)
    code, output = lvmkit.finish()
    assert code == 130
    assert "interrupted (SIGINT); what was done has been undone" in output
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["ls", "-A", dest]).stdout == ""


def test_second_backup_of_same_origin_fails_at_once_naming_the_first(lvm_host, slow_origin, dest, request):
    first = start_backup(request, slow_origin, dest)
    first.wait_for(r"\] read the snapshot with dd")
    with pytest.raises(PreflightError) as raised:
        backup(lvm_host, BackupRequest(origin=slow_origin["spec"], dest=dest, engine="tar"),
               log=lambda message: None)
    message = str(raised.value)
    assert f"{slow_origin['spec']} is being backed up by run {first.run_id}" in message
    assert "wait for it to finish" in message
    code, output = first.finish()
    assert code == 0, output
    assert_no_leftovers(lvm_host, dest)


def test_sigkill_leaves_stale_state_that_status_shows_and_cleanup_removes(lvm_host, slow_origin, dest, request,
                                                                          unique):
    not_ours = f"notours_{unique}"
    lvm_host.run(["lvcreate", "--quiet", "-s", "-L", "8M", "-n", not_ours, slow_origin["spec"]], changes=True)
    try:
        lvmkit = start_backup(request, slow_origin, dest)
        lvmkit.wait_for(r"\] read the snapshot with dd")
        lvmkit.process.send_signal(signal.SIGKILL)
        lvmkit.finish()
        run_id = lvmkit.run_id

        status = read_status(lvm_host).as_dict()
        stale = [v for v in status["volumes"] if v["stale"]]
        assert [v["origin"] for v in stale] == [slow_origin["lv"]]
        assert any(lock["run_id"] == run_id and lock["alive"] is False for lock in status["locks"])

        report = cleanup.cleanup(lvm_host, destinations=[dest], only_runs={run_id})
        assert report.clean, cleanup.render(report)
        assert_no_leftovers(lvm_host, dest)
        assert lvm_host.run(["ls", "-A", dest]).stdout == "", "the partial archive set is gone"
        assert f"{LAB_VG}/{not_ours}" in [f"{LAB_VG}/{lv['name']}" for lv in read_status(lvm_host).as_dict()["volumes"]]
        assert lvmkit_volumes(lvm_host) == []

        again = cleanup.cleanup(lvm_host, destinations=[dest], only_runs={run_id})
        assert again.clean and not again.actions, "a second cleanup has nothing to do"
    finally:
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{not_ours}"], changes=True, check=False)
