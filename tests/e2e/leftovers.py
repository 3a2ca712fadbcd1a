"""What every end-to-end scenario asserts at its end: lvmkit left nothing behind."""

from __future__ import annotations

from lvmkit.lvm.reports import list_lvs
from lvmkit.lvm.snapshot import LVMKIT_TAG

from .conftest import LAB_VG


def lvmkit_volumes(host) -> list[str]:
    return [lv.full_name for lv in list_lvs(host, LAB_VG) if LVMKIT_TAG in lv.tags]


def lvmkit_mounts(host) -> list[str]:
    mounts = host.run(["findmnt", "--list", "--noheadings", "--output", "TARGET"]).stdout.split()
    return [m for m in mounts if m.startswith("/run/lvmkit/")]


def partial_archives(host, dest: str) -> list[str]:
    return host.run(["find", dest, "-maxdepth", "1", "-name", ".*.partial"]).stdout.split()


def assert_no_leftovers(host, dest: str | None = None) -> None:
    assert lvmkit_volumes(host) == [], "no volume carrying lvmkit's tag may be left"
    assert lvmkit_mounts(host) == [], "no mount of lvmkit's may be left"
    if dest is not None:
        assert partial_archives(host, dest) == [], "no partial archive may be left"
