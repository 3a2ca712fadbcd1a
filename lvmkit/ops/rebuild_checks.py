"""A rebuild's preflight: the new disk is blank, the volume group's name is free, it all fits.

Asked in one batch of read-only queries (lvmkit.core.batch). A device that holds a
signature of any kind (a partition table, a filesystem, an LVM label, RAID metadata) is
refused: `wipefs --no-act` lists every signature blkid's library knows, and prints nothing
for a blank device. Nothing is ever wiped by lvmkit: the operator decides what a disk held.
"""

from __future__ import annotations

from lvmkit.core.batch import Query, run_batch
from lvmkit.core.host import Host, missing_tools_argv
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import UID_ARGV, root_check_from
from lvmkit.core.sizes import human
from lvmkit.lvm.reports import missing_vg, vgs_argv
from lvmkit.ops.backup_preflight import missing_message
from lvmkit.ops.rebuild_sources import Source

# What a rebuild runs besides the engines' and the digest's tools.
REBUILD_TOOLS = ["wipefs", "blockdev", "pvcreate", "vgcreate", "lvcreate", "lvremove", "vgremove", "pvremove",
                 "blkid", "mount", "umount"]
# LVM puts the first extent 1 MiB into a PV (pe_start), and a thin pool gets a spare
# metadata volume of its metadata's size (lvol0_pmspare).
PV_HEADER_BYTES = 1 << 20


def device_queries(device: str, vg: str, tools: list[str]) -> list[Query]:
    return [
        Query("uid", UID_ARGV),
        Query("signatures", ["wipefs", "--no-act", device]),
        # --getsize64: the device's size in bytes
        Query("size", ["blockdev", "--getsize64", device]),
        Query("vgs", vgs_argv(vg)),
        Query("tools", missing_tools_argv(tools)),
    ]


def check_target(host: Host, device: str, vg: str, extent_size: int, sources: list[Source],
                 tools: list[str]) -> Preflight:
    answers = run_batch(host, device_queries(device, vg, tools))
    checks = Preflight()
    checks.add(root_check_from(answers["uid"].stdout, "creating volume groups needs root"))
    signatures = answers["signatures"]
    blank = signatures.returncode == 0 and not signatures.stdout.strip()
    checks.add(Check("new disk is blank", blank,
                     f"{device}: no signature" if blank else
                     f"{device} cannot be read: {signatures.stderr.strip()}" if signatures.returncode != 0 else
                     f"{device} holds a signature (wipefs --no-act {device}):\n{signatures.stdout.rstrip()}\n"
                     f"a rebuild needs a blank disk; if it is really free, wipe it yourself (wipefs --all)"))
    found = answers["vgs"]
    free = found.returncode != 0 and missing_vg(found.stderr) == vg
    checks.add(Check("volume group name free", free,
                     f"no volume group {vg}" if free else
                     f"volume group {vg} exists on {host.name}: give another --vg"))
    missing = answers["tools"].stdout.split()
    checks.add(Check("tools installed", not missing, f"{len(tools)} tools found" if not missing else
                     missing_message(missing)))
    size_text = answers["size"].stdout.strip()
    if blank and size_text.isdigit():
        available = (int(size_text) - PV_HEADER_BYTES) // extent_size
        needed = extents_needed(sources, extent_size)
        checks.add(Check("room on the new disk", needed <= available,
                         f"{human(needed * extent_size)} of {human(available * extent_size)}" if needed <= available else
                         f"the volumes need {human(needed * extent_size)} ({needed} extents), {device} holds "
                         f"{human(available * extent_size)}: give a larger disk"))
    return checks


def extents_needed(sources: list[Source], extent_size: int) -> int:
    """Extents of every thick volume and thin pool (data, metadata and its spare)."""
    total, pools = 0, {}
    for source in sources:
        volume, pool = source.layout["volume"], source.layout["thin_pool"]
        if pool is not None:
            pools[pool["name"]] = pool
        elif not volume["thin"]:
            total += _extents(volume["size"], extent_size)
    for pool in pools.values():
        total += _extents(pool["size"], extent_size) + 2 * _extents(pool["metadata_size"] or 0, extent_size)
    return total


def _extents(size: int, extent_size: int) -> int:
    return -(-size // extent_size)
