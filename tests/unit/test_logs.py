"""Messages through Python's logging: calm lines on a terminal, one journal line per step
(with its syslog priority) under systemd, -v and -q choosing the level."""

from __future__ import annotations

import argparse
import io
import os

import pytest

from lvmkit import cli, logs
from lvmkit.terminal import OperatorLog, Terminal

STEP, WARNING, DETAIL = "[2/9] take a snapshot of vg0/www", "warning: the snapshot is 81% full", "PASS origin exists"


def args(**flags) -> argparse.Namespace:
    return argparse.Namespace(**flags)


@pytest.fixture
def journal_file(tmp_path, monkeypatch):
    """A file standing for the journal's stream: JOURNAL_STREAM names its device and inode."""
    stream = open(tmp_path / "journal", "w")  # noqa: SIM115 - closed below
    found = os.fstat(stream.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{found.st_dev}:{found.st_ino}")
    yield stream
    stream.close()


def journal_lines(stream) -> list[str]:
    stream.flush()
    return open(stream.name).read().splitlines()


def test_under_journal_only_when_the_stream_is_the_one_systemd_named(journal_file, tmp_path):
    assert logs.under_journal(journal_file)
    with open(tmp_path / "elsewhere", "w") as redirected:  # a child's stderr sent elsewhere inherits the variable
        assert not logs.under_journal(redirected)
    assert not logs.under_journal(io.StringIO())


def test_under_journal_is_false_without_systemd(monkeypatch, journal_file):
    monkeypatch.delenv("JOURNAL_STREAM")
    assert not logs.under_journal(journal_file)


def test_journal_gets_one_line_per_step_with_its_priority_and_no_details(journal_file):
    assert logs.configure(args(), Terminal(journal_file), journal_file)
    log = logs.operator_log(args(under_journal=True), Terminal(journal_file))
    log(STEP)
    log(f"{WARNING}\n  extending it by 20%ORIGIN")
    log(DETAIL)
    logs.logger().error("lvmkit: preflight failed\n  FAIL origin exists: no such volume")
    assert journal_lines(journal_file) == [
        f"<6>{STEP}", f"<4>{WARNING}", "<4>  extending it by 20%ORIGIN",
        "<3>lvmkit: preflight failed", "<3>  FAIL origin exists: no such volume"]


def test_journal_with_verbose_gets_the_details_at_debug_priority(journal_file):
    logs.configure(args(verbose=True), Terminal(journal_file), journal_file)
    logs.operator_log(args(verbose=True, under_journal=True), Terminal(journal_file))(DETAIL)
    assert journal_lines(journal_file) == [f"<7>{DETAIL}"]


@pytest.mark.parametrize("flags, level", [({}, "INFO"), ({"verbose": True}, "DEBUG"), ({"quiet": True}, "WARNING"),
                                          ({"quiet": True, "verbose": True}, "DEBUG")])
def test_verbose_and_quiet_choose_the_level(flags, level):
    assert logs.level_of(args(**flags)) == getattr(logs.logging, level)


def test_on_a_terminal_errors_are_plain_lines_and_info_is_hidden_by_quiet():
    out = io.StringIO()
    logs.configure(args(quiet=True), Terminal(out), out)
    logs.logger().info("a summary")
    logs.logger().error("lvmkit: it failed")
    assert out.getvalue() == "lvmkit: it failed\n"


def test_quiet_operator_log_shows_warnings_but_not_the_live_step():
    out = io.StringIO()
    log = OperatorLog(Terminal(out), quiet=True)
    log(STEP)
    log(WARNING)
    log(DETAIL)
    log.done()
    assert out.getvalue() == f"{WARNING}\n"


def test_quiet_is_taken_before_and_after_the_command():
    parser = cli.build_parser()
    assert logs.is_quiet(parser.parse_args(["-q", "list", "/backups"]))
    assert logs.is_quiet(parser.parse_args(["list", "/backups", "-q"]))
    assert not logs.is_quiet(parser.parse_args(["list", "/backups"]))
