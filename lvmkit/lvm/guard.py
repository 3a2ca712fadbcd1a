"""The snapshot guard: watches a snapshot from its creation to the last byte read.

A thread reads the snapshot's usage every few seconds (one cheap command), records the
peak, warns at a threshold, grows a thick snapshot with lvextend when asked to, and notes
the problem that must stop the backup: the snapshot overflowed or vanished, or a thin
snapshot's pool is about to fill and stall the origin. The steps that read the snapshot
ask the guard; the final check takes one more reading after the last byte was read.

It keeps its readings (time, usage, the snapshot's size then) for the manifest, where the
runbooks plot them. A long backup polls thousands of times: past MAX_READINGS the guard
drops every other reading it kept (the first always stays) and from then keeps one in two,
then one in four, ...: the readings stay evenly spaced over the whole backup, the latest
(the final check's) is always kept too, and they never exceed MAX_READINGS. The peak is
recorded apart (peak_percent), so thinning never hides it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from lvmkit.core import declared
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.plan import Conditional, Slot
from lvmkit.core.sizes import human, parse_size
from lvmkit.lvm.reports import LogicalVolume
from lvmkit.lvm.snapshot import SnapshotSpec
from lvmkit.lvm.watch import SnapshotReading, read_snapshot

MAX_READINGS = 240  # a 2 s poll keeps every reading of an 8-minute backup; a plot needs no more


@dataclass(frozen=True)
class GuardReading:
    at: str  # UTC, ISO 8601
    used_percent: float  # copy-on-write space used (thick) or the thin pool's data used (thin)
    size_bytes: int | None  # the snapshot's size at the time (autoextend grows it); None: thin


class BoundedReadings:
    """At most `limit` readings, evenly spread over however many were offered, and the latest
    always among them (see above)."""

    def __init__(self, limit: int = MAX_READINGS):
        if limit < 3:
            raise ValueError("keeping the first, the latest and one between needs a limit of 3 or more")
        self.limit = limit
        self._kept: list[GuardReading] = []  # offered readings 0, stride, 2 * stride, ...
        self._latest: GuardReading | None = None
        self._stride = 1
        self._offered = 0

    def offer(self, reading: GuardReading) -> None:
        if self._offered % self._stride == 0 and len(self._kept) >= self.limit:
            del self._kept[1::2]  # the kept ones were `stride` apart: now 2 * stride apart
            self._stride *= 2
        if self._offered % self._stride == 0:
            self._kept.append(reading)
        self._latest = reading
        self._offered += 1

    def values(self) -> list[GuardReading]:
        if self._latest is None or self._kept[-1] is self._latest:
            return list(self._kept)
        return [*self._kept[:self.limit - 1], self._latest]  # the latest instead of the last kept, when full


class SnapshotInvalidated(LvmkitError):
    """The snapshot overflowed (or vanished) before the last byte was read."""


class ThinPoolFilling(LvmkitError):
    """A thin snapshot's pool came close to full: the origin would stall before the backup ended."""


@dataclass(frozen=True)
class GuardSettings:
    poll_interval_s: float = 2.0  # dmsetup status costs ~0.3 s in the emulated lab, nothing on hardware
    warn_at_percent: float = 80.0
    autoextend: bool = False
    extend_at_percent: float = 60.0
    autoextend_step: str = "20%ORIGIN"
    autoextend_max: str = "100%ORIGIN"  # a snapshot as large as its origin cannot overflow
    thin_pool_stop_percent: float = 95.0  # stop before the pool stalls the origin
    keep_snapshot_on_failure: bool = False  # only for the wording of the error


