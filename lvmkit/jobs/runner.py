"""Run a job: back up, then what its `after` says (verify, prune, notify), then metrics.

A job that fails is reported, measured and notified; it never stops the next job. An
interruption (Ctrl-C, SIGTERM) is not a job's failure: it ends the whole run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import Journal
from lvmkit.core.plan import default_log
from lvmkit.core.preflight import PreflightError
from lvmkit.jobs import metrics, notify, requests
from lvmkit.jobs.config import Config
from lvmkit.jobs.settings import effective, values
from lvmkit.ops import prune as prune_module
from lvmkit.ops import verify as verify_module
from lvmkit.ops.retention import Policy
from lvmkit.targets import connect


@dataclass
class JobResult:
    job: str
    outcome: str = "failure"  # "success", "failure", or "refused" (the preflight said no)
    error: str | None = None
    archive_set: str | None = None
    duration_s: float = 0.0
    finished: float = 0.0  # epoch seconds
    facts: dict = field(default_factory=dict)  # bytes, peak, freeze window, verify result, pruned

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


def retention_policy(retention: dict) -> Policy:
    return Policy(**{rule: count for rule, count in retention.items() if rule != "prune_failed"})


def run_job(config: Config, name: str, flag_defaults: dict, journal: Journal, log=default_log) -> JobResult:
    settings = values(effective(config, name, flag_defaults))
    result = JobResult(name)
    began = time.monotonic()
    try:
        host = connect(settings["host"], journal)
        request = requests.backup_request(settings, name)
        run = requests.run_backup(host, request, log)
        result.archive_set = run.paths.final
        result.facts.update(_backup_facts(run))
        _after(host, settings, name, result, log)
        result.outcome = "success" if result.error is None else "failure"
    except PreflightError as error:
        result.outcome, result.error = "refused", str(error)
    except LvmkitError as error:
        result.outcome, result.error = "failure", str(error)
    result.duration_s = round(time.monotonic() - began, 3)
    result.finished = utc_now().timestamp()
    log(f"job {name}: {result.outcome} in {result.duration_s:.1f} s"
        + (f", {result.archive_set}" if result.archive_set else "") + (f": {result.error}" if result.error else ""))
    if settings["metrics_dir"]:
        _write_metrics(settings["metrics_dir"], result, log)
    if settings["notify"] and ("success" if result.ok else "failure") in settings["notify_on"]:
        env = notify.environment(name, result.outcome, result.error, result.archive_set,
                                 str(journal.path) if journal.path else None)
        notify.notify(Host(journal=journal), settings["notify"], env, settings["notify_timeout"], log)
    return result


def _backup_facts(run) -> dict:
    members = getattr(run, "members", None) or [run]
    peaks = [m.manifest.snapshot.peak_percent for m in members]
    return {"bytes_read": sum(m.manifest.bytes_read or 0 for m in members),
            "bytes_written": sum(m.manifest.bytes_written for m in members),
            "snapshot_peak_percent": max((p for p in peaks if p is not None), default=None),
            "freeze_window_s": (getattr(run, "window", None) or {}).get("frozen_s")}


def _after(host: Host, settings: dict, name: str, result: JobResult, log) -> None:
    """verify and prune, in the order `after` gives; a failure here fails the job."""
    for action in settings["after"]:
        if action == "verify":
            verification = verify_module.verify(host, result.archive_set, log=log)
            result.facts["verified"] = verification.passed
            if not verification.passed:
                result.error = f"verification of {result.archive_set} failed:\n{verification.checks.render()}"
                return
        elif action == "prune":
            retention = settings["retention"]
            decision = prune_module.decide(
                host, settings["dest"], retention_policy(retention), origins={requests.job_origin(settings)},
                name_prefix=None if settings.get("name") else (settings.get("name_prefix") or name),
                prune_failed=retention.get("prune_failed", False))
            prune_module.remove(host, decision, log)
            result.facts["pruned"] = len(decision.removed)


def _write_metrics(directory: str, result: JobResult, log) -> None:
    facts = result.facts
    # The time of the other outcome is carried over from the previous file.
    last_success, last_failure = (
        (result.finished, metrics.previous_value(directory, result.job, "last_failure_timestamp_seconds"))
        if result.ok else
        (metrics.previous_value(directory, result.job, "last_success_timestamp_seconds"), result.finished))
    verified = facts.get("verified")
    values_ = [
        metrics.Metric("last_success_timestamp_seconds", "end of the job's last successful run", last_success),
        metrics.Metric("last_failure_timestamp_seconds", "end of the job's last failed run", last_failure),
        metrics.Metric("last_run_success", "1 if the last run succeeded, else 0", 1.0 if result.ok else 0.0),
        metrics.Metric("last_run_refused", "1 if the last run was refused by its preflight",
                       1.0 if result.outcome == "refused" else 0.0),
        metrics.Metric("duration_seconds", "how long the last run took", result.duration_s),
        metrics.Metric("bytes_read", "bytes the engine read from the snapshot in the last run", facts.get("bytes_read")),
        metrics.Metric("archive_bytes", "bytes of archive written by the last run", facts.get("bytes_written")),
        metrics.Metric("snapshot_peak_ratio", "highest snapshot usage seen in the last run (0..1)",
                       None if facts.get("snapshot_peak_percent") is None else facts["snapshot_peak_percent"] / 100),
        metrics.Metric("freeze_window_seconds", "how long a group's members were frozen", facts.get("freeze_window_s")),
        metrics.Metric("last_verify_success", "1 if the last verification passed, 0 if it failed",
                       None if verified is None else float(verified)),
        metrics.Metric("pruned_sets", "archive sets the last run's prune removed", facts.get("pruned")),
    ]
    try:
        metrics.write(directory, result.job, values_)
    except OSError as error:  # metrics must not hide the backup's result
        log(f"metrics: cannot write to {directory}: {error}")
