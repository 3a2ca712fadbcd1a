"""-v before the command (lvmkit's own flag) and after it mean the same; without it, quiet."""

from __future__ import annotations

import pytest

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