class SnapshotGuard:
    def __init__(self, host: Host, snapshot: SnapshotSpec, origin: LogicalVolume, settings: GuardSettings,
                 vg_free_extents: int, log):
        self.host, self.snapshot, self.origin, self.settings, self.log = host, snapshot, origin, settings, log
        self.snapshot_bytes = snapshot.size_bytes
        self.vg_free_extents = vg_free_extents
        self.extensions: list[dict] = []
        self.readings = BoundedReadings()
        self.peak_percent: float | None = None
        self.percent: float | None = None
        self.bytes_read: int | None = None
        self.engine_pid: int | None = None  # while an engine runs: its bytes read are read too
        self.problem: LvmkitError | None = None
        self._warned = False
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        # The plan step that started the guard: its lvextend is that step's declared command,
        # whichever step runs when the usage passes the threshold, and in whichever thread.
        self._owner: declared.Acting | None = None

    def conditional_commands(self) -> list[Conditional]:
        """What the guard may run besides its readings, for the step that starts it to declare."""
        settings = self.settings
        if self.snapshot.thin or not settings.autoextend:
            return []
        return [Conditional(
            f"the snapshot is {settings.extend_at_percent:g}% used or more (--autoextend): grow it by "
            f"{settings.autoextend_step}, never beyond {settings.autoextend_max} nor the free extents",
            ["lvextend", "--extents", Slot("+extents"), f"{self.snapshot.vg}/{self.snapshot.name}"])]

    def start(self) -> None:
        self._owner = declared.owner()
        self._stopped.clear()
        self._thread = threading.Thread(target=self._watch, name="snapshot-guard", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        while not self._stopped.wait(self.settings.poll_interval_s):
            try:
                self.check_now()
            except Exception as error:  # a failed reading is retried; the final check decides
                self.log(f"warning: could not read the snapshot's usage: {error}")

    def check_now(self) -> SnapshotReading:
        with self._lock:
            reading = read_snapshot(self.host, self.snapshot.vg, self.snapshot.name,
                                    thin_pool=self.origin.pool_lv if self.snapshot.thin else None,
                                    engine_pid=self.engine_pid)
            if reading.percent is not None:
                self.percent = reading.percent
                self.peak_percent = max(self.peak_percent or 0.0, reading.percent)
                self.readings.offer(GuardReading(utc_now().isoformat(), reading.percent, self.snapshot_bytes))
            if reading.bytes_read is not None:
                self.bytes_read = reading.bytes_read
            if self.problem is None:
                self.problem = self._judge(reading)
            return reading

    def raise_problem(self, cause: BaseException | None = None) -> None:
        if self.problem is not None:
            raise self.problem from cause

    def _judge(self, reading: SnapshotReading) -> LvmkitError | None:
        if not reading.present or reading.invalid:
            return self._invalidated(reading)
        percent = reading.percent or 0.0
        settings, name = self.settings, f"{self.snapshot.vg}/{self.snapshot.name}"
        origin = f"{self.origin.vg_name}/{self.origin.name}"
        if self.snapshot.thin:
            if percent >= settings.thin_pool_stop_percent:
                pool = f"{self.snapshot.vg}/{self.origin.pool_lv}"
                return ThinPoolFilling(
                    f"thin pool {pool} is {percent:.1f}% full while the backup of {origin} runs; lvmkit stopped "
                    f"at {settings.thin_pool_stop_percent:.0f}% and removes its snapshot so that the pool does "
                    f"not stall {origin}. Extend the pool (lvextend {pool}) and retry.")
            return None
        if settings.autoextend and percent >= settings.extend_at_percent:
            self._extend(percent)
        elif percent >= settings.warn_at_percent:
            self._warn_once(f"snapshot {name} is {percent:.1f}% used; at 100% it is lost "
                            f"(--autoextend grows it in time)")
        return None

    def _extend(self, percent: float) -> None:
        settings, snapshot, extent = self.settings, self.snapshot, self.snapshot.extent_size
        ceiling = parse_size(settings.autoextend_max, self.origin.size)
        step = parse_size(settings.autoextend_step, self.origin.size)
        # Free extents as the preflight saw them, less what this run took since: no vgs call
        # on the way; if another writer took them, lvextend says so and we warn.
        extents = min(step // extent, (ceiling - self.snapshot_bytes) // extent, self.vg_free_extents)
        name = f"{snapshot.vg}/{snapshot.name}"
        if extents <= 0:
            self._warn_once(f"snapshot {name} is {percent:.1f}% used and cannot grow (ceiling {human(ceiling)}, "
                            f"{self.vg_free_extents} extents free in {snapshot.vg})")
            return
        with declared.acting_for(self._owner):
            grown = self.host.run(["lvextend", "--extents", f"+{extents}", name], changes=True, check=False)
        if grown.returncode != 0:
            self._warn_once(f"could not extend snapshot {name}: {grown.stderr.strip()}")
            return
        self.vg_free_extents -= extents
        before, self.snapshot_bytes = self.snapshot_bytes, self.snapshot_bytes + extents * extent
        self.extensions.append({"at": utc_now().isoformat(), "used_percent": percent,
                                "from_bytes": before, "to_bytes": self.snapshot_bytes})
        self.log(f"snapshot {name} was {percent:.1f}% used: extended from {human(before)} "
                 f"to {human(self.snapshot_bytes)}")

    def _warn_once(self, message: str) -> None:
        if not self._warned:
            self._warned = True
            self.log(f"warning: {message}")

    def _invalidated(self, reading: SnapshotReading) -> SnapshotInvalidated:
        snapshot = self.snapshot
        what = "disappeared (dropped after an overflow)" if not reading.present else "overflowed and became invalid"
        origin = f"{self.origin.vg_name}/{self.origin.name}"
        if snapshot.thin:
            changed = f"its thin pool {snapshot.vg}/{self.origin.pool_lv} failed"
        else:
            changed = (f"more than its {human(self.snapshot_bytes)} of copy-on-write space changed on {origin} "
                       f"(highest usage seen {self.peak_percent or 0:.1f}%)")
        keeping = "the snapshot is kept, as asked" if self.settings.keep_snapshot_on_failure else "the snapshot is removed"
        return SnapshotInvalidated(
            f"snapshot {snapshot.vg}/{snapshot.name} {what} before the last byte was read: {changed}. "
            f"The backup would be worthless: its partial archive is removed and {keeping}. "
            f"What to do: a larger --snapshot-size, --autoextend, a thin volume, or a quieter window.")
