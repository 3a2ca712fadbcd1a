"""The flow every runbook that changes storage follows: prepare, plan, approve, execute.

Each stage shows what it found or did and raises an LvmkitError when it failed (after the
plan's own undo), so that papermill records the failing cell and stops there. The
functions here are the stages once; lvmkit.runbooks.steps gives each runbook its names.
"""

from __future__ import annotations

import inspect
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, TypeVar

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import Journal
from lvmkit.core.plan import Plan, StepRecord
from lvmkit.core.preflight import PreflightError
from lvmkit.runbooks import approval
from lvmkit.runbooks.display import Table, show
from lvmkit.runbooks.tables import plan_table, preflight_table, records_table
from lvmkit.targets import connect as connect_target

Run = TypeVar("Run")


class StepFailed(LvmkitError):
    """A runbook step found what it checks to be wrong (content differs, something was left)."""


def log(message: str) -> None:
    """lvmkit's progress lines, into the cell's output."""
    print(message, flush=True)


def connect(host_spec: str, journal_path: str = "") -> Host:
    """The target host; every command sent there is appended to the run's journal."""
    journal = Journal(Path(journal_path) if journal_path else None)
    host = connect_target(host_spec, journal)
    show(Table(["", ""], [["target", f"{host.name} ({host_spec})"],
                          ["journal", journal_path or "(in memory only)"],
                          ["controller time", utc_now().isoformat(timespec="seconds")]],
               "where the commands go"))
    return host


def keep(record_dir: str, name: str, data: dict) -> None:
    """Keep `data` as JSON in the run's record folder (nothing without a record folder)."""
    if not record_dir:
        print(f"no record folder: {name} is not kept")
        return
    path = Path(record_dir) / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"kept {name} in the record folder {record_dir}")


def call_with(function, values: dict, **extra):
    """Call `function` with the entries of `values` it takes (a runbook's parameters), and `extra`."""
    accepted = inspect.signature(function).parameters
    return function(**{k: v for k, v in values.items() if k in accepted}, **extra)


def check_approval(the_plan: Plan, approved_plan: str) -> None:
    """Refuse the plan unless it is the approved one (when the run is change-managed)."""
    if not approved_plan:
        print("no approved plan given: this run is not change-managed")
        return
    approved = approval.load(Path(approved_plan))
    approval.require_same(approved, plan=the_plan)
    print(f"the plan is the approved one: sha256 {the_plan.sha256}")


@contextmanager
def showing_preflight(display: bool):
    """When the preflight fails, show every check (passed and failed) before the error propagates."""
    try:
        yield
    except PreflightError as error:
        if display:
            show(preflight_table(error.checks, "preflight: FAILED, nothing was changed"))
        raise

def prepared(host: Host, prepare: Callable[[], Run], display: bool = True) -> Run:
    """Run a preflight (read-only) and show its checks; when one fails, show them all and raise."""
    with showing_preflight(display):
        run = prepare()
    if display:
        show(preflight_table(run.preflight.checks, f"preflight on {host.name}: every check passed, nothing changed yet"))
    return run


def planned(the_plan: Plan, approved_plan: str = "") -> Plan:
    """Show the plan step by step, after checking it is the approved one (when there is one)."""
    check_approval(the_plan, approved_plan)
    show(plan_table(the_plan))
    return the_plan


def executed(execute_run: Callable[..., list[StepRecord]], host: Host, run, the_plan: Plan) -> list[StepRecord]:
    """Execute the plan with its workflow's execute_run (the undo runs on failure) and show each step."""
    records = execute_run(host, run, the_plan, log)
    show(records_table(records))
    return records
