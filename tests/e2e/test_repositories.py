"""restic and borg as engines against real LVM: backups from the snapshot's mount into a
repository, deduplication by the repository's own statistics, restores proved by the
content digest, verify, prune by snapshot id, and bad repositories refused before any
snapshot.

Kept cheap under emulation (docs/repositories.md): one restic repository on the test
store's ext4, one SFTP repository on the guest's own loopback (an sshd and a key the test
starts, makes and removes), and borg, a Python program slow to start in the guest, as one round trip.
"""

from __future__ import annotations

import json

import pytest

from lvmkit.archive.archive_set import read_file, write_file
from lvmkit.core.errors import LvmkitError
from lvmkit.ops import prune
from lvmkit.ops.backup import BackupRequest, backup, plan, prepare
from lvmkit.ops.restore import RestoreRequest, restore
from lvmkit.ops.retention import Policy
from lvmkit.ops.verify import verify

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers

SECRETS = "/run/lvmkit-test/repository-secrets"
PASSWORD = "correct horse battery staple\n"  # reaches the guest on stdin only
SFTP_ALIAS = "lvmkit-test-sftp"  # a Host entry of root's ssh config in the guest
SFTP_HOME = "/run/lvmkit-test/sftp"  # the test's sshd: keys, config, pid file
SFTP_PORT = 2222


def sets_in(host, directory: str) -> list[str]:
    found = host.run(["find", directory, "-mindepth", "1", "-maxdepth", "1", "-name", "[!.]*"]).stdout.split()
    return sorted(found)


@pytest.fixture(scope="module")
def password_file(lvm_host):
    lvm_host.run(["mkdir", "-p", "-m", "0700", SECRETS], changes=True)
    path = f"{SECRETS}/repository.pass"
    write_file(lvm_host, path, PASSWORD)
    yield path
    lvm_host.run(["rm", "-rf", "--", SECRETS], changes=True)


@pytest.fixture(scope="module")
def restic_repository(lvm_host, backup_store, password_file):
    path = f"{backup_store}/restic-repository"
    lvm_host.run(["rm", "-rf", "--", path], changes=True)  # an earlier run's
    lvm_host.run(["restic", "init", "--repo", path, "--password-file", password_file], changes=True)
    yield {"repository": path, "password_file": password_file}
    lvm_host.run(["rm", "-rf", "--", path], changes=True)


@pytest.fixture(scope="module")
def borg_repository(lvm_host, backup_store, password_file):
    path = f"{backup_store}/borg-repository"
    lvm_host.run(["rm", "-rf", "--", path], changes=True)
    lvm_host.run(["env", f"BORG_PASSCOMMAND=cat -- {password_file}", "borg", "init", "--encryption", "repokey",
                  path], changes=True)
    yield {"repository": path, "password_file": password_file}
    lvm_host.run(["rm", "-rf", "--", path], changes=True)


