"""What every backup engine provides: argv builders, nothing that runs by itself.

An engine turns a source (the read-only mount of a snapshot for file-level engines, the
snapshot's device for block-level ones) into an archive, checks an archive without
restoring it, and restores an archive onto a target. Engines only build argv lists; the
backup and restore code runs them through the Host, so dry runs, journals and undo work
the same for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lvmkit.core.errors import UsageError

Level = Literal["file", "block"]


@dataclass(frozen=True)
class EngineOption:
    name: str
    help: str
    default: str
    # Returns the value, normalised, or raises ValueError with what is allowed.
    parse: callable = field(default=str, repr=False)


@dataclass(frozen=True)
class Engine:
    name: str
    level: Level
    reads: Literal["mount", "device"]  # what backup_argv's `source` is
    # True: restore writes the filesystem itself (fsarchiver restfs, dd, partclone);
    # False: the restore code makes a filesystem and mounts it first (tar, dar, rsync).
    restore_makes_filesystem: bool
    archive_name: str  # the archive's name inside the archive set (file, or directory for rsync)
    # True: given the device, the engine reads the files through the read-only mount it
    # finds (fsarchiver). The backup then keeps the snapshot mounted while the engine runs,
    # so the engine reads what the content digest has just read from the page cache.
    reads_through_existing_mount: bool = False
    compresses: bool = True  # sizes the room preflight asks for at the destination
    # True: the data goes into a restic or borg repository, the archive set holds the tool's
    # report of the backup (engines.repository); restore and verify address it by its id.
    repository: bool = False
    options: tuple[EngineOption, ...] = ()
    filesystems: tuple[str, ...] = ("ext2", "ext3", "ext4", "xfs")
    # The archive path that makes backup_argv write the archive to its stdout (--encrypt-to
    # pipes it into age); None: the engine cannot write one stream (see archive/encryption.py).
    stream_out: str | None = None

    def tools(self, fstype: str) -> list[str]:
        """Commands the target host needs for this engine and filesystem."""
        raise NotImplementedError

    def version_argv(self, fstype: str) -> list[str]:
        raise NotImplementedError

    def parse_version(self, output: str) -> str:
        return output.strip().splitlines()[0] if output.strip() else "unknown"

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        """Reads the whole archive and fails if the engine finds it damaged."""
        raise NotImplementedError

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        """`target` is a mounted directory or, if restore_makes_filesystem, a device."""
        raise NotImplementedError

    def resolve_options(self, given: dict[str, str]) -> dict[str, str]:
        """Every option with its value: given ones validated, the rest defaulted."""
        known = {option.name: option for option in self.options}
        unknown = sorted(set(given) - set(known))
        if unknown:
            allowed = ", ".join(f"{o.name} ({o.help})" for o in self.options) or "none"
            raise UsageError(f"engine {self.name} has no option {', '.join(unknown)}; its options: {allowed}")
        resolved = {}
        for name, option in known.items():
            raw = given.get(name, option.default)
            try:
                resolved[name] = str(option.parse(raw))
            except ValueError as error:
                raise UsageError(f"engine {self.name}: option {name}={raw!r} is not valid: {error}") from None
        return resolved
