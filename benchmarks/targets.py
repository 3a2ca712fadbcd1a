"""Table 0: this round's targets side by side, and the race they need that no other table runs:
lvmkit driven over SSH from the controller against the seed's script on the target."""

from __future__ import annotations

import statistics
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.host import Host
from lvmkit.core.journal import Journal, count_commands

from .breakdown import MONITORING_PREFIX
from .overhead import LVMKIT_OPTIONS, TARGET, Contender, Race
from .report import Table
from .stats import Sample, pair_ratios, sample
from .workbench import Volume, Workbench

REMOTE_TARGET = 2.5  # lvmkit --host lab backup against the script on the target
DIGEST_TARGET = 0.25  # the content digest against fsarchiver, natively
COMMANDS_TARGET = 15  # commands a backup sends to the target (queries and changes)
# Measured before this round (the brief of this work): script 2.6-3.0 s, lvmkit 13.3-14.5 s.
REMOTE_BEFORE = "4.75x (13.3-14.5 s against 2.6-3.0 s), measured before this round"
# Table 1 of the last full run before this round (docs/performance.md of 2026-11-26, sha256sum).
TABLE1_BEFORE = "1.589x (1.444-1.713), the last full run"


@dataclass
class Remote:
    """lvmkit on the controller (this machine), controlling the lab over SSH."""

    label: str
    tree: Path | None = None  # None: this checkout
    seconds: list[float] | None = None
    commands: list[int] | None = None

    @property
    def sample(self) -> Sample:
        return sample(self.seconds)


def remote_race(bench: Workbench, local: Host, volume: Volume, dest: str, origin_mib: int,
                remotes: list[Remote], rounds: int) -> Contender:
    """Each round: the seed's script on the target, then each lvmkit from here, the order turning."""
    race = Race(bench, volume, dest, origin_mib)
    seed = Contender("seed script")
    for remote in remotes:
        remote.seconds, remote.commands = [], []
    entrants = [seed, *remotes]
    for index in range(rounds):
        shift = index % len(entrants)
        for entrant in entrants[shift:] + entrants[:shift]:
            if entrant is seed:
                race.once(seed)
            else:
                _remote_once(bench, local, volume, dest, entrant)
    return seed


def _remote_once(bench: Workbench, local: Host, volume: Volume, dest: str, remote: Remote) -> None:
    bench.run(["rm", "-rf", "--", f"{dest}/lvmkit"])
    bench.drop_caches()
    with tempfile.TemporaryDirectory(prefix="lvmkit-bench-remote-") as work:
        journal = Path(work) / "journal.jsonl"
        # -S: no site-packages, so the checkout's editable install cannot shadow the tree asked
        # for; its packages come on the path instead, as Workbench.lvmkit_argv does in the guest.
        path = f"{remote.tree or bench.repo}:{sysconfig.get_paths()['purelib']}"
        # --chdir=/: nor can the checkout in the working directory
        argv = ["env", "--chdir=/", f"PYTHONPATH={path}", sys.executable, "-S", "-m", "lvmkit.cli",
                "--host", "lab", "--journal", str(journal), "backup", volume.spec,
                "--dest", dest, "--name", "lvmkit", *LVMKIT_OPTIONS]
        start = time.perf_counter()
        local.run(argv, changes=True, timeout=1800)
        remote.seconds.append(time.perf_counter() - start)
        entries = Journal.read(journal)
        remote.commands.append(count_commands(entries, entries[0].host, MONITORING_PREFIX).total)
    bench.run(["rm", "-rf", "--", f"{dest}/lvmkit"])


def remote_table(seed: Contender, remotes: list[Remote], data: str) -> Table:
    table = Table(
        "0b. lvmkit over SSH against the seed's script on the target",
        f"`lvmkit --host lab backup` run on this machine (the controller), every command a round trip "
        f"over SSH to the guest, against the seed's script run on the guest itself, backing up the "
        f"same small volume ({data}) with the options of table 1. Caches dropped before every run; "
        f"the runs alternate, the order turning each round; ratio per round against the script.",
        ["what", "runs", "time: median (min-max)", "against the script on the target", "commands sent"],
    )
    table.add("seed script, on the target", seed.sample.n, seed.sample.seconds(), "1", "")
    for remote in remotes:
        table.add(remote.label, remote.sample.n, remote.sample.seconds(),
                  pair_ratios(remote.sample, seed.sample).times(), f"{statistics.median(remote.commands):.0f}")
    return table


def targets_table(rows: list[tuple[str, str, str, bool]]) -> Table:
    """rows: (target, before, measured now, met)."""
    table = Table(
        "0. The targets of this round",
        "Each target, what was measured before this round's changes (the `--baseline` revision in the "
        "same run, unless said otherwise) and now, and whether it is met; the tables below give the "
        "method and the ranges.",
        ["target", "before", "measured", "met?"],
    )
    for target, before, now, met in rows:
        table.add(target, before, now, "yes" if met else "**no**")
    return table


def target_rows(table1: tuple[Contender, Contender, Contender | None], remote: tuple[Contender, list[Remote]],
                digest_share: float, digest_share_before: float | None) -> list[tuple[str, str, str, bool]]:
    """The four rows: table 1's ratio, the SSH race's ratio, the native digest's share, the command count."""
    seed, current, before = table1
    ratio = pair_ratios(current.sample, seed.sample)
    remote_seed, remotes = remote
    now_remote = pair_ratios(remotes[0].sample, remote_seed.sample)
    before_remote = (pair_ratios(remotes[1].sample, remote_seed.sample).times() if len(remotes) > 1 else REMOTE_BEFORE)
    commands = statistics.median(c.total for c in current.commands)
    commands_before = (f"{statistics.median(c.total for c in before.commands):.0f}" if before else
                       f"{statistics.median(remotes[1].commands):.0f} (table 0b)" if len(remotes) > 1 else "")
    return [
        (f"on the target at 256 MiB, lvmkit <= {TARGET:.2f}x the script (proof on)",
         pair_ratios(before.sample, seed.sample).times() if before else TABLE1_BEFORE, ratio.times(),
         ratio.median <= TARGET),
        (f"over SSH from the controller, small volume, <= {REMOTE_TARGET:.1f}x the script on the target",
         before_remote, now_remote.times(), now_remote.median <= REMOTE_TARGET),
        (f"content digest <= {DIGEST_TARGET * 100:.0f}% of fsarchiver's time, natively",
         f"{digest_share_before * 100:.0f}%" if digest_share_before is not None else "54% (sha256sum, last run)",
         f"{digest_share * 100:.0f}%", digest_share <= DIGEST_TARGET),
        (f"<= {COMMANDS_TARGET} commands on the target for a backup (guard readings apart)",
         commands_before, f"{commands:.0f}", commands <= COMMANDS_TARGET),
    ]