@pytest.fixture(scope="module")
def loopback_sftp(lvm_host):
    """An sshd of the test's own on the guest's loopback, serving SFTP to root with a key the
    test makes: the lab's own sshd is left as it is (it serves no SFTP subsystem)."""
    home = SFTP_HOME
    lvm_host.run(["rm", "-rf", "--", home], changes=True)
    lvm_host.run(["mkdir", "-p", "-m", "0700", home, "/root/.ssh"], changes=True)
    for key in ("host_key", "client_key"):
        lvm_host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", SFTP_ALIAS, "-f", f"{home}/{key}"],
                     changes=True)
    host_key = lvm_host.run(["cat", f"{home}/host_key.pub"]).stdout.split()
    lvm_host.run(["cp", f"{home}/client_key.pub", f"{home}/authorized_keys"], changes=True)
    write_file(lvm_host, f"{home}/known_hosts", f"[127.0.0.1]:{SFTP_PORT} {host_key[0]} {host_key[1]}\n")
    # StrictModes no: the keys are in a 0700 directory the test made; sshd's checks of every
    # directory above it (on the host, a key under /tmp was refused) are not what is tested.
    write_file(lvm_host, f"{home}/sshd_config", "\n".join([
        f"ListenAddress 127.0.0.1:{SFTP_PORT}", f"HostKey {home}/host_key", f"AuthorizedKeysFile {home}/authorized_keys",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "UsePAM no", "UseDNS no", "StrictModes no", f"PidFile {home}/sshd.pid", "Subsystem sftp internal-sftp", ""]))
    write_file(lvm_host, "/root/.ssh/config", "\n".join([
        f"Host {SFTP_ALIAS}", "  HostName 127.0.0.1", f"  Port {SFTP_PORT}", "  User root",
        f"  IdentityFile {home}/client_key", "  IdentitiesOnly yes", f"  UserKnownHostsFile {home}/known_hosts",
        "  StrictHostKeyChecking yes", "  BatchMode yes", ""]))
    lvm_host.run(["/usr/sbin/sshd", "-f", f"{home}/sshd_config"], changes=True)  # listening when it returns
    try:
        yield SFTP_ALIAS
    finally:
        lvm_host.run(["sh", "-c", 'kill "$(cat "$1")"', "sh", f"{home}/sshd.pid"], changes=True, check=False)
        lvm_host.run(["rm", "-rf", "--", home, "/root/.ssh/config"], changes=True)


def restic_snapshots(host, options: dict) -> list[str]:
    listed = host.run(["restic", "--repo", options["repository"], "--password-file", options["password_file"],
                       "snapshots", "--json", "--no-lock"]).stdout
    return sorted(snapshot["short_id"] for snapshot in json.loads(listed))


def assert_restored_and_proved(host, archive_set: str, new_volume: str) -> None:
    run = restore(host, RestoreRequest(archive_set, to_new=f"{LAB_VG}/{new_volume}"))
    assert run.comparison.equal, run.comparison.summary()
    assert run.comparison.expected_count > 100  # the lab's sample data, not an empty tree


def test_restic_two_backups_deduplicate_restore_proved_verify_and_prune_by_id(
        lvm_host, dest, restic_repository, new_volume):
    options = restic_repository
    first = backup(lvm_host, BackupRequest(f"{LAB_VG}/ext4vol", dest, "restic", engine_options=options))
    second = backup(lvm_host, BackupRequest(f"{LAB_VG}/ext4vol", dest, "restic", engine_options=options))
    added = [run.manifest.repository.added_bytes for run in (first, second)]
    # restic's own statistics: the second backup of the unchanged files adds only metadata.
    assert added[0] > 1_000_000 and added[1] < added[0] / 20, added
    assert second.manifest.bytes_written == added[1]
    assert restic_snapshots(lvm_host, options) == sorted(r.manifest.repository.id for r in (first, second))
    # The second names the first as its parent, across the changed mount point: restic reads
    # no file again (its own counts, docs/repositories.md "Costs").
    assert first.manifest.repository.parent is None and first.parent.id is None
    assert second.manifest.repository.parent.startswith(first.manifest.repository.id)
    assert any(f"parent snapshot {first.manifest.repository.id} of " in step.title for step in plan(second).steps)
    summaries = [json.loads(read_file(lvm_host, f"{run.paths.final}/restic.json")) for run in (first, second)]
    assert summaries[0]["files_new"] == summaries[0]["total_files_processed"] > 100, summaries[0]
    assert (summaries[1]["files_new"], summaries[1]["files_changed"], summaries[1]["files_unmodified"]) == (
        0, 0, summaries[0]["total_files_processed"]), summaries[1]
    assert sorted(lvm_host.run(["ls", second.paths.final]).stdout.split()) == [
        "SHA256SUMS", "digest.json", "layout.json", "manifest.json", "restic.json", "vgcfgbackup.txt"]  # no data

    assert_restored_and_proved(lvm_host, second.paths.final, new_volume)
    checked = verify(lvm_host, second.paths.final)
    assert checked.passed, checked.checks.render()

    decision = prune.decide(lvm_host, dest, Policy(last=1))
    assert [item.path for item in decision.removed] == [first.paths.final]
    prune.remove(lvm_host, decision)
    assert restic_snapshots(lvm_host, options) == [second.manifest.repository.id]
    assert sets_in(lvm_host, dest) == [second.paths.final]
    assert_no_leftovers(lvm_host, dest)

    # The repository is the truth: with the second forgotten by hand too, the next backup's
    # preflight names no parent (restic would refuse a forgotten one), and the plan says so.
    lvm_host.run(["restic", "--repo", options["repository"], "--password-file", options["password_file"],
                  "forget", second.manifest.repository.id], changes=True)
    third = prepare(lvm_host, BackupRequest(f"{LAB_VG}/ext4vol", dest, "restic", engine_options=options))
    assert third.parent.id is None
    assert any("no earlier snapshot of this origin" in step.title for step in plan(third).steps)


