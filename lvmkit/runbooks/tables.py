"""The tables the runbooks show: preflight checks, plans, executed steps, volumes, commands.

Presentation only: each function turns lvmkit's objects into a Table (HTML in the notebook
and its rendering, text in papermill's log); none runs a command.
"""

from __future__ import annotations

from datetime import datetime, timezone
from shlex import join

from lvmkit.core.host import Host
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.core.preflight import Check
from lvmkit.core.sizes import human
from lvmkit.runbooks.display import Table

OUTPUT_TAIL = 300  # characters of a command's output shown in the commands table


def commands(host: Host) -> Table:  # steps.commands in the notebooks
    """Every command this run sent to the target: when, how long, exit code, the end of its output."""
    rows = []
    for number, entry in enumerate(host.journal.entries, 1):
        # NUL-separated output (find -print0) would put raw NULs in the notebook and its HTML
        output = (entry.stderr.strip() or entry.stdout.strip())[-OUTPUT_TAIL:].replace("\0", "\\0")
        command = join(entry.argv)
        rows.append([number, entry.start[11:22], f"{entry.duration_s:.2f}",
                     "planned" if entry.planned else entry.returncode,
                     "yes" if entry.changes_state else "", command[:400], output])
    return Table(["#", "start (UTC)", "s", "exit", "changes", "command", "output (end)"], rows,
                 f"{len(rows)} commands on {host.name}, as journaled",
                 text_columns=["#", "start (UTC)", "s", "exit", "changes", "command"])


def preflight_table(checks: list[Check], title: str) -> Table:
    return Table(["check", "result", "detail"], [[c.name, "PASS" if c.passed else "FAIL", c.detail] for c in checks],
                 title)


def plan_table(the_plan: Plan) -> Table:
    rows = [[number, step.title, "\n".join([*(f"$ {join(argv)}" for argv in step.commands),
                                            *(f"when {c.when}: $ {join(c.argv)}" for c in step.conditional)]),
             "\n".join(f"$ {join(argv)}" for argv in step.undo_commands) or ("(custom)" if step.undo else "")]
            for number, step in enumerate(the_plan.steps, 1)]
    return Table(["#", "step", "commands", "undo on failure"], rows,
                 f"plan: {the_plan.title}\nsha256 {the_plan.sha256}")


def records_table(records: list[StepRecord]) -> Table:
    rows = [[n, r.title, r.outcome, f"{r.duration_s:.1f}"] for n, r in enumerate(records, 1)]
    return Table(["#", "step", "outcome", "seconds"], rows, f"executed: {len(records)} steps")


def lv_table(volume, title: str) -> Table:
    attr = volume.attr
    usage = f"{volume.snap_percent:.2f}%" if volume.snap_percent is not None else "(not reported)"
    return Table(["field", "value"], [
        ["volume", volume.full_name], ["size", human(volume.size)], ["origin", volume.origin or ""],
        ["lv_attr", attr.raw], ["volume type (1st character)", attr.volume_type],
        ["state (5th character)", attr.state], ["snapshot usage (snap_percent)", usage],
        ["valid", "no: invalidated, its frozen view is lost" if attr.is_invalid_snapshot else "yes"],
    ], title)


def epoch(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def named(name: str, version: str) -> str:
    """fsarchiver's version string names it already; tar's is a bare number."""
    return version if version.startswith(name) else f"{name} {version}".strip()
