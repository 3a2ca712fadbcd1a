"""The seed's own script and lvmkit, same volume, same fsarchiver options: same content.

The script is read at test time from the seed document (the project does not copy it; see
benchmarks/seed.py for where it is looked for) and adapted only in its variables. Without
the document this test is deselected (tests/conftest.py).
"""

from __future__ import annotations

import pytest

from benchmarks.seed import seed_script
from lvmkit.archive.archive_set import write_file
from lvmkit.archive.digest import compare, compute_digest
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.restore import RestoreRequest, restore

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

pytestmark = pytest.mark.seed_document


def test_seed_script_and_lvmkit_fsarchiver_restore_to_identical_content(lvm_host, dest, unique):
    seed_dir = f"{dest}/seed"
    lvm_host.run(["mkdir", "-p", seed_dir], changes=True)
    script = seed_script(VOLGROP=LAB_VG, ORIGVOL="ext4vol", SNAPVOL=f"seed_{unique}", SNAPSIZ="64M",
                         FSAOPTS="-Z1 -j2", BACKDIR=seed_dir, BACKNAM="seed-backup")
    write_file(lvm_host, f"{dest}/seed.sh", script)
    lvm_host.run(["bash", f"{dest}/seed.sh"], changes=True, timeout=900)
    (seed_archive,) = lvm_host.run(["find", seed_dir, "-name", "*.fsa"]).stdout.split()
    md5 = seed_archive.removesuffix(".fsa") + ".md5"
    lvm_host.run(["md5sum", "-c", md5], changes=False)

    run = backup(lvm_host, BackupRequest(origin=f"{LAB_VG}/ext4vol", dest=dest, engine="fsarchiver",
                                         engine_options={"zstd_level": "1", "threads": "2"}),
                 log=lambda message: None)
    assert run.manifest.engine.options == {"zstd_level": "1", "threads": "2"}

    seed_volume, lvmkit_volume = f"seedr_{unique}", f"lvmkr_{unique}"
    mountpoint = f"/run/lvmkit-test/{seed_volume}"
    try:
        lvm_host.run(["lvcreate", "--yes", "-L", "256M", "-n", seed_volume, LAB_VG], changes=True)
        lvm_host.run(["fsarchiver", "restfs", seed_archive, f"id=0,dest=/dev/{LAB_VG}/{seed_volume}"], changes=True)
        lvm_host.run(["mkdir", "-p", mountpoint], changes=True)
        lvm_host.run(["mount", "-o", "ro", f"/dev/{LAB_VG}/{seed_volume}", mountpoint], changes=True)
        from_seed = compute_digest(lvm_host, mountpoint)
        restored = restore(lvm_host, RestoreRequest(run.paths.final, to_new=f"{LAB_VG}/{lvmkit_volume}"),
                           log=lambda message: None)
        assert restored.comparison.equal
        assert restored.expected_digest is not None
        comparison = compare(restored.expected_digest, from_seed)
        assert comparison.equal, comparison.summary()
    finally:
        lvm_host.run(["umount", mountpoint], changes=True, check=False)
        for volume in (seed_volume, lvmkit_volume):
            lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{volume}"], changes=True, check=False)
    assert_no_leftovers(lvm_host, dest)
    assert lvm_host.run(["lvs", f"{LAB_VG}/seed_{unique}"], check=False).returncode != 0, \
        "the seed script removed its snapshot"
