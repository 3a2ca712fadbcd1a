"""Snapshot overflow, for real: never a silently bad backup, never a leftover.

Each scenario backs up a scratch volume of its own while a writer floods it, so that the
flood touches nothing shared, and asserts: the exit or exception, the words of the
message, the origin's data unchanged, no lvmkit volume, mount, lock or partial archive.
"""

from __future__ import annotations

import pytest

from lvmkit.core.plan import Plan, Step, execute
from lvmkit.core.preflight import PreflightError
from lvmkit.lvm.guard import GuardSettings, SnapshotInvalidated, ThinPoolFilling
from lvmkit.lvm.reports import get_lv
from lvmkit.ops.backup import BackupRequest, backup, plan, prepare
from lvmkit.runbooks.steps import FLOOD

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

QUIET = {"log": lambda message: None}

# FLOOD (the drill's writer) waits for lvmkit's snapshot mount, then writes $3 MiB, one every $4 s.

def data_checksum(host, mountpoint: str) -> str:
    """Checksums of the data that was there before the flood (the flood file excluded)."""
    listing = host.run(["find", f"{mountpoint}/data", "-type", "f", "-exec", "sha256sum", "{}", "+"]).stdout
    return "\n".join(sorted(listing.splitlines()))


@pytest.fixture
def busy_origin(lvm_host, scratch_volume):
    """The scratch volume with data on it, and a way to flood it while a backup reads."""
    volume = scratch_volume
    lvm_host.run(["cp", "-a", "/usr/share/zoneinfo", f"{volume['mountpoint']}/data"], changes=True)
    lvm_host.run(["sync"], changes=True)
    volume["checksum"] = data_checksum(lvm_host, volume["mountpoint"])
    floods = []

    def flood(mebibytes: int, pause_s: float):
        running = lvm_host.start(["bash", "-c", FLOOD, "bash", volume["mountpoint"],
                                  f"{LAB_VG}-{volume['lv']}", str(mebibytes), str(pause_s)])
        floods.append(running)
        return running

    volume["flood"] = flood
    yield volume
    for running in floods:
        running.terminate()
        running.wait(check=False)


def test_writer_outpacing_small_snapshot_fails_backup_and_leaves_nothing(lvm_host, busy_origin, dest):
    origin = f"{LAB_VG}/{busy_origin['lv']}"
    busy_origin["flood"](40, 0.05)
    with pytest.raises(SnapshotInvalidated) as raised:
        backup(lvm_host, BackupRequest(origin=origin, dest=dest, engine="dd", snapshot_size="8M",
                                       guard=GuardSettings(poll_interval_s=0.5)), **QUIET)
    message = str(raised.value)
    assert "overflowed and became invalid" in message or "disappeared" in message
    assert "more than its 8.0 MiB of copy-on-write space changed" in message
    assert "--snapshot-size, --autoextend, a thin volume, or a quieter window" in message
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["ls", "-A", dest]).stdout == "", "no archive, partial or not"
    assert data_checksum(lvm_host, busy_origin["mountpoint"]) == busy_origin["checksum"]


def test_same_flood_with_autoextend_succeeds_and_manifest_shows_growth(lvm_host, busy_origin, dest):
    origin = f"{LAB_VG}/{busy_origin['lv']}"
    busy_origin["flood"](40, 0.25)
    run = backup(lvm_host, BackupRequest(origin=origin, dest=dest, engine="dd", snapshot_size="8M",
                                         guard=GuardSettings(autoextend=True, autoextend_step="32M",
                                                             extend_at_percent=50.0, poll_interval_s=0.5)),
                 **QUIET)
    snapshot = run.manifest.snapshot
    assert snapshot.extensions, "the snapshot was extended"
    assert snapshot.final_size_bytes > snapshot.size_bytes == 8 * 1024**2
    assert snapshot.peak_percent >= 50.0
    assert all(e.to_bytes > e.from_bytes for e in snapshot.extensions)
    lvm_host.run(["env", f"--chdir={run.paths.final}", "sha256sum", "-c", "--quiet", "SHA256SUMS"])
    assert_no_leftovers(lvm_host, dest)
    assert data_checksum(lvm_host, busy_origin["mountpoint"]) == busy_origin["checksum"]


