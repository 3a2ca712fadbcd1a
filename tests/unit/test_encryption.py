"""--encrypt-to and --identity: what is refused, and the commands that encrypt and decrypt.

The keys below were made by age-keygen 1.1.1 and ssh-keygen (OpenSSH 9.2) on Debian 12.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from lvmkit import cli
from lvmkit.archive.archive_set import parse_sums
from lvmkit.archive.encryption import (
    IdentityError,
    check_identity,
    decrypt_argv,
    encrypt_argv,
    read_recipients,
    refuse_unstreamed,
)
from lvmkit.archive.engines import get_engine
from lvmkit.archive.manifest import Encryption, from_json
from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.ops import verify as verify_module
from lvmkit.ops.backup import BackupRequest, prepare

from .archive_sets import write_sums
from .conftest import FIXTURES

AGE_KEY = "age1nx4f4x54yls3y3zttejap9846md4mak0lahey8lvnfa85n93gg2s2z6p44"
SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPfU9Q0pIw96QSrr4jLGqeuRwRUT0GdobZP+Dk9cdgiB"
RECIPIENTS = "/etc/lvmkit/recipients.txt"
SET = "/backups/labvg-www-20261130T010203Z-ab12"


def test_read_recipients_gives_age_and_ssh_ed25519_keys_without_comments(scripted_host):
    scripted_host.expect(["cat", "--", RECIPIENTS], stdout=f"# vault\n{AGE_KEY}\n\n{SSH_KEY} root@vm\n")
    assert read_recipients(scripted_host, RECIPIENTS) == [AGE_KEY, SSH_KEY]


@pytest.mark.parametrize("content, said", [
    ("", "holds no recipient"),
    ("# only a comment\n", "holds no recipient"),
    ("ssh-rsa AAAAB3NzaC1yc2E root@vm\n", "is not an age X25519 (age1...) or ssh-ed25519 public key"),
    ("AGE-SECRET-KEY-1QQQQ\n", "is not an age X25519"),
])
def test_read_recipients_refuses_a_file_without_usable_keys(scripted_host, content, said):
    scripted_host.expect(["cat", "--", RECIPIENTS], stdout=content)
    with pytest.raises(UsageError, match="--encrypt-to /etc/lvmkit/recipients.txt") as raised:
        read_recipients(scripted_host, RECIPIENTS)
    assert said in str(raised.value)


def test_read_recipients_of_a_missing_file_says_how_to_make_one(scripted_host):
    scripted_host.expect(["cat", "--", RECIPIENTS], returncode=1,
                         stderr="cat: /etc/lvmkit/recipients.txt: No such file or directory\n")
    with pytest.raises(UsageError, match="cannot read it.*age-keygen -y IDENTITY"):
        read_recipients(scripted_host, RECIPIENTS)


@pytest.mark.parametrize("engine, reason", [
    ("fsarchiver", "cannot write it to a pipe"),
    ("rsync", "a tree of files"),
])
def test_engines_that_write_no_single_stream_are_refused_with_the_reason(engine, reason):
    with pytest.raises(UsageError, match=f"cannot encrypt engine {engine}: .*{reason}"):
        refuse_unstreamed(get_engine(engine))


@pytest.mark.parametrize("engine", ["tar", "dar", "dd", "partclone"])
def test_stream_engines_are_accepted(engine):
    refuse_unstreamed(get_engine(engine))


def test_backup_with_encrypt_to_and_fsarchiver_is_refused_before_any_command(scripted_host):
    request = BackupRequest(origin="labvg/www", dest="/backups", engine="fsarchiver", encrypt_to=RECIPIENTS)
    with pytest.raises(UsageError, match="cannot encrypt engine fsarchiver"):
        prepare(scripted_host, request)  # the scripted host expects nothing: nothing ran


def test_backup_with_a_relative_recipients_file_is_refused_before_any_command(scripted_host):
    request = BackupRequest(origin="labvg/www", dest="/backups", engine="tar", encrypt_to="recipients.txt")
    with pytest.raises(UsageError, match="--encrypt-to 'recipients.txt' is relative"):
        prepare(scripted_host, request)


def test_backup_of_a_group_with_encrypt_to_is_refused(capsys):
    code = cli.main(["--journal", "/dev/null", "backup", "--group", "labvg/a,labvg/b", "--dest", "/backups",
                     "--engine", "tar", "--encrypt-to", RECIPIENTS])
    assert code == 2
    assert "a group's sets cannot be encrypted yet" in capsys.readouterr().err


def test_encrypt_argv_pipes_the_engines_stream_into_age():
    tar = get_engine("tar")
    argv = encrypt_argv(RECIPIENTS, f"{SET}/filesystem.tar.zst.age", tar.backup_argv("/mnt", tar.stream_out, "ext4", {}))
    assert argv[:2] == ["bash", "-c"] and 'age --encrypt --recipients-file "$r" --output "$out"' in argv[2]
    assert argv[4:6] == [RECIPIENTS, f"{SET}/filesystem.tar.zst.age"]
    assert "--file=-" in argv[6:], "tar writes its archive to stdout, never to a file"


def test_dar_streams_to_stdout_and_reads_stdin_front_to_back():
    dar = get_engine("dar")
    create = dar.backup_argv("/mnt", dar.stream_out, "ext4", {})
    assert create[:3] == ["dar", "-c", "-"], "dar writes its archive to stdout"
    for argv in (dar.verify_argv("/dev/stdin", "ext4"), dar.restore_argv("/dev/stdin", "/target", "ext4", {})):
        assert argv[2:4] == ["-", "--sequential-read"], "a pipe cannot seek to the catalogue at the end"
    assert dar.verify_argv(f"{SET}/filesystem.1.dar", "ext4")[2] == f"{SET}/filesystem", "a clear set: by basename"


def test_decrypt_argv_feeds_age_into_the_engine_reading_stdin():
    dd = get_engine("dd")
    argv = decrypt_argv("/root/id.txt", f"{SET}/device.img.zst.age", dd.verify_argv("/dev/stdin", "ext4"))
    assert 'age --decrypt --identity "$i" "$in" | "$@"' in argv[2]
    assert argv[4:] == ["/root/id.txt", f"{SET}/device.img.zst.age", "zstd", "--test", "--quiet", "/dev/stdin"]


def test_check_identity_without_one_says_to_give_it(scripted_host):
    with pytest.raises(IdentityError, match="is encrypted with age: give --identity FILE"):
        check_identity(scripted_host, None, SET)


def test_check_identity_of_a_missing_file_names_it(scripted_host):
    scripted_host.expect(["test", "-r", "/root/id.txt"], returncode=1)
    with pytest.raises(IdentityError, match="--identity /root/id.txt: no readable file"):
        check_identity(scripted_host, "/root/id.txt", SET)


def encrypted_manifest() -> str:
    manifest = json.loads((FIXTURES / "manifest" / "single-tar-thick.json").read_text())
    manifest["engine"]["archive"] = "filesystem.tar.zst.age"
    manifest["digest"]["file"] = "digest.json.age"
    manifest["encryption"] = {"tool": "age", "version": "1.1.1", "recipients": [AGE_KEY]}
    return json.dumps(manifest)


def encrypted_set(directory: Path) -> str:
    """A real set as an encrypted backup writes it: ciphertext archive and digest, the
    manifest recording them and the recipients, SHA256SUMS of all three."""
    directory.mkdir(mode=0o700)
    files = {"filesystem.tar.zst.age": b"age ciphertext of the archive\n", "digest.json.age": b"age ciphertext\n"}
    for name, data in files.items():
        (directory / name).write_bytes(data)
    base = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "single-tar-thick.json")
    checksums = parse_sums(write_sums(directory, sorted(files)))
    manifest = replace(base, engine=replace(base.engine, archive="filesystem.tar.zst.age"),
                       # the clear digest's sha256, as the backup records it; the ciphertext's is in the checksums
                       digest=replace(base.digest, file="digest.json.age"),
                       checksums=checksums, archive_sha256=checksums["filesystem.tar.zst.age"],
                       encryption=Encryption(tool="age", version="1.1.1", recipients=(AGE_KEY,)))
    (directory / "manifest.json").write_text(manifest.to_json())
    write_sums(directory, [*sorted(files), "manifest.json"])
    return str(directory)


def test_verify_of_an_encrypted_set_without_identity_checks_the_ciphertext_only(tmp_path):
    result = verify_module.verify(Host(), encrypted_set(tmp_path / "labvg-www-1"), log=lambda message: None)
    assert result.passed
    assert [c.name for c in result.checks.checks][-1] == "encrypted with age"


def test_verify_deep_of_an_encrypted_set_without_identity_fails_saying_so(tmp_path):
    result = verify_module.verify(Host(), encrypted_set(tmp_path / "labvg-www-1"), deep=True, log=lambda message: None)
    assert not result.passed
    failed = [c for c in result.checks.checks if not c.passed]
    assert [c.name for c in failed] == ["identity given"]
    assert "needs --identity FILE" in failed[0].detail and AGE_KEY in failed[0].detail
