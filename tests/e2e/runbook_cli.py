"""Running a runbook as `lvmkit runbook|audit ...` does, and reading the record it leaves.

Shared by the end-to-end tests that execute runbooks (test_runbooks.py, test_postgresql.py):
test modules import helpers from here, never from one another.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json

from lvmkit.core.journal import Journal
from lvmkit.runbooks.cli import add_commands

# Lines a runbook run may print for the operator: its steps, warnings and outcome (before
# the terse output, ~250 per run). Captured here, not a terminal, every step's line stays
# (measured: backup 25, dr-rehearsal 35, group backup 45, overflow drill 43 and 48: its
# warnings depend on how fast the flood fills the snapshot); on a terminal the inner steps
# share one live line. 80 leaves the drill room and still fails papermill's ~250.
TERMINAL_BUDGET = 80


def lvmkit(*argv: str) -> tuple[int, list[str]]:
    """Run `lvmkit [--host H] runbook|audit ...` as the CLI does; the exit code and stdout lines.

    What it prints for the operator (stderr) must stay short: the rest is in the record."""
    parser = argparse.ArgumentParser(prog="lvmkit")
    parser.add_argument("--host", default="local")
    parser.add_argument("--journal", default=None)
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = args.handler(args, Journal(args.journal) if args.journal else Journal())
    terminal = err.getvalue().splitlines()
    assert "Executing Cell" not in err.getvalue(), "papermill's cell banners belong in the record (-v shows them)"
    assert len(terminal) <= TERMINAL_BUDGET, f"{len(terminal)} lines for the operator:\n" + "\n".join(terminal)
    return code, out.getvalue().splitlines()


def record_of(lines: list[str]) -> dict:
    summary = json.loads(lines[-1])
    folder = summary["record"]
    run = json.loads(open(f"{folder}/run.json").read())
    return {"summary": summary, "folder": folder, "run": run,
            "journal": Journal.read(f"{folder}/journal.jsonl")}


def argvs(record: dict) -> list[list[str]]:
    return [entry.argv for entry in record["journal"]]
