"""Run every benchmark in the lab and write docs/performance.md.

    benchmarks/run [--baseline REV] [--quick] [--output FILE]

The lab must be up (benchmarks/run brings it up and down). The benchmark makes its own
volumes (bench*) in the lab's volume group and removes them at the end.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.lab import paths as lab_paths
from lvmkit.targets import connect

from .cow import cow_table
from .engines import engines_table, measure_shape
from .freeze import freeze_table
from .hashes import hashes_table, measure
from .native import native_table
from .overhead import Contender, Race, median_parts, overhead_findings, overhead_table, parts_table, sizes_table
from .report import Table, render
from .repositories import kept_repository_section
from .runbook import runbook_table
from .targets import Remote, remote_race, remote_table, target_rows, targets_table
from .workbench import BenchmarkError, Workbench

REPO = Path(__file__).resolve().parents[1]
VG = "labvg"
POOL = "pool"
COMMAND = "benchmarks/run"


@dataclass(frozen=True)
class Settings:
    sizes_mib: tuple[int, ...]  # table 6; the largest is table 1's
    pairs: int  # table 1's rounds
    small_mib: tuple[int, int]  # table 0b: a volume of this size holding this much data
    runs: int  # every other table's runs, table 0b's rounds
    engine_mib: int  # table 2's data, each shape
    data_volume_mib: int
    dest_volume_mib: int
    targets_only: bool = False  # tables 0 to 1d only, the largest size only; 2 to 6 kept from the last full run

    @property
    def needed_mib(self) -> int:
        # data, destination, restore target, snapshot of the data (20%), with room for the rest
        return self.data_volume_mib * 2 + self.dest_volume_mib + self.data_volume_mib // 5 + self.small_mib[0] + 64


FULL = Settings(sizes_mib=(64, 128, 256), pairs=5, small_mib=(256, 28), runs=3, engine_mib=128, data_volume_mib=384,
                dest_volume_mib=448)
TARGETS = Settings(sizes_mib=(256,), pairs=5, small_mib=(256, 28), runs=3, engine_mib=128, data_volume_mib=384,
                   dest_volume_mib=448, targets_only=True)
QUICK = Settings(sizes_mib=(8, 16, 32), pairs=2, small_mib=(64, 8), runs=2, engine_mib=16, data_volume_mib=64,
                 dest_volume_mib=128)


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", metavar="REV", help="also run table 1 with lvmkit at this git revision (before/after)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes and 2 runs: checks the benchmark itself, figures mean little")
    parser.add_argument("--targets", action="store_true",
                        help="only the tables of this round's targets (0 to 1d, ~25 min in a loaded lab); the "
                             "tables 2 to 6 of the output file are kept, marked as from its last full run")
    parser.add_argument("--output", type=Path, default=REPO / "docs" / "performance.md")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else TARGETS if args.targets else FULL
    kept = _kept_sections(args.output) if settings.targets_only else ""

    journal = Journal()
    local = Host(journal=journal)
    paths = lab_paths.LabPaths.default()
    bench = Workbench(connect("lab", journal), REPO, VG, paths.share)
    bench.check_repo_visible()
    free = bench.free_mib()
    if free < settings.needed_mib:
        raise BenchmarkError(f"{VG} has {free} MiB free; the benchmark needs {settings.needed_mib} MiB: "
                             f"remove volumes left in the lab, or restart it (lvmkit lab down; lvmkit lab up)")
    started = time.monotonic()
    machine = _machine(bench, settings)
    baseline = _baseline_tree(args.baseline, paths.share) if args.baseline else None
    try:
        tables = _measure(bench, local, settings, args.baseline, baseline)
        machine[-1] += f", took {(time.monotonic() - started) / 60:.0f} min"
    finally:
        log("removing the benchmark's volumes")
        bench.clean_up()
        if baseline:
            shutil.rmtree(baseline, ignore_errors=True)
    command = (COMMAND + (f" --baseline {args.baseline}" if args.baseline else "") + (" --quick" if args.quick else "")
               + (" --targets" if args.targets else ""))
    repositories = kept_repository_section(args.output)  # measured on its own (benchmarks/repositories.py)
    args.output.write_text(render(intro=INTRO, machine=machine, command=command, tables=tables,
                                  epilogue=kept + EPILOGUE) + repositories)
    log(f"wrote {args.output}")
    return 0


def _measure(bench: Workbench, local: Host, settings: Settings, baseline_rev: str | None,
             baseline: Path | None) -> list[Table]:
    data = bench.make_volume("data", settings.data_volume_mib)
    dest = bench.make_volume("dest", settings.dest_volume_mib).mountpoint
    largest, smallest = max(settings.sizes_mib), min(settings.sizes_mib)
    points, tables = [], {}
    for mib in sorted(settings.sizes_mib, reverse=True):
        log(f"filling the data volume: {mib} MiB of small files")
        files, _ = bench.fill(data, "small-files", mib)
        race = Race(bench, data, dest, settings.data_volume_mib)
        seed, current = Contender("seed script"), Contender("lvmkit (this version)", REPO)
        contenders = [seed, current]
        if mib == largest and baseline and not settings.targets_only:  # targets: the baseline races in 0b
            contenders.append(Contender(f"lvmkit before (`{baseline_rev}`)", baseline))
        rounds = settings.pairs if mib == largest else settings.runs
        log(f"table 1/6: {rounds} rounds of {', '.join(c.label for c in contenders)} at {mib} MiB")
        race.rounds(contenders, rounds)
        points.append((mib, files, seed, current))
        if mib == largest:
            described = f"{mib} MiB in {files:,} small files"
            tables[1] = overhead_table(seed, contenders[1:], described)
            tables["1b"] = parts_table(contenders[1:], seed)
            race_of_1 = (seed, current, contenders[2] if len(contenders) > 2 else None)
            log(f"table 1d: hash tools in the lab on {mib} MiB")
            bench.run(["sh", "-c", 'head -c 64M /dev/urandom > "$1"', "sh", f"{dest}/large.bin"])
            bench.run(["sh", "-c", 'find "$1" -type f -exec cat {} + >/dev/null', "sh", data.mountpoint])  # warm
            lab_hashes = measure(lambda argv: bench.timed(argv).seconds, data.mountpoint, f"{dest}/large.bin",
                                 settings.runs)
            bench.run(["rm", "-f", "--", f"{dest}/large.bin"])
        if mib == smallest and not settings.targets_only:
            log(f"table 5: runbook against CLI at {mib} MiB")
            tables[5] = runbook_table(bench, local, data, f"{mib} MiB in {files:,} small files", dest,
                                      settings.runs, on_target=current.sample.median)
    if not settings.targets_only:
        tables[6] = sizes_table(sorted(points, key=lambda point: point[0]))
    log(f"table 1c: the same work natively on this machine, {largest} MiB")
    tables["1c"], (native_digest_share, share_before), native_hashes = native_table(
        local, largest, settings.runs, median_parts(points[0][3]))
    tables[1].findings += overhead_findings(points, native_digest_share)
    tables["1d"] = hashes_table([("lab (emulated CPU)", lab_hashes), ("this machine", native_hashes)],
                                f"{largest} MiB of small files", "64 MiB in the lab, the fsarchiver archive here",
                                settings.runs)

    small_mib, small_data = settings.small_mib
    log(f"table 0b: lvmkit over SSH against the script on the target, {small_data} MiB in a {small_mib} MiB volume")
    small = bench.make_volume("small", small_mib)
    small_files, _ = bench.fill(small, "small-files", small_data)
    remotes = [Remote("`lvmkit --host lab backup` (this version)")]
    if baseline:
        remotes.append(Remote(f"`lvmkit --host lab backup` before (`{baseline_rev}`)", baseline))
    remote_seed = remote_race(bench, local, small, dest, small_mib, remotes, settings.runs)
    bench.remove_volume(small)
    tables["0b"] = remote_table(remote_seed, remotes, f"{small_mib} MiB holding {small_data} MiB in "
                                                      f"{small_files:,} small files")
    tables[0] = targets_table(target_rows(race_of_1, (remote_seed, remotes), native_digest_share, share_before))
    if settings.targets_only:
        return [tables[key] for key in (0, "0b", 1, "1b", "1c", "1d")]

    target = bench.make_volume("restore", settings.data_volume_mib)
    shapes = []
    for shape in ("small-files", "large-files"):
        log(f"table 2: engines on {settings.engine_mib} MiB of {shape}")
        shapes.append(measure_shape(bench, data, target, dest, shape, settings.engine_mib, settings.runs))
    bench.remove_volume(target)
    tables[2] = engines_table(shapes, settings.runs)
    log("table 3: freeze windows")
    tables[3] = freeze_table(bench, dest, settings.runs)
    log("table 4: copy-on-write")
    tables[4] = cow_table(bench, POOL, settings.runs)
    return [tables[key] for key in (0, "0b", 1, "1b", "1c", "1d", 2, 3, 4, 5, 6)]


def _kept_sections(output: Path) -> str:
    """Tables 2 to 6 of the last full run's page, marked as such (a --targets run measures 0 to 1d)."""
    text = output.read_text() if output.exists() else ""
    start, end = text.find("\n## 2. "), text.find("\n## Method")
    if start < 0 or end < start:
        raise BenchmarkError(f"--targets keeps tables 2 to 6 of {output}, which has none: run the full benchmark")
    machine = text[text.find("## The machine of this run"):text.find("\n## ", text.find("## The machine of this run") + 3)]
    return ("## Tables 2 to 6: from the last full run, not this one\n\n"
            "Measured by the full benchmark before this round's changes, on this machine:\n\n"
            + machine.split("\n", 1)[1].strip() + "\n" + text[start:end] + "\n")


