"""Volumes of a test's own under /run/lvmkit-test: made, mounted, dropped."""

from __future__ import annotations

from .conftest import LAB_VG


def make_volume(host, name: str, size: str = "64M") -> str:
    mountpoint = f"/run/lvmkit-test/{name}"
    host.run(["lvcreate", "--quiet", "--yes", "-L", size, "-n", name, LAB_VG], changes=True)
    host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"], changes=True)
    host.run(["mkdir", "-p", mountpoint], changes=True)
    host.run(["mount", f"/dev/{LAB_VG}/{name}", mountpoint], changes=True)
    return mountpoint


def drop_volume(host, name: str) -> None:
    host.run(["umount", f"/run/lvmkit-test/{name}"], changes=True, check=False)
    host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)


def make_mount(host, name: str) -> str:
    mountpoint = f"/run/lvmkit-test/{name}"
    host.run(["mkdir", "-p", mountpoint], changes=True)
    host.run(["mount", f"/dev/{LAB_VG}/{name}", mountpoint], changes=True)
    return mountpoint
