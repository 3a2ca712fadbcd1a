"""Rebuild from nothing, without a lab: the layouts decoded from the preflight batch recorded
in the lab (tests/fixtures/record_probe.py), the new disk's checks from the batch recorded
by tests/fixtures/record_rebuild.py, and the plan those give."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lvmkit.archive.manifest import LayoutFiles, from_json
from lvmkit.core import declared
from lvmkit.core.batch import batch_argv
from lvmkit.core.plan import execute
from lvmkit.lvm.layout import LayoutError, fstab_lines, parse_dumpe2fs, parse_xfs_info
from lvmkit.ops import rebuild
from lvmkit.ops.rebuild_checks import device_queries
from lvmkit.ops.rebuild_sources import Source

from .conftest import FIXTURES
from .recorded_preflight import preflight

DEVICES = json.loads((FIXTURES / "rebuild" / "cases.json").read_text())


def layout(scripted_host, case: str) -> dict:
    found = preflight(scripted_host, case)
    return json.loads(json.dumps(found.layout))  # as written to layout.json and read back


RECORDED_MANIFEST = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "recorded")


def source(layout_: dict, engine: str = "fsarchiver") -> Source:
    """A set of the volume `layout_` describes: a manifest recorded in the lab, renamed to it."""
    name, fs = layout_["volume"]["name"], layout_["filesystem"]
    manifest = replace(
        RECORDED_MANIFEST, origin=replace(RECORDED_MANIFEST.origin, lv=name, size_bytes=layout_["volume"]["size"]),
        filesystem=replace(RECORDED_MANIFEST.filesystem, type=fs["type"], uuid=fs["uuid"],
                           size_bytes=layout_["volume"]["size"]),
        engine=replace(RECORDED_MANIFEST.engine, name=engine, options={}),
        layout=LayoutFiles("layout.json", "vgcfgbackup.txt"))
    return Source(f"/backups/labvg-{name}-20261130T010000Z-0001", manifest, layout_)


# --- the layout, from the real tools' output --------------------------------------------------

def test_layout_of_recorded_ext4_volume_holds_group_volume_and_superblock(scripted_host):
    found = layout(scripted_host, "ext4vol")
    assert found["volume_group"]["name"] == "labvg"
    assert found["volume_group"]["extent_size"] == 4 << 20
    assert [pv["name"] for pv in found["volume_group"]["physical_volumes"]][0].startswith("/dev/loop")
    assert found["volume"]["size"] == 256 << 20 and not found["volume"]["thin"]
    assert found["volume"]["segments"] == [{"type": "linear", "stripes": 1, "stripe_size": 0, "size": 256 << 20}]
    assert found["thin_pool"] is None
    ext = found["filesystem"]["ext"]
    assert found["filesystem"]["type"] == "ext4" and ext["uuid"] == found["filesystem"]["uuid"]
    assert {"has_journal", "extent", "metadata_csum"} <= set(ext["features"])
    assert (ext["block_size"], ext["inode_size"]) == (1024, 256)  # mke2fs.conf "small": a 256 MiB volume
    assert found["mountpoints"] == ["/srv/lvmkit-lab/ext4vol"]


def test_layout_of_recorded_thin_volume_holds_its_pool(scripted_host):
    found = layout(scripted_host, "thinvol")
    assert found["volume"]["thin"] and found["volume"]["pool"] == "pool"
    assert found["volume"]["segments"][0]["type"] == "thin"
    pool = found["thin_pool"]
    assert pool["name"] == "pool" and pool["size"] == 512 << 20
    assert pool["chunk_size"] > 0 and pool["metadata_size"] > 0


def test_layout_of_recorded_xfs_volume_holds_its_geometry(scripted_host):
    found = layout(scripted_host, "xfsvol")
    geometry = found["filesystem"]["xfs"]
    assert geometry["data"]["bsize"] == 4096 and geometry["meta-data"]["isize"] == 512
    assert geometry["meta-data"]["crc"] == 1 and "agcount" in geometry["meta-data"]
    assert found["filesystem"]["uuid"]


def test_parse_dumpe2fs_without_a_superblock_says_so():
    with pytest.raises(LayoutError, match="no superblock"):
        parse_dumpe2fs("dumpe2fs 1.47.0 (5-Feb-2023)\n")


def test_parse_xfs_info_without_geometry_says_so():
    with pytest.raises(LayoutError, match="no geometry"):
        parse_xfs_info("xfs_info: /dev/x is not a valid XFS filesystem\n")


def test_fstab_lines_are_the_ones_naming_the_volume_by_any_name():
    fstab = ("# /etc/fstab\nUUID=1234 /srv/a ext4 defaults 0 2\n/dev/mapper/vg--x-a /srv/b ext4 defaults 0 2\n"
             "LABEL=data /srv/c xfs defaults 0 0\n/dev/sda1 / ext4 defaults 0 1\n")
    assert fstab_lines(fstab, "vg-x", "a", "1234", "data") == fstab.splitlines()[1:4]
    assert fstab_lines(fstab, "vg-x", "b", None, None) == []


# --- the new disk's checks ------------------------------------------------------------------

def check(scripted_host, case: str, sources):
    device, vg = DEVICES["cases"][case]
    scripted_host.expect(batch_argv(device_queries(device, vg, DEVICES["tools"])),
                         stdout=(FIXTURES / "rebuild" / f"{case}.out").read_text())
    return rebuild.check_target(scripted_host, device, vg, 4 << 20, sources, DEVICES["tools"])


def test_check_target_with_recorded_blank_disk_passes(scripted_host):
    checks = check(scripted_host, "blank", [])
    assert checks.passed, checks.render()
    assert [c.name for c in checks.checks] == ["running as root", "new disk is blank", "volume group name free",
                                               "tools installed", "room on the new disk"]


def test_check_target_with_recorded_used_disk_refuses_its_signature_and_the_existing_group(scripted_host):
    checks = check(scripted_host, "used", [])
    failed = {c.name: c.detail for c in checks.checks if not c.passed}
    assert set(failed) == {"new disk is blank", "volume group name free"}
    assert "LVM2_member" in failed["new disk is blank"] and "wipefs --all" in failed["new disk is blank"]
    assert "volume group labvg exists" in failed["volume group name free"]


def test_check_target_with_volumes_larger_than_the_disk_gives_the_numbers(scripted_host):
    big = {"volume": {"name": "big", "size": 4 << 30, "thin": False}, "thin_pool": None}
    checks = check(scripted_host, "blank", [Source("/b/x", RECORDED_MANIFEST, big)])
    room = next(c for c in checks.checks if c.name == "room on the new disk")
    assert not room.passed and "1024 extents" in room.detail


# --- the plan -------------------------------------------------------------------------------

def rebuild_run(scripted_host, new_uuids=False, engine="fsarchiver"):
    sources = [source(layout(scripted_host, case), engine) for case in ("ext4vol", "thinvol", "xfsvol")]
    request = rebuild.RebuildRequest("/backups", "/dev/loop1", "rbvg", new_uuids=new_uuids)
    volumes = [rebuild._rebuilt(request, "20261130T020000Z-rb01", s) for s in sources]
    return rebuild.RebuildRun(request, "20261130T020000Z-rb01", 4 << 20, rebuild.Preflight(), volumes)


def commands(the_plan) -> list[list[str]]:
    return [argv for step in the_plan.steps for argv in step.commands]


def test_plan_creates_pv_vg_pool_and_volumes_as_recorded_then_restores_each(scripted_host):
    the_plan = rebuild.plan(rebuild_run(scripted_host))
    argvs = commands(the_plan)
    assert argvs[0] == ["pvcreate", "/dev/loop1"]
    assert argvs[1] == ["vgcreate", "--physicalextentsize", f"{4 << 20}b", "rbvg", "/dev/loop1"]
    pool = argvs[2]
    assert pool[:4] == ["lvcreate", "--yes", "--type", "thin-pool"] and f"{512 << 20}b" in pool
    assert "--chunksize" in pool and "--poolmetadatasize" in pool and pool[-1] == "rbvg"
    assert ["lvcreate", "--yes", "--size", f"{256 << 20}b", "--name", "ext4vol", "rbvg"] in argvs
    assert ["lvcreate", "--yes", "--virtualsize", f"{512 << 20}b", "--thin", "--name", "thinvol",
            "rbvg/pool"] in argvs
    restores = [a for a in argvs if a[:1] == ["fsarchiver"]]
    assert [a[-1] for a in restores] == [f"id=0,dest=/dev/rbvg/{n}" for n in ("ext4vol", "thinvol", "xfsvol")]
    mounts = [a for a in argvs if a[:1] == ["mount"]]
    assert mounts[-1][:4] == ["mount", "-t", "xfs", "-o"] and mounts[-1][4] == "nosuid,nodev,nouuid"
    undo = [argv for step in the_plan.steps for argv in step.undo_commands]
    assert ["pvremove", "/dev/loop1"] in undo and ["vgremove", "rbvg"] in undo


def test_plan_with_a_file_engine_makes_each_filesystem_with_its_recorded_uuid_and_label(scripted_host):
    run = rebuild_run(scripted_host, engine="tar")
    argvs = commands(rebuild.plan(run))
    ext4 = next(a for a in argvs if a[0] == "mkfs.ext4" and a[-1] == "/dev/rbvg/ext4vol")
    assert ext4[ext4.index("-U") + 1] == run.volumes[0].source.layout["filesystem"]["uuid"]
    xfs = next(a for a in argvs if a[0] == "mkfs.xfs")
    assert f"uuid={run.volumes[2].source.layout['filesystem']['uuid']}" in xfs


def test_plan_with_new_uuids_gives_each_restored_filesystem_a_new_one(scripted_host):
    argvs = commands(rebuild.plan(rebuild_run(scripted_host, new_uuids=True)))
    assert ["tune2fs", "-U", "random", "/dev/rbvg/ext4vol"] in argvs
    assert ["xfs_admin", "-U", "generate", "/dev/rbvg/xfsvol"] in argvs


def test_plan_interrupted_after_the_volume_group_undoes_it_and_the_pv(scripted_host):
    run = rebuild_run(scripted_host)
    the_plan = rebuild.plan(run)
    the_plan.steps = the_plan.steps[:3]
    scripted_host.expect(["pvcreate", "/dev/loop1"], changes=True)
    scripted_host.expect(["vgcreate", "--physicalextentsize", f"{4 << 20}b", "rbvg", "/dev/loop1"], changes=True)
    scripted_host.expect(the_plan.steps[2].commands[0], changes=True, returncode=5, stderr="interrupted")
    scripted_host.expect(["lvremove", "--yes", "rbvg/pool"], changes=True)
    scripted_host.expect(["vgremove", "rbvg"], changes=True)
    scripted_host.expect(["pvremove", "/dev/loop1"], changes=True)
    with pytest.raises(Exception, match="interrupted"):
        execute(the_plan, scripted_host, log=lambda message: None)
    assert declared.owner() is None
