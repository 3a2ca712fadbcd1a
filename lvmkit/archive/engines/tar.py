"""GNU tar with zstd: the files of the snapshot's read-only mount, in a POSIX archive."""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.archive.engines.base import Engine, EngineOption, Level
from lvmkit.archive.engines.common import (
    PIPELINE_PROLOGUE,
    THREADS,
    ZSTD_LEVEL,
    Reads,
    absolute,
    bash_pipeline,
    joined_lines,
    require_filesystem,
)

VERSION_SCRIPT = PIPELINE_PROLOGUE + "tar --version | sed -n 1p\nzstd --version\n"

# Metadata flags shared by create and extract: pax headers keep xattrs, ACLs and
# nanosecond times; "*" matters on extract, where tar otherwise restores only user.* xattrs.
METADATA_FLAGS = ["--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner"]


@dataclass(frozen=True)
class TarEngine(Engine):
    name: str = "tar"
    level: Level = "file"
    reads: Reads = "mount"
    restore_makes_filesystem: bool = False
    archive_name: str = "filesystem.tar.zst"
    options: tuple[EngineOption, ...] = (ZSTD_LEVEL, THREADS)
    # "-", not /dev/stdout: given /dev/stdout as its file, tar 1.34 wrote the tar uncompressed
    # into a pipe (measured: 10240 bytes for one small file, which zstd then refused to read).
    stream_out: str | None = "-"

    def tools(self, fstype: str) -> list[str]:
        require_filesystem(self, fstype)
        return ["tar", "zstd", "bash"]

    def version_argv(self, fstype: str) -> list[str]:
        return bash_pipeline(VERSION_SCRIPT)

    def parse_version(self, output: str) -> str:
        return joined_lines(output)

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        chosen = self.resolve_options(options)
        # Level and threads reach zstd through its environment: tar runs a
        # --use-compress-program string through /bin/sh -c, so "zstd -T2 -3" there would
        # be a shell string built from parameters. zstd reads both variables (ZSTD_CLEVEL
        # since 1.3.8, ZSTD_NBTHREADS since 1.4.7); tar --zstd runs plain `zstd`.
        return [
            "env", f"ZSTD_CLEVEL={chosen['zstd_level']}", f"ZSTD_NBTHREADS={chosen['threads']}",
            "tar", "--create", "--zstd",
            f"--file={archive if archive == self.stream_out else absolute(archive, 'archive')}",
            "--format=posix",  # pax: xattrs, ACLs, long names, nanosecond mtimes
            *METADATA_FLAGS,
            "--one-file-system",  # the snapshot only, never something mounted inside it
            "--sparse",  # store holes as holes
            f"--directory={absolute(source, 'snapshot mount')}",
            ".",  # members named ./path, so extract -C TARGET recreates the tree as it was
        ]

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        # Listing decompresses the whole stream: zstd checks its frame checksum and tar
        # every header; damage fails either. --index-file: the listing itself is not wanted.
        return [
            "tar", "--list", "--zstd", f"--file={absolute(archive, 'archive')}",
            "--index-file=/dev/null",
        ]

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        self.resolve_options(options)
        return [
            "tar", "--extract", "--zstd",
            f"--file={absolute(archive, 'archive')}",
            *METADATA_FLAGS,
            "--same-owner",  # owners as archived (tar's default for root, stated anyway)
            "--preserve-permissions",  # modes as archived, without the umask
            f"--directory={absolute(target, 'target mount')}",
        ]
