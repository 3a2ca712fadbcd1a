"""--encrypt-to in the lab: file engines (tar, dar) and a block engine (partclone) round trip through
age, proved by the content digest; a missing and a wrong identity are refused before anything
changes. Keys are made in the lab by age-keygen, on the target, as an operator would."""

from __future__ import annotations

import json

import pytest

from lvmkit.archive.archive_set import write_file
from lvmkit.core.preflight import PreflightError
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.restore import RestoreRequest, restore
from lvmkit.ops.verify import verify

from .leftovers import assert_no_leftovers

KEYS = "/run/lvmkit-test/age"
SECRET_NAME = "quarterly-secret-plans.txt"  # a path that must appear in no clear file of the set


@pytest.fixture(scope="module")
def keys(lvm_host):
    lvm_host.run(["install", "-d", "-m", "0700", KEYS], changes=True)
    for name in ("identity", "wrong"):
        lvm_host.run(["rm", "-f", "--", f"{KEYS}/{name}.txt"], changes=True)
        lvm_host.run(["age-keygen", "-o", f"{KEYS}/{name}.txt"], changes=True)
    public = lvm_host.run(["age-keygen", "-y", f"{KEYS}/identity.txt"]).stdout
    write_file(lvm_host, f"{KEYS}/recipients.txt", f"# the lab's backup key\n{public}")
    yield {"recipients": f"{KEYS}/recipients.txt", "identity": f"{KEYS}/identity.txt",
           "wrong": f"{KEYS}/wrong.txt", "public": public.strip()}
    lvm_host.run(["rm", "-rf", "--", KEYS], changes=True)


@pytest.fixture
def origin(lvm_host, scratch_volume):
    mountpoint = scratch_volume["mountpoint"]
    lvm_host.run(["sh", "-c", 'echo "the plans" > "$1/$2" && head -c 2000000 /dev/urandom > "$1/random.bin"',
                  "sh", mountpoint, SECRET_NAME], changes=True)
    return scratch_volume


def clear_files(lvm_host, archive_set: str) -> str:
    """Every byte of the set that is not encrypted: the manifest, SHA256SUMS, the names of its files."""
    names = lvm_host.run(["ls", "-A", archive_set]).stdout
    return names + lvm_host.run(["cat", f"{archive_set}/manifest.json", f"{archive_set}/SHA256SUMS"]).stdout


def test_tar_encrypted_as_written_verifies_without_key_and_restores_only_with_the_right_one(
        lvm_host, keys, origin, dest, new_volume):
    run = backup(lvm_host, BackupRequest(origin=f"{origin['vg']}/{origin['lv']}", dest=dest, engine="tar",
                                         encrypt_to=keys["recipients"]), log=lambda m: None)
    archive_set = run.paths.final
    assert sorted(lvm_host.run(["ls", "-A", archive_set]).stdout.split()) == [
        "SHA256SUMS", "digest.json.age", "filesystem.tar.zst.age", "layout.json", "manifest.json", "vgcfgbackup.txt"]
    assert lvm_host.run(["head", "-c", "21", f"{archive_set}/filesystem.tar.zst.age"]).stdout == "age-encryption.org/v1"
    assert SECRET_NAME not in clear_files(lvm_host, archive_set), "no path name in a clear file"
    manifest = json.loads(lvm_host.run(["cat", f"{archive_set}/manifest.json"]).stdout)
    assert manifest["encryption"]["recipients"] == [keys["public"]]

    checked = verify(lvm_host, archive_set, log=lambda m: None)  # no key: the ciphertext's checksums
    assert checked.passed, checked.checks.render()

    with pytest.raises(PreflightError, match="is encrypted with age: give --identity FILE"):
        restore(lvm_host, RestoreRequest(archive_set, to_new=f"{origin['vg']}/{new_volume}"), log=lambda m: None)
    with pytest.raises(PreflightError, match=r"--identity .*wrong.txt does not decrypt .*no identity matched"):
        restore(lvm_host, RestoreRequest(archive_set, to_new=f"{origin['vg']}/{new_volume}", identity=keys["wrong"]),
                log=lambda m: None)
    assert lvm_host.run(["lvs", f"{origin['vg']}/{new_volume}"], check=False).returncode != 0, "nothing created"

    restored = restore(lvm_host, RestoreRequest(archive_set, to_new=f"{origin['vg']}/{new_volume}",
                                                identity=keys["identity"]), log=lambda m: None)
    assert restored.comparison.equal, restored.comparison.summary()
    assert_no_leftovers(lvm_host, dest)


# full: the default tier proves a file engine (tar); this is the block engine
@pytest.mark.full
def test_partclone_encrypted_verifies_deep_with_the_identity(lvm_host, keys, origin, dest):
    run = backup(lvm_host, BackupRequest(origin=f"{origin['vg']}/{origin['lv']}", dest=dest, engine="partclone",
                                         encrypt_to=keys["recipients"]), log=lambda m: None)
    archive_set = run.paths.final
    assert SECRET_NAME not in clear_files(lvm_host, archive_set)

    without = verify(lvm_host, archive_set, deep=True, log=lambda m: None)
    assert not without.passed and "needs --identity FILE" in without.checks.render()

    deep = verify(lvm_host, archive_set, deep=True, identity=keys["identity"], log=lambda m: None)
    assert deep.passed, deep.checks.render()
    names = [c.name for c in deep.checks.checks]
    assert "partclone reads the archive" in names and "deep: restored content equals the archived digest" in names
    assert_no_leftovers(lvm_host, dest)


# full: the default tier proves tar; dar streams differently (-c -, read back --sequential-read)
@pytest.mark.full
def test_dar_encrypted_restores_from_the_stream_and_verifies_deep(lvm_host, keys, origin, dest, new_volume):
    run = backup(lvm_host, BackupRequest(origin=f"{origin['vg']}/{origin['lv']}", dest=dest, engine="dar",
                                         encrypt_to=keys["recipients"]), log=lambda m: None)
    archive_set = run.paths.final
    assert lvm_host.run(["head", "-c", "21", f"{archive_set}/filesystem.1.dar.age"]).stdout == "age-encryption.org/v1"
    assert SECRET_NAME not in clear_files(lvm_host, archive_set)

    deep = verify(lvm_host, archive_set, deep=True, identity=keys["identity"], log=lambda m: None)
    assert deep.passed, deep.checks.render()
    restored = restore(lvm_host, RestoreRequest(archive_set, to_new=f"{origin['vg']}/{new_volume}",
                                                identity=keys["identity"]), log=lambda m: None)
    assert restored.comparison.equal, restored.comparison.summary()
    assert_no_leftovers(lvm_host, dest)
