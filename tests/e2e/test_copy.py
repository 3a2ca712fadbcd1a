"""lvmkit copy in the lab: a real set from the guest to a directory on the controller and, through
the controller, to a second path over SSH; killed mid-way and resumed; damaged and refused.

The "second host" over SSH is the lab guest itself, reached as a second, separate SSH host:
the copy then goes target -> controller staging -> destination, as between two machines.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lvmkit.core.host import Host
from lvmkit.ops import copy_cleanup, copy_compare
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.copy import CopyRefused, CopyRequest, copy
from lvmkit.ops.copy_transfer import Place

from .conftest import LAB_VG
from .lvmkit_process import LvmkitProcess

ARCHIVE = "filesystem.tar.zst"


@pytest.fixture(scope="module")
def source_set(lvm_host, backup_store):
    """One tar backup of the lab's ext4 volume, shared by every test of the module."""
    directory = f"{backup_store}/copy-source"
    lvm_host.run(["mkdir", "-p", "-m", "0700", directory], changes=True)
    run = backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=directory, engine="tar"),
                 log=lambda message: None)
    yield run.paths.final
    lvm_host.run(["rm", "-rf", "--", directory], changes=True)


@pytest.fixture
def controller(lvm_host):
    return Host(journal=lvm_host.journal)


def local_sha256_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["sha256sum", "--quiet", "--strict", "-c", "SHA256SUMS"], cwd=path,
                          capture_output=True, text=True)


def test_copy_to_a_controller_directory_is_checked_published_private_and_listed(
        lvm_host, controller, source_set, tmp_path):
    copies = tmp_path / "copies"
    copies.mkdir(mode=0o700)
    name = source_set.rsplit("/", 1)[1]
    run = copy(lvm_host, controller, CopyRequest(source_set, Place(controller, str(copies)),
                                                 lock_dir=tmp_path / "locks"), log=lambda message: None)
    assert not run.already_there
    assert sorted(p.name for p in copies.iterdir()) == [name], "published under its name, no partial left"
    assert local_sha256_check(copies / name).returncode == 0
    assert oct((copies / name).stat().st_mode & 0o777) == "0o700"
    assert oct((copies / name / ARCHIVE).stat().st_mode & 0o777) == "0o600"

    rows = copy_compare.compare(Place(lvm_host, source_set.rsplit("/", 1)[0]), Place(controller, str(copies)))
    assert [(r.name, r.state) for r in rows] == [(name, copy_compare.IN_BOTH)]
    again = copy(lvm_host, controller, CopyRequest(source_set, Place(controller, str(copies)),
                                                   lock_dir=tmp_path / "locks"), log=lambda message: None)
    assert again.already_there and again.plan is None

    (copies / name / "SHA256SUMS").write_text("0" * 64 + "  manifest.json\n")
    rows = copy_compare.compare(Place(lvm_host, source_set.rsplit("/", 1)[0]), Place(controller, str(copies)))
    assert [(r.name, r.state) for r in rows] == [(name, copy_compare.DIFFERS)]


def test_copy_killed_midway_resumes_and_damage_is_refused_at_arrival(lvm_host, controller, source_set, tmp_path,
                                                                      request):
    copies = tmp_path / "copies"
    copies.mkdir(mode=0o700)
    name = source_set.rsplit("/", 1)[1]
    partial = copies / f".{name}.copy-partial"
    lab_size = int(lvm_host.run(["stat", "-c", "%s", f"{source_set}/{ARCHIVE}"]).stdout)

    # 1. Killed mid-way (SIGKILL: no undo can run): rsync dies with lvmkit (tethered) and
    #    leaves the partial copy, with the archive cut off mid-way.
    lvmkit = LvmkitProcess(request.config.getoption("--lvm-host"), "copy", source_set, str(copies), "--bwlimit", "256")
    lvmkit.wait_for(r"\] send the set into the partial copy")
    deadline = time.monotonic() + 120
    while not any(p.stat().st_size > 128 * 1024 for p in partial.glob(f".{ARCHIVE}.*")):
        assert time.monotonic() < deadline, "rsync wrote nothing of the archive in 120 s"
        time.sleep(0.2)
    lvmkit.process.send_signal(signal.SIGKILL)
    lvmkit.finish()
    deadline = time.monotonic() + 30
    while subprocess.run(["pgrep", "-f", f"rsync .*{partial}"], capture_output=True).returncode == 0:
        assert time.monotonic() < deadline, "rsync outlived the lvmkit that ran it"
        time.sleep(0.2)
    assert not (copies / name).exists(), "nothing published"
    kept = (partial / ARCHIVE).stat().st_size
    assert 0 < kept < lab_size, f"the archive cut off mid-way is kept for the next copy ({kept} of {lab_size})"
    stale = copy_cleanup.cleanup_copies(controller, [Place(controller, str(copies))], dry_run=True,
                                        staging=str(tmp_path / "staging"))
    assert [(r.path, r.outcome) for r in stale] == [(str(partial), "would remove")]

    # 2. Damaged in transit: a byte of a file that arrived whole is changed, its size and time
    #    kept, so rsync's quick check passes it; sha256sum -c at arrival does not.
    digest = partial / "digest.json"
    stat = digest.stat()
    data = bytearray(digest.read_bytes())
    data[len(data) // 2] ^= 0x01
    digest.write_bytes(bytes(data))
    os.utime(digest, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    resume = CopyRequest(source_set, Place(controller, str(copies)), lock_dir=tmp_path / "locks")
    with pytest.raises(CopyRefused, match=r"arrived damaged.*digest\.json"):
        copy(lvm_host, controller, resume, log=lambda message: None)
    assert not (copies / name).exists(), "a damaged copy is never published"
    assert (partial / ARCHIVE).stat().st_size == lab_size, "the resumed transfer completed the archive"
    assert not digest.exists(), "the damaged file was removed from the partial"

    # 3. The next copy sends the damaged file anew and publishes.
    copy(lvm_host, controller, resume, log=lambda message: None)
    assert sorted(p.name for p in copies.iterdir()) == [name]
    assert local_sha256_check(copies / name).returncode == 0


# full: the staging path adds a second transfer; the default tier copies to the controller and resumes
@pytest.mark.full
def test_copy_over_ssh_to_a_second_host_goes_through_staging(lvm_host, controller, source_set, backup_store,
                                                              unique, tmp_path):
    second = dataclasses.replace(lvm_host)  # the guest again, as a second, separate SSH host
    directory = f"{backup_store}/copies-{unique}"
    second.run(["mkdir", "-m", "0700", directory], changes=True)
    try:
        staging = tmp_path / "staging"
        run = copy(lvm_host, controller, CopyRequest(source_set, Place(second, directory), staging=str(staging),
                                                     lock_dir=tmp_path / "locks"), log=lambda message: None)
        name = source_set.rsplit("/", 1)[1]
        assert [step.commands[0][0] for step in run.plan.steps].count("rsync") == 2, "pulled, then pushed"
        assert second.run(["ls", "-A", directory]).stdout.split() == [name]
        second.run(["sh", "-c", 'cd "$1" && sha256sum --quiet --strict -c SHA256SUMS', "sh", f"{directory}/{name}"])
        assert list(staging.iterdir()) == [], "the staging copy is removed once published"
        rows = copy_compare.compare(Place(lvm_host, source_set.rsplit("/", 1)[0]), Place(second, directory))
        assert [(r.name, r.state) for r in rows] == [(name, copy_compare.IN_BOTH)]
    finally:
        second.run(["rm", "-rf", "--", directory], changes=True)
