"""`lvmkit status` from recorded lab outputs."""

from __future__ import annotations

from lvmkit.lvm.lock import list_locks_argv
from lvmkit.lvm.reports import LV_FIELDS, VG_FIELDS
from lvmkit.ops.status import read_status, render


def expect_reports(host, fixture_text):
    host.expect(["vgs", "--reportformat", "json", "--units", "b", "--nosuffix", "-o", ",".join(VG_FIELDS)],
                stdout=fixture_text("lvm/vgs-lab.json"))
    host.expect(["lvs", "--reportformat", "json", "--units", "b", "--nosuffix", "-a", "-o", ",".join(LV_FIELDS)],
                stdout=fixture_text("lvm/lvs-lab.json"))
    host.expect(list_locks_argv(), stdout="")


def test_render_with_lab_snapshots_shows_kinds_usage_and_lvmkit_tag(scripted_host, fixture_text):
    expect_reports(scripted_host, fixture_text)
    table = render(read_status(scripted_host))
    rows = {line.split()[0]: line for line in table.splitlines() if line.startswith("labvg/")}
    assert "invalid snapshot" in rows["labvg/rec_overflowed"] and "100.00%" in rows["labvg/rec_overflowed"]
    assert "thin snapshot" in rows["labvg/rec_thin"]
    assert rows["labvg/rec_valid"].split()[-1] == "STALE", "tagged by lvmkit, and no live run holds it"
    assert "0.15%" in rows["labvg/rec_valid"]
    assert "labvg/pool_tdata" not in rows, "hidden volumes stay out of the table"
    assert "labvg  3.0 GiB" in table


def test_as_dict_with_lab_snapshots_marks_invalid_and_lvmkit_created(scripted_host, fixture_text):
    expect_reports(scripted_host, fixture_text)
    status = read_status(scripted_host).as_dict()
    volumes = {v["name"]: v for v in status["volumes"]}
    assert volumes["rec_overflowed"]["invalid"] is True
    assert volumes["rec_valid"]["created_by_lvmkit"] is True and volumes["rec_valid"]["stale"] is True
    assert volumes["ext4vol"]["created_by_lvmkit"] is False
    assert volumes["rec_thin"]["origin"] == "thinvol"
    assert status["volume_groups"][0]["size_bytes"] == 3217031168


def test_status_limited_to_a_volume_group_keeps_only_its_volumes(scripted_host, fixture_text):
    expect_reports(scripted_host, fixture_text)
    full = read_status(scripted_host)
    assert full.only_vg("labvg").as_dict() == full.as_dict()
    other = full.only_vg("fleetvg")
    assert other.volume_groups == [] and other.volumes == [] and other.locks == []
