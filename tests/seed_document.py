"""The seed script comparison needs the seed document, which is not in the repository
(benchmarks/seed.py says where it is looked for). Without it, tests marked `seed_document`
are deselected, not skipped (they cannot run here at all), and the summary says how to get
the document; under CI=true a missing document stops the run instead."""

from __future__ import annotations

import pytest

from benchmarks.seed import SeedDocumentMissing, seed_test_deselection

_DESELECTED = pytest.StashKey[str]()


def pytest_configure(config):
    config.addinivalue_line("markers", "seed_document: needs the seed document, which is not in the repository")


def pytest_collection_modifyitems(config, items):
    needing = [item for item in items if item.get_closest_marker("seed_document")]
    if not needing:
        return
    try:
        reason = seed_test_deselection()
    except SeedDocumentMissing as missing:
        raise pytest.UsageError(f"CI=true: {missing}") from None
    if reason is None:
        return
    items[:] = [item for item in items if not item.get_closest_marker("seed_document")]
    config.hook.pytest_deselected(items=needing)
    config.stash[_DESELECTED] = f"{len(needing)} deselected ({', '.join(i.name for i in needing)}): {reason}"


def pytest_terminal_summary(terminalreporter, config):
    if _DESELECTED in config.stash:
        terminalreporter.section("seed document")
        terminalreporter.line(config.stash[_DESELECTED], yellow=True)
