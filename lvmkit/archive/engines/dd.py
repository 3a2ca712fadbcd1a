"""dd with zstd: every block of the snapshot's device, used or not, compressed.

The simplest image there is: it restores onto any device at least as large, whatever the
filesystem, and needs nothing but dd and zstd. It is also the largest and slowest for a
mostly empty volume: unused blocks are read and compressed too.
"""

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

# $1 device, $2 archive, $3 zstd level, $4 threads.
# dd: 4 MiB reads; iflag=direct: bypass the page cache, so that reading a whole volume
# does not evict the server's cache (works on a dm snapshot: measured in the lab);
# status=none: no transfer statistics on stderr.
# zstd: --check writes a content checksum, so `zstd --test` and every decompression
# detect damage; --quiet: no progress; -o fails if the archive exists (never overwrite).
BACKUP_SCRIPT = PIPELINE_PROLOGUE + (
    'dd if="$1" bs=4M iflag=direct status=none | zstd --quiet --check -"$3" -T"$4" -o "$2"\n'
)

# $1 archive, $2 target device.
# Decompress to stdout and let dd write: `zstd -d -o DEVICE` would write sparsely (skip
# zero blocks) and leave the device's old contents where the image has zeros.
# iflag=fullblock: gather pipe reads into whole 4 MiB writes; conv=fsync: the data is on
# the device before dd exits 0.
RESTORE_SCRIPT = PIPELINE_PROLOGUE + (
    'zstd --decompress --stdout --quiet "$1" | dd of="$2" bs=4M iflag=fullblock conv=fsync status=none\n'
)

VERSION_SCRIPT = PIPELINE_PROLOGUE + "dd --version | sed -n 1p\nzstd --version\n"


@dataclass(frozen=True)
class DdEngine(Engine):
    name: str = "dd"
    level: Level = "block"
    reads: Reads = "device"
    restore_makes_filesystem: bool = True
    archive_name: str = "device.img.zst"
    options: tuple[EngineOption, ...] = (ZSTD_LEVEL, THREADS)
    stream_out: str | None = "/dev/stdout"  # zstd -o /dev/stdout: measured to write the pipe

    def tools(self, fstype: str) -> list[str]:
        require_filesystem(self, fstype)
        return ["bash", "dd", "zstd"]

    def version_argv(self, fstype: str) -> list[str]:
        return bash_pipeline(VERSION_SCRIPT)

    def parse_version(self, output: str) -> str:
        return joined_lines(output)

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        chosen = self.resolve_options(options)
        return bash_pipeline(
            BACKUP_SCRIPT,
            absolute(source, "snapshot device"), absolute(archive, "archive"),
            chosen["zstd_level"], chosen["threads"],
        )

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        # Decompresses everything and checks the content checksum written by --check.
        return ["zstd", "--test", "--quiet", absolute(archive, "archive")]

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        require_filesystem(self, fstype)
        self.resolve_options(options)
        # The target must be at least as large as the snapshot was (dd fails with "No space
        # left on device" otherwise); a larger one keeps the old filesystem size until grown.
        return bash_pipeline(RESTORE_SCRIPT, absolute(archive, "archive"), absolute(target, "target device"))
