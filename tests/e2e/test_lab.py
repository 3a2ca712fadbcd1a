"""The lab itself, and the snapshot behaviour every later feature stands on."""

from __future__ import annotations

import json

import pytest

from lvmkit import cli, lab
from lvmkit.core.errors import LabError
from lvmkit.core.host import Host
from lvmkit.lab.paths import LabPaths
from lvmkit.lvm.reports import get_lv, list_lvs, list_vgs

from .conftest import LAB_VG


def tree_checksums(host, directory: str) -> str:
    """sha256 of every file under `directory`, as one sorted listing."""
    listing = host.run(["find", directory, "-type", "f", "-exec", "sha256sum", "{}", "+"]).stdout
    return "\n".join(sorted(listing.splitlines()))


def test_lab_volume_group_has_the_documented_layout(lvm_host):
    (vg,) = list_vgs(lvm_host, LAB_VG)
    volumes = {lv.name: lv for lv in list_lvs(lvm_host, LAB_VG) if not lv.hidden}
    assert {"ext4vol", "xfsvol", "pool", "thinvol"} <= set(volumes)
    assert volumes["pool"].attr.is_thin_pool
    assert volumes["thinvol"].attr.is_thin and volumes["thinvol"].pool_lv == "pool"
    assert vg.free >= 1024**3, "the lab keeps at least 1 GiB free for snapshots and restores"
    filesystems = [
        # -p: probe the device itself; the lab guest has no udev database for lsblk to read
        lvm_host.run(["blkid", "-p", "-o", "value", "-s", "TYPE", f"/dev/{LAB_VG}/{lv}"]).stdout.strip()
        for lv in ("ext4vol", "xfsvol")
    ]
    assert filesystems == ["ext4", "xfs"]
    files = lvm_host.run(["find", "/srv/lvmkit-lab/ext4vol", "-type", "f"]).stdout.splitlines()
    assert len(files) > 1000, "sample data: thousands of files"


def test_snapshot_overflow_invalidates_snapshot_and_leaves_origin_intact(lvm_host, scratch_volume, unique):
    mountpoint, origin = scratch_volume["mountpoint"], scratch_volume["lv"]
    lvm_host.run(["cp", "-a", "/usr/share/zoneinfo", f"{mountpoint}/data"], changes=True)
    lvm_host.run(["sync"], changes=True)
    before = tree_checksums(lvm_host, f"{mountpoint}/data")
    snapshot = f"s_{unique}"
    lvm_host.run(["lvcreate", "--quiet", "-s", "-L", "8M", "-n", snapshot, f"{LAB_VG}/{origin}"], changes=True)
    try:
        fresh = get_lv(lvm_host, LAB_VG, snapshot)
        assert fresh.attr.is_snapshot and not fresh.attr.is_invalid_snapshot
        assert fresh.snap_percent is not None and fresh.snap_percent < 50
        # 20 MiB of new blocks on the origin: far more than the 8 MiB the snapshot reserved.
        lvm_host.run(["dd", "if=/dev/urandom", f"of={mountpoint}/flood.bin", "bs=1M", "count=20",
                      "conv=fsync"], changes=True)
        overflowed = get_lv(lvm_host, LAB_VG, snapshot)
        assert overflowed.attr.is_invalid_snapshot
        assert overflowed.attr.state == "invalid_snapshot"
        assert overflowed.snap_percent == 100.0
        origin_lv = get_lv(lvm_host, LAB_VG, origin)
        assert origin_lv.attr.is_origin and origin_lv.attr.is_open
        assert tree_checksums(lvm_host, f"{mountpoint}/data") == before
    finally:
        lvm_host.run(["lvremove", "--quiet", "--yes", f"{LAB_VG}/{snapshot}"], changes=True, check=False)


def test_status_command_shows_lab_volume_group_as_json(lvm_host, capsys, request):
    spec = request.config.getoption("--lvm-host")
    assert cli.main(["--host", spec, "--journal", "/dev/null", "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert LAB_VG in [vg["name"] for vg in status["volume_groups"]]
    names = {(v["vg"], v["name"]): v for v in status["volumes"]}
    assert names[(LAB_VG, "pool")]["kind"] == "thin pool"
    assert names[(LAB_VG, "ext4vol")]["kind"] == "volume"


@pytest.mark.lab_only
def test_lab_up_while_up_refuses_and_starts_no_second_guest(lvm_host):
    paths = LabPaths.default()
    state = lab.read_state(paths)
    with pytest.raises(LabError, match="a lab is up already"):
        lab.up(Host(), paths)
    assert lab.read_state(paths) == state
    # Only this lab's guests: other labs (their own LVMKIT_LAB_DIR) may run beside it.
    qemus = Host().run(["pgrep", "-f", f"qemu-system-x86_64 .*-pidfile {paths.pidfile} "], check=False).stdout.split()
    assert qemus == [str(state.pid)] if state.kind == "vm" else qemus == []
