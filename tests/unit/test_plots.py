"""The runbooks' plots: PNGs of exactly the data they were given, embedded in the HTML."""

from __future__ import annotations

import base64
import struct

import nbformat
import pytest
from IPython.core.formatters import DisplayFormatter

from lvmkit.lvm.guard import GuardReading
from lvmkit.runbooks.plots import guard_plot, plotted, rehearsal_plot, seconds_since_first
from lvmkit.runbooks.runner import render_html

MIB = 1024 * 1024


def readings(*points: tuple[str, float, int | None]) -> list[GuardReading]:
    return [GuardReading(f"2026-11-30T01:{at}+00:00", percent, size) for at, percent, size in points]


FILLING = readings(("03:00", 0.2, 8 * MIB), ("03:00.5", 31.0, 8 * MIB), ("03:01", 74.5, 8 * MIB),
                   ("03:01.5", 100.0, 8 * MIB))
GROWN = readings(("03:00", 0.2, 8 * MIB), ("03:02", 55.0, 8 * MIB), ("03:04", 30.1, 40 * MIB), ("03:06", 41.0, 40 * MIB))


def usage_line(points: list[GuardReading]) -> tuple[list[float], list[float]]:
    """What the usage line must show: seconds since the first reading, percent used."""
    return seconds_since_first([r.at for r in points]), [r.used_percent for r in points]


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[12:16] == b"IHDR", "a PNG"
    return struct.unpack(">II", png[16:24])


def test_guard_plot_is_a_png_of_one_panel_per_backup():
    plot = guard_plot([("overflowed", FILLING), ("autoextended", GROWN)], warn_at_percent=80.0)
    width, height = png_size(plot.png())
    assert (width, height) == (640, 560)
    assert len(plotted(plot)) == 2
    assert repr(plot) == "[plot] overflowed: 4 readings, peak 100.0%; autoextended: 4 readings, peak 55.0%"


def test_guard_plot_draws_exactly_the_readings():
    panels = plotted(guard_plot([("overflowed", FILLING), ("autoextended", GROWN)], warn_at_percent=80.0))
    assert [panel["used (%)"] for panel in panels] == [usage_line(FILLING), usage_line(GROWN)]
    assert usage_line(FILLING) == ([0.0, 0.5, 1.0, 1.5], [0.2, 31.0, 74.5, 100.0])
    assert panels[0]["overflow (100%)"][1] == [100.0, 100.0] and panels[0]["warning (80%)"][1] == [80.0, 80.0]


def test_a_plot_of_other_data_does_not_match():
    """The comparison above can fail: a plot of other readings is told apart."""
    plot = guard_plot([("grown", GROWN)])
    assert plotted(plot)[0]["used (%)"] != usage_line(FILLING)
    shifted = readings(*[(r.at[14:19], r.used_percent, r.size_bytes) for r in GROWN[1:]])
    assert plotted(guard_plot([("grown", shifted)]))[0]["used (%)"] != usage_line(GROWN)


def test_guard_plot_draws_the_size_only_where_autoextend_grew_it():
    def size_axes(plot):
        return [ax for ax in plot.figure.axes if ax.get_ylabel() == "snapshot size (MiB)"]

    grown = size_axes(guard_plot([("grown", GROWN)]))
    assert len(grown) == 1 and list(grown[0].get_lines()[0].get_ydata()) == [8.0, 8.0, 40.0, 40.0]
    assert size_axes(guard_plot([("fixed", FILLING)])) == []
    thin = [GuardReading(r.at, r.used_percent, None) for r in GROWN]
    assert size_axes(guard_plot([("thin", thin)])) == []


@pytest.mark.parametrize("rto, slow", [(14.0, True), (13.0, False)])
def test_rehearsal_plot_draws_rto_rpo_the_median_and_marks_a_slow_one(rto, slow):
    plot = rehearsal_plot(["2026-11-28T01:00:00+00:00", "2026-11-29T01:00:00+00:00", "2026-11-30T01:00:00+00:00"],
                          [10.0, 12.0, rto], [20.0, 25.0, 30.0], 11.0, 13.2)
    (panel,) = plotted(plot)
    assert panel["RTO (s)"] == ([1.0, 2.0, 3.0], [10.0, 12.0, rto])
    assert panel["RPO (s)"] == ([1.0, 2.0, 3.0], [20.0, 25.0, 30.0])
    assert panel["median RTO of the earlier ones"][1] == [11.0, 11.0]
    assert ("this one: slow" in panel) is slow
    assert repr(plot) == f"[plot] rehearsals: 3, RTO of the latest (up to 5): 10.0 12.0 {rto:.1f} s"
    png_size(plot.png())


def test_the_first_rehearsal_is_plotted_without_median():
    (panel,) = plotted(rehearsal_plot(["2026-11-30T01:00:00+00:00"], [9.5], [21.0], None, None))
    assert set(panel) == {"RTO (s)", "RPO (s)"}


def test_a_plot_shown_in_a_notebook_is_a_png_that_its_html_embeds(tmp_path):
    plot = guard_plot([("overflowed", FILLING)])
    data, metadata = DisplayFormatter().format(plot)  # what display() sends from the kernel
    assert set(data) == {"image/png", "text/plain"} and data["text/plain"].startswith("[plot] overflowed")
    data["image/png"] = base64.b64encode(data["image/png"]).decode()  # as the kernel's message carries it
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("steps.drill_usage(overflowed, extended)", execution_count=1)
    cell.outputs.append(nbformat.v4.new_output("display_data", data=data, metadata=metadata))
    notebook.cells.append(cell)
    nbformat.write(notebook, tmp_path / "drill.ipynb")
    render_html(tmp_path / "drill.ipynb", tmp_path / "drill.html")
    page = (tmp_path / "drill.html").read_text()
    assert f'src="data:image/png;base64,{data["image/png"]}"' in page