def test_snapshot_invalidated_after_read_before_final_check_is_still_refused(lvm_host, busy_origin, dest):
    origin, mountpoint = f"{LAB_VG}/{busy_origin['lv']}", busy_origin["mountpoint"]
    run = prepare(lvm_host, BackupRequest(origin=origin, dest=dest, engine="tar", snapshot_size="8M"),
                  log=lambda message: None)
    the_plan = plan(run)
    final_check = next(i for i, step in enumerate(the_plan.steps) if step.title.startswith("check the snapshot"))
    # Between the engine's last byte and lvmkit's final check, 20 MiB change on the origin.
    the_plan.steps.insert(final_check, Step("a writer floods the origin", [
        ["dd", "if=/dev/urandom", f"of={mountpoint}/flood.bin", "bs=1M", "count=20", "conv=fsync", "status=none"]]))
    with pytest.raises(SnapshotInvalidated, match="overflowed and became invalid before the last byte was read"):
        execute(the_plan, lvm_host, log=lambda message: None)
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["ls", "-A", dest]).stdout == ""
    assert data_checksum(lvm_host, mountpoint) == busy_origin["checksum"]


@pytest.fixture
def small_thin_origin(lvm_host, unique):
    """A thin volume in a small pool of its own, so that filling the pool endangers nothing else."""
    pool, volume = f"tp_{unique}", f"tv_{unique}"
    mountpoint = f"/run/lvmkit-test/{volume}"
    lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", "64M", "--thinpool", pool, LAB_VG], changes=True)
    try:
        lvm_host.run(["lvcreate", "--quiet", "--yes", "-V", "128M", "--thin", "-n", volume, f"{LAB_VG}/{pool}"],
                     changes=True)
        lvm_host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{volume}"], changes=True)
        lvm_host.run(["mkdir", "-p", mountpoint], changes=True)
        lvm_host.run(["mount", f"/dev/{LAB_VG}/{volume}", mountpoint], changes=True)
        lvm_host.run(["cp", "-a", "/usr/share/zoneinfo", f"{mountpoint}/data"], changes=True)
        lvm_host.run(["sync"], changes=True)
        yield {"lv": volume, "pool": pool, "mountpoint": mountpoint,
               "checksum": data_checksum(lvm_host, mountpoint)}
    finally:
        lvm_host.run(["umount", mountpoint], changes=True, check=False)
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{pool}"], changes=True, check=False)


def test_thin_origin_gets_thin_snapshot_read_and_removed(lvm_host, small_thin_origin, dest):
    run = backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/{small_thin_origin['lv']}", dest=dest, engine="tar"),
                 **QUIET)
    snapshot = run.manifest.snapshot
    assert snapshot.thin is True and snapshot.size_bytes is None
    assert snapshot.peak_percent is not None, "the pool's usage was watched"
    assert_no_leftovers(lvm_host, dest)


def pool_flood_step(mountpoint: str, mebibytes: int) -> Step:
    return Step("a writer fills the thin pool", [
        ["dd", "if=/dev/urandom", f"of={mountpoint}/fill.bin", "bs=1M", f"count={mebibytes}", "conv=fsync",
         "status=none"]])


def fill_to(lvm_host, thin, percent: float) -> int:
    """MiB to write to the thin volume so that its 64 MiB pool reaches about `percent`."""
    used = get_lv(lvm_host, LAB_VG, thin["pool"]).data_percent
    return int((percent - used) / 100 * 64)


def test_thin_pool_near_full_stops_backup_before_it_stalls_the_origin(lvm_host, small_thin_origin, dest):
    origin, mountpoint = f"{LAB_VG}/{small_thin_origin['lv']}", small_thin_origin["mountpoint"]
    run = prepare(lvm_host, BackupRequest(origin=origin, dest=dest, engine="dd",
                                          guard=GuardSettings(thin_pool_stop_percent=70.0, poll_interval_s=0.5)),
                  log=lambda message: None)
    the_plan = plan(run)
    read = next(i for i, step in enumerate(the_plan.steps) if step.title.startswith("read the snapshot"))
    # The origin keeps being written while the backup runs: the pool climbs past the limit
    # (to about 80%, never to 100%, where the thin volume would stall).
    the_plan.steps.insert(read, pool_flood_step(mountpoint, fill_to(lvm_host, small_thin_origin, 80)))
    with pytest.raises(ThinPoolFilling) as raised:
        execute(the_plan, lvm_host, log=lambda message: None)
    message = str(raised.value)
    assert f"thin pool {LAB_VG}/{small_thin_origin['pool']} is" in message
    assert "removes its snapshot so that the pool does not stall" in message
    assert_no_leftovers(lvm_host, dest)
    assert data_checksum(lvm_host, mountpoint) == small_thin_origin["checksum"]


def test_thin_pool_already_near_full_is_refused_in_preflight(lvm_host, small_thin_origin, dest):
    mountpoint = small_thin_origin["mountpoint"]
    execute(Plan("fill", [pool_flood_step(mountpoint, fill_to(lvm_host, small_thin_origin, 93))]), lvm_host,
            log=lambda message: None)
    with pytest.raises(PreflightError, match=r"is 9\d\.\d+% full: a snapshot could fill it and stop"):
        backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/{small_thin_origin['lv']}", dest=dest), **QUIET)
    assert_no_leftovers(lvm_host, dest)
