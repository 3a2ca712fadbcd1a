"""Table 4: what a snapshot costs the origin's writers (the copy-on-write the seed warns about)."""

from __future__ import annotations

from .report import Table
from .stats import pair_ratios, sample
from .workbench import Volume, Workbench

ORIGIN_MIB = 192
WRITE_MIB = 64
THICK_SNAPSHOT_MIB = 96  # room for every chunk the overwrite copies, with margin
FILE = "overwritten.bin"


def cow_table(bench: Workbench, pool: str, runs: int) -> Table:
    thick = bench.make_volume("cowthick", ORIGIN_MIB)
    thin = bench.make_volume("cowthin", ORIGIN_MIB, pool=pool)
    times = {key: [] for key in ("thick none", "thick snap", "thin none", "thin snap")}
    try:
        for origin in (thick, thin):  # the blocks the measured writes overwrite, written before any snapshot
            bench.run(["dd", "if=/dev/urandom", f"of={origin.mountpoint}/{FILE}", "bs=1M", f"count={WRITE_MIB}",
                       "conv=fsync", "status=none"])
            _overwrite(bench, origin)  # untimed: the first overwrite after the file was made was 6x slower
        for index in range(runs):
            order = [(thick, "thick"), (thin, "thin")]
            for origin, kind in order if index % 2 == 0 else order[::-1]:
                times[f"{kind} none"].append(_overwrite(bench, origin))
                times[f"{kind} snap"].append(_overwrite_with_snapshot(bench, origin, kind))
    finally:
        bench.remove_volume(thin)
        bench.remove_volume(thick)
    table = Table(
        "4. Copy-on-write: what a snapshot costs the origin's writers",
        f"`dd` overwrites {WRITE_MIB} MiB of a file that existed before the snapshot, in place "
        f"(`conv=notrunc,fsync`, 1 MiB blocks), on a mounted ext4 origin of {ORIGIN_MIB} MiB: a thick "
        f"volume, then a thin volume in the lab's pool. Each with no snapshot, then with a fresh "
        f"snapshot (thick: {THICK_SNAPSHOT_MIB} MiB of CoW space; thin: a thin snapshot in the same "
        f"pool), taken right before the write. Overwriting shared blocks is the case copy-on-write "
        f"costs most: every chunk is first copied (thick) or re-provisioned (thin). {runs} runs "
        f"of each; the ratio is per run against the same origin's run without a snapshot.",
        ["origin", "snapshot", "runs", "write time", "MiB/s", "against no snapshot"],
    )
    for kind in ("thick", "thin"):
        none, snap = sample(times[f"{kind} none"]), sample(times[f"{kind} snap"])
        table.add(kind, "none", none.n, none.seconds(), f"{WRITE_MIB / none.median:.1f}", "1")
        table.add(kind, kind, snap.n, snap.seconds(), f"{WRITE_MIB / snap.median:.1f}",
                  pair_ratios(snap, none).times() + " the time")
    return table


def _overwrite(bench: Workbench, origin: Volume) -> float:
    bench.drop_caches()
    return bench.timed(["dd", "if=/dev/zero", f"of={origin.mountpoint}/{FILE}", "bs=1M", f"count={WRITE_MIB}",
                        "conv=notrunc,fsync", "status=none"]).seconds


def _overwrite_with_snapshot(bench: Workbench, origin: Volume, kind: str) -> float:
    name = f"{origin.name}snap"
    size = ["--size", f"{THICK_SNAPSHOT_MIB}M"] if kind == "thick" else []
    bench.run(["lvcreate", "--quiet", "--yes", "--snapshot", *size, "--name", name, origin.spec])
    try:
        return _overwrite(bench, origin)
    finally:
        bench.run(["lvremove", "--quiet", "--yes", f"{origin.vg}/{name}"])
