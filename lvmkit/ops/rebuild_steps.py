"""The steps that make a rebuild's storage again, from the layouts its archive sets recorded.

A new physical volume and volume group on the blank disk (new PV and VG UUIDs), every thin
pool with its chunk and metadata size, every volume with its name and size, and the
filesystem a file-level engine restores into, made with the recorded UUID, label, block
and inode size. Each creation's undo removes what it made, so an interrupted rebuild
leaves the disk as blank as it was.
"""

from __future__ import annotations

from lvmkit.core.plan import Step
from lvmkit.lvm.filesystem import MKFS
from lvmkit.ops.rebuild_sources import Source


def _bytes(size: int) -> str:
    return f"{size}b"  # LVM's unit "b": bytes, so a size is taken exactly as recorded


def volume_group_steps(device: str, vg: str, extent_size: int) -> list[Step]:
    return [
        Step(f"create physical volume {device}", [["pvcreate", device]],
             undo_commands=[["pvremove", device]], undo_armed_before=True),
        # --physicalextentsize: the old group's extent size, so every volume gets its extents back
        Step(f"create volume group {vg} on {device} (extents of {extent_size} bytes)",
             [["vgcreate", "--physicalextentsize", _bytes(extent_size), vg, device]],
             undo_commands=[["vgremove", vg]], undo_armed_before=True),
    ]


def pool_steps(vg: str, sources: list[Source]) -> list[Step]:
    pools = {}
    for source in sources:
        pool = source.layout["thin_pool"]
        if pool is not None:
            pools.setdefault(pool["name"], pool)
    steps = []
    for name, pool in pools.items():
        argv = ["lvcreate", "--yes", "--type", "thin-pool", "--size", _bytes(pool["size"]), "--name", name]
        if pool.get("chunk_size"):
            argv += ["--chunksize", _bytes(pool["chunk_size"])]
        if pool.get("metadata_size"):
            argv += ["--poolmetadatasize", _bytes(pool["metadata_size"])]
        steps.append(Step(f"create thin pool {vg}/{name}", [[*argv, vg]],
                          undo_commands=[["lvremove", "--yes", f"{vg}/{name}"]], undo_armed_before=True))
    return steps


def volume_step(vg: str, source: Source) -> Step:
    volume = source.layout["volume"]
    name, size = volume["name"], volume["size"]
    tags = [word for tag in volume.get("tags", []) for word in ("--addtag", tag)]
    if volume["thin"]:
        argv = ["lvcreate", "--yes", "--virtualsize", _bytes(size), "--thin", "--name", name, *tags,
                f"{vg}/{volume['pool']}"]
        what = f"thin volume {vg}/{name} ({size} bytes) in {volume['pool']}"
    else:
        argv = ["lvcreate", "--yes", "--size", _bytes(size), "--name", name, *tags, vg]
        what = f"volume {vg}/{name} ({size} bytes)"
    return Step(f"create {what}", [argv], undo_commands=[["lvremove", "--yes", f"{vg}/{name}"]],
                undo_armed_before=True)


def make_filesystem_argv(source: Source, device: str, new_uuids: bool) -> list[str]:
    """mkfs with the recorded parameters, for engines that restore files into a filesystem."""
    fs = source.layout["filesystem"]
    fstype, label = fs["type"], fs.get("label") or ""
    if fstype == "xfs":
        geometry = fs["xfs"]
        argv = [MKFS[fstype], "-q", "-f",  # -f: the new volume may hold a stale signature
                "-b", f"size={geometry['data']['bsize']}", "-i", f"size={geometry['meta-data']['isize']}"]
        argv += [] if new_uuids or not fs.get("uuid") else ["-m", f"uuid={fs['uuid']}"]
        argv += ["-L", label] if label else []
    else:
        ext = fs["ext"]
        argv = [MKFS[fstype], "-q", "-F", "-b", str(ext["block_size"]), "-I", str(ext["inode_size"])]
        argv += [] if new_uuids or not fs.get("uuid") else ["-U", fs["uuid"]]
        argv += ["-L", label] if label else []
    return [*argv, device]


def new_uuid_argv(fstype: str, device: str) -> list[str]:
    """A new UUID for a filesystem an engine restored with its old one (fsarchiver, dd, partclone)."""
    if fstype == "xfs":
        return ["xfs_admin", "-U", "generate", device]
    return ["tune2fs", "-U", "random", device]
