"""Rebuild from nothing: the lab's ext4, XFS and thin volumes again, on a blank disk.

A second loop device stands for the new disk. The lab's ext4 and XFS volumes are backed
up as a consistency group, its thin volume alone; both sets are verified; `rebuild` makes
a new PV and VG on the blank device, the thin pool and the three volumes as the layouts
recorded them, restores each set and proves it by its content digest. The originals stay,
as on a rehearsal: the XFS copy is mounted with nouuid for its proof.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from lvmkit.core.preflight import PreflightError
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.group import GroupRequest, backup_group
from lvmkit.ops.rebuild import RebuildRequest, prepare, rebuild
from lvmkit.ops.verify import verify

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

QUIET = {"log": lambda message: None}
NEW_VG = "rbvg"
VOLUMES = ("ext4vol", "xfsvol", "thinvol")


def _attach_disk(host, path: str) -> str:
    host.run(["truncate", "--size", "1536M", path], changes=True)  # sparse: only written blocks use memory
    return host.run(["losetup", "--find", "--show", path], changes=True).stdout.strip()


def _detach_disk(host, device: str, path: str, vg: str) -> None:
    for volume in (*VOLUMES, "pool"):
        host.run(["lvremove", "--yes", f"{vg}/{volume}"], changes=True, check=False)
    host.run(["vgremove", vg], changes=True, check=False)
    host.run(["pvremove", device], changes=True, check=False)
    host.run(["losetup", "--detach", device], changes=True, check=False)
    host.run(["rm", "-f", "--", path], changes=True, check=False)


@pytest.fixture(scope="module")
def new_disk(lvm_host):
    """A blank loop device in the guest, for the module's rebuild; removed afterwards."""
    path = "/run/lvmkit-test-newdisk.img"
    device = _attach_disk(lvm_host, path)
    try:
        yield device
    finally:
        _detach_disk(lvm_host, device, path, NEW_VG)


@pytest.fixture(scope="module")
def sets(lvm_host, backup_store):
    """A directory with a group set of ext4vol and xfsvol and a set of thinvol, all verified."""
    directory = f"{backup_store}/rebuild"
    lvm_host.run(["mkdir", "-p", directory], changes=True)
    try:
        group = backup_group(lvm_host, GroupRequest((f"{LAB_VG}/ext4vol", f"{LAB_VG}/xfsvol"), directory), **QUIET)
        thin = backup(lvm_host, BackupRequest(f"{LAB_VG}/thinvol", directory), **QUIET)
        for path in (group.paths.final, thin.paths.final):
            assert verify(lvm_host, path, **QUIET).passed
        yield directory
    finally:
        lvm_host.run(["rm", "-rf", "--", directory], changes=True)


@pytest.fixture(scope="module")
def rebuilt(lvm_host, sets, new_disk):
    return rebuild(lvm_host, RebuildRequest(sets, new_disk, NEW_VG), **QUIET)


def _blkid(host, device: str) -> dict:
    out = host.run(["blkid", "-p", "-o", "export", device]).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _lvs(host, vg: str) -> dict:
    report = host.run(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o",
                       "lv_name,lv_size,segtype,chunk_size,lv_metadata_size,pool_lv", vg]).stdout
    return {row["lv_name"]: row for row in json.loads(report)["report"][0]["lv"]}


def test_every_set_records_its_layout_and_checksums_cover_it(lvm_host, sets):
    # each volume's own SHA256SUMS names its layout files (a group's names its members' too)
    for own_sums in lvm_host.run(["find", sets, "-name", "layout.json", "-printf", "%h/SHA256SUMS\n"]).stdout.split():
        sums = lvm_host.run(["cat", "--", own_sums]).stdout
        assert " layout.json\n" in sums.replace("*", " ") and " vgcfgbackup.txt\n" in sums.replace("*", " ")
    paths = lvm_host.run(["find", sets, "-name", "layout.json"]).stdout.split()
    decoded = [json.loads(lvm_host.run(["cat", "--", path]).stdout) for path in paths]
    by_name = {layout["volume"]["name"]: layout for layout in decoded}
    assert set(by_name) == set(VOLUMES)
    assert by_name["thinvol"]["thin_pool"]["chunk_size"] > 0
    assert by_name["xfsvol"]["filesystem"]["xfs"]["data"]["bsize"] == 4096
    assert "has_journal" in by_name["ext4vol"]["filesystem"]["ext"]["features"]
    vgcfg = lvm_host.run(["find", sets, "-name", "vgcfgbackup.txt", "-exec", "head", "-c", "4000", "{}", ";"]).stdout
    assert f"{LAB_VG} {{" in vgcfg


