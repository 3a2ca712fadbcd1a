"""Snapshot readings from the kernel's status lines, recorded in the lab."""

from __future__ import annotations

from lvmkit.watch import dm_name, parse_status, read_snapshot


def test_parse_status_with_valid_snapshot_gives_usage_percent(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-rec_valid.txt"))
    assert reading.present and not reading.invalid
    assert reading.percent == round(100 * 24 / 16384, 2)


def test_parse_status_with_overflowed_snapshot_is_invalid(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-rec_overflowed.txt"))
    assert reading.invalid and reading.percent == 100.0


def test_parse_status_with_thin_pool_gives_data_usage(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-pool-tpool.txt"))
    assert not reading.invalid and reading.percent == round(100 * 877 / 8192, 2)


def test_read_snapshot_with_device_gone_reports_absent(scripted_host, fixture_text):
    scripted_host.expect(["dmsetup", "status", "labvg-gone"], returncode=1,
                         stderr=fixture_text("dmsetup/status-missing.stderr"))
    reading = read_snapshot(scripted_host, "labvg", "gone")
    assert not reading.present and reading.invalid


def test_read_snapshot_with_thin_snapshot_reads_its_pool(scripted_host, fixture_text):
    scripted_host.expect(["dmsetup", "status", "labvg-pool-tpool"], stdout=fixture_text("dmsetup/status-pool-tpool.txt"))
    assert read_snapshot(scripted_host, "labvg", "snap", thin_pool="pool").percent == 10.71


def test_dm_name_doubles_hyphens_inside_names():
    assert dm_name("vg-a", "lv-b") == "vg--a-lv--b"
