"""The Vagrant VM's volume group, and what is in it, survive a reboot (`vagrant reload`).

Loop devices do not survive a reboot; provision.sh installs a systemd unit
(lvmkit-lab-loops.service) that re-attaches the loop file, activates the volume group and
mounts its volumes at boot. This test writes a file, reboots the VM and reads it back.
Run it last: the reboot takes minutes under emulation and drops every SSH connection.
"""

from __future__ import annotations

import secrets
import subprocess

import pytest

from lvmkit.core.journal import Journal
from lvmkit.targets import VAGRANT_DIR, connect

MACHINE = "debian12"  # the one vagrant/sandbox boots
VG = "labvg"
MARKER = "/srv/lvmkit-lab/ext4vol/reload-marker"
VOLUMES = {"ext4vol", "xfsvol", "thinvol", "pool"}


def volume_group_state(host) -> dict:
    lvs = host.run(["lvs", "--noheadings", "--options", "lv_name,lv_attr", VG]).stdout.split("\n")
    active = {line.split()[0] for line in lvs if line.strip() and line.split()[1][4] == "a"}
    mounted = {name for name in ("ext4vol", "xfsvol", "thinvol")
               if host.run(["mountpoint", "-q", f"/srv/lvmkit-lab/{name}"], check=False).returncode == 0}
    return {"active": active & VOLUMES, "mounted": mounted}


@pytest.mark.lvm
def test_volume_group_and_its_data_survive_vagrant_reload(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    host = connect(f"vagrant:{MACHINE}", journal)
    content = secrets.token_hex(32)
    host.run(["sh", "-c", 'printf %s "$1" > "$2" && sync', "sh", content, MARKER], changes=True)
    boot_before = host.run(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()
    assert volume_group_state(host) == {"active": VOLUMES, "mounted": {"ext4vol", "xfsvol", "thinvol"}}
    host.close()  # the reboot ends the shared connection

    # --no-provision: what comes back must be the boot unit's doing, not provision.sh's
    reload = subprocess.run(["vagrant", "reload", MACHINE, "--no-provision"], cwd=VAGRANT_DIR,
                            capture_output=True, text=True, timeout=1800)
    assert reload.returncode == 0, reload.stdout + reload.stderr

    host = connect(f"vagrant:{MACHINE}", journal)
    try:
        assert host.run(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip() != boot_before, "it rebooted"
        assert host.run(["systemctl", "is-active", "lvmkit-lab-loops.service"], check=False).stdout.strip() == "active"
        assert volume_group_state(host) == {"active": VOLUMES, "mounted": {"ext4vol", "xfsvol", "thinvol"}}
        assert host.run(["cat", MARKER]).stdout == content
    finally:
        host.run(["rm", "-f", MARKER], changes=True, check=False)
        host.close()