def test_rebuild_makes_every_volume_as_it_was_and_proves_it(lvm_host, rebuilt):
    assert [v.target for v in rebuilt.volumes] == [f"{NEW_VG}/{name}" for name in sorted(VOLUMES)]
    assert rebuilt.proved
    for volume in rebuilt.volumes:
        assert volume.restore.comparison.equal, volume.restore.comparison.summary()
        assert volume.duration_s > 0
    assert rebuilt.duration_s >= sum(v.duration_s for v in rebuilt.volumes)
    old, new = _lvs(lvm_host, LAB_VG), _lvs(lvm_host, NEW_VG)
    for name in (*VOLUMES, "pool"):
        assert new[name]["lv_size"] == old[name]["lv_size"], name
    assert new["pool"]["chunk_size"] == old["pool"]["chunk_size"]
    assert new["pool"]["lv_metadata_size"] == old["pool"]["lv_metadata_size"]
    assert new["thinvol"]["pool_lv"] == "pool"
    for name in VOLUMES:  # filesystem UUIDs and labels kept
        was, now = _blkid(lvm_host, f"/dev/{LAB_VG}/{name}"), _blkid(lvm_host, f"/dev/{NEW_VG}/{name}")
        assert (now["TYPE"], now["UUID"], now.get("LABEL")) == (was["TYPE"], was["UUID"], was.get("LABEL"))
        assert f"UUID={was['UUID']} /srv/lvmkit-lab/{name} {was['TYPE']} defaults 0 2" in rebuilt.fstab_lines()
    new_vg = json.loads(lvm_host.run(["vgs", "--reportformat", "json", "-o", "vg_uuid", NEW_VG]).stdout)
    old_vg = json.loads(lvm_host.run(["vgs", "--reportformat", "json", "-o", "vg_uuid", LAB_VG]).stdout)
    assert new_vg != old_vg  # a new volume group, not a copy of the old one's metadata
    assert_no_leftovers(lvm_host)


def test_rebuild_refuses_a_disk_with_a_signature_and_a_volume_group_that_exists(lvm_host, rebuilt, sets, new_disk):
    before = _lvs(lvm_host, NEW_VG)
    with pytest.raises(PreflightError) as refused:
        prepare(lvm_host, RebuildRequest(sets, new_disk, NEW_VG))
    message = str(refused.value)
    assert "new disk is blank" in message and "LVM2_member" in message
    assert f"volume group {NEW_VG} exists" in message
    assert _lvs(lvm_host, NEW_VG) == before


@pytest.mark.full
def test_rebuild_interrupted_by_sigterm_leaves_the_new_disk_blank(lvm_host, sets, rebuilt, request):
    """SIGTERM once the second volume's restore began: every step undone, the disk blank."""
    # Not in /run beside the first new disk: a Vagrant VM's /run is a tmpfs of a fifth of its
    # 2 GiB, which the first disk's restored volumes fill (lvcreate: "Failed to wipe start of
    # new LV"). /var/tmp is the VM's disk, and in the lab the same RAM as /run (docs/lab.md).
    path = "/var/tmp/lvmkit-test-newdisk2.img"
    device = _attach_disk(lvm_host, path)
    try:
        argv = [sys.executable, "-m", "lvmkit.cli", "--host", request.config.getoption("--lvm-host"), "rebuild",
                "--from", sets, "--pv", device, "--vg", "rbvg2", "-v"]
        process = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
        restores = 0
        for line in process.stderr:
            restores += "restore with" in line
            if restores == 2:
                time.sleep(1.0)
                process.send_signal(signal.SIGTERM)
                break
        rest = process.communicate(timeout=300)[1]
        assert process.returncode == 143, rest
        assert "the new disk is blank again" in rest
        assert lvm_host.run(["wipefs", "--no-act", device]).stdout.strip() == ""
        assert lvm_host.run(["vgs", "rbvg2"], check=False).returncode != 0
    finally:
        _detach_disk(lvm_host, device, path, "rbvg2")
