"""`lvmkit job install|uninstall`: the systemd units, checked by systemd-analyze itself."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from lvmkit import cli
from lvmkit.core.errors import UsageError
from lvmkit.jobs import units

CONFIG = '[defaults]\ndest = "/backups"\n[jobs.web]\norigin = "vg0/www"\n'


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "lvmkit.toml"
    path.write_text(CONFIG)
    return path


def test_install_writes_units_that_systemd_analyze_verifies(tmp_path, config, capsys):
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    assert cli.main(["job", "install", "web", "--config", str(config), "--on-calendar", "daily",
                     "--unit-dir", str(unit_dir)]) == 0
    service, timer = unit_dir / "lvmkit-job-web.service", unit_dir / "lvmkit-job-web.timer"
    assert "Type=oneshot" in service.read_text() and f"--config {config}" in service.read_text()
    assert "Persistent=true" in timer.read_text() and "OnCalendar=daily" in timer.read_text()
    # ExecStart must name an executable that exists for verify to pass: point it at Python.
    service.write_text(service.read_text().replace(
        service.read_text().split("ExecStart=")[1].split(" ")[0], sys.executable))
    verify = subprocess.run([shutil.which("systemd-analyze"), "verify", "--man=no", str(service), str(timer)],
                            capture_output=True, text=True, check=False)
    problems = [line for line in verify.stderr.splitlines() if "lvmkit-job-web" in line]
    assert verify.returncode == 0 and not problems, verify.stderr


def test_install_dry_run_prints_both_units_and_writes_nothing(tmp_path, config, capsys):
    assert cli.main(["job", "install", "web", "--config", str(config), "--on-calendar", "Mon..Fri 02:30",
                     "--unit-dir", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "OnCalendar=Mon..Fri 02:30" in out and "ExecStart=" in out and "RandomizedDelaySec=30min" in out
    assert not list(tmp_path.glob("lvmkit-job-*"))


def test_install_of_an_unknown_job_is_refused(tmp_path, config, capsys):
    assert cli.main(["job", "install", "nope", "--config", str(config), "--on-calendar", "daily",
                     "--unit-dir", str(tmp_path)]) == 2
    assert "no job 'nope' (jobs: web)" in capsys.readouterr().err


def test_uninstall_removes_both_units_and_is_safe_twice(tmp_path, config, capsys):
    cli.main(["job", "install", "web", "--config", str(config), "--on-calendar", "daily", "--unit-dir", str(tmp_path)])
    assert cli.main(["job", "uninstall", "web", "--unit-dir", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("lvmkit-job-*"))
    assert cli.main(["job", "uninstall", "web", "--unit-dir", str(tmp_path)]) == 0
    assert "no units of job web" in capsys.readouterr().out


def test_render_refuses_a_calendar_with_a_line_break():
    with pytest.raises(UsageError, match="--on-calendar"):
        units.render("web", "/usr/bin/lvmkit", "/etc/lvmkit/lvmkit.toml", "daily\nExecStartPre=/bin/sh")


def test_install_recorded_runs_the_scheduled_job_runbook_and_systemd_analyze_verifies_it(tmp_path, config):
    records = tmp_path / "records"
    assert cli.main(["job", "install", "web", "--config", str(config), "--on-calendar", "daily",
                     "--unit-dir", str(tmp_path), "--recorded", str(records)]) == 0
    service = tmp_path / "lvmkit-job-web.service"
    exec_start = service.read_text().split("ExecStart=")[1].splitlines()[0]
    assert exec_start.split(" ")[1:] == ["runbook", "run", "scheduled-job", "-p", "job", "web", "-p", "config",
                                         str(config), "--records", str(records)]
    service.write_text(service.read_text().replace(exec_start.split(" ")[0], sys.executable))
    verify = subprocess.run([shutil.which("systemd-analyze"), "verify", "--man=no", str(service)],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
