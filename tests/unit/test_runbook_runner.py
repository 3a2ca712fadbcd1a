"""`runbook run` end to end on this machine: papermill, a kernel of this Python, the record, the audit line.

The runbook is a small one of the tests' own (tests/unit/small_runbook.py, which the `books`
fixture of conftest.py puts in place), run against `local` with one harmless command (echo),
so that these tests need no LVM and take a few seconds.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from lvmkit.core.journal import Journal
from lvmkit.runbooks import audit
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.params import validate
from lvmkit.runbooks.runner import RunRequest, exit_code, run_runbook


@pytest.fixture(scope="module")
def runs(books, tmp_path_factory):
    """Two runs into one records directory: one that succeeds, one that fails."""
    records = tmp_path_factory.mktemp("records")
    journal = Journal(tmp_path_factory.mktemp("journal") / "journal.jsonl")
    results = {}
    book = find("small")
    for name, given in (("succeeded", {"change": "0012345"}), ("failed", {"fail": "true"})):
        values = validate(book.name, book.parameters, given, as_text=True)
        request = RunRequest(book, values, "local", records, "alice", change_id="0012345")
        results[name] = run_runbook(request, journal=journal, stream=io.StringIO())
    return {"records": records, "journal": journal, "books": books, **results}


def test_run_that_succeeds_keeps_notebook_html_journal_manifest_and_run_json(runs):
    result = runs["succeeded"]
    folder = result.record
    assert result.outcome == "succeeded" and exit_code(result) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["journal.jsonl", "manifest.json", "run.json",
                                                        "small.html", "small.ipynb"]
    run = json.loads((folder / "run.json").read_text())
    assert run["parameters"] == {"change": "0012345", "fail": False, "sleep": 0.0}
    assert run["operator"] == "alice" and run["change_id"] == "0012345" and run["host"] == "local"
    assert run["runbook_sha256"] == hashlib.sha256((runs["books"] / "small.ipynb").read_bytes()).hexdigest()
    assert run["files"] == audit.folder_files(folder)
    assert run["error"] is None and run["start"] < run["end"]
    assert "<html" in (folder / "small.html").read_text()


def test_run_keeps_declared_types_inside_the_notebook(runs):
    manifest = json.loads((runs["succeeded"].record / "manifest.json").read_text())
    assert manifest == {"change": "0012345", "type": "str"}


def test_run_journals_every_command_in_the_record_and_the_operators_journal(runs):
    entries = Journal.read(runs["succeeded"].record / "journal.jsonl")
    assert [e.argv for e in entries] == [["echo", "0012345"]]
    assert entries[0].stdout == "0012345\n" and entries[0].returncode == 0
    assert ["echo", "0012345"] in [e.argv for e in runs["journal"].entries]


def test_run_that_fails_is_recorded_with_outcome_failed_and_the_error_cell(runs):
    result = runs["failed"]
    assert result.outcome == "failed" and exit_code(result) == 1
    error = result.run["error"]
    assert error["ename"] == "AssertionError" and error["evalue"] == "asked to fail"
    assert "assert not fail" in error["source"]
    notebook = json.loads((result.record / "small.ipynb").read_text())
    errors = [o for c in notebook["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert len(errors) == 1 and errors[0]["evalue"] == "asked to fail"
    assert not (result.record / "manifest.json").exists(), "no cell runs after the failing one"
    assert (result.record / "small.html").exists()


def test_runs_are_chained_in_the_audit_log(runs):
    report = audit.verify(runs["records"])
    assert report.intact, report.problems
    assert report.lines == 2
    assert runs["failed"].audit_line["prev"] == runs["succeeded"].audit_line["hash"]


def interrupt_once_echoed(records: Path) -> None:
    """Ctrl-C, as a terminal sends it, once the run's echo is journaled (its next step sleeps)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any(journal.stat().st_size for journal in records.glob("*/journal.jsonl")):
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)
            return
        time.sleep(0.1)


def test_run_interrupted_by_ctrl_c_interrupts_the_running_step_and_is_recorded(books, tmp_path):
    book = find("small")
    values = validate(book.name, book.parameters, {"sleep": "60"}, as_text=True)
    threading.Thread(target=interrupt_once_echoed, args=(tmp_path,), daemon=True).start()
    began = time.monotonic()
    result = run_runbook(RunRequest(book, values, "local", tmp_path, "alice"), stream=io.StringIO())
    assert time.monotonic() - began < 30, "the sleeping step was interrupted, not waited for"
    assert result.outcome == "interrupted" and exit_code(result) == 130
    assert result.run["error"]["ename"] == "KeyboardInterrupt" and result.run["error"]["signal"] == "SIGINT"
    assert "sleep" in result.run["error"]["source"]
    assert audit.verify(tmp_path).intact
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the handler is given back"
