"""The runbooks' plotting steps: how full the snapshot came, and the rehearsals' trend.

Each shows a plot (plots.py) and a table with the numbers a reader should take away.
"""

from __future__ import annotations

from pathlib import Path

from lvmkit.core.sizes import human
from lvmkit.lvm.guard import GuardReading, GuardSettings
from lvmkit.ops.backup import BackupRun
from lvmkit.runbooks import rehearsals
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.plots import OVERFLOW_PERCENT, guard_plot, rehearsal_plot, seconds_since_first


def readings_in(manifest_dict: dict) -> list[GuardReading]:
    """The guard's readings in a manifest as a dict (what the steps return)."""
    return [GuardReading(**r) for r in manifest_dict["snapshot"].get("readings", [])]


def snapshot_usage(run: BackupRun) -> None:
    """How close the backup's snapshot came to overflowing, over the time the engine read it."""
    snapshot = run.manifest.snapshot
    readings = list(snapshot.readings)
    if not readings:
        show(Table(["", ""], [["readings", "none: the backup ended before the guard's first reading"]],
                   "snapshot usage"))
        return
    what = "its thin pool's data" if snapshot.thin else "its copy-on-write space"
    show(guard_plot([(f"snapshot {snapshot.name}: {what} used", readings)], run.request.guard.warn_at_percent))
    peak = max(readings, key=lambda r: r.used_percent)
    rows = [["readings", f"{len(readings)} over {seconds_since_first([r.at for r in readings])[-1]:.0f} s"],
            ["peak", f"{snapshot.peak_percent or 0:.1f}% used"],
            ["headroom left at the peak", f"{OVERFLOW_PERCENT - (snapshot.peak_percent or 0):.1f}%"]]
    if peak.size_bytes is not None:
        rows.append(["room used at the peak", f"{human(int(peak.size_bytes * peak.used_percent / 100))} "
                                              f"of {human(peak.size_bytes)}"])
    show(Table(["", ""], rows, "how close the snapshot came to overflowing"))


def drill_usage(overflowed: dict, extended: dict) -> None:
    """The copy-on-write space filling during both drill backups: lost at 100%, then kept
    below it by autoextend."""
    panels = [("without autoextend: the snapshot overflows", readings_in(overflowed)),
              ("with autoextend: grown before it fills", readings_in(extended))]
    show(guard_plot(panels, GuardSettings().warn_at_percent))


def recovery_trend(report: dict, record_dir: str = "") -> rehearsals.Verdict:
    """This rehearsal's RTO and RPO beside the earlier ones of the same volume and engine in
    the records, and whether it was slower than their median by more than 20%."""
    previous = []
    if record_dir:
        record = Path(record_dir)
        previous = rehearsals.history(record.parent, report["origin"], report["engine"], before=record.name)
    verdict = rehearsals.judge(previous, report["rto_s"])
    show(rehearsal_plot([r.start for r in previous] + [report["data_as_of"]],
                        [r.rto_s for r in previous] + [report["rto_s"]],
                        [r.rpo_s for r in previous] + [report["rpo_s"]],
                        verdict.previous_median_s, verdict.limit_s))
    show(Table(["", ""], [["this rehearsal", verdict.summary()],
                          ["compared with", f"{len(previous)} earlier succeeded rehearsals of {report['origin']} "
                                            f"with {report['engine']} in these records, intact in the audit chain"]],
               "recovery time trend"))
    if verdict.slow:
        print(f"warning: {verdict.summary()}")
    return verdict

