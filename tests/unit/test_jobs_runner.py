"""`lvmkit job run`: one job after another, a failure never stops the next; metrics in
node_exporter's textfile format; the notify hook. The backups themselves are faked here
(their own tests cover them); tests/e2e/test_jobs.py runs real ones in the lab."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from types import SimpleNamespace

import pytest

from lvmkit import cli
from lvmkit.archive.manifest import from_json
from lvmkit.core.errors import CommandError
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.core.preflight import Check, PreflightError
from lvmkit.jobs import metrics, notify, requests
from lvmkit.jobs import runner as runner_module
from tests.unit.conftest import FIXTURES


@dataclass
class FakePaths:
    final: str


RECORDED = from_json((FIXTURES / "manifest" / "single-tar-thick.json").read_text(), "single-tar-thick.json")


def fake_run(name: str):
    manifest = replace(RECORDED, bytes_read=1000, bytes_written=400,
                       snapshot=replace(RECORDED.snapshot, peak_percent=12.5))
    return SimpleNamespace(paths=FakePaths(f"/backups/{name}"), manifest=manifest)


@pytest.fixture
def config(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    hook_out = tmp_path / "hook.env"
    path = tmp_path / "lvmkit.toml"
    path.write_text(f"""
[defaults]
dest = "/backups"
metrics_dir = "{metrics_dir}"
notify = "sh -c 'env | grep ^LVMKIT_ | sort >> {hook_out}'"
notify_on = ["failure", "success"]

[jobs.a_refused]
origin = "vg0/missing"

[jobs.b_ok]
origin = "vg0/www"

[jobs.c_failed]
origin = "vg0/db"
""")
    return SimpleNamespace(path=path, metrics=metrics_dir, hook_out=hook_out)


@pytest.fixture
def fake_backups(monkeypatch):
    started = []

    def run_backup(host, request, log):
        started.append(request.origin)
        if request.origin == "vg0/missing":
            raise PreflightError([Check("origin exists", False, "no logical volume vg0/missing")])
        if request.origin == "vg0/db":
            raise CommandError("local", ["lvcreate", "-s"], 5, "Insufficient free space")
        return fake_run(request.name)

    monkeypatch.setattr(requests, "run_backup", run_backup)
    return started


def test_job_run_all_runs_every_job_in_turn_and_exits_1_if_one_failed(config, fake_backups, capsys):
    assert cli.main(["job", "run", "--all", "--config", str(config.path)]) == 1
    assert fake_backups == ["vg0/missing", "vg0/www", "vg0/db"]
    out = capsys.readouterr().out
    assert "a_refused: refused" in out and "b_ok: success -> /backups/b_ok-" in out and "c_failed: failure" in out
    assert "1 of 3 jobs succeeded; failed: a_refused, c_failed" in out


def test_job_run_writes_metrics_of_each_outcome(config, fake_backups):
    cli.main(["job", "run", "--all", "--config", str(config.path)])
    ok = (config.metrics / "lvmkit_job_b_ok.prom").read_text()
    assert 'lvmkit_job_last_run_success{job="b_ok"} 1' in ok
    assert 'lvmkit_job_archive_bytes{job="b_ok"} 400' in ok and 'lvmkit_job_snapshot_peak_ratio{job="b_ok"} 0.125' in ok
    assert "lvmkit_job_last_failure_timestamp_seconds" not in ok  # never failed: no time to show
    refused = (config.metrics / "lvmkit_job_a_refused.prom").read_text()
    assert 'lvmkit_job_last_run_refused{job="a_refused"} 1' in refused
    assert 'lvmkit_job_last_run_success{job="a_refused"} 0' in refused
    assert not list(config.metrics.glob(".*"))  # no temporary file left


def test_a_failed_run_keeps_the_time_of_the_last_success(config, fake_backups, monkeypatch):
    cli.main(["job", "run", "b_ok", "--config", str(config.path)])
    success = metrics.previous_value(str(config.metrics), "b_ok", "last_success_timestamp_seconds")
    monkeypatch.setattr(requests, "run_backup", lambda host, request, log: (_ for _ in ()).throw(
        CommandError("local", ["tar"], 2, "No space left on device")))
    assert cli.main(["job", "run", "b_ok", "--config", str(config.path)]) == 1
    assert metrics.previous_value(str(config.metrics), "b_ok", "last_success_timestamp_seconds") == success
    assert metrics.previous_value(str(config.metrics), "b_ok", "last_failure_timestamp_seconds") >= success


def test_notify_gets_the_jobs_name_outcome_error_and_set(config, fake_backups):
    cli.main(["job", "run", "--all", "--config", str(config.path), ])
    seen = config.hook_out.read_text()
    assert "LVMKIT_JOB=b_ok" in seen and "LVMKIT_OUTCOME=success" in seen and "LVMKIT_ARCHIVE_SET=/backups/b_ok-" in seen
    assert "LVMKIT_JOB=c_failed" in seen and "LVMKIT_ERROR=command failed on local with exit code 5" in seen
    assert "LVMKIT_RECORD=" in seen


def test_a_failing_notify_is_logged_and_changes_nothing(tmp_path):
    logged = []
    ok = notify.notify(Host(journal=Journal()), "sh -c 'echo paging failed >&2; exit 7'",
                       notify.environment("web", "failure", "boom", None, None), 10, logged.append)
    assert ok is False
    assert "failed with exit code 7: paging failed (the job's own result stands)" in logged[0]


def test_notify_of_a_command_that_does_not_exist_is_logged(tmp_path):
    logged = []
    assert not notify.notify(Host(journal=Journal()), "/nonexistent/pager", {}, 10, logged.append)
    assert "exit code 127" in logged[0]


def test_metrics_render_escapes_the_job_label():
    text = metrics.render('we"b', [metrics.Metric("duration_seconds", "how long", 1.5),
                                    metrics.Metric("bytes_read", "unknown", None)])
    assert 'lvmkit_job_duration_seconds{job="we\\"b"} 1.5' in text
    assert "bytes_read" not in text


def test_metrics_write_is_atomic_and_readable_by_node_exporter(tmp_path):
    path = metrics.write(str(tmp_path), "web", [metrics.Metric("duration_seconds", "how long", 2.0)])
    assert path.name == "lvmkit_job_web.prom" and oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["lvmkit_job_web.prom"]


def test_retention_policy_leaves_prune_failed_out():
    assert runner_module.retention_policy({"daily": 7, "prune_failed": True}).as_dict()["daily"] == 7
