"""Bad input gets a clear error and loses nothing: no snapshot, mount or partial archive."""

from __future__ import annotations

import json

import pytest

from lvmkit import cli
from lvmkit.archive.archive_set import MANIFEST, read_file, write_file
from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.preflight import PreflightError
from lvmkit.lvm.reports import VolumeGroupNotFound, get_lv
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.restore import RestoreRequest, restore
from lvmkit.ops.verify import verify

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

QUIET = {"log": lambda message: None}


def origin_checksum(host) -> str:
    """The sample data's checksums (a mounted filesystem's device changes on its own)."""
    listing = host.run(["find", "/srv/lvmkit-lab/ext4vol/zoneinfo", "/srv/lvmkit-lab/ext4vol/odd", "-type", "f",
                        "-exec", "sha256sum", "{}", "+"]).stdout
    return "\n".join(sorted(listing.splitlines()))


@pytest.fixture
def ext4_archive(lvm_host, dest):
    """One small archive set of the lab's ext4 volume (tar: quick to corrupt and check)."""
    run = backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, engine="tar"), **QUIET)
    return run.paths.final


@pytest.mark.parametrize("origin, message", [
    ("novg/ext4vol", 'volume group "novg" not found'),
    (f"{LAB_VG}/nolv", f"no logical volume {LAB_VG}/nolv"),
    (f"{LAB_VG}/ext4;reboot", "contains ';'"),
    (f"{LAB_VG}/$(id)", "contains '$'"),
    ("labvg", "is not of the form VG/LV"),
    (f"{LAB_VG}/snapshot1", "prefix LVM reserves"),
])
def test_backup_with_bad_origin_names_the_problem_and_changes_nothing(lvm_host, dest, origin, message):
    with pytest.raises((LvmkitError, VolumeGroupNotFound)) as raised:
        backup(lvm_host, BackupRequest(origin=origin, dest=dest), **QUIET)
    assert message in str(raised.value)
    assert_no_leftovers(lvm_host, dest)


@pytest.mark.parametrize("size, message", [
    ("lots", "cannot read size 'lots'"),
    ("1M", "below the smallest snapshot LVM makes"),
    ("900G", "but labvg has"),
])
def test_backup_with_bad_snapshot_size_is_refused_with_numbers(lvm_host, dest, size, message):
    before = origin_checksum(lvm_host)
    with pytest.raises(LvmkitError) as raised:
        backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, snapshot_size=size), **QUIET)
    assert message in str(raised.value)
    assert_no_leftovers(lvm_host, dest)
    assert origin_checksum(lvm_host) == before


def test_backup_with_missing_destination_says_create_it(lvm_host):
    with pytest.raises(PreflightError, match=r"/nonexistent/dir is not a directory.*create it first"):
        backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest="/nonexistent/dir"), **QUIET)
    assert_no_leftovers(lvm_host)


def test_backup_with_read_only_destination_is_refused(lvm_host, dest):
    lvm_host.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m,mode=0700", "lvmkit-test-ro", dest], changes=True)
    try:
        with pytest.raises(PreflightError, match="is read-only: choose a writable --dest"):
            backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest), **QUIET)
    finally:
        lvm_host.run(["umount", dest], changes=True)
    assert_no_leftovers(lvm_host, dest)


def test_backup_with_full_destination_is_refused_before_the_snapshot(lvm_host, dest):
    lvm_host.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "lvmkit-test-full", dest], changes=True)
    try:
        with pytest.raises(PreflightError, match=r"free, an archive of about .* is likely"):
            backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest), **QUIET)
        assert_no_leftovers(lvm_host, dest)
    finally:
        lvm_host.run(["umount", dest], changes=True)


def test_backup_with_destination_filling_up_midway_removes_partial_archive_and_snapshot(lvm_host, dest, unique):
    before = origin_checksum(lvm_host)
    # Room for the preflight's estimate, then something else takes it while the engine writes.
    # mode=0700: a tmpfs is 1777 by default, and a destination writable by others is refused.
    lvm_host.run(["mount", "-t", "tmpfs", "-o", "size=40m,mode=0700", "lvmkit-test-fills", dest], changes=True)
    name = f"fills-{unique}"
    # Waits until rsync has begun writing the archive, then takes the room that was left.
    fill = 'until [ -e "$1/.$2.partial/tree" ]; do sleep 0.2; done; head -c 38m /dev/zero > "$1/other-program"'
    filler = lvm_host.start(["bash", "-c", fill, "bash", dest, name])
    try:
        with pytest.raises(LvmkitError, match="No space left on device"):
            backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, engine="rsync", name=name),
                   **QUIET)
        filler.wait(check=False)
        assert_no_leftovers(lvm_host, dest)
        assert lvm_host.run(["ls", "-A", dest]).stdout.split() == ["other-program"]
    finally:
        lvm_host.run(["umount", dest], changes=True)
    assert origin_checksum(lvm_host) == before


