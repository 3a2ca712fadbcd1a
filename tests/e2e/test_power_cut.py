"""A power cut right after a set is published: every published set still verifies.

A lab of its own (its own LVMKIT_LAB_DIR under /tmp, the suite's kernel cache, as
test_clone_anywhere.py does) gets a persistent disk (LabPaths.persistent_disk, /dev/vda in
the guest) with an ext4 filesystem for the destination. lvmkit backs up into it with -v;
the moment it starts the step after the publish (removing the snapshot), QEMU is killed
with SIGKILL: what the guest kernel had not yet written to the disk is lost, as in a power
cut. The guest is booted again (without provisioning: only the disk is needed), the disk
mounted (ext4 replays its journal) and `lvmkit verify` run on every published set.

Without the flushes of archive_set.publish_argvs the rename can reach the disk before the
files' data; docs/durability.md has how often that happened. `python -m
tests.e2e.test_power_cut --unsynced N` repeats the cut N times with the flushes taken out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lvmkit import lab
from lvmkit.core.host import Host
from lvmkit.lab import vm
from lvmkit.lab.paths import LabPaths

from .conftest import LAB_VG

REPO = Path(__file__).resolve().parents[2]
DISK_BYTES = 256 << 20
MOUNT = "/run/lvmkit-power/dest"
DEST = f"{MOUNT}/backups"
# Run lvmkit's CLI with the publish's flushes taken out: the version before issue 12.
UNSYNCED = (
    "import sys, lvmkit.ops.backup as b, lvmkit.archive.archive_set as a\n"
    "b.publish_argvs = lambda paths, marker: [argv for argv in a.publish_argvs(paths, marker)"
    " if argv[0] not in ('find', 'sync')]\n"
    "from lvmkit.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


class PowerLab:
    """A lab of its own with a persistent disk; cut() kills its QEMU, boot() starts it again."""

    def __init__(self, top: Path):
        self.paths = LabPaths(top / "lab", shared_cache=LabPaths.default().cache)
        self.env = {**os.environ, "LVMKIT_LAB_DIR": str(self.paths.root),
                    "LVMKIT_LAB_CACHE": str(self.paths.cache)}
        self.journal = top / "journal.jsonl"
        self.pid: int | None = None
        self.port: int | None = None

    def lvmkit(self, *args: str, unsynced: bool = False) -> list[str]:
        entry = ["-c", UNSYNCED] if unsynced else ["-m", "lvmkit.cli"]
        return [sys.executable, *entry, "--journal", str(self.journal), *args]

    def up(self) -> None:
        """The first boot: a new disk with an empty filesystem for the destination."""
        self.paths.root.mkdir(parents=True)
        with open(self.paths.persistent_disk, "wb") as disk:
            disk.truncate(DISK_BYTES)
        self.lab_up()
        self.guest().run(["mkfs.ext4", "-q", "/dev/vda"], changes=True)
        self.mount()
        self.guest().run(["install", "-d", "-m", "0700", DEST], changes=True)

    def lab_up(self) -> None:
        """`lvmkit lab up`: boot and provision the volume group (after a cut, it forgets the dead lab first)."""
        # 1800 s: with eight other labs on this machine's two cores, one took 14 min to come up
        done = subprocess.run(self.lvmkit("lab", "up"), env=self.env, cwd=REPO, capture_output=True, text=True,
                              timeout=1800)
        assert done.returncode == 0, done.stdout + done.stderr
        state = lab.read_state(self.paths)
        self.pid, self.port = state.pid, state.port

    def guest(self) -> Host:
        return vm.guest_host(self.paths, self.port, Host())

    def mount(self) -> None:
        self.guest().run(["mkdir", "-p", MOUNT], changes=True)
        self.guest().run(["mount", "/dev/vda", MOUNT], changes=True)

    def backup_and_cut(self, name: str, *, unsynced: bool = False) -> str:
        """Back up until the set is published, then SIGKILL QEMU; the last line lvmkit printed."""
        argv = self.lvmkit("-v", "--host", "lab", "backup", f"{LAB_VG}/ext4vol", "--dest", DEST,
                           "--engine", "tar", "--name", name, unsynced=unsynced)
        backup = subprocess.Popen(argv, env=self.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        seen = []
        try:
            for line in backup.stdout:
                seen.append(line.rstrip())
                if "] remove snapshot " in line:  # the publish step, flushes and all, is done
                    break
        finally:
            self.cut()
            backup.kill()
            backup.wait()
        assert seen and "] remove snapshot " in seen[-1], "\n".join(seen[-30:])
        return seen[-1]

    def cut(self) -> None:
        if self.pid is None and self.paths.pidfile.exists():  # `lab up` failed after QEMU started
            self.pid = int(self.paths.pidfile.read_text().split()[0])
        if self.pid is not None and vm.is_running(self.pid):
            os.kill(self.pid, signal.SIGKILL)
            while not vm.is_gone(self.pid):
                time.sleep(0.05)

    def boot(self, *, provision: bool) -> None:
        """Boot the guest again; without `provision` only the disk is there (no volume group:
        the loop files were in the guest's RAM), which is all a verification needs."""
        if provision:
            self.lab_up()
        else:
            shutil.rmtree(self.paths.run, ignore_errors=True)
            self.port = vm.free_port()
            self.pid = vm.boot(Host(), self.paths, self.port, REPO)
            self.paths.state_file.write_text(json.dumps({"kind": "vm", "started": "", "port": self.port,
                                                         "pid": self.pid}) + "\n")
        self.mount()

    def published_sets(self) -> list[str]:
        found = self.guest().run(["find", DEST, "-mindepth", "1", "-maxdepth", "1", "-type", "d",
                                  "-not", "-name", ".*"]).stdout
        return sorted(found.split())

    def verify(self, archive_set: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.lvmkit("--host", "lab", "verify", archive_set), env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=600)

    def down(self) -> None:
        if self.port is not None:
            self.guest().close()  # the shared SSH connection would outlive the lab by ten minutes
        self.cut()
        shutil.rmtree(self.paths.run, ignore_errors=True)


@pytest.fixture
def power_lab():
    top = Path(tempfile.mkdtemp(prefix="lvmkit-power-", dir="/tmp"))
    power = PowerLab(top)
    suite_state = lab.read_state(LabPaths.default())
    try:
        power.up()
        yield power
    finally:
        power.down()
        shutil.rmtree(top, ignore_errors=True)
    assert lab.read_state(LabPaths.default()) == suite_state, "the suite's lab is untouched"


def cut_and_verify(power: PowerLab, names: list[str]) -> list[str]:
    """Back up and cut the power once per name; the failures of `lvmkit verify` afterwards."""
    failures = []
    for number, name in enumerate(names, 1):
        power.backup_and_cut(name)
        power.boot(provision=number < len(names))  # the next backup needs the volume group
        for archive_set in power.published_sets():
            result = power.verify(archive_set)
            if result.returncode != 0:
                failures.append(f"{archive_set}: {result.stdout}{result.stderr}")
    return failures


def test_a_set_published_just_before_a_power_cut_verifies_after_it(power_lab):
    assert cut_and_verify(power_lab, ["cut-1"]) == []
    assert power_lab.published_sets() == [f"{DEST}/cut-1"], "the rename survived the cut"


@pytest.mark.full
def test_every_set_published_before_repeated_power_cuts_verifies_after_them(power_lab):
    names = [f"cut-{n}" for n in range(1, 4)]
    assert cut_and_verify(power_lab, names) == []
    assert power_lab.published_sets() == [f"{DEST}/{name}" for name in names]


def unsynced_experiment(runs: int) -> None:
    """Cut the power after an unsynced publish `runs` times; print what each left."""
    top = Path(tempfile.mkdtemp(prefix="lvmkit-power-", dir="/tmp"))
    power = PowerLab(top)
    try:
        power.up()
        for run in range(1, runs + 1):
            name = f"unsynced-{run}"
            power.backup_and_cut(name, unsynced=True)
            power.boot(provision=run < runs)
            path = f"{DEST}/{name}"
            if path not in power.published_sets():
                print(f"run {run}: the rename did not survive (no published set)", flush=True)
                continue
            result = power.verify(path)
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            print(f"run {run}: published set {'verifies' if result.returncode == 0 else 'FAILS'}: "
                  f"{' | '.join(tail)}", flush=True)
    finally:
        power.down()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["--unsynced"] or len(sys.argv) != 3:
        raise SystemExit("usage: python -m tests.e2e.test_power_cut --unsynced RUNS")
    unsynced_experiment(int(sys.argv[2]))
