"""dar (Disk ARchive): the files of the snapshot's read-only mount, with a CRC per file.

dar names its archive BASENAME.N.dar, N being the slice number; lvmkit makes one slice,
so the archive set holds "filesystem.1.dar" and every dar command gets the basename.
Encrypted (--encrypt-to), dar writes its archive to stdout ("-" as the basename) and reads
it back from stdin with --sequential-read: dar 2.7 writes the marks that let it read an
archive front to back, without seeking to the catalogue at its end (measured: a streamed
archive extracts and tests from a pipe).
The Debian build has no libthreadar ("Multiple threads: NO" in `dar -V`), so this engine
has no threads option.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.archive.engines.base import Engine, EngineOption, Level
from lvmkit.archive.engines.common import STREAM_IN, ZSTD_LEVEL, Reads, absolute, require_filesystem
from lvmkit.core.errors import UsageError

SLICE_SUFFIX = ".1.dar"
STREAM = "-"  # dar's name for stdout (create) and stdin (test, extract)

# On every command. dar asks questions (overwrite? continue?) and, without a terminal,
# warns and answers "no"; -Q drops the warning and makes it non-interactive for sure.
# -N: ignore ~/.darrc and /etc/darrc, so that a machine's dar settings cannot change
# what the archive holds.
NON_INTERACTIVE = ["-Q", "-N"]


@dataclass(frozen=True)
class DarEngine(Engine):
    name: str = "dar"
    level: Level = "file"
    reads: Reads = "mount"
    restore_makes_filesystem: bool = False
    archive_name: str = "filesystem" + SLICE_SUFFIX
    options: tuple[EngineOption, ...] = (ZSTD_LEVEL,)
    stream_out: str | None = STREAM

    def tools(self, fstype: str) -> list[str]:
        require_filesystem(self, fstype)
        return ["dar"]

    def version_argv(self, fstype: str) -> list[str]:
        return ["dar", "-V", "-Q"]  # -Q: no "no terminal" warning before the version

    def parse_version(self, output: str) -> str:
        # `dar -V` starts with an empty line, then " dar version 2.7.8, Copyright ..."
        for line in output.splitlines():
            if "dar version" in line:
                return line.strip().split(",")[0]
        return "unknown"

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        chosen = self.resolve_options(options)
        return [
            "dar", "-c", STREAM if archive == STREAM else basename(archive),
            "-R", absolute(source, "snapshot mount"),
            f"-zzstd:{chosen['zstd_level']}",  # algo:level; no block size: streaming mode, one thread
            "-M",  # stay in the snapshot's filesystem
            # no -s: one slice, whatever its size; an existing archive is not overwritten
            # (dar would ask, and -Q answers no)
            *NON_INTERACTIVE,
        ]

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        # -t reads every file's data, EA and FSA and checks their CRCs, and the CRCs of the
        # archive's own structure (header, catalogue).
        return ["dar", "-t", *archive_args(archive), *NON_INTERACTIVE]

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        self.resolve_options(options)
        # As root dar restores owners, modes, times, hard links, sparse files, EA (ACLs are
        # EA: system.posix_acl_*) and ext2/3/4 flags by default. It does not restore the
        # root directory itself (-R): that keeps what mkfs gave it.
        return [
            "dar", "-x", *archive_args(archive),
            "-R", absolute(target, "target mount"),
            # -w: overwrite without asking. The target is a fresh filesystem, but mkfs.ext4
            # made lost+found there; asked, -Q answers "no" and lost+found keeps mkfs's
            # metadata instead of the archived one.
            "-w",
            *NON_INTERACTIVE,
        ]


def archive_args(archive: str) -> list[str]:
    """The archive as dar reads it: its basename, or stdin read front to back."""
    if archive == STREAM_IN:
        return [STREAM, "--sequential-read"]  # a pipe cannot seek to the catalogue at the end
    return [basename(archive)]


def basename(archive: str) -> str:
    """The name dar wants: the archive's path without ".1.dar"."""
    absolute(archive, "archive")
    if not archive.endswith(SLICE_SUFFIX) or archive.endswith("/" + SLICE_SUFFIX):
        raise UsageError(f"a dar archive's path must end in <name>{SLICE_SUFFIX}, not {archive!r}")
    return archive[: -len(SLICE_SUFFIX)]
