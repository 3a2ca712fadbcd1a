"""Prometheus metrics of job runs, in node_exporter's textfile collector format.

One file per job, `lvmkit_job_<NAME>.prom` in the configured directory, written whole and
atomically (a temporary file in the same directory, fsynced, then renamed over the old
one), so node_exporter never reads half a file. The time of the last success survives a
failed run: it is read back from the previous file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.local_files import replace_file

PREFIX = "lvmkit_job_"


@dataclass(frozen=True)
class Metric:
    name: str
    help: str
    value: float | None  # None: not known for this run, left out


def file_for(directory: str, job: str) -> Path:
    return Path(directory) / f"{PREFIX}{job}.prom"


def previous_value(directory: str, job: str, name: str) -> float | None:
    try:
        text = file_for(directory, job).read_text()
    except OSError:
        return None
    match = re.search(rf"^{PREFIX}{re.escape(name)}\{{[^}}]*\}} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def render(job: str, metrics: list[Metric]) -> str:
    label = job.replace("\\", "\\\\").replace('"', '\\"')
    lines = []
    for metric in metrics:
        if metric.value is None:
            continue
        full = PREFIX + metric.name
        lines += [f"# HELP {full} {metric.help}", f"# TYPE {full} gauge", f'{full}{{job="{label}"}} {metric.value:g}']
    return "\n".join(lines) + "\n"


def write(directory: str, job: str, metrics: list[Metric]) -> Path:
    # The temporary's name begins with a dot and does not end in .prom, so node_exporter
    # ignores it while it is written. 0644: node_exporter runs as its own user; the values
    # are not secret.
    return replace_file(file_for(directory, job), render(job, metrics), mode=0o644,
                        temp_prefix=f".{PREFIX}{job}.", temp_suffix=".tmp")
