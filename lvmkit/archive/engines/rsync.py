"""rsync: a plain copy of the snapshot's files, a directory tree in the archive set.

No compression and no container: the tree can be browsed and copied file by file, and
it restores with the same rsync flags in the other direction.

The archive set must then live on a filesystem that can hold everything the snapshot
has: owners (rsync runs as root), ACLs and xattrs of all namespaces. Measured in the lab:
onto tmpfs of kernel 6.1 (no user.* xattrs) rsync fails with code 23, "fsetxattr ...
Operation not supported"; onto ext4 it works. NFS and CIFS lose more.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.archive.engines.base import Engine, EngineOption, Level
from lvmkit.archive.engines.common import Reads, absolute, first_line, require_filesystem

# -a: recursive, owners, groups, modes, times, symlinks, devices and special files;
# -H hard links; -A ACLs; -X xattrs (as root all namespaces: user, trusted, security);
# -S: holes stay holes. --numeric-ids: uid/gid numbers as they are, not mapped through
# user names (the names of the machine running rsync say nothing about the snapshot's).
COPY_FLAGS = ["-aHAXS", "--numeric-ids"]


@dataclass(frozen=True)
class RsyncEngine(Engine):
    name: str = "rsync"
    level: Level = "file"
    reads: Reads = "mount"
    restore_makes_filesystem: bool = False
    archive_name: str = "tree"  # a directory
    compresses: bool = False  # the tree is as large as the files
    options: tuple[EngineOption, ...] = ()

    def tools(self, fstype: str) -> list[str]:
        require_filesystem(self, fstype)
        return ["rsync", "find", "sha256sum"]

    def version_argv(self, fstype: str) -> list[str]:
        return ["rsync", "--version"]

    def parse_version(self, output: str) -> str:
        return first_line(output)  # "rsync version 3.2.7 protocol version 31"

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        self.resolve_options(options)
        return [
            "rsync", *COPY_FLAGS,
            "--one-file-system",  # the snapshot only, never something mounted inside it
            # Trailing slashes: copy the CONTENTS of the mount into the archive directory
            # (without them rsync would create ARCHIVE/<mount point name>/...).
            with_slash(absolute(source, "snapshot mount")),
            with_slash(absolute(archive, "archive directory")),
        ]

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        # A tree has no checksums of its own and at verify time there is no source to
        # compare with: read every file (sha256sum fails on an unreadable one; find then
        # exits non-zero, as it does for an unreadable directory). Changed bytes are found
        # by comparing this output, or the archive set's SHA256SUMS, not by this command.
        return ["find", absolute(archive, "archive directory"), "-type", "f", "-exec", "sha256sum", "{}", "+"]

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        self.resolve_options(options)
        return [
            "rsync", *COPY_FLAGS,
            # Trailing slashes as above: the tree's contents become the target's root.
            with_slash(absolute(archive, "archive directory")),
            with_slash(absolute(target, "target mount")),
        ]


def with_slash(path: str) -> str:
    return path if path.endswith("/") else path + "/"
