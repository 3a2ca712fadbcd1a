"""Every command exits 0 ok, 1 failed, 2 usage or configuration, 3 refused before anything
changed (the preflight, or the origin's lock held by another run), 130/143 interrupted."""

from __future__ import annotations

import pytest

from lvmkit import cli
from lvmkit.core.errors import CommandError, LvmkitError, UsageError, most_serious
from lvmkit.core.preflight import Check, PreflightError
from lvmkit.jobs.config import ConfigError
from lvmkit.lvm.lock import LockHeld, LockInfo

REFUSED_BY_PREFLIGHT = PreflightError([Check("origin exists", False, "no logical volume vg0/missing")])
LOCK_HELD = LockHeld(LockInfo(path="/run/lvmkit/locks/vg0-www.lock", content="", origin="vg0/www", run_id="r",
                              pid=42, command="backup", alive=True))


def raising(error: BaseException):
    def handler(args, journal):
        raise error
    return handler


@pytest.mark.parametrize("error, code", [
    (LvmkitError("it failed"), 1),
    (CommandError("local", ["tar"], 2, "No space left on device"), 1),
    (UsageError("give either one VG/LV or --group"), 2),
    (ConfigError("lvmkit.toml: jobs.www: unknown key"), 2),
    (REFUSED_BY_PREFLIGHT, 3),
    (LOCK_HELD, 3),
    (KeyboardInterrupt(), 130),
    (cli.Terminated(), 143),
], ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value))
def test_main_exits_with_the_code_of_what_ended_the_command(monkeypatch, tmp_path, capsys, error, code):
    monkeypatch.setattr(cli, "cmd_status", raising(error))
    assert cli.main(["--journal", str(tmp_path / "journal.jsonl"), "status"]) == code
    assert capsys.readouterr().err.startswith("lvmkit: ")  # the reason, on stderr


def test_main_exits_0_when_the_command_succeeds(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "cmd_status", lambda args, journal: 0)
    assert cli.main(["--journal", str(tmp_path / "journal.jsonl"), "status"]) == 0


def test_a_malformed_command_line_exits_2():
    with pytest.raises(SystemExit) as ended:
        cli.main(["backup", "--no-such-flag"])
    assert ended.value.code == 2


def test_backup_without_an_origin_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.setenv("LVMKIT_CONFIG", str(tmp_path / "none.toml"))
    assert cli.main(["--journal", str(tmp_path / "j.jsonl"), "backup", "--dest", "/backups"]) == 2


def test_most_serious_puts_a_failure_before_a_configuration_error_before_a_refusal():
    assert most_serious([3, 2, 3]) == 2
    assert most_serious([3, 1, 2]) == 1
    assert most_serious([3, 3]) == 3
    assert most_serious([]) == 0
