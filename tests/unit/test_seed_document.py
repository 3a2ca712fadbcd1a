"""Where the seed document is found, and what the suite does without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.seed import SeedDocumentMissing, find_seed_document, seed_test_deselection

pytest_plugins = ["pytester"]


@pytest.fixture
def checkout(tmp_path):
    """A checkout with an empty place beside it where ../shared/seed/ would be."""
    (tmp_path / "lvmkit").mkdir()
    return tmp_path / "lvmkit"


def put_beside(checkout: Path) -> Path:
    beside = checkout.parent / "shared" / "seed" / "making-consistent-backups-with-lvm.md"
    beside.parent.mkdir(parents=True)
    beside.write_text("beside")
    return beside


def test_find_with_variable_set_prefers_it_to_the_document_beside(checkout, tmp_path):
    put_beside(checkout)
    configured = tmp_path / "elsewhere.md"
    configured.write_text("configured")
    assert find_seed_document({"LVMKIT_SEED_DOC": str(configured)}, checkout) == configured


def test_find_without_variable_takes_the_document_beside_the_checkout(checkout):
    beside = put_beside(checkout)
    assert find_seed_document({}, checkout) == beside


def test_find_with_variable_naming_no_file_falls_back_to_the_document_beside(checkout, tmp_path):
    beside = put_beside(checkout)
    assert find_seed_document({"LVMKIT_SEED_DOC": str(tmp_path / "absent.md")}, checkout) == beside


def test_find_with_no_document_anywhere_names_every_place_and_the_variable(checkout, tmp_path):
    with pytest.raises(SeedDocumentMissing) as missing:
        find_seed_document({"LVMKIT_SEED_DOC": str(tmp_path / "absent.md")}, checkout)
    message = str(missing.value)
    assert str(tmp_path / "absent.md") in message
    assert str(tmp_path / "shared" / "seed" / "making-consistent-backups-with-lvm.md") in message
    assert "set LVMKIT_SEED_DOC=" in message


def test_deselection_without_document_outside_ci_gives_the_reason(checkout):
    reason = seed_test_deselection({"CI": "false"}, checkout)
    assert reason is not None and "LVMKIT_SEED_DOC is not set" in reason


def test_deselection_without_document_under_ci_is_an_error(checkout):
    with pytest.raises(SeedDocumentMissing, match="is not at"):
        seed_test_deselection({"CI": "true"}, checkout)


def test_deselection_with_document_under_ci_runs_the_test(checkout):
    put_beside(checkout)
    assert seed_test_deselection({"CI": "true"}, checkout) is None


SEED_TESTS = """
import pytest

pytestmark = pytest.mark.seed_document

def test_needs_the_seed():
    pass
"""
OTHER_TESTS = "def test_other():\n    pass\n"


@pytest.fixture
def suite(pytester, checkout, monkeypatch):
    """The suite's seed plugin (tests/seed_document.py) over a seed test and another, with no document."""
    monkeypatch.setattr("benchmarks.seed.CHECKOUT", checkout)
    monkeypatch.delenv("LVMKIT_SEED_DOC", raising=False)
    pytester.makeconftest('pytest_plugins = ["tests.seed_document"]\n')
    pytester.makepyfile(test_seed=SEED_TESTS, test_other=OTHER_TESTS)
    return pytester


def test_suite_without_document_deselects_the_seed_test_and_says_how_to_get_it(suite, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    result = suite.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*seed document*", "*1 deselected (test_needs_the_seed)*set LVMKIT_SEED_DOC=*"])


def test_suite_without_document_under_ci_stops_with_the_message(suite, monkeypatch):
    monkeypatch.setenv("CI", "true")
    result = suite.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*CI=true: the seed document*is not at*"])


def test_suite_with_document_runs_the_seed_test(suite, checkout, monkeypatch):
    monkeypatch.setenv("CI", "true")
    put_beside(checkout)
    suite.runpytest_inprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)
