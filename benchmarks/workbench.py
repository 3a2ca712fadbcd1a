"""The benchmark's workbench in the lab: volumes, data, and commands timed on the target.

Every time is taken on the target itself (bash's $EPOCHREALTIME around the command), so
the SSH round trip that brings the command there is not in it. lvmkit runs on the target
too (`--host local`, from this checkout, which the lab guest sees at the same path wherever
it lives, read-only: docs/lab.md), as
the seed's script does: the comparison is of the work, not of the way it is started.
"""

from __future__ import annotations

import json
import shlex
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.host import CommandResult, Host
from lvmkit.core.journal import JournalEntry

GUEST_ROOT = "/srv/lvmkit-bench"  # mountpoints of the benchmark's volumes, in the guest
PREFIX = "bench"  # every volume the benchmark makes is named bench*; it removes them all at the end
GUEST_JOURNAL = "/run/lvmkit-bench/journal.jsonl"
MIB = 1024 * 1024

# Prints the start and end of the command on stderr's last line; exits with its status.
TIMED = r'''start=$EPOCHREALTIME; "$@"; rc=$?; end=$EPOCHREALTIME
printf '\nlvmkit-bench-time %s %s\n' "$start" "$end" >&2; exit $rc'''


class BenchmarkError(Exception):
    pass


@dataclass(frozen=True)
class Timed:
    seconds: float
    result: CommandResult


@dataclass(frozen=True)
class LvmkitRun:
    seconds: float
    stdout: str
    journal: list[JournalEntry]


@dataclass(frozen=True)
class Volume:
    vg: str
    name: str
    fstype: str

    @property
    def spec(self) -> str:
        return f"{self.vg}/{self.name}"

    @property
    def device(self) -> str:
        return f"/dev/{self.vg}/{self.name}"

    @property
    def mountpoint(self) -> str:
        return f"{GUEST_ROOT}/{self.name}"


class Workbench:
    def __init__(self, host: Host, repo: Path, vg: str, share: Path):
        self.host, self.repo, self.vg, self.share = host, repo, vg, share
        self.volumes: list[Volume] = []

    # --- commands ------------------------------------------------------------------------

    def run(self, argv: list[str], *, check: bool = True, timeout: float = 3600) -> CommandResult:
        return self.host.run(argv, changes=True, check=check, timeout=timeout)

    def timed(self, argv: list[str], *, timeout: float = 3600) -> Timed:
        result = self.run(["bash", "-c", TIMED, "bash", *argv], timeout=timeout)
        last = result.stderr.rstrip("\n").rsplit("\n", 1)[-1].split()
        if len(last) != 3 or last[0] != "lvmkit-bench-time":
            raise BenchmarkError(f"no time from {shlex.join(argv)}: {result.stderr[-300:]!r}")
        return Timed(float(last[2]) - float(last[1]), result)

    def drop_caches(self) -> None:
        """Every run starts from cold caches, as a nightly backup does."""
        self.run(["sh", "-c", "sync && echo 3 > /proc/sys/vm/drop_caches"])

    def lvmkit_argv(self, *args: str, tree: Path | None = None) -> list[str]:
        """lvmkit from this checkout (or another tree), run by the target's python3.

        The lab guest sees this machine's files and the checkout the lab was started from
        (with its .venv), but not the rest of /root, /tmp and /run, where a virtual
        environment's interpreter may live: its packages are put on the path instead (the
        guest's python3 is the same Debian 3.11). Versions before 9d55b79 import Jupyter's
        client for every command.
        """
        path = f"{tree or self.repo}:{sysconfig.get_paths()['purelib']}"
        return ["env", f"PYTHONPATH={path}", "python3", "-m", "lvmkit.cli",
                "--host", "local", "--journal", GUEST_JOURNAL, *args]

    def lvmkit(self, *args: str, tree: Path | None = None) -> LvmkitRun:
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && rm -f "$1"', "sh", GUEST_JOURNAL])
        timed = self.timed(self.lvmkit_argv(*args, tree=tree))
        lines = self.run(["cat", GUEST_JOURNAL]).stdout.splitlines()
        journal = [JournalEntry(**json.loads(line)) for line in lines if line.strip()]
        return LvmkitRun(timed.seconds, timed.result.stdout, journal)

    def check_repo_visible(self) -> None:
        marker = self.repo / "lvmkit" / "__init__.py"
        if self.run(["test", "-f", str(marker)], check=False).returncode != 0:
            raise BenchmarkError(
                f"the lab guest does not see {self.repo}: it sees the host's files except /root, /tmp "
                f"and /run, and the checkout the lab was started from; start the lab from this "
                f"checkout (lvmkit lab down; {self.repo}/.venv/bin/lvmkit lab up) to benchmark it")

    # --- volumes and data ----------------------------------------------------------------

    def free_mib(self) -> int:
        out = self.run(["vgs", "--noheadings", "--units", "m", "--nosuffix", "-o", "vg_free", self.vg]).stdout
        return int(float(out.strip()))

    def make_volume(self, name: str, size_mib: int, fstype: str = "ext4", *, pool: str | None = None) -> Volume:
        volume = Volume(self.vg, f"{PREFIX}{name}", fstype)
        size = ["--virtualsize", f"{size_mib}M", "--thin", f"{self.vg}/{pool}"] if pool else \
               ["--size", f"{size_mib}M", self.vg]
        self.run(["lvcreate", "--quiet", "--yes", "--name", volume.name, *size])
        self.volumes.append(volume)
        self.make_filesystem(volume)
        return volume

    def make_filesystem(self, volume: Volume) -> None:
        self.run(["umount", volume.mountpoint], check=False)
        # ext4 zeroes its inode tables and journal in the background after mkfs unless told
        # to do it now: that writing would fall into the next timed runs (seen: 0.4 s -> 2.9 s).
        options = ["-f"] if volume.fstype == "xfs" else ["-E", "lazy_itable_init=0,lazy_journal_init=0"]
        self.run([f"mkfs.{volume.fstype}", "-q", *options, volume.device])
        self.run(["mkdir", "-p", volume.mountpoint])
        self.run(["mount", volume.device, volume.mountpoint])

    def fill(self, volume: Volume, shape: str, mib: int) -> tuple[int, int]:
        """A new filesystem on the volume, filled with `mib` MiB of `shape`: (files, bytes)."""
        self.make_filesystem(volume)
        out = self.run(["python3", str(self.repo / "benchmarks" / "fill.py"), volume.mountpoint,
                        "--shape", shape, "--mib", str(mib)]).stdout.split()
        return int(out[0]), int(out[1])

    def remove_volume(self, volume: Volume) -> None:
        self.run(["umount", volume.mountpoint], check=False)
        self.run(["lvremove", "--quiet", "--yes", volume.spec], check=False)
        if volume in self.volumes:
            self.volumes.remove(volume)

    def clean_up(self) -> None:
        for volume in list(reversed(self.volumes)):
            self.remove_volume(volume)
        self.run(["rm", "-rf", "--", GUEST_ROOT, str(Path(GUEST_JOURNAL).parent)], check=False)

    def share_file(self, name: str, text: str) -> str:
        """A file the guest reads at the same path."""
        path = self.share / "benchmarks" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)
