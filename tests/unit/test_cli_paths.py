"""Every path parameter of every command refuses a value that a tool would read as an
option (or as a find expression: `lvmkit list -- -delete` once deleted files), before
anything runs: no command on any host, no record."""

from __future__ import annotations

import pytest

from lvmkit import cli
from lvmkit.core.host import Host

HOSTILE = "-delete"

# (argv with {} where the path goes, the name the error must give)
PATH_PARAMETERS = [
    (["backup", "labvg/ext4vol", "--dest={}"], "--dest"),
    (["backup", "--group", "labvg/ext4vol,labvg/xfsvol", "--dest={}"], "--dest"),
    (["backup", "labvg/ext4vol", "--dest={}", "--dry-run"], "--dest"),
    (["verify", "--", "{}"], "archive set"),
    (["verify", "--deep", "--", "{}"], "archive set"),
    (["restore", "--to-new", "labvg/x", "--", "{}"], "archive set"),
    (["restore", "--to", "labvg/x", "--confirm", "labvg/x", "--dry-run", "--", "{}"], "archive set"),
    (["restore-group", "--to-new-suffix=-r", "--", "{}"], "group archive set"),
    (["list", "--", "{}"], "directory"),
    (["cleanup", "--dest={}"], "--dest"),
    (["cleanup", "--dry-run", "--dest={}"], "--dest"),
    (["runbook", "run", "backup", "-p", "dest", "{}", "--records", "RECORDS"], "dest"),
    (["runbook", "plan", "backup", "-p", "dest", "{}"], "dest"),
    (["runbook", "run", "verify", "-p", "archive", "{}", "--records", "RECORDS"], "archive"),
    (["runbook", "run", "restore", "-p", "archive", "{}", "-p", "to_new", "labvg/x", "--records", "RECORDS"],
     "archive"),
    (["runbook", "run", "dr-rehearsal", "-p", "dest", "{}", "--records", "RECORDS"], "dest"),
    (["runbook", "run", "group-backup", "-p", "dest", "{}", "--records", "RECORDS"], "dest"),
    (["runbook", "run", "snapshot-overflow-drill", "-p", "dest", "{}", "--records", "RECORDS"], "dest"),
]


@pytest.fixture
def nothing_may_run(monkeypatch):
    ran = []

    def refuse(self, argv, *args, **kwargs):
        ran.append(argv)
        raise AssertionError(f"a command ran: {argv}")

    monkeypatch.setattr(Host, "run", refuse)
    monkeypatch.setattr(Host, "start", refuse)
    return ran


@pytest.mark.parametrize("value", [HOSTILE, "--help", "backups", "/backups/../etc"])
@pytest.mark.parametrize("template, name", PATH_PARAMETERS, ids=lambda v: " ".join(v) if isinstance(v, list) else v)
def test_path_parameter_with_unsafe_value_is_refused_before_anything_runs(
        template, name, value, nothing_may_run, tmp_path, capsys):
    records = tmp_path / "records"
    argv = ["--journal", str(tmp_path / "journal.jsonl"),
            *[part.replace("{}", value).replace("RECORDS", str(records)) for part in template]]
    try:
        assert cli.main(argv) == 2
    except SystemExit as refused:  # argparse itself takes a value beginning with '-' as an option
        assert refused.code == 2 and value.startswith("-")
        assert "expected 2 arguments" in capsys.readouterr().err
    else:
        error = capsys.readouterr().err
        assert name in error and repr(value) in error, error
    assert nothing_may_run == []
    assert not records.exists(), "a refused run leaves no record"
