"""LVM snapshots that lvmkit creates, tags, and alone may remove."""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host
from lvmkit.lvm.reports import get_lv

LVMKIT_TAG = "lvmkit"  # every volume lvmkit creates carries it; cleanup looks for nothing else


def run_tag(run_id: str) -> str:
    return f"lvmkit-run-{run_id}"


@dataclass(frozen=True)
class SnapshotSpec:
    vg: str
    origin: str
    name: str
    run_id: str
    extents: int | None  # None: a thin snapshot, which takes its room from the thin pool
    extent_size: int = 0

    @property
    def size_bytes(self) -> int | None:
        return None if self.extents is None else self.extents * self.extent_size

    @property
    def thin(self) -> bool:
        return self.extents is None

    @property
    def device(self) -> str:
        return f"/dev/{self.vg}/{self.name}"

    @property
    def tags(self) -> tuple[str, str]:
        return (LVMKIT_TAG, run_tag(self.run_id))

    def create_argv(self) -> list[str]:
        tags = [word for tag in self.tags for word in ("--addtag", tag)]
        if self.thin:
            # A thin snapshot gets LVM's activation-skip flag by default and would stay
            # inactive, without a device node: --setactivationskip n makes it usable at once.
            size = ["--setactivationskip", "n"]
        else:
            # Extents, not bytes: LVM wants byte sizes in multiples of 512, extents are exact.
            size = ["--extents", str(self.extents)]
        return ["lvcreate", "--snapshot", *size, "--name", self.name, *tags, f"{self.vg}/{self.origin}"]

    def remove_argv(self) -> list[str]:
        return ["lvremove", "--yes", f"{self.vg}/{self.name}"]  # --yes: no prompt without a terminal


def remove_if_ours(host: Host, vg: str, name: str, required_tag: str = LVMKIT_TAG) -> bool:
    """Remove VG/NAME if it exists and carries `required_tag`; True if it was removed.

    A volume without the tag is refused loudly: lvmkit never removes what it did not create.
    """
    volume = get_lv(host, vg, name)
    if volume is None:
        return False
    if required_tag not in volume.tags:
        raise LvmkitError(
            f"refusing to remove {vg}/{name}: it does not carry the tag {required_tag!r}, so lvmkit "
            f"did not create it (its tags: {', '.join(volume.tags) or 'none'})"
        )
    host.run(["lvremove", "--yes", f"{vg}/{name}"], changes=True)
    return True
