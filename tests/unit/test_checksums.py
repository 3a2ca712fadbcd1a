"""The archive set's sha256 lines: made by OpenSSL or sha256sum, read back alike
(outputs recorded from the real tools on this machine, whose CPU has SHA instructions)."""

from __future__ import annotations

import hashlib

import pytest

from lvmkit.archive.archive_set import SHA256_LINES, ArchiveError, checksum_argv, parse_sums
from lvmkit.core.errors import UsageError

from .conftest import FIXTURES

CONTENTS = {"filesystem.fsa": b"archive\n", "digest.json": b"{}\n"}  # what the recorded files held


def recorded(name: str) -> str:
    return (FIXTURES / "sums" / name).read_text()


def test_checksum_argv_is_a_constant_script_with_directory_and_names_as_parameters():
    argv = checksum_argv("/backups/.x.partial", ["filesystem.fsa", "digest.json"])
    assert argv == ["sh", "-c", SHA256_LINES, "sh", "/backups/.x.partial", "filesystem.fsa", "digest.json"]
    assert "openssl dgst -sha256 -r" in SHA256_LINES and "sha256sum --" in SHA256_LINES


@pytest.mark.parametrize("member", ["-rf", "new\nline", "back\\slash"])
def test_checksum_argv_with_a_name_not_lvmkit_would_write_refuses_it(member):
    with pytest.raises(UsageError, match="lvmkit's own files"):
        checksum_argv("/backups/x", [member])


@pytest.mark.parametrize("recording", ["openssl-dgst-r.out", "sha256sum.out"])
def test_parse_sums_reads_openssl_and_sha256sum_lines_alike(recording):
    assert parse_sums(recorded(recording)) == {name: hashlib.sha256(data).hexdigest()
                                               for name, data in CONTENTS.items()}


def test_parse_sums_of_a_tree_keeps_sha256sums_escapes():
    sums = parse_sums(recorded("sha256sum-tree.out"))
    assert sums == {"tree/odd/back\\\\slash": hashlib.sha256(b"x").hexdigest(),
                    "tree/odd/new\\nline": hashlib.sha256(b"y").hexdigest()}


def test_parse_sums_with_a_line_that_is_not_a_checksum_refuses_it():
    with pytest.raises(ArchiveError, match="not a line of sha256 checksums"):
        parse_sums("sha256sum: filesystem.fsa: No such file or directory\n")
