"""Tables 1 and 6: lvmkit against the seed's script, on one volume, at several sizes."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from .breakdown import MONITORING, PARTS, breakdown
from .report import Table
from .seed import seed_script
from .stats import Sample, fit_line, pair_ratios, sample
from .workbench import Volume, Workbench

SEED_FSAOPTS = "-Z3 -j2"  # the same work as lvmkit's fsarchiver defaults: zstd level 3, 2 threads
LVMKIT_OPTIONS = ["--engine", "fsarchiver", "--engine-option", "zstd_level=3", "--engine-option", "threads=2"]
TARGET = 1.03


@dataclass
class Contender:
    label: str
    tree: Path | None = None  # None: the seed's script; else the lvmkit tree to run
    seconds: list[float] = field(default_factory=list)
    parts: list[dict[str, float]] = field(default_factory=list)

    @property
    def sample(self) -> Sample:
        return sample(self.seconds)


class Race:
    """The seed's script and lvmkit backing up the same volume, in alternating order."""

    def __init__(self, bench: Workbench, volume: Volume, dest: str, origin_mib: int):
        self.bench, self.volume, self.dest = bench, volume, dest
        self.script = bench.share_file("seed.sh", seed_script(
            VOLGROP=volume.vg, ORIGVOL=volume.name, SNAPVOL=f"{volume.name}seed",
            SNAPSIZ=f"{max(origin_mib // 5, 8)}M",  # lvmkit's default, 20%ORIGIN
            FSAOPTS=SEED_FSAOPTS, BACKDIR=f"{dest}/seed", BACKNAM="seed"))

    def once(self, contender: Contender) -> None:
        bench = self.bench
        bench.run(["rm", "-rf", "--", f"{self.dest}/seed", f"{self.dest}/lvmkit"])
        bench.run(["mkdir", "-p", f"{self.dest}/seed"])
        bench.drop_caches()
        if contender.tree is None:
            contender.seconds.append(bench.timed(["bash", self.script]).seconds)
        else:
            run = bench.lvmkit("backup", self.volume.spec, "--dest", self.dest, "--name", "lvmkit",
                               *LVMKIT_OPTIONS, tree=contender.tree)
            contender.seconds.append(run.seconds)
            contender.parts.append(breakdown(run.journal, run.seconds))
        bench.run(["rm", "-rf", "--", f"{self.dest}/seed", f"{self.dest}/lvmkit"])

    def rounds(self, contenders: list[Contender], count: int) -> None:
        """Each round runs every contender once, the order turning by one each round."""
        for index in range(count):
            shift = index % len(contenders)
            for contender in contenders[shift:] + contenders[:shift]:
                self.once(contender)


def overhead_table(seed: Contender, lvmkits: list[Contender], data: str) -> Table:
    table = Table(
        "1. lvmkit against the seed's script",
        f"The seed's script (read from `../shared/seed/`, only its variables set) and `lvmkit backup "
        f"--engine fsarchiver`, both with fsarchiver `{SEED_FSAOPTS}` (zstd level 3, 2 threads: lvmkit's "
        f"defaults), both run on the target, backing up the same volume ({data}) into the same "
        f"destination volume. Caches are dropped before every run, as for a nightly backup. The runs "
        f"alternate, the order turning each round; the ratio is taken per round (each run against the "
        f"seed's run of the same round), then the median and the range of those ratios are given. "
        f"lvmkit's time includes everything it does beyond the script: preflight, snapshot monitoring, "
        f"content digest, checksums of archive and digest, manifest, publishing by rename.",
        ["what", "runs", "time: median (min-max)", "against the script: median (min-max)", "overhead"],
    )
    table.add(f"seed script (`fsarchiver {SEED_FSAOPTS}`, then `md5sum`)", seed.sample.n, seed.sample.seconds(), "1", "")
    for lvmkit in lvmkits:
        ratios = pair_ratios(lvmkit.sample, seed.sample)
        table.add(lvmkit.label, lvmkit.sample.n, lvmkit.sample.seconds(), ratios.times(),
                  f"{(ratios.median - 1) * 100:+.1f}%")
    return table


def parts_table(lvmkits: list[Contender], seed: Contender) -> Table:
    table = Table(
        "1b. Where lvmkit's time goes",
        "From the command journal of each lvmkit run in table 1 (each command's own duration, on the "
        "target), median over the runs. *lvmkit itself* is the wall time no command accounts for: "
        "Python's start-up, planning, the pauses between commands. Monitoring (one `dmsetup status` "
        "every 2 s) runs in a thread beside the other commands, so it is not part of the sum.",
        ["part", *[lvmkit.label for lvmkit in lvmkits]],
    )
    for part in (*PARTS, "lvmkit itself", MONITORING):
        table.add(part, *[f"{statistics.median(p[part] for p in lvmkit.parts):.2f} s" for lvmkit in lvmkits])
    table.add("**whole backup**", *[f"**{lvmkit.sample.median:.2f} s**" for lvmkit in lvmkits])
    table.add("the seed's script, for comparison", *[f"{seed.sample.median:.2f} s" for _ in lvmkits])
    return table


def sizes_table(points: list[tuple[int, int, Contender, Contender]]) -> Table:
    """points: (MiB, files, seed, lvmkit) per data size."""
    table = Table(
        "6. How time grows with the data",
        "The same race as table 1 at three sizes of the same shape of data (many small files), "
        "each size on a new filesystem; the largest size is table 1's runs. A straight line "
        "(least squares over the medians) gives the fixed cost and the cost per 100 MiB; the last "
        "column is how far the measured median lies from that line.",
        ["data", "files", "runs", "seed script", "lvmkit", "lvmkit / script", "lvmkit - script"],
    )
    for mib, files, seed, lvmkit in points:
        ratios = pair_ratios(lvmkit.sample, seed.sample)
        table.add(f"{mib} MiB", f"{files:,}", seed.sample.n, seed.sample.seconds(), lvmkit.sample.seconds(),
                  ratios.times(), f"{lvmkit.sample.median - seed.sample.median:+.2f} s")
    sizes = [float(mib) for mib, *_ in points]
    for label, index in (("seed script", 2), ("lvmkit", 3)):
        line = fit_line(sizes, [point[index].sample.median for point in points])
        verdict = ("linear" if line.worst_residual <= 0.05 else "**not linear**")
        table.findings.append(
            f"{label}: {line.intercept:.2f} s fixed + {line.slope * 100:.2f} s per 100 MiB; {verdict} "
            f"(the medians lie within {line.worst_residual * 100:.1f}% of the line)")
    return table
