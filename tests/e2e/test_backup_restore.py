"""Back up live volumes with every engine, restore them, and prove the restore.

Each backup runs while a writer keeps changing the origin; the restored volume's content
digest must equal the digest recorded from the snapshot, and differ from the live origin
at the end (so the proof is about the snapshot's instant, not about whatever was there).
"""

from __future__ import annotations

import pytest
from pytest_lazy_fixtures import lf

from lvmkit.archive.archive_set import DIGEST, MANIFEST, read_file
from lvmkit.archive.digest import ContentDigest, compare, compute_digest
from lvmkit.archive.engines import ENGINES
from lvmkit.archive.manifest import read_manifest
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.restore import RestoreRequest, restore
from lvmkit.ops.verify import verify

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

# Rewrites a handful of files in a loop: the origin keeps changing while the backup reads,
# and the snapshot's copy-on-write space sees real traffic without overflowing.
WRITER = r'''
dir="$1/writer"; mkdir -p "$dir"; i=0
while :; do
    i=$((i + 1))
    head -c 65536 /dev/urandom > "$dir/file-$((i % 8))"
    echo "$i" > "$dir/counter"
    sync "$dir/counter"
    sleep 0.2
done
'''


@pytest.fixture
def ext4_origin():
    return {"lv": "ext4vol", "mountpoint": "/srv/lvmkit-lab/ext4vol", "fstype": "ext4"}


@pytest.fixture
def xfs_origin():
    return {"lv": "xfsvol", "mountpoint": "/srv/lvmkit-lab/xfsvol", "fstype": "xfs"}


@pytest.fixture
def writer(lvm_host):
    """Start the writer on a mounted origin; stopped and its files removed afterwards."""
    started = []

    def start(mountpoint: str):
        running = lvm_host.start(["bash", "-c", WRITER, "bash", mountpoint])
        started.append((running, mountpoint))
        return running

    yield start
    for running, mountpoint in started:
        running.terminate()
        running.wait(check=False)
        lvm_host.run(["rm", "-rf", "--", f"{mountpoint}/writer"], changes=True)


# The default tier runs every engine once and every filesystem three times (file and block
# engines on each); --full runs the whole matrix.
# restic and borg write into a repository: tests/e2e/test_repositories.py.
SET_ENGINES = [name for name, engine in ENGINES.items() if not engine.repository]
CORE_PAIRS = {("fsarchiver", "xfs"), ("tar", "ext4"), ("dar", "xfs"), ("rsync", "ext4"), ("dd", "ext4"),
              ("partclone", "xfs")}
MATRIX = [
    pytest.param(origin, engine, id=f"{fstype}-{engine}",
                 marks=() if (engine, fstype) in CORE_PAIRS else pytest.mark.full)
    for fstype, origin in (("ext4", lf("ext4_origin")), ("xfs", lf("xfs_origin")))
    for engine in sorted(SET_ENGINES)
]


def test_core_tier_keeps_every_engine_and_every_filesystem():
    assert {engine for engine, _ in CORE_PAIRS} == set(SET_ENGINES)
    assert {fstype for _, fstype in CORE_PAIRS} == {"ext4", "xfs"}


@pytest.mark.parametrize("origin, engine", MATRIX)
def test_backup_while_writing_then_restore_to_new_volume_proves_snapshot_content(
    lvm_host, origin, engine, dest, writer, new_volume
):
    writing = writer(origin["mountpoint"])
    run = backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/{origin['lv']}", dest=dest, engine=engine),
                 log=lambda message: None)
    archive_set = run.paths.final
    manifest = run.manifest
    assert manifest.engine.name == engine and manifest.filesystem.type == origin["fstype"]
    assert manifest.snapshot.peak_percent is not None
    assert read_manifest(lvm_host, archive_set) == manifest, "what was written reads back equal"
    listing = lvm_host.run(["ls", "-la", archive_set]).stdout
    assert "SHA256SUMS" in listing and MANIFEST in listing and DIGEST in listing
    lvm_host.run(["env", f"--chdir={archive_set}", "sha256sum", "-c", "--strict", "SHA256SUMS"])
    modes = dict(line.split(" ", 1)[::-1] for line in
                 lvm_host.run(["find", archive_set, "-maxdepth", "1", "-printf", "%m %P\n"]).stdout.splitlines())
    assert modes.pop("") == "700", "the archive set's directory is root's alone"
    modes.pop("tree", None)  # rsync's tree keeps the source's modes; the 0700 set guards it
    assert set(modes.values()) == {"600"}, modes

    assert verify(lvm_host, archive_set).passed

    restored = restore(lvm_host, RestoreRequest(archive_set, to_new=f"{LAB_VG}/{new_volume}"), log=lambda m: None)
    assert restored.comparison.equal, restored.comparison.summary()

    # The writer kept going: the live origin has moved on from the snapshot's instant.
    writing.poll() is None or pytest.fail("the writer stopped early: " + writing.stderr_so_far())
    recorded = ContentDigest.from_json(read_file(lvm_host, f"{archive_set}/{DIGEST}"))
    live = compute_digest(lvm_host, origin["mountpoint"])
    assert not compare(recorded, live).equal
    assert_no_leftovers(lvm_host, dest)
