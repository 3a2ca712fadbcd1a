"""The archive set: one directory per backup, checkable without lvmkit.

    NAME/
      <archive>         the engine's archive (a file, or the directory `tree` for rsync)
      digest.json       the content digest of the snapshot: every file, its metadata and sha256
      manifest.json     what, when, from which volume, by which engine (versioned JSON,
                        read and written by lvmkit.archive.manifest)
      SHA256SUMS        `sha256sum -c SHA256SUMS` checks all of the above

It is written as `.NAME.partial` and renamed to NAME only when complete and checksummed.
Files are 0600 and directories 0700: archives hold a whole filesystem's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.core.scripts import packaged_script

MANIFEST = "manifest.json"
DIGEST = "digest.json"
SUMS = "SHA256SUMS"
_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")

# Checksums of every file of an rsync tree, in a stable order, as sha256sum -c reads them.
_TREE_SUMS = 'set -o pipefail; cd "$1" && find "$2" -type f -print0 | sort -z | xargs -0 -r sha256sum --'

# The sha256 lines of the set's files, by OpenSSL where the CPU has SHA instructions: see its header.
SHA256_LINES = packaged_script(__package__, "sha256_lines.sh")
_SUM_LINE = re.compile(r"\\?([0-9a-f]{64}) [ *](.+)")


class ArchiveError(LvmkitError):
    """An archive set is missing, damaged, or from a newer lvmkit."""


def validate_set_name(name: str) -> str:
    if not _SET_NAME.fullmatch(name or ""):
        raise UsageError(
            f"archive name {name!r} is not allowed: use letters, digits and . _ + - "
            f"(not first), at most 200 characters"
        )
    return name


@dataclass(frozen=True)
class ArchiveSetPaths:
    dest: str
    name: str
    archive_name: str

    @property
    def final(self) -> str:
        return f"{self.dest.rstrip('/')}/{self.name}"

    @property
    def partial(self) -> str:
        return f"{self.dest.rstrip('/')}/.{self.name}.partial"

    def in_partial(self, member: str) -> str:
        return f"{self.partial}/{member}"


# umask first: the file is created 0600, never readable by others even for an instant.
_WRITE_PRIVATE = 'umask 077 && cat > "$1" && chmod 0600 "$1"'


def write_file_argv(path: str) -> list[str]:
    return ["sh", "-c", _WRITE_PRIVATE, "sh", path]


def write_file(host: Host, path: str, text: str) -> None:
    host.run(write_file_argv(path), input=text, changes=True)


def read_file(host: Host, path: str) -> str:
    return host.run(["cat", "--", path]).stdout


def checksum_argv(directory: str, members: list[str], tree: bool = False) -> list[str]:
    if tree:
        return ["bash", "-c", _TREE_SUMS, "bash", directory, *members]
    if any(member.startswith("-") or "\n" in member or "\\" in member for member in members):
        raise UsageError(f"checksums are made of lvmkit's own files, not of {members!r}")
    return ["sh", "-c", SHA256_LINES, "sh", directory, *members]


def parse_sums(text: str) -> dict[str, str]:
    """{name: sha256} from sha256sum or `openssl dgst -r` lines (names sha256sum escaped keep their escape)."""
    sums = {}
    for line in text.split("\n")[:-1] if text.endswith("\n") else text.split("\n"):  # names may hold \r and co.
        match = _SUM_LINE.fullmatch(line)
        if not match:
            raise ArchiveError(f"not a line of sha256 checksums: {line[:200]!r}")
        sums[match[2]] = match[1]
    return sums
