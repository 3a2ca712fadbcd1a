"""Table 2: each engine's backup and restore against a raw sequential read of the snapshot."""

from __future__ import annotations

from dataclasses import dataclass, field

from lvmkit.archive.engines import ENGINES, Engine

from .report import Table
from .stats import sample, throughput
from .workbench import GUEST_ROOT, MIB, Volume, Workbench

SNAPSHOT = "benchengsnap"

# restic and borg write into a repository: measured on their own (docs/performance.md, "Repository engines").
SET_ENGINES = [name for name, engine in ENGINES.items() if not engine.repository]


@dataclass
class EngineResult:
    backup: list[float] = field(default_factory=list)
    restore: list[float] = field(default_factory=list)
    archive_bytes: list[int] = field(default_factory=list)


@dataclass
class ShapeResult:
    shape: str
    files: int
    data_bytes: int  # the filesystem's used bytes
    device_bytes: int
    raw_read: list[float] = field(default_factory=list)
    engines: dict[str, EngineResult] = field(default_factory=dict)


def measure_shape(bench: Workbench, origin: Volume, target: Volume, dest: str, shape: str,
                  mib: int, runs: int) -> ShapeResult:
    files, _ = bench.fill(origin, shape, mib)
    used, device = _sizes(bench, origin)
    result = ShapeResult(shape, files, used, device, engines={name: EngineResult() for name in SET_ENGINES})
    snapshot = Volume(origin.vg, SNAPSHOT, origin.fstype)
    mountpoint = f"{GUEST_ROOT}/{SNAPSHOT}"
    bench.run(["lvcreate", "--quiet", "--yes", "--snapshot", "--size", f"{max(device // MIB // 5, 8)}M",
               "--name", SNAPSHOT, origin.spec])
    bench.run(["mkdir", "-p", mountpoint, f"{dest}/engine"])
    try:
        names = list(SET_ENGINES)
        for index in range(runs):
            bench.drop_caches()
            result.raw_read.append(bench.timed(["dd", f"if={snapshot.device}", "of=/dev/null", "bs=1M",
                                                "status=none"]).seconds)
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                _round_trip(bench, ENGINES[name], snapshot, mountpoint, target, f"{dest}/engine",
                            result.engines[name])
    finally:
        bench.run(["umount", mountpoint], check=False)
        bench.run(["lvremove", "--quiet", "--yes", snapshot.spec], check=False)
        bench.run(["rm", "-rf", "--", f"{dest}/engine"], check=False)
    return result


def _round_trip(bench: Workbench, engine: Engine, snapshot: Volume, mountpoint: str, target: Volume,
                directory: str, result: EngineResult) -> None:
    """One backup of the snapshot with `engine`, then its restore onto `target`, both cold."""
    archive = f"{directory}/{engine.archive_name}"
    bench.run(["rm", "-rf", "--", archive])
    if engine.reads == "mount":
        bench.run(["mount", "-o", "ro", snapshot.device, mountpoint])
    bench.drop_caches()
    try:
        source = mountpoint if engine.reads == "mount" else snapshot.device
        argv = engine.backup_argv(source, archive, snapshot.fstype, {})
        result.backup.append(bench.timed(argv).seconds)
    finally:
        if engine.reads == "mount":
            bench.run(["umount", mountpoint])
    result.archive_bytes.append(int(bench.run(["du", "-sb", "--", archive]).stdout.split()[0]))

    bench.run(["umount", target.mountpoint], check=False)
    if engine.restore_makes_filesystem:
        restore_to = target.device
    else:
        bench.make_filesystem(target)  # what lvmkit restore does first for tar, dar and rsync
        restore_to = target.mountpoint
    bench.drop_caches()
    result.restore.append(bench.timed(engine.restore_argv(archive, restore_to, snapshot.fstype, {})).seconds)
    bench.run(["umount", target.mountpoint], check=False)
    bench.run(["rm", "-rf", "--", archive])


def _sizes(bench: Workbench, volume: Volume) -> tuple[int, int]:
    used = int(bench.run(["df", "--block-size=1", "--output=used", volume.mountpoint]).stdout.split()[-1])
    device = int(bench.run(["blockdev", "--getsize64", volume.device]).stdout)
    return used, device


def engines_table(shapes: list[ShapeResult], runs: int) -> Table:
    table = Table(
        "2. Engines against a raw read of the snapshot",
        f"Each engine as lvmkit runs it (the same command lines, default options: zstd level 3, 2 "
        f"threads), reading one snapshot of an idle volume, then restoring onto a second volume "
        f"(for tar, dar and rsync onto a new ext4, as lvmkit's restore makes it first). Caches "
        f"are dropped before every command. *Raw read* is `dd` of the whole snapshot device to "
        f"/dev/null. Throughput is the filesystem's used bytes divided by the time; *of raw read* "
        f"is the raw read's time divided by the engine's (1.00: as fast as reading the device "
        f"once). Archive ratio: archive size / used bytes. {runs} runs of each, the engines' order "
        f"turning each round; median and (min-max).",
        ["data", "engine", "backup", "backup MiB/s", "of raw read", "restore", "restore MiB/s", "archive ratio"],
    )
    for shape in shapes:
        raw = sample(shape.raw_read)
        data_mib = shape.data_bytes / MIB
        label = f"{shape.shape}, {data_mib:.0f} MiB used, {shape.files:,} files"
        table.add(label, "raw read", raw.seconds(), throughput(shape.device_bytes / MIB, raw) + " (device)",
                  "1.00", "", "", "")
        for name, result in shape.engines.items():
            backup, restore = sample(result.backup), sample(result.restore)
            ratio = sample(b / shape.data_bytes for b in result.archive_bytes).median
            table.add(label, name, backup.seconds(), throughput(data_mib, backup), f"{raw.median / backup.median:.2f}",
                      restore.seconds(), throughput(data_mib, restore), f"{ratio:.2f}")
    return table
