"""The archive set: one directory per backup, checkable without lvmkit.

    NAME/
      <archive>         the engine's archive (a file, or the directory `tree` for rsync)
      digest.json       the content digest of the snapshot: every file, its metadata and sha256
      manifest.json     what, when, from which volume, by which engine (versioned JSON,
                        read and written by lvmkit.archive.manifest)
      layout.json       the VG, volume, thin pool, filesystem parameters and fstab lines it came from
      vgcfgbackup.txt   `vgcfgbackup -f` of the volume group
      SHA256SUMS        `sha256sum -c SHA256SUMS` checks all of the above, and lists exactly
                        the set's files (lvmkit.archive.closure checks that)
      SHA256SUMS.sig    with --sign-key: ssh-keygen -Y sign of SHA256SUMS (lvmkit.archive.signature)

It is written as `.NAME.partial` and renamed to NAME only when complete and checksummed.
Files are 0600 and directories 0700: archives hold a whole filesystem's data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.core.journal import BULKY
from lvmkit.core.scripts import packaged_script

MANIFEST = "manifest.json"
DIGEST = "digest.json"
SUMS = "SHA256SUMS"
# The layout the volume came from (since lvmkit 0.x; older sets have neither): read by a rebuild.
LAYOUT = "layout.json"
VGCFG = "vgcfgbackup.txt"  # `vgcfgbackup -f` of the volume group, for `vgcfgrestore` by hand
_SET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")

# Checksums of every file of an rsync tree, in a stable order, as sha256sum -c reads them.
# Every member is a start point of find (the tree and the set's own files beside it).
_TREE_SUMS = 'set -o pipefail; cd "$1" && shift && find "$@" -type f -print0 | sort -z | xargs -0 -r sha256sum --'

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


# Written beside its name and renamed over it, its temporary removed if interrupted: see its header.
_WRITE_PRIVATE = packaged_script(__package__, "write_private.sh")
# mktemp's XXXXXX: six of its letters and digits (coreutils' gnulib tempname).
_TEMPORARY_SUFFIX = re.compile(r"\.[A-Za-z0-9]{6}")


def write_file_argv(path: str) -> list[str]:
    return ["sh", "-c", _WRITE_PRIVATE, "sh", path]


def write_file(host: Host, path: str, text: str) -> None:
    host.run(write_file_argv(path), input=text, changes=True)


def is_temporary_of(file_name: str, name: str) -> bool:
    """`file_name` is a temporary that write_file makes for writing the file `name` (in the
    same directory): exactly mktemp's name for it, nothing looser."""
    return file_name.startswith(f"{name}.") and bool(_TEMPORARY_SUFFIX.fullmatch(file_name[len(name):]))


def read_file(host: Host, path: str, *, bulky: bool = False) -> str:
    """The file's text; `bulky` (a content digest): the journal keeps its size and hash only."""
    return host.run(["cat", "--", path], private=BULKY if bulky else None).stdout


def flush_argv(directory: str) -> list[str]:
    """fsync every file and directory of `directory`, itself included (coreutils `sync FILE`
    opens and fsyncs each). Only regular files and directories: a symlink in an rsync tree
    would be followed to whatever it names, a device perhaps. find has no `--`: the path is
    absolute (core/paths.py), so it is never read as an expression."""
    return ["find", directory, "(", "-type", "f", "-o", "-type", "d", ")", "-exec", "sync", "--", "{}", "+"]


def publish_argvs(paths: ArchiveSetPaths, marker: str) -> list[list[str]]:
    """Publish a complete set durably: drop the run marker, fsync the set's files and
    directory, rename it into place, fsync the destination (the rename is in its entry).

    Without the flushes a power cut can keep the rename and lose the data renamed: a
    published set that fails its checksums, and the snapshot to retry from already gone."""
    return [
        ["rm", "-f", "--", paths.in_partial(marker)],
        flush_argv(paths.partial),
        # -T: the name is the target itself, never a directory to move into
        ["mv", "-T", "--no-clobber", paths.partial, paths.final],
        ["sync", "--", paths.dest],
    ]


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
