"""End-to-end tests: real LVM, real filesystems, real tools, on the host given by --lvm-host.

They never skip: a host that cannot run LVM fails the session with the reason, because an
end-to-end test that skips itself proves nothing.
"""

from __future__ import annotations

import uuid

import pytest

from lvmkit.core.errors import LvmkitError
from lvmkit.core.journal import Journal
from lvmkit.targets import connect
from tests.tiers import deselect

LAB_VG = "labvg"


def pytest_configure(config):
    config.addinivalue_line("markers", "lab_only: about the built-in lab itself; deselected against any other --lvm-host")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.lvm)
    if config.getoption("--lvm-host") != "lab":
        deselect(config, items, [item for item in items if item.get_closest_marker("lab_only")], _LAB_ONLY)


_LAB_ONLY = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(_LAB_ONLY, 0)
    if count:
        terminalreporter.write_line(f"e2e: {count} test(s) about the built-in lab itself deselected; "
                                    "they run with --lvm-host=lab")


@pytest.fixture(scope="session")
def lvm_host(request, tmp_path_factory):
    spec = request.config.getoption("--lvm-host")
    journal = Journal(tmp_path_factory.mktemp("journal") / "journal.jsonl")
    try:
        host = connect(spec, journal)
        host.run(["dmsetup", "version"])
        host.run(["vgs", LAB_VG])
    except LvmkitError as error:
        pytest.fail(
            f"--lvm-host {spec} cannot run the end-to-end tests: {error}\n"
            f"Start the lab with `lvmkit lab up` (scripts/test does it for you).",
            pytrace=False,
        )
    return host


@pytest.fixture
def unique():
    """A short suffix that keeps names of one test's volumes apart from any other's."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def backup_store(lvm_host):
    """A real ext4 filesystem for archives, as a backup disk would be (rsync's tree keeps
    xattrs, which the guest's tmpfs cannot hold)."""
    name, mountpoint = "t_store", "/run/lvmkit-test/store"
    lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)  # an earlier run's
    lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", "512M", "-n", name, LAB_VG], changes=True)
    try:
        lvm_host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"], changes=True)
        lvm_host.run(["mkdir", "-p", mountpoint], changes=True)
        lvm_host.run(["mount", f"/dev/{LAB_VG}/{name}", mountpoint], changes=True)
        yield mountpoint
    finally:
        lvm_host.run(["umount", mountpoint], changes=True, check=False)
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)


@pytest.fixture
def dest(lvm_host, backup_store, unique):
    """An empty directory for one test's archive sets."""
    path = f"{backup_store}/{unique}"
    lvm_host.run(["mkdir", "-p", path], changes=True)
    yield path
    lvm_host.run(["umount", path], changes=True, check=False)  # a test's tmpfs over it, if still there
    lvm_host.run(["rm", "-rf", "--", path], changes=True)


@pytest.fixture
def new_volume(lvm_host, unique):
    """A name for a volume that the test has lvmkit create; removed afterwards."""
    name = f"r_{unique}"
    yield name
    lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)


@pytest.fixture
def scratch_volume(lvm_host, unique):
    """A fresh ext4 volume in the lab's volume group, mounted; removed afterwards."""
    name = f"t_{unique}"
    mountpoint = f"/run/lvmkit-test/{name}"
    lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", "64M", "-n", name, LAB_VG], changes=True)
    try:
        lvm_host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"], changes=True)
        lvm_host.run(["mkdir", "-p", mountpoint], changes=True)
        lvm_host.run(["mount", f"/dev/{LAB_VG}/{name}", mountpoint], changes=True)
        yield {"vg": LAB_VG, "lv": name, "device": f"/dev/{LAB_VG}/{name}", "mountpoint": mountpoint}
    finally:
        lvm_host.run(["umount", mountpoint], changes=True, check=False)
        lvm_host.run(["rmdir", mountpoint], changes=True, check=False)
        lvm_host.run(["lvremove", "--quiet", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)
