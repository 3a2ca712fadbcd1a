"""What `runbook run` shows on the terminal: the runbook's steps, warnings, the outcome and the
record; papermill's cell-by-cell log only with -v. Runs a small notebook of the test's own
through the real runner (papermill, a kernel of this Python) against `local`."""

from __future__ import annotations

import io
import json

import nbformat
import pytest

from lvmkit.runbooks.catalog import RUNBOOKS_ENV, find
from lvmkit.runbooks.console import Outline, headings, step_titles
from lvmkit.runbooks.params import validate
from lvmkit.runbooks.runner import RunRequest, run_runbook
from tests.unit.fake_terminal import FakeTty, screen
from tests.unit.small_runbook import PARAMETERS


def markdown(text: str):
    return nbformat.v4.new_markdown_cell(text)


def code(text: str, tags=()):
    cell = nbformat.v4.new_code_cell(text)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


CELLS = [
    markdown("# A runbook with steps\n\nFor the console's tests."),
    code(PARAMETERS, ["parameters"]),
    markdown("## Connect to the target"),
    code("from lvmkit.runbooks import steps\nhost = steps.connect(host_spec, journal_path)"),
    markdown("## 1. Echo the change\n\nOne harmless command.\n\n```sh\n# not a heading\n```"),
    code('host.run(["echo", change])\nprint("a detail the record keeps")\nprint("warning: a thing to see")'),
    code('print("[1/1] a step of a plan")'),  # no heading: still step 2
    # an engine's progress, as a backup draws it: in a kernel a live line, redrawn, then final
    code('from lvmkit.core.progress import Progress\nprogress = Progress("demo-engine", 4096)\n'
         'progress.update(1024)\nprogress.finish(4096)'),
    markdown("## Part 2\n\n### Fail when asked"),
    code('assert not fail, "asked to fail"'),
]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    directory = tmp_path_factory.mktemp("runbooks")
    nb = nbformat.v4.new_notebook(cells=CELLS, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, directory / "steps.ipynb")
    patch = pytest.MonkeyPatch()
    patch.setenv(RUNBOOKS_ENV, str(directory))
    yield find("steps")
    patch.undo()


def run(book, tmp_path, verbose=False, quiet=False, **given):
    values = validate(book.name, book.parameters, given, as_text=True)
    terminal = io.StringIO()
    result = run_runbook(RunRequest(book, values, "local", tmp_path, "alice"), stream=terminal, verbose=verbose,
                         quiet=quiet)
    return result, terminal.getvalue()


def test_headings_skip_fenced_code():
    assert headings("## A\ntext\n```sh\n# comment\n```\n### B #") == [(2, "A"), (3, "B")]


def test_step_titles_come_from_the_headings_before_each_code_cell(book):
    assert step_titles(book.notebook["cells"]) == ["Connect to the target", "Echo the change", "Part 2 / Fail when asked"]
    assert Outline().feed({"cell_type": "code", "source": "x = 1"}) is None, "no heading, no step"


def test_quiet_run_shows_steps_warnings_outcome_and_record_but_no_cell_log(book, tmp_path):
    result, shown = run(book, tmp_path)
    lines = shown.splitlines()
    assert result.outcome == "succeeded"
    assert [line.strip() for line in lines if line.startswith("  [")] == [
        "[1/3] Connect to the target", "[2/3] Echo the change", "[3/3] Part 2 / Fail when asked"]
    assert "        warning: a thing to see" in lines
    assert "        [1/1] a step of a plan" in lines  # a plan's step: a line in a log, the live line on a tty
    assert "a detail the record keeps" not in shown and "Executing Cell" not in shown and "Ending Cell" not in shown
    assert lines[-1].startswith("lvmkit: runbook steps: succeeded in ") and str(result.record) in lines[-1]
    progress = [line for line in lines if "demo-engine" in line]
    assert progress == [lines[5]] and lines[5].startswith("        demo-engine: 4.0 KiB of ~4.0 KiB (100%), ")
    assert lines[5].endswith(", done"), "without -q an engine's final progress stays, under its step"
    assert len(lines) == 8
    notebook = json.loads((result.record / "steps.ipynb").read_text())
    assert "a detail the record keeps" in json.dumps(notebook), "the record keeps every output"


def test_run_with_q_shows_only_warnings_and_the_outcome_with_its_record(book, tmp_path):
    result, shown = run(book, tmp_path, quiet=True)
    lines = shown.splitlines()
    assert result.outcome == "succeeded"
    assert lines[0] == "        warning: a thing to see", "a warning is shown, under no step line"
    assert lines[1].startswith("lvmkit: runbook steps: succeeded in ") and str(result.record) in lines[1]
    assert len(lines) == 2, shown
    assert "demo-engine" not in shown, "a log under -q gets no progress line, not even the final one"


def test_run_with_q_on_a_terminal_erases_each_live_line_when_it_ends(book, tmp_path, monkeypatch):
    """The step under way and an engine's progress are drawn and redrawn, and gone once they end."""
    monkeypatch.setenv("COLUMNS", "200")  # FakeTty has no fileno: the width comes from $COLUMNS
    tty = FakeTty()
    values = validate(book.name, book.parameters, {}, as_text=True)
    result = run_runbook(RunRequest(book, values, "local", tmp_path, "alice"), stream=tty, quiet=True)
    assert result.outcome == "succeeded"
    written = tty.getvalue()
    assert "demo-engine: 1.0 KiB of ~4.0 KiB (25%)" in written and ", done" in written, "progress was drawn"
    rows = screen(written)
    # the step's live line stays only as the context of the warning that came under it
    assert rows[:2] == ["  [2/3] Echo the change", "        warning: a thing to see"]
    assert rows[2].startswith("lvmkit: runbook steps: succeeded in ") and str(result.record) in rows[2]
    assert len(rows) == 3, rows


def test_verbose_run_shows_papermills_cell_by_cell_log(book, tmp_path):
    result, shown = run(book, tmp_path, verbose=True)
    assert result.outcome == "succeeded"
    assert "Executing Cell" in shown and "Ending Cell" in shown and "a detail the record keeps" in shown
    assert "  [2/3] Echo the change" in shown.splitlines()


def test_failing_run_names_the_failing_step_and_message_and_the_record(book, tmp_path):
    result, shown = run(book, tmp_path, fail="true")
    assert result.outcome == "failed"
    failure, outcome = shown.splitlines()[-2:]
    assert failure.startswith("lvmkit: runbook steps failed in step [3/3] Part 2 / Fail when asked at In [")
    assert failure.endswith("]: AssertionError: asked to fail")
    assert outcome.startswith("lvmkit: runbook steps: failed in ") and str(result.record) in outcome


def test_a_heading_ends_the_sections_of_its_level_so_an_introductions_headings_are_no_step():
    cells = [{"cell_type": "markdown", "source": "# Title\n## Why\n## Running it"},
             {"cell_type": "markdown", "source": "## Part 1\n### Preflight"},
             {"cell_type": "code", "source": "a()"},
             {"cell_type": "markdown", "source": "### The plan"},
             {"cell_type": "code", "source": "b()"}]
    assert step_titles(cells) == ["Part 1 / Preflight", "The plan"]
