"""Parameters: declared by a notebook's parameters cell, checked before anything runs."""

from __future__ import annotations

import nbformat
import pytest

from lvmkit.core.errors import UsageError
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.params import NotebookError, ParameterError, declared, validate

CELL = '''change: str = "CHG-1"  # the change ticket
count: int = 3  # how many
ratio: float = 0.5  # a share
deep: bool = False  # go deep
options: dict = {}  # settings
names: list = []  # some names
dest: str = None  # required: where to write
host_spec: str = "lab"  # set by lvmkit
'''


def notebook(tmp_path, source: str, tagged: bool = True):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"},
                                            "language_info": {"name": "python"}})
    cell = nbformat.v4.new_code_cell(source)
    if tagged:
        cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    path = tmp_path / "book.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.fixture
def parameters(tmp_path):
    return declared(notebook(tmp_path, CELL))


def test_declared_reads_types_defaults_and_help(parameters):
    by_name = {p.name: p for p in parameters}
    assert [p.name for p in parameters] == ["change", "count", "ratio", "deep", "options", "names", "dest", "host_spec"]
    assert by_name["count"].type == "int" and by_name["count"].default == 3
    assert by_name["dest"].required and by_name["dest"].help == "required: where to write"
    assert by_name["host_spec"].injected and not by_name["change"].injected


def test_validate_with_text_values_converts_to_declared_types(parameters):
    values = validate("book", parameters, {"change": "0012345", "count": "12", "ratio": "2", "deep": "yes",
                                           "options": '{"threads": "2"}', "names": '["a"]', "dest": "/backups"},
                      as_text=True)
    assert values == {"change": "0012345", "count": 12, "ratio": 2.0, "deep": True,
                      "options": {"threads": "2"}, "names": ["a"], "dest": "/backups"}
    assert isinstance(values["change"], str), "a change id 0012345 stays a string"


def test_validate_fills_defaults_and_leaves_injected_out(parameters):
    values = validate("book", parameters, {"dest": "/backups"})
    assert values["count"] == 3 and values["deep"] is False
    assert "host_spec" not in values


def test_validate_with_unknown_name_suggests_the_close_one(parameters):
    with pytest.raises(ParameterError) as raised:
        validate("book", parameters, {"dest": "/b", "cuont": "1"}, as_text=True)
    assert "unknown parameter cuont (did you mean count?)" in str(raised.value)
    assert isinstance(raised.value, UsageError), "the CLI exits 2 on it"


@pytest.mark.parametrize("name, text, message", [
    ("count", "12.5", "count takes a whole number (int), not '12.5'"),
    ("ratio", "half", "ratio takes a number (float), not 'half'"),
    ("deep", "maybe", "deep takes true or false (bool), not 'maybe'"),
    ("options", "threads=2", "options takes a JSON dict"),
    ("options", "[1]", "options takes a dict, not list [1]"),
])
def test_validate_with_wrong_type_names_the_parameter_and_value(parameters, name, text, message):
    with pytest.raises(ParameterError, match="nothing was run") as raised:
        validate("book", parameters, {"dest": "/b", name: text}, as_text=True)
    assert message in str(raised.value)


def test_validate_with_missing_required_names_it_with_its_help(parameters):
    with pytest.raises(ParameterError) as raised:
        validate("book", parameters, {})
    assert "missing required parameter dest (str): required: where to write" in str(raised.value)


def test_validate_refuses_injected_parameters(parameters):
    with pytest.raises(ParameterError, match=r"host_spec is set by `lvmkit runbook run` itself \(use --host\)"):
        validate("book", parameters, {"dest": "/b", "host_spec": "local"})


def test_validate_reports_every_problem_at_once(parameters):
    with pytest.raises(ParameterError) as raised:
        validate("book", parameters, {"bogus": "1", "count": "x"}, as_text=True)
    assert len(raised.value.problems) == 3  # unknown, wrong type, missing dest


@pytest.mark.parametrize("name, value", [("count", True), ("count", "3"), ("change", 12345), ("deep", 1),
                                         ("options", []), ("ratio", "0.5")])
def test_validate_with_python_values_of_another_type_refuses_them(parameters, name, value):
    with pytest.raises(ParameterError, match=f"{name} takes a"):
        validate("book", parameters, {"dest": "/b", name: value})


def test_validate_with_python_int_for_float_gives_float(parameters):
    assert validate("book", parameters, {"dest": "/b", "ratio": 1})["ratio"] == 1.0


@pytest.mark.parametrize("source, message", [
    ("x = 1\n", "no help"),
    ("x: str = os.getcwd()  # a path\n", "not a literal"),
    ("x: tuple = ()  # a tuple\n", "runbooks take str, int"),
    ("x = None  # required\n", "has no type"),
    ("x: int = 'a'  # a number\n", "declared int but its default is 'a'"),
])
def test_declared_with_bad_declaration_names_the_parameter(tmp_path, source, message):
    with pytest.raises(NotebookError, match=message):
        declared(notebook(tmp_path, source))


def test_declared_without_parameters_cell_says_so(tmp_path):
    with pytest.raises(NotebookError, match="no code cell tagged 'parameters'"):
        declared(notebook(tmp_path, "x: int = 1  # a number\n", tagged=False))


def test_backup_runbook_requires_dest_and_keeps_change_like_strings():
    book = find("backup")
    with pytest.raises(ParameterError, match="missing required parameter dest"):
        validate(book.name, book.parameters, {}, as_text=True)
    values = validate(book.name, book.parameters, {"dest": "/b", "snapshot_size": "0012345"}, as_text=True)
    assert values["snapshot_size"] == "0012345" and values["origin"] == "labvg/ext4vol"


def test_find_with_unknown_runbook_lists_the_runbooks():
    with pytest.raises(UsageError, match=r"no runbook 'backpu' \(did you mean backup\?\); there are: .*restore"):
        find("backpu")
