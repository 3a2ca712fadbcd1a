"""The operator's terminal: a live line that never wraps, permanent lines for what matters."""

from __future__ import annotations

import io

import pytest

from lvmkit.terminal import OperatorLog, Terminal, classify

from .fake_terminal import FakeTty, screen


@pytest.fixture
def tty(monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")  # FakeTty has no fileno: the width comes from $COLUMNS
    return FakeTty()


def test_terminal_on_a_tty_redraws_the_live_line_in_place_cut_to_the_width(tty):
    terminal = Terminal(tty)
    terminal.status("[1/2] a step")
    terminal.write("\r" + "progress 10%".ljust(100))
    terminal.write("\r" + "progress 100%, done" + "\n")
    terminal.status("[2/2] a step whose title is far longer than the terminal is wide")
    assert screen(tty.getvalue()) == ["progress 100%, done", "[2/2] a step whose title is far longer "]
    assert all(len(row) < 40 for row in screen(tty.getvalue()))


def test_terminal_on_a_tty_keeps_the_live_line_above_a_permanent_one_and_clear_erases_it(tty):
    terminal = Terminal(tty)
    terminal.status("[3/9] mount the snapshot")
    terminal.line("warning: snapshot 85% used")
    terminal.status("[4/9] read the snapshot")
    terminal.clear()
    terminal.line("backed up")
    assert screen(tty.getvalue()) == ["[3/9] mount the snapshot", "warning: snapshot 85% used", "backed up"]


def test_terminal_in_a_log_writes_each_live_line_once_when_it_is_final():
    log = io.StringIO()
    terminal = Terminal(log)
    terminal.write("\rfsarchiver: 10%" + " " * 50)
    terminal.write("\rfsarchiver: 60%" + " " * 50)
    terminal.write("\r")
    terminal.write("fsarchiver: 100%, done\n")
    terminal.status("[8/12] unmount the snapshot")
    assert log.getvalue() == "fsarchiver: 100%, done\n[8/12] unmount the snapshot\n"


def test_quiet_terminal_erases_a_live_line_that_ends_on_a_tty_and_keeps_permanent_lines(tty):
    terminal = Terminal(tty, quiet=True)
    terminal.write("\r" + "dd: 10%".ljust(100))
    terminal.write("\r" + "dd: 100%, done" + "\n")  # an engine's final redraw (core.progress)
    terminal.line("warning: snapshot 85% used")
    terminal.write("\r" + "dd: 50%".ljust(100))
    terminal.line("backed up")  # a permanent line keeps the live one above it, as without -q
    assert "dd: 100%, done" in tty.getvalue(), "the progress was drawn"
    assert screen(tty.getvalue()) == ["warning: snapshot 85% used", "dd: 50%", "backed up"]


def test_quiet_terminal_in_a_log_never_writes_a_live_line():
    log = io.StringIO()
    terminal = Terminal(log, quiet=True)
    terminal.write("\rfsarchiver: 60%" + " " * 50)
    terminal.write("\rfsarchiver: 100%, done\n")
    terminal.write("a plain line\n")
    assert log.getvalue() == "a plain line\n"


@pytest.mark.parametrize(("text", "kind"), [
    ("[7/12] read the snapshot with dd into /backups/x", "step"),
    ("warning: snapshot labvg/s is 85.0% used; at 100% it is lost", "notable"),
    ("undo: create snapshot labvg/s", "notable"),
    ("keeping: create snapshot labvg/s (as asked)", "notable"),
    ("preflight on local:", "detail"),
    ("  PASS running as root: uid 0", "continued"),
])
def test_classify_sorts_lvmkits_log_lines(text, kind):
    assert classify(text) == kind


def test_operator_log_quiet_shows_steps_and_warnings_but_not_details():
    out = io.StringIO()
    log = OperatorLog(Terminal(out))
    log("preflight on local:\n  PASS running as root: uid 0\n  PASS origin exists")
    log("[1/2] create snapshot labvg/s")
    log("warning: could not read the snapshot's usage:\n  lvs failed")
    log("[2/2] remove snapshot labvg/s")
    log.done()
    assert out.getvalue().splitlines() == [
        "[1/2] create snapshot labvg/s", "warning: could not read the snapshot's usage:", "  lvs failed",
        "[2/2] remove snapshot labvg/s"]


def test_operator_log_verbose_shows_every_line():
    out = io.StringIO()
    log = OperatorLog(Terminal(out), verbose=True)
    log("preflight on local:\n  PASS running as root: uid 0")
    log("[1/1] create snapshot labvg/s")
    assert out.getvalue().splitlines() == ["preflight on local:", "  PASS running as root: uid 0",
                                           "[1/1] create snapshot labvg/s"]
