"""The wrong targets, refused in the preflight on real LVM (docs/durability.md)."""

from __future__ import annotations

import pytest

from lvmkit.core.preflight import PreflightError
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.group import GroupRequest, backup_group

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers
from .volumes import drop_volume, make_volume

QUIET = {"log": lambda message: None}
ARCHIVE_DIR = "/etc/lvm/archive"  # LVM's backup/archive_dir in the lab (lvmconfig --type full)


@pytest.fixture
def two_volumes(lvm_host, unique):
    names = (f"sa_{unique}", f"sb_{unique}")
    mountpoints = [make_volume(lvm_host, name) for name in names]
    yield names, mountpoints
    for name in names:
        drop_volume(lvm_host, name)


def test_a_destination_on_the_origin_is_refused_naming_its_device(lvm_host, two_volumes):
    (origin, _), (mountpoint, _) = two_volumes
    dest = f"{mountpoint}/backups"
    lvm_host.run(["install", "-d", "-m", "0700", dest], changes=True)
    with pytest.raises(PreflightError, match=rf"{dest} is on /dev/{LAB_VG}/{origin} \(\d+:\d+\), which this backup "
                                             rf"snapshots") as raised:
        backup(lvm_host, BackupRequest(f"{LAB_VG}/{origin}", dest, engine="tar"), **QUIET)
    assert [c.name for c in raised.value.checks if not c.passed] == ["destination not on a volume backed up"]
    assert_no_leftovers(lvm_host, dest)


def test_a_group_member_holding_lvms_archive_dir_is_refused_before_the_freeze(lvm_host, two_volumes, dest):
    """Before: lvcreate wrote the VG's metadata archive onto the suspended member and the
    backup failed after the watchdog's 15 s with advice that could not help (issue 12)."""
    names, mountpoints = two_volumes
    lvm_host.run(["mkdir", "-p", ARCHIVE_DIR], changes=True)
    lvm_host.run(["mount", "--bind", mountpoints[1], ARCHIVE_DIR], changes=True)
    try:
        request = GroupRequest(members=tuple(f"{LAB_VG}/{name}" for name in names), dest=dest, engine="tar",
                               freeze_timeout_s=15)
        with pytest.raises(PreflightError, match=rf"LVM's archive_dir \({ARCHIVE_DIR}\) is on member "
                                                 rf"{LAB_VG}/{names[1]}"):
            backup_group(lvm_host, request, **QUIET)
    finally:
        lvm_host.run(["umount", ARCHIVE_DIR], changes=True, check=False)
    assert_no_leftovers(lvm_host, dest)