# full: its own sshd and a second repository; the default tier keeps restic local and borg
@pytest.mark.full
def test_restic_over_sftp_on_the_guests_own_loopback_backs_up_and_checks(
        lvm_host, dest, loopback_sftp, password_file, backup_store):
    repository = f"{backup_store}/restic-sftp"
    options = {"repository": f"sftp:{loopback_sftp}:{repository}", "password_file": password_file}
    lvm_host.run(["rm", "-rf", "--", repository], changes=True)
    lvm_host.run(["restic", "init", "--repo", options["repository"], "--password-file", password_file], changes=True)
    try:
        run = backup(lvm_host, BackupRequest(f"{LAB_VG}/thinvol", dest, "restic", engine_options=options))
        assert run.manifest.repository.location == options["repository"]
        assert run.manifest.snapshot.thin is True
        checked = verify(lvm_host, run.paths.final)
        assert checked.passed, checked.checks.render()
        assert restic_snapshots(lvm_host, {**options, "repository": repository}) == [run.manifest.repository.id]
    finally:
        lvm_host.run(["rm", "-rf", "--", repository], changes=True)
    assert_no_leftovers(lvm_host, dest)


@pytest.mark.parametrize("change, said", [
    (lambda options, borg: {**options, "password_file": "/etc/hostname"}, "wrong password"),
    (lambda options, borg: {**options, "repository": options["repository"] + "-none"}, "no restic repository there"),
    (lambda options, borg: {**options, "repository": borg["repository"]}, "that is a borg repository"),
], ids=["wrong-password", "missing", "borg-repository"])
def test_restic_backup_into_a_bad_repository_is_refused_before_any_snapshot(
        lvm_host, dest, restic_repository, borg_repository, change, said):
    options = change(restic_repository, borg_repository)
    with pytest.raises(LvmkitError) as raised:
        backup(lvm_host, BackupRequest(f"{LAB_VG}/ext4vol", dest, "restic", engine_options=options))
    assert "repository opens with its password" in str(raised.value) and said in str(raised.value)
    assert sets_in(lvm_host, dest) == []
    assert_no_leftovers(lvm_host, dest)


def test_borg_round_trip_of_an_xfs_volume_restore_proved_and_verified(lvm_host, dest, borg_repository, new_volume):
    run = backup(lvm_host, BackupRequest(f"{LAB_VG}/xfsvol", dest, "borg", engine_options=borg_repository))
    assert run.manifest.repository.id == run.paths.name  # the borg archive is named after the set
    assert run.manifest.repository.added_bytes > 1_000_000
    assert_restored_and_proved(lvm_host, run.paths.final, new_volume)
    checked = verify(lvm_host, run.paths.final)
    assert checked.passed, checked.checks.render()
    assert_no_leftovers(lvm_host, dest)
