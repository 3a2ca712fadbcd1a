"""A clone anywhere: a second lab from a `git clone` under /tmp, which the guest hides.

The guest mounts its own tmpfs over /tmp, /run and /root; the lab shows the checkout it
was started from at the same path again (docs/lab.md). This test clones the repository
under /tmp, brings up a second lab from the clone (its own lab directory under /tmp too,
the suite's kernel cache), backs up one volume with the clone's code, runs the command the
benchmarks' workbench builds, and takes the second lab down. It costs a boot and a
provisioning (about a minute), so it is one test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.workbench import Workbench
from lvmkit import lab
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.lab.paths import LabPaths

from .conftest import LAB_VG

REPO = Path(__file__).resolve().parents[2]


def test_lab_from_a_clone_under_tmp_provisions_backs_up_and_runs_the_workbench_command():
    suite_lab = LabPaths.default()
    suite_state = lab.read_state(suite_lab)
    top = Path(tempfile.mkdtemp(prefix="lvmkit-clone-", dir="/tmp"))
    clone, lab_dir = top / "lvmkit", top / "lab"
    journal = top / "journal.jsonl"
    env = {**os.environ, "LVMKIT_LAB_DIR": str(lab_dir), "LVMKIT_LAB_CACHE": str(suite_lab.cache),
           "PYTHONPATH": str(clone)}

    def clone_lvmkit(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        """The clone's lvmkit, by the suite's interpreter (its venv has the dependencies)."""
        return subprocess.run([sys.executable, "-m", "lvmkit.cli", "--journal", str(journal), *args],
                              env=env, cwd=top, capture_output=True, text=True, timeout=timeout)

    try:
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
        # cwd: python puts the working directory first on its path, ahead of PYTHONPATH.
        imported = subprocess.run([sys.executable, "-c", "import lvmkit; print(lvmkit.__file__)"],
                                  env=env, cwd=top, capture_output=True, text=True, check=True).stdout.strip()
        assert imported == str(clone / "lvmkit" / "__init__.py"), "the clone's code runs, not the suite's"

        up = clone_lvmkit("lab", "up", timeout=900)
        assert up.returncode == 0, up.stdout + up.stderr

        dest = lab_dir / "share" / "backups"  # the guest writes it; this host reads it at the same path
        dest.mkdir(parents=True)
        backup = clone_lvmkit("--host", "lab", "backup", f"{LAB_VG}/ext4vol", "--dest", str(dest),
                              "--engine", "tar", "--name", "from-clone")
        assert backup.returncode == 0, backup.stdout + backup.stderr
        archive_set = dest / "from-clone"
        subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=archive_set, check=True)
        manifest = json.loads((archive_set / "manifest.json").read_text())
        assert manifest["origin"]["vg"] == LAB_VG and manifest["origin"]["lv"] == "ext4vol"

        guest = lab.connect(Host(journal=Journal(journal)), LabPaths(lab_dir))
        assert guest.run(["touch", str(clone / "written-by-the-guest")], check=False).returncode != 0, \
            "the guest sees the clone read-only"
        bench = Workbench(guest, clone, LAB_VG, lab_dir / "share")
        bench.check_repo_visible()
        status = json.loads(bench.lvmkit("status", "--json").stdout)
        assert "ext4vol" in [volume["name"] for volume in status["volumes"]]
    finally:
        down = clone_lvmkit("lab", "down", timeout=120)
        leftovers = _leftovers(lab_dir)
        shutil.rmtree(top, ignore_errors=True)
    assert down.returncode == 0, down.stdout + down.stderr
    assert leftovers == [], "the second lab left nothing behind"
    assert lab.read_state(suite_lab) == suite_state, "the suite's lab is untouched"
    assert suite_state is None or lab.is_up(suite_state), "the suite's lab is still up"


def _leftovers(lab_dir: Path) -> list[str]:
    """QEMU processes, loop devices and run files of the lab at `lab_dir`."""
    found = []
    qemus = subprocess.run(["pgrep", "-f", f"qemu-system.*{lab_dir}/"], capture_output=True, text=True).stdout
    found += [f"QEMU pid {pid}" for pid in qemus.split()]
    loops = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                           capture_output=True, text=True).stdout
    found += [f"loop device {line}" for line in loops.splitlines() if str(lab_dir) in line]
    if (lab_dir / "run").exists():
        found.append(f"run files in {lab_dir / 'run'}")
    return found
