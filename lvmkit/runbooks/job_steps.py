"""The scheduled job's runbook steps: the job's effective settings, its host, the run.

A job run from the `scheduled-job` runbook does exactly what `lvmkit job run NAME` does
(backup, then what its `after` says, metrics, notify), with every command journaled into
the run's record and the record chained into the audit log: a scheduled run leaves the
same evidence as a manual one.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.core.host import Host
from lvmkit.jobs import config as config_module
from lvmkit.jobs import settings as settings_module
from lvmkit.jobs.runner import JobResult, run_job
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.flow import StepFailed, connect, log


@dataclass(frozen=True)
class JobSpec:
    name: str
    config: config_module.Config
    flag_defaults: dict
    settings: dict  # key -> Setting (value and where it came from)

    @property
    def host_spec(self) -> str:
        return self.settings["host"].value


def load_job(config: str, job: str) -> JobSpec:
    """Read and validate the configuration; show the job's effective settings and their sources."""
    from lvmkit.jobs.cli import backup_flag_defaults  # at call time: lvmkit.jobs.cli imports the runbooks

    loaded = config_module.load(config or None)
    defaults = backup_flag_defaults()
    spec = JobSpec(job, loaded, defaults, settings_module.effective(loaded, job, defaults))
    rows = [[key, settings_module.shown(s.value), s.source] for key, s in sorted(spec.settings.items())]
    show(Table(["setting", "value", "from"], rows, f"job {job} of {loaded.path}"))
    return spec


def connect_job(spec: JobSpec, host_spec: str, journal_path: str) -> Host:
    """The job's own host. A --host given to `runbook run` must be the same one (or local, the default)."""
    if host_spec not in ("local", spec.host_spec):
        raise StepFailed(f"job {spec.name} runs on {spec.host_spec}, not on {host_spec}: "
                         f"run the runbook without --host (or with --host {spec.host_spec})")
    return connect(spec.host_spec, journal_path)


def run_scheduled_job(host: Host, spec: JobSpec) -> JobResult:
    """Run the job as `lvmkit job run` would; show its outcome; fail the cell if the job failed."""
    result = run_job(spec.config, spec.name, spec.flag_defaults, host.journal, log, host=host)
    facts = [[key, settings_module.shown(value)] for key, value in sorted(result.facts.items())]
    show(Table(["", ""], [["outcome", result.outcome], ["archive set", result.archive_set or "-"],
                          ["duration", f"{result.duration_s:.1f} s"], *facts], f"job {spec.name}"))
    if not result.ok:
        raise StepFailed(f"job {spec.name}: {result.outcome}: {result.error}")
    return result
