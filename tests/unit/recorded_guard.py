"""An overflow guard on the snapshot rec_valid as the lab recorded it (tests/fixtures/lvm/,
tests/fixtures/dmsetup/): shared by the declared-commands and guard-readings tests."""

from __future__ import annotations

from lvmkit.lvm.guard import GuardSettings, SnapshotGuard
from lvmkit.lvm.reports import parse_lvs
from lvmkit.lvm.snapshot import SnapshotSpec

MIB = 1024 * 1024


def guard_on(host, fixture_text, *, autoextend: bool) -> SnapshotGuard:
    """A guard of labvg/rec_valid (2 extents of 4 MiB, of ext4vol) through `host`, which
    extends it at its next reading when `autoextend`; fixture_text is the fixture."""
    volumes = {v.name: v for v in parse_lvs(fixture_text("lvm/lvs-lab.json"))}
    spec = SnapshotSpec("labvg", "ext4vol", "rec_valid", "20261126T000000Z", 2, 4 * MIB)
    # rec_valid's recorded status is 0.15% used: a threshold below it makes the guard extend.
    settings = GuardSettings(poll_interval_s=3600.0, autoextend=autoextend, extend_at_percent=0.1,
                             autoextend_step="8M")
    return SnapshotGuard(host, spec, volumes["ext4vol"], settings, 100, log=lambda message: None)