def test_backup_with_existing_archive_name_never_overwrites(lvm_host, dest, ext4_archive):
    name = ext4_archive.rsplit("/", 1)[1]
    manifest_before = read_file(lvm_host, f"{ext4_archive}/{MANIFEST}")
    with pytest.raises(PreflightError, match="exists already; lvmkit never overwrites an archive"):
        backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, engine="tar", name=name), **QUIET)
    assert read_file(lvm_host, f"{ext4_archive}/{MANIFEST}") == manifest_before
    assert_no_leftovers(lvm_host, dest)


@pytest.mark.parametrize("options, message", [
    ({"zstd_level": "99"}, "zstd_level='99' is not valid"),
    ({"colour": "blue"}, "has no option colour"),
])
def test_backup_with_engine_option_the_engine_rejects_names_it(lvm_host, dest, options, message):
    with pytest.raises(UsageError, match=message):
        backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, engine="tar",
                                       engine_options=options), **QUIET)
    assert_no_leftovers(lvm_host, dest)


def test_dry_run_prints_the_commands_and_changes_nothing(lvm_host, dest, capsys, request):
    spec = request.config.getoption("--lvm-host")
    code = cli.main(["--host", spec, "--journal", "/dev/null", "backup", f"{LAB_VG}/ext4vol",
                     "--dest", dest, "--engine", "dd", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "$ lvcreate --snapshot --extents" in out and "--addtag lvmkit" in out
    assert "$ bash -c" in out and "dry run: nothing was changed" in out
    assert out.index("$ lvcreate") < out.index("$ mount -t ext4") < out.index("$ lvremove")
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["ls", "-A", dest]).stdout == ""


def flip_one_byte(host, path: str) -> None:
    size = int(host.run(["stat", "-c", "%s", path]).stdout)
    offset = size // 2
    original = host.run(["od", "-An", "-tu1", "-j", str(offset), "-N1", path]).stdout.strip()
    replacement = "\\x00" if original != "0" else "\\x01"
    host.run(["bash", "-c", 'printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none',
              "bash", path, str(offset), replacement], changes=True)


def test_corrupted_archive_fails_verify_and_restore_refuses(lvm_host, ext4_archive, new_volume):
    flip_one_byte(lvm_host, f"{ext4_archive}/filesystem.tar.zst")
    result = verify(lvm_host, ext4_archive)
    assert not result.passed
    failed = {c.name for c in result.checks.checks if not c.passed}
    assert "checksums match" in failed
    with pytest.raises(PreflightError, match="the archive set is damaged or incomplete"):
        restore(lvm_host, RestoreRequest(ext4_archive, to_new=f"{LAB_VG}/{new_volume}"), **QUIET)
    assert get_lv(lvm_host, LAB_VG, new_volume) is None


def test_truncated_archive_fails_verify(lvm_host, ext4_archive):
    archive = f"{ext4_archive}/filesystem.tar.zst"
    size = int(lvm_host.run(["stat", "-c", "%s", archive]).stdout)
    lvm_host.run(["truncate", "--size", str(size // 2), archive], changes=True)
    result = verify(lvm_host, ext4_archive)
    failed = {c.name for c in result.checks.checks if not c.passed}
    assert {"checksums match", "tar reads the archive"} <= failed


def test_manifest_from_newer_schema_is_refused_with_what_to_do(lvm_host, ext4_archive, new_volume):
    path = f"{ext4_archive}/{MANIFEST}"
    manifest = json.loads(read_file(lvm_host, path))
    manifest["schema"] = 99
    write_file(lvm_host, path, json.dumps(manifest))
    with pytest.raises(PreflightError, match="manifest schema 99 is newer than this lvmkit understands"):
        restore(lvm_host, RestoreRequest(ext4_archive, to_new=f"{LAB_VG}/{new_volume}"), **QUIET)


def test_restore_onto_mounted_volume_is_refused(lvm_host, ext4_archive):
    with pytest.raises(PreflightError, match=r"labvg/xfsvol is in use \(mounted at /srv/lvmkit-lab/xfsvol\)"):
        restore(lvm_host, RestoreRequest(ext4_archive, to=f"{LAB_VG}/xfsvol", confirm=f"{LAB_VG}/xfsvol"), **QUIET)


def test_restore_onto_too_small_volume_or_wrong_confirmation_is_refused(lvm_host, ext4_archive, scratch_volume):
    target = f"{LAB_VG}/{scratch_volume['lv']}"
    lvm_host.run(["umount", scratch_volume["mountpoint"]], changes=True)
    before = lvm_host.run(["sha256sum", scratch_volume["device"]]).stdout
    with pytest.raises(PreflightError) as raised:
        restore(lvm_host, RestoreRequest(ext4_archive, to=target, confirm="labvg/other"), **QUIET)
    message = str(raised.value)
    assert f"repeat its name with --confirm {target}" in message
    assert "the archived filesystem needs 256.0 MiB" in message
    assert lvm_host.run(["sha256sum", scratch_volume["device"]]).stdout == before
