"""The places lvmkit writes and reads as root, and the wrong targets, refused before any change.

Outputs are the real tools' (stat, findmnt, lvs, lvmconfig, recorded in the lab or run here)."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host
from lvmkit.core.ownership import judge_ownership, ownership_argv
from lvmkit.lvm.metadata_dirs import check_metadata_dirs, metadata_dirs_argv
from lvmkit.ops.backup_preflight import _not_on_an_origin
from lvmkit.ops.restore import recheck_target


def probe(path) -> str:
    return Host().run(ownership_argv(str(path))).stdout


@pytest.fixture
def private_dir(tmp_path):
    tmp_path.chmod(0o700)  # its parents: pytest's, root's 0700, under the sticky /tmp
    return tmp_path


def test_a_root_directory_under_root_parents_passes(private_dir):
    dest = private_dir / "backups"
    dest.mkdir(mode=0o700)
    check = judge_ownership(probe(dest), str(dest), "destination")
    assert check.passed, check.detail


def test_a_destination_writable_by_others_is_refused_with_the_chmod_to_run(private_dir):
    dest = private_dir / "backups"
    dest.mkdir()
    dest.chmod(0o777)
    check = judge_ownership(probe(dest), str(dest), "destination")
    assert not check.passed and f"`chmod o-w {dest}`" in check.detail


def test_a_destination_not_owned_by_root_is_refused(private_dir):
    dest = private_dir / "backups"
    dest.mkdir(mode=0o700)
    os.chown(dest, 1000, 1000)
    check = judge_ownership(probe(dest), str(dest), "destination")
    assert not check.passed and "owned by uid 1000, not root" in check.detail


def test_a_parent_writable_by_others_is_refused_unless_sticky(private_dir):
    parent = private_dir / "shared"
    parent.mkdir()
    dest = parent / "backups"
    dest.mkdir(mode=0o700)
    parent.chmod(0o777)
    check = judge_ownership(probe(dest), str(dest), "destination")
    assert not check.passed and f"{parent}, a parent of {dest}, is writable by others and not sticky" in check.detail
    parent.chmod(0o1777)  # like /tmp: others cannot rename what root made there
    assert judge_ownership(probe(dest), str(dest), "destination").passed


def test_a_symlinked_destination_is_judged_where_it_really_is(private_dir):
    shared = private_dir / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "real").mkdir(mode=0o700)
    (private_dir / "link").symlink_to(shared / "real")
    check = judge_ownership(probe(private_dir / "link"), str(private_dir / "link"), "destination")
    assert not check.passed and str(shared) in check.detail
    assert not judge_ownership(probe(private_dir / "link"), str(private_dir / "link"), "archive set",
                               link_allowed=False).passed


def test_a_destination_on_the_origin_is_refused_naming_the_device():
    devno = str(os.makedev(253, 3))
    check = _not_on_an_origin("/srv/data/backups", devno, [("vg/other", (253, 2)), ("vg/data", (253, 3))])
    assert not check.passed and "/dev/vg/data (253:3)" in check.detail
    assert _not_on_an_origin("/backups", str(os.makedev(8, 1)), [("vg/data", (253, 3))]).passed


def test_metadata_dirs_probe_reads_lvmconfig_here():
    output = Host().run(metadata_dirs_argv()).stdout
    keys = [line.split(" ", 3)[0] for line in output.splitlines()]
    assert keys == ["archive_dir", "backup_dir"]
    here = os.stat("/etc/lvm").st_dev
    check = check_metadata_dirs(output, [("vg/root", (os.major(here), os.minor(here)))])
    assert not check.passed and "on member vg/root" in check.detail and "backup/archive_dir" in check.detail
    assert check_metadata_dirs(output, [("vg/data", (253, 99))]).passed


def test_metadata_dirs_turned_off_are_not_refused():
    output = "archive_dir 0 64768 /srv/lvm/archive\nbackup_dir 0 64768 /srv/lvm/backup\n"
    assert check_metadata_dirs(output, [("vg/srv", (253, 0))]).passed


class Answers(Host):
    """lvs and findmnt answered from recorded outputs, by the command's first word."""

    def __init__(self, answers):
        super().__init__()
        self.answers = answers

    def run(self, argv, **options):
        from lvmkit.core.host import CommandResult

        return CommandResult(argv, 0, self.answers[argv[0]], "", 0.0)


def test_restore_rechecks_under_the_lock_a_target_mounted_since_the_preflight(fixture_text):
    lvs = fixture_text("lvm/lvs-lab.json")
    mounts = fixture_text("probe/ext4vol.out").split("@@ mounts 0\n", 1)[1].split("@@ ", 1)[0]
    findmnt = "".join(line[2:] + "\n" for line in mounts.splitlines() if line.startswith("o "))
    run = SimpleNamespace(vg="labvg", lv="ext4vol", create=False)
    with pytest.raises(LvmkitError, match="came into use after the preflight .mounted at /srv/lvmkit-lab/ext4vol"):
        recheck_target(Answers({"lvs": lvs, "findmnt": findmnt}), run)
    with pytest.raises(LvmkitError, match="was created after the preflight"):
        recheck_target(Answers({"lvs": lvs}), SimpleNamespace(vg="labvg", lv="ext4vol", create=True))


def test_a_set_holding_a_symlink_is_refused_before_anything_is_read_or_written(private_dir):
    from lvmkit.core.preflight import Preflight
    from lvmkit.ops.verify import verify

    archive_set = private_dir / "labvg-data-1"
    archive_set.mkdir(mode=0o700)
    victim = private_dir / "victim"
    victim.write_text("keep me\n")
    (archive_set / "verification.json").symlink_to(victim)
    checks = Preflight()
    from lvmkit.ops.restore import check_set_ownership

    assert not check_set_ownership(Host(), str(archive_set), checks)
    assert "holds symlinks (verification.json)" in checks.checks[-1].detail
    result = verify(Host(), str(archive_set), log=lambda message: None)
    assert not result.passed and victim.read_text() == "keep me\n"
    assert (archive_set / "verification.json").is_symlink(), "nothing written over it"
