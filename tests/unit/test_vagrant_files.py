"""vagrant/ is checked offline: the Vagrantfile validates, its scripts pass shellcheck.
(scripts/test --lvm-host=vagrant boots the box for real: tests/vagrant/.)"""

from __future__ import annotations

from pathlib import Path

from lvmkit.core.host import Host

VAGRANT = Path(__file__).resolve().parents[2] / "vagrant"


def test_vagrantfile_validates_offline_for_both_boxes():
    # --ignore-provider: no provider (libvirt, VirtualBox) runs here, and none is needed to validate
    result = Host().run(["env", f"--chdir={VAGRANT}", "vagrant", "validate", "--ignore-provider"])
    assert "Vagrantfile validated successfully" in result.stdout
    text = (VAGRANT / "Vagrantfile").read_text()
    assert 'define "debian12"' in text and 'define "rocky9"' in text
    assert text.count('path: "provision.sh"') == 2, "both boxes are built by the lab's own script"


def test_provision_script_passes_shellcheck(shellcheck):
    shellcheck([VAGRANT / "provision.sh", VAGRANT / "sandbox", VAGRANT / "box" / "build",
                *sorted((VAGRANT.parent / "scripts").iterdir())])
