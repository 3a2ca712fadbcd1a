"""Table 5: the backup runbook against the CLI, both controlling the lab from this machine."""

from __future__ import annotations

import sys
import tempfile
import time

from lvmkit.core.host import Host

from .report import Table
from .stats import pair_ratios, sample
from .workbench import Volume, Workbench


def runbook_table(bench: Workbench, local: Host, volume: Volume, data: str, dest: str, runs: int,
                  on_target: float | None) -> Table:
    lvmkit = [sys.executable, "-m", "lvmkit.cli", "--host", "lab"]
    cli_argv = [*lvmkit, "backup", volume.spec, "--dest", dest, "--name", "cli"]
    times = {"cli": [], "runbook": []}
    with tempfile.TemporaryDirectory(prefix="lvmkit-bench-records-") as records:
        runbook_argv = [*lvmkit, "runbook", "run", "backup", "-p", "origin", volume.spec, "-p", "dest", dest,
                        "--change", "BENCH", "--records", records]
        for index in range(runs):
            order = [("cli", cli_argv), ("runbook", runbook_argv)]
            for name, argv in order if index % 2 == 0 else order[::-1]:
                bench.run(["sh", "-c", 'rm -rf -- "$1"/*', "sh", dest])
                bench.drop_caches()
                start = time.perf_counter()
                local.run(argv, changes=True, timeout=1800)
                times[name].append(time.perf_counter() - start)
        bench.run(["sh", "-c", 'rm -rf -- "$1"/*', "sh", dest])
    cli, runbook = sample(times["cli"]), sample(times["runbook"])
    table = Table(
        "5. The backup runbook against the CLI",
        f"`lvmkit --host lab runbook run backup` (papermill executes the notebook, keeps the "
        f"executed notebook, its HTML, the journal and the audit line) against `lvmkit --host "
        f"lab backup` with the same parameters (engine fsarchiver, defaults), both run on this "
        f"machine and controlling the lab over SSH, on the same volume ({data}). Caches dropped "
        f"before each run; {runs} runs of each, alternating; ratio per pair.",
        ["what", "runs", "time: median (min-max)", "against the CLI"],
    )
    table.add("`lvmkit --host lab backup`", cli.n, cli.seconds(), "1")
    table.add("`lvmkit --host lab runbook run backup`", runbook.n, runbook.seconds(), pair_ratios(runbook, cli).times())
    if on_target is not None:
        table.findings.append(
            f"The same backup by lvmkit on the target itself took {on_target:.2f} s (table 6, median); "
            f"controlled over SSH from this machine, {cli.median - on_target:+.2f} s: every command is "
            f"one round trip to the guest, while lvmkit's own Python runs here natively, not emulated.")
    table.findings.append(f"The runbook adds {runbook.median - cli.median:.2f} s: starting a Jupyter kernel, "
                          f"executing and saving the notebook, rendering its HTML, the record and the audit line.")
    return table
