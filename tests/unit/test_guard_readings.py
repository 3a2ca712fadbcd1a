"""The guard keeps its readings, bounded, and the manifest carries them and reads them back."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lvmkit.archive.manifest import ManifestError, from_json
from lvmkit.core import schemas
from lvmkit.core.plan import Step, acting
from lvmkit.lvm.guard import MAX_READINGS, BoundedReadings, GuardReading
from lvmkit.lvm.watch import read_argv

from .conftest import FIXTURES
from .recorded_guard import MIB, guard_on

WHERE = "/backups/set/manifest.json"


def reading(number: int) -> GuardReading:
    return GuardReading(f"2026-11-30T01:{number // 60 % 60:02d}:{number % 60:02d}+00:00", number % 100, 8 * MIB)


def offered(count: int, limit: int = MAX_READINGS) -> list[GuardReading]:
    readings = BoundedReadings(limit)
    for number in range(count):
        readings.offer(reading(number))
    return readings.values()


def test_readings_under_the_limit_are_all_kept_in_order():
    assert offered(MAX_READINGS) == [reading(n) for n in range(MAX_READINGS)]


@pytest.mark.parametrize("count", [MAX_READINGS + 1, 1000, 3601, 20000])
def test_readings_past_the_limit_are_thinned_evenly_keeping_the_first_and_the_latest(count):
    kept = offered(count)
    assert MAX_READINGS // 2 <= len(kept) <= MAX_READINGS
    assert kept[0] == reading(0) and kept[-1] == reading(count - 1)
    numbers = [int(r.at[14:16]) * 60 + int(r.at[17:19]) for r in kept[:-1]]  # minutes:seconds, below an hour
    if count <= 3600:
        gaps = {b - a for a, b in zip(numbers, numbers[1:], strict=False)}
        assert len(gaps) == 1, f"evenly spaced: {sorted(gaps)}"


def test_thinning_keeps_exactly_the_multiples_of_the_stride():
    kept = offered(23, limit=6)  # strides 1, 2, 4: readings 0, 4, 8, 12, 16 and the latest, 22
    assert [int(r.at[-8:-6]) for r in kept] == [0, 4, 8, 12, 16, 22]
    assert len(offered(1000, limit=3)) <= 3


def test_a_limit_too_small_to_keep_first_and_latest_is_refused():
    with pytest.raises(ValueError, match="3 or more"):
        BoundedReadings(2)


def test_guard_records_each_reading_with_the_size_the_snapshot_had_then(scripted_host, fixture_text):
    guard = guard_on(scripted_host, fixture_text, autoextend=True)  # extends at 0.1%; rec_valid is 0.15%
    status = fixture_text("dmsetup/status-rec_valid.txt")
    watch = Step("watch", [], conditional=guard.conditional_commands())
    scripted_host.expect(read_argv("labvg-rec_valid"), stdout=status)
    scripted_host.expect(["lvextend", "--extents", "+2", "labvg/rec_valid"], changes=True)
    scripted_host.expect(read_argv("labvg-rec_valid"), stdout=status)
    with acting(watch):
        guard.check_now()
        guard.settings = replace(guard.settings, autoextend=False)
        guard.check_now()
    readings = guard.readings.values()
    assert [(r.used_percent, r.size_bytes) for r in readings] == [(0.15, 8 * MIB), (0.15, 16 * MIB)]
    assert readings[0].at <= readings[1].at and readings[0].at.endswith("+00:00")


def with_readings(readings: list[GuardReading]) -> str:
    manifest = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), WHERE)
    return replace(manifest, snapshot=replace(manifest.snapshot, readings=tuple(readings))).to_json()


def test_manifest_with_readings_reads_back_equal_and_satisfies_the_schema():
    text = with_readings(offered(1000))
    manifest = from_json(text, WHERE)
    assert manifest.snapshot.readings == tuple(offered(1000)) and manifest.to_json() == text
    assert schemas.problems(json.loads(text), "manifest.json") == []


def test_manifest_without_readings_writes_none_back():
    text = (FIXTURES / "manifest" / "single-tar-thick.json").read_text()
    assert "readings" not in text and from_json(text, WHERE).snapshot.readings == ()
    assert "readings" not in with_readings([])


@pytest.mark.parametrize("change, field", [
    (lambda r: r.append(r[0]) or r, "snapshot.readings"),  # one more than the guard ever keeps
    (lambda r: [{**r[0], "used_percent": 101}], "snapshot.readings"),
    (lambda r: [{**r[0], "at": "yesterday"}], "snapshot.readings"),
])
def test_manifest_with_readings_lvmkit_would_not_write_is_refused_naming_the_field(change, field):
    data = json.loads(with_readings(offered(MAX_READINGS)))
    data["snapshot"]["readings"] = change(data["snapshot"]["readings"])
    with pytest.raises(ManifestError, match=rf"manifest field {field}"):
        from_json(json.dumps(data), WHERE)
