"""LVM's own metadata directories, which must not lie on a volume a group freezes.

lvcreate writes the volume group's metadata to `backup/archive_dir` (the history,
/etc/lvm/archive) and `backup/backup_dir` (the latest, /etc/lvm/backup) before it changes
anything. Inside a group's freeze window every mounted member is suspended: when one of
those directories lies on a member, lvcreate's write blocks on the suspended device, and
only the watchdog ends the window (measured in the lab, docs/durability.md).

lvmkit refuses such a member in the preflight rather than turning the writes off inside
the window (`--config backup/archive=0 backup/backup=0`): that would silently leave the
snapshots' metadata out of the history `vgcfgrestore` relies on, and the operator's
remedy (point the directories at a filesystem outside the group, once, in lvm.conf) is
simple and permanent.
"""

from __future__ import annotations

import os

from lvmkit.core.preflight import Check
from lvmkit.core.scripts import packaged_script

METADATA_DIRS_PROBE = packaged_script(__package__, "metadata_dirs.sh")


def metadata_dirs_argv() -> list[str]:
    return ["bash", "-c", METADATA_DIRS_PROBE, "bash"]


def check_metadata_dirs(output: str, members: list[tuple[str, tuple[int, int] | None]]) -> Check:
    """Refuse when an enabled metadata directory lies on a member (name, (major, minor))."""
    name = "LVM's metadata directories outside the group"
    found = []
    for line in output.splitlines():
        key, enabled, devno, path = line.split(" ", 3)
        if enabled != "1" or not devno.isdigit():
            continue
        device = os.major(int(devno)), os.minor(int(devno))
        for member, member_device in members:
            if member_device == device:
                return Check(name, False,
                             f"LVM's {key} ({path}) is on member {member}: lvcreate writes there while the group is "
                             f"frozen and would wait for the watchdog; set backup/{key} in /etc/lvm/lvm.conf to a "
                             f"directory outside the group's volumes, or leave {member} out of the group")
        found.append(f"{key} {path}")
    if not found and not output.strip():
        return Check(name, False, "lvmconfig did not say where LVM keeps its metadata backups")
    return Check(name, True, ", ".join(found) or "metadata backups turned off")
