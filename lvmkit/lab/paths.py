"""Where the lab keeps its kernel, keys and the state of a running lab.

LVMKIT_LAB_DIR moves the whole lab (default /var/lib/lvmkit-lab); LVMKIT_LAB_CACHE moves
only its kernel and initramfs, so that several labs share one download and one build.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LAB_DIR = Path("/var/lib/lvmkit-lab")


@dataclass(frozen=True)
class LabPaths:
    root: Path
    shared_cache: Path | None = None  # another lab's cache, used instead of this lab's own

    @classmethod
    def default(cls) -> "LabPaths":
        shared_cache = os.environ.get("LVMKIT_LAB_CACHE")
        return cls(Path(os.environ.get("LVMKIT_LAB_DIR", DEFAULT_LAB_DIR)),
                   Path(shared_cache) if shared_cache else None)

    @property
    def cache(self) -> Path:  # kernel and initramfs, kept across labs
        return self.shared_cache or self.root / "cache"

    @property
    def ssh(self) -> Path:  # keys, kept across labs so known_hosts stays valid
        return self.root / "ssh"

    @property
    def client_key(self) -> Path:
        return self.ssh / "id_ed25519"

    @property
    def host_key(self) -> Path:
        return self.ssh / "ssh_host_ed25519_key"

    @property
    def known_hosts(self) -> Path:
        return self.ssh / "known_hosts"

    @property
    def sshd_config(self) -> Path:
        return self.ssh / "sshd_config"

    @property
    def run(self) -> Path:  # exists only while a lab is up
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.run / "lab.json"

    @property
    def pidfile(self) -> Path:
        return self.run / "qemu.pid"

    @property
    def console_log(self) -> Path:
        return self.run / "console.log"

    @property
    def share(self) -> Path:  # read-write in the guest, at this same path
        return self.root / "share"

    @property
    def persistent_disk(self) -> Path:  # attached as the guest's /dev/vda when it exists
        return self.root / "persistent.img"

    @property
    def loops(self) -> Path:  # loop files of the volume group (this path, in the guest too)
        return self.root / "loops"