def _baseline_tree(rev: str, share: Path) -> Path:
    """lvmkit at `rev`, unpacked where the lab guest sees it."""
    tree = share / "benchmarks" / f"baseline-{rev}"
    shutil.rmtree(tree, ignore_errors=True)
    tree.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "lvmkit"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _machine(bench: Workbench, settings: Settings) -> list[str]:
    def guest(*argv: str) -> str:
        result = bench.run(list(argv), check=False)
        return (result.stdout + result.stderr).strip().splitlines()[0]

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    commit = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True,
                            text=True).stdout.strip()
    return [
        f"host: {cpu}, {os.cpu_count()} "
        f"cores, {platform.system()} {platform.release()}",
        "target: the lab guest, QEMU with software emulation (TCG), 2 vCPUs, 4 GiB; its volume group "
        "lives on a loop file in the guest's RAM, so disk speed is the emulated CPU's speed",
        f"guest kernel {guest('uname', '-r')}; {guest('lvm', 'version')}; {guest('fsarchiver', '-V')}",
        f"lvmkit at `{commit}`; sizes {', '.join(f'{s} MiB' for s in settings.sizes_mib)}; "
        f"run on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
    ]


INTRO = """
What lvmkit costs over the seed's plain script, whether this round's targets are met (table 0), which engine to use, how long a
consistency group freezes its members, what a snapshot costs the origin's writers, and
what a runbook adds: all measured in one run of one command, on the built-in lab. Our
machines are shared and noisy, so every comparison is made inside the run, side by side,
as a ratio; absolute times are those of an emulated machine and are many times slower
than on real hardware.
"""

EPILOGUE = """
## Method, and how to read it

- Every time is taken on the target (bash's `$EPOCHREALTIME` around the command), except
  table 1c (this machine's own CPU) and table 5 (controlling the lab from here). lvmkit runs on the target
  from this checkout (`python3 -m lvmkit.cli --host local`), as the seed's script does.
- Caches are dropped (`echo 3 > /proc/sys/vm/drop_caches`) before every timed run, so each
  run reads its data from the volume, as a nightly backup does.
- "median (min-max)" is the median of the runs and the fastest and slowest run. Ratios
  are taken per pair of runs made side by side, then summarized the same way.
- Data is made by `benchmarks/fill.py`: half random bytes, half text-like words, in many
  small files (1-64 KiB, ~16 KiB on average) or four large ones; the same every run.
- The code is in `benchmarks/`; `benchmarks/run --quick` checks it in a few minutes with
  tiny sizes (its figures mean little).
"""


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as error:
        print(f"benchmark: {error}", file=sys.stderr)
        sys.exit(1)
