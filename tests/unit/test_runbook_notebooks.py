"""The stored runbooks: clean (no outputs), runnable by papermill, and one step per cell."""

from __future__ import annotations

import ast
import inspect
import json

import pytest

from lvmkit.runbooks import steps
from lvmkit.runbooks.catalog import list_runbooks, runbooks_dir
from lvmkit.runbooks.params import INJECTED, TYPES

RUNBOOKS = list_runbooks()
EXPECTED = {"backup", "restore", "verify", "dr-rehearsal", "snapshot-overflow-drill", "group-backup",
            "bare-metal-rehearsal", "postgresql-backup"}


def code(cell) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else source


def test_runbooks_directory_holds_every_runbook_of_the_issue():
    assert EXPECTED <= {book.name for book in RUNBOOKS}, f"runbooks in {runbooks_dir()}"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_runbook_is_stored_without_outputs_or_execution_counts(book):
    notebook = json.loads(book.path.read_text())
    for number, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {number} of {book.path.name} holds outputs"
            assert cell["execution_count"] is None, f"cell {number} of {book.path.name} has an execution count"
        assert "execution" not in cell.get("metadata", {}), f"cell {number} holds execution times"
    assert "papermill" not in notebook["metadata"], "an executed notebook was stored as the runbook"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_runbook_has_the_metadata_papermill_needs(book):
    metadata = json.loads(book.path.read_text())["metadata"]
    assert metadata["kernelspec"]["name"] == "python3"
    assert metadata["kernelspec"]["language"] == "python"
    assert metadata["language_info"]["name"] == "python"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_runbook_has_one_parameters_cell_with_a_help_comment_per_parameter(book):
    cells = json.loads(book.path.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1 and tagged[0]["cell_type"] == "code"
    assignments = [line for line in code(tagged[0]).splitlines() if line.strip() and not line.startswith("#")]
    for line in assignments:
        assert "  # " in line, f"{book.name}: no help comment on {line!r}"
    parameters = book.parameters  # raises on a missing help, type or literal default
    assert len(parameters) == len(assignments)
    assert all(p.type in TYPES and p.help for p in parameters)
    assert set(INJECTED) <= {p.name for p in parameters}, "every runbook takes what `runbook run` injects"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_runbook_explains_itself_before_its_first_step(book):
    cells = json.loads(book.path.read_text())["cells"]
    assert cells[0]["cell_type"] == "markdown" and code(cells[0]).startswith("# ")
    markdown = [c for c in cells if c["cell_type"] == "markdown"]
    steps = [c for c in cells if c["cell_type"] == "code"]
    assert len(markdown) >= len(steps) // 2, "a runbook reads as documentation: explain the steps"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_each_step_cell_calls_one_lvmkit_step_and_nothing_else(book):
    cells = json.loads(book.path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = code(cell)
        assert "subprocess" not in source and "os.system" not in source
        assert not any(line.lstrip().startswith(("!", "%")) for line in source.splitlines()), "no shell in cells"
        statements = [s for s in ast.parse(source).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        assert len(statements) == 1, f"{book.name}: one step per cell, got {source!r}"
        (statement,) = statements
        call = statement.value if isinstance(statement, (ast.Expr, ast.Assign)) else None
        assert isinstance(call, ast.Call), f"{book.name}: a cell calls a step: {source!r}"
        assert isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Name)
        assert call.func.value.id == "steps", f"{book.name}: cells call lvmkit.runbooks.steps: {source!r}"


@pytest.mark.parametrize("book", RUNBOOKS, ids=lambda book: book.name)
def test_each_step_cell_calls_a_step_that_exists_with_arguments_it_takes(book):
    cells = json.loads(book.path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        (statement,) = [s for s in ast.parse(code(cell)).body if not isinstance(s, (ast.Import, ast.ImportFrom))]
        call = statement.value
        function = getattr(steps, call.func.attr, None)
        assert callable(function), f"{book.name}: steps.{call.func.attr} does not exist"
        try:
            inspect.signature(function).bind(*call.args, **{k.arg: k.value for k in call.keywords})
        except TypeError as error:
            pytest.fail(f"{book.name}: steps.{call.func.attr} does not take the arguments {code(cell)!r}: {error}")
