"""-v before the command (lvmkit's own flag) and after it mean the same; without it, quiet."""

from __future__ import annotations

import sys

import pytest

from lvmkit import cli
from lvmkit.cli import build_parser
from lvmkit.terminal import is_verbose

COMMANDS = [["backup", "labvg/ext4vol", "--dest", "/backups"], ["verify", "/backups/set"],
            ["restore", "/backups/set", "--to-new", "labvg/new"], ["list", "/backups"],
            ["runbook", "run", "backup", "-p", "dest", "/backups"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
def test_verbose_flag_is_taken_before_and_after_the_command(command):
    parser = build_parser()
    assert is_verbose(parser.parse_args(command)) is False
    assert is_verbose(parser.parse_args(["-v", *command])) is True
    assert is_verbose(parser.parse_args([*command, "-v"])) is True
    assert is_verbose(parser.parse_args(["--verbose", *command, "--verbose"])) is True


def drawing_progress(args, journal) -> int:
    """A command that draws an engine's progress on stderr as core.progress does on a live line."""
    sys.stderr.write("\r" + "dd: 1.0 MiB of ~4.0 MiB (25%)".ljust(100))
    sys.stderr.write("\rdd: 4.0 MiB of ~4.0 MiB (100%), 9.0 MiB/s, done\n")
    return 0


def test_quiet_main_leaves_no_finished_progress_line_without_it_the_final_one_stays(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(cli, "cmd_status", drawing_progress)
    journal = ["--journal", str(tmp_path / "journal.jsonl")]
    assert cli.main([*journal, "-q", "status"]) == 0
    assert "dd:" not in capsys.readouterr().err
    assert cli.main([*journal, "status"]) == 0
    assert capsys.readouterr().err == "dd: 4.0 MiB of ~4.0 MiB (100%), 9.0 MiB/s, done\n"
