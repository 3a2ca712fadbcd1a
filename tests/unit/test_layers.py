"""The package's layers: core < lvm < archive < ops < faces. A module never imports a
module of a higher layer (function-level imports included), so each layer can be read,
tested and reused without the ones above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lvmkit"
LAYERS = {"core": 1, "lvm": 2, "archive": 3, "ops": 4}
FACE = 5  # cli, targets, lab, runbooks, jobs: whatever is not a lower layer
LAYER_NAMES = {0: "the package root", 1: "core", 2: "lvm", 3: "archive", 4: "ops", 5: "a face"}


def layer_of(module: str) -> int:
    """module: dotted, below lvmkit ("ops.backup"); "" is the package root (__version__)."""
    if not module:
        return 0
    return LAYERS.get(module.split(".")[0], FACE)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted module below lvmkit) for every import of lvmkit in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "lvmkit":
                found += [(node.lineno, alias.name) for alias in node.names if alias.name != "__version__"]
            elif node.module.startswith("lvmkit."):
                found.append((node.lineno, node.module.removeprefix("lvmkit.")))
        elif isinstance(node, ast.ImportFrom) and node.level:
            found.append((node.lineno, f"<relative import {'.' * node.level}{node.module or ''}>"))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.removeprefix("lvmkit.")) for alias in node.names
                      if alias.name.startswith("lvmkit.")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_layer_folder_exists_and_holds_modules():
    for folder in LAYERS:
        assert list((PACKAGE / folder).glob("*.py")), f"lvmkit/{folder}/ is missing or empty"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_its_own_layer_or_lower_ones(path):
    own = layer_of(module_name(path))
    wrong = []
    for line, target in imported_modules(path):
        assert not target.startswith("<"), f"{path.name}:{line}: {target}: import lvmkit's modules by absolute name"
        if layer_of(target) > own:
            wrong.append(f"line {line}: lvmkit.{target} ({LAYER_NAMES[layer_of(target)]})")
    assert not wrong, f"{module_name(path)} ({LAYER_NAMES[own]}) imports a higher layer: " + "; ".join(wrong)


def test_layer_check_catches_a_lower_module_importing_a_higher_one(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from lvmkit.ops.backup import backup\n")
    assert [layer_of(target) for _, target in imported_modules(bad)] == [LAYERS["ops"]]
    assert layer_of("core.host") < layer_of("ops.backup") < layer_of("runbooks.steps")


TESTS = PACKAGE.parent / "tests"
# Every folder of test modules: the helpers its modules share live in modules of their own.
TEST_FOLDERS = ["e2e", "unit", "vagrant"]


def imported_test_modules(path: Path) -> list[str]:
    """The test modules (test_*) that `path` imports, relatively or by absolute name, also
    as a name imported from a package (`from tests.unit import test_terminal`)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            names = ([node.module] if node.module else []) + [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"line {node.lineno}: {name}" for name in names if name.split(".")[-1].startswith("test_")]
    return found


@pytest.mark.parametrize("folder", TEST_FOLDERS)
def test_modules_never_import_a_test_module(folder):
    """Helpers two test modules share live in a module of their own (tests/e2e/volumes.py,
    runbook_cli.py; tests/unit/archive_sets.py, small_runbook.py) or, a fixture, in the
    folder's conftest.py: a test module imported by another ties the two together
    (test_postgresql.py needed selenium because test_runbooks.py drives a browser; a test
    imported by name is collected twice, a fixture imported by name needs two noqa)."""
    modules = sorted((TESTS / folder).glob("*.py"))
    assert modules, f"tests/{folder}/ is missing or holds no module"
    wrong = {path.name: imported_test_modules(path) for path in modules}
    assert {name: found for name, found in wrong.items() if found} == {}


def test_test_module_imports_are_found_relative_or_absolute(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from .test_group import make_volume\nfrom tests.e2e.test_runbooks import lvmkit\n"
                   "from .volumes import drop_volume\nfrom tests.unit import conftest, test_terminal\n"
                   "from . import test_closure\nimport tests.unit.test_declared\n")
    assert imported_test_modules(bad) == ["line 1: test_group", "line 2: tests.e2e.test_runbooks",
                                          "line 4: test_terminal", "line 5: test_closure",
                                          "line 6: tests.unit.test_declared"]
