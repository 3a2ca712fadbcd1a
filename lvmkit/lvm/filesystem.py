"""Filesystems on volumes: what they are, how to mount a snapshot of one, how full they are."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host

SUPPORTED = ("ext2", "ext3", "ext4", "xfs")
MKFS = {"ext2": "mkfs.ext2", "ext3": "mkfs.ext3", "ext4": "mkfs.ext4", "xfs": "mkfs.xfs"}


@dataclass(frozen=True)
class FilesystemInfo:
    type: str
    uuid: str | None
    label: str | None


def probe(host: Host, device: str) -> FilesystemInfo | None:
    """The filesystem on `device`, read from the device itself (no udev database needed)."""
    return probe_from_result(host.name, device, host.run(probe_argv(device), check=False))


def probe_argv(device: str) -> list[str]:
    # -p: low-level probe of the device; the cache and udev may be stale or absent.
    return ["blkid", "-p", "-o", "export", device]


def probe_from_result(host_name: str, device: str, result) -> FilesystemInfo | None:
    """The filesystem from the result of probe_argv(device)."""
    if result.returncode == 2:  # blkid: nothing recognised on the device
        return None
    if result.returncode != 0:
        raise LvmkitError(f"cannot probe {device} on {host_name}: {result.stderr.strip()}")
    fields = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    if "TYPE" not in fields:
        return None
    return FilesystemInfo(fields["TYPE"], fields.get("UUID"), fields.get("LABEL"))


def require_supported(fstype: str | None, device: str) -> str:
    if fstype not in SUPPORTED:
        found = f"a {fstype} filesystem" if fstype else "no filesystem"
        raise LvmkitError(f"{device} holds {found}; lvmkit backs up {', '.join(SUPPORTED)}")
    return fstype


# A snapshot or a restored volume holds whatever its owner's users put there: a setuid
# binary or a device node of theirs must not act for root while lvmkit has it mounted.
# Explicit, not left to the distribution's defaults (mount(8) assumes suid,dev).
UNTRUSTED = "nosuid,nodev"


def snapshot_mount_options(fstype: str) -> str:
    """Options for a read-only mount of a snapshot while its origin is mounted."""
    if fstype == "xfs":
        # nouuid: the snapshot has the origin's UUID, and XFS refuses a second mount of it.
        # No norecovery: the snapshot LV is writable, so the log is replayed into its
        # copy-on-write space and the filesystem read is consistent (norecovery would not be).
        return f"ro,{UNTRUSTED},nouuid"
    # ext*: a plain read-only mount replays the journal into the writable snapshot.
    return f"ro,{UNTRUSTED}"


def restore_mount_options(fstype: str) -> str:
    # A restored XFS made from a snapshot's image has the origin's UUID too.
    return f"{UNTRUSTED},nouuid" if fstype == "xfs" else UNTRUSTED


def mkfs_argv(fstype: str, device: str) -> list[str]:
    quiet_force = ["-q", "-f"] if fstype == "xfs" else ["-q", "-F"]  # -f/-F: the target may hold an old filesystem
    return [MKFS[fstype], *quiet_force, device]


def mount_sources(host: Host, device: str) -> list[str]:
    """Where `device` is mounted (empty when it is not)."""
    return mount_sources_from_result(host.run(mount_sources_argv(device), check=False))


def mount_sources_argv(device: str) -> list[str]:
    return ["findmnt", "--json", "--source", device, "--output", "TARGET"]


def mount_sources_from_result(result) -> list[str]:
    """The mountpoints from the result of mount_sources_argv(device)."""
    if result.returncode != 0 or not result.stdout.strip():
        return []
    return [entry["target"] for entry in json.loads(result.stdout).get("filesystems", [])]


def usage(host: Host, mountpoint: str) -> tuple[int, int]:
    """(used, size) in bytes of the filesystem mounted at `mountpoint`."""
    lines = host.run(["df", "--block-size=1", "--output=used,size", mountpoint]).stdout.split("\n")
    used, size = lines[1].split()
    return int(used), int(size)


def free_bytes(host: Host, directory: str) -> int:
    lines = host.run(["df", "--block-size=1", "--output=avail", directory]).stdout.split("\n")
    return int(lines[1])
