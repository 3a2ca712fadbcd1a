"""Figures for the runbooks: the snapshot guard's readings, the rehearsals' recovery times.

matplotlib draws them with its Agg canvas, created here for each figure (no pyplot, no
global backend, no display needed). A `Plot` is shown by `display.show` as a PNG: the
notebook keeps it as an image/png output, which nbconvert's HTML embeds as a data: URI, so
the record's page needs no external URL and no JavaScript; a terminal gets one text line.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from lvmkit.lvm.guard import GuardReading

DPI = 80  # 640x280 px for the default size: readable, and ~20 KB in a rendered page
SIZE_IN = (8.0, 3.5)
OVERFLOW_PERCENT = 100.0
MAIN = "main"  # the label of a panel's own axis (not the second axis some panels add)


@dataclass(frozen=True)
class Plot:
    """A figure and the line a terminal shows for it."""

    figure: object  # matplotlib.figure.Figure
    summary: str

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=DPI)
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()

    def __repr__(self) -> str:
        return f"[plot] {self.summary}"


def _figure(panels: int = 1):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(SIZE_IN[0], SIZE_IN[1] * panels), layout="constrained")
    FigureCanvasAgg(figure)  # the canvas that savefig renders with: Agg, whatever the environment says
    return figure, figure.subplots(panels, 1, squeeze=False)[:, 0]


def seconds_since_first(times: list[str]) -> list[float]:
    """Seconds from the first of `times` (ISO 8601) to each."""
    if not times:
        return []
    first = datetime.fromisoformat(times[0])
    return [round((datetime.fromisoformat(t) - first).total_seconds(), 3) for t in times]


def guard_plot(panels: list[tuple[str, list[GuardReading]]], warn_at_percent: float | None = None) -> Plot:
    """One panel per (title, readings): the snapshot's usage over the backup, the line at
    which it overflows, and (a second axis) its size where autoextend grew it."""
    figure, axes = _figure(len(panels))
    peaks = []
    for ax, (title, readings) in zip(axes, panels, strict=True):
        seconds = seconds_since_first([r.at for r in readings])
        usage = [r.used_percent for r in readings]
        ax.plot(seconds, usage, marker=".", color="tab:blue", label="used (%)")
        ax.axhline(OVERFLOW_PERCENT, color="tab:red", linestyle="--", label="overflow (100%)")
        if warn_at_percent is not None:
            ax.axhline(warn_at_percent, color="tab:orange", linestyle=":", label=f"warning ({warn_at_percent:g}%)")
        ax.set_ylim(0, 105)
        ax.set_xlabel("seconds since the first reading")
        ax.set_ylabel("copy-on-write space used (%)")
        ax.set_title(title)
        ax.set_label(MAIN)
        sizes = [r.size_bytes for r in readings]
        if len(set(sizes)) > 1 and None not in sizes:  # grown by autoextend: show by how much
            size_axis = ax.twinx()
            size_axis.step(seconds, [s / 2**20 for s in sizes], where="post", color="tab:green",
                           label="snapshot size (MiB)")
            size_axis.set_ylabel("snapshot size (MiB)")
            size_axis.set_ylim(0, max(sizes) / 2**20 * 1.1)
            size_axis.legend(loc="lower right", fontsize="small")
        ax.legend(loc="upper left", fontsize="small")
        peaks.append(f"{title}: {len(readings)} readings, peak {max(usage, default=0):.1f}%")
    return Plot(figure, "; ".join(peaks))


def plotted(plot: Plot) -> list[dict[str, tuple[list[float], list[float]]]]:
    """Per panel, the (x, y) data of each labelled line on its main axis, by label: what a
    test compares with the data the plot was made from."""
    return [{line.get_label(): ([float(x) for x in line.get_xdata()], [float(y) for y in line.get_ydata()])
             for line in ax.get_lines()}
            for ax in plot.figure.axes if ax.get_label() == MAIN]


def rehearsal_plot(times: list[str], rto_s: list[float], rpo_s: list[float], previous_median_s: float | None,
                   limit_s: float | None) -> Plot:
    """RTO and RPO of each rehearsal, oldest first (the last is this one), with the earlier
    rehearsals' median RTO and the line above which this one is flagged slow."""
    figure, (ax,) = _figure()
    numbers = list(range(1, len(times) + 1))
    ax.plot(numbers, rto_s, marker="o", color="tab:blue", label="RTO (s)")
    ax.plot(numbers, rpo_s, marker="s", color="tab:gray", linestyle=":", label="RPO (s)")
    if previous_median_s is not None:
        ax.axhline(previous_median_s, color="tab:green", linestyle="--", label="median RTO of the earlier ones")
        ax.axhline(limit_s, color="tab:red", linestyle="--", label="flagged slow above")
    if rto_s and limit_s is not None and rto_s[-1] > limit_s:
        ax.plot([numbers[-1]], [rto_s[-1]], marker="o", markersize=14, fillstyle="none", color="tab:red",
                linestyle="none", label="this one: slow")
    ax.set_xticks(numbers, [t[5:16].replace("T", " ") for t in times], rotation=30, ha="right", fontsize="small")
    ax.set_xlabel("rehearsal (UTC start)")
    ax.set_ylabel("seconds")
    ax.set_ylim(bottom=0)
    ax.set_title("DR rehearsals: recovery time (RTO) and recovery point (RPO)")
    ax.set_label(MAIN)
    ax.legend(loc="upper left", fontsize="small")
    latest = " ".join(f"{s:.1f}" for s in rto_s[-5:])
    return Plot(figure, f"rehearsals: {len(times)}, RTO of the latest (up to 5): {latest} s")
