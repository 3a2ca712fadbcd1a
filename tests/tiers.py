"""Two tiers of tests. The default tier (the README's test command, and so CI) runs every
unit test and each capability's core end-to-end tests; `--full` (scripts/test --full)
adds the expensive variations, marked `@pytest.mark.full`: the rest of the engine x
filesystem matrix and the like. Deselected tests are named in the summary, not skipped."""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption("--full", action="store_true",
                     help="also run the expensive variations (tests marked `full`)")


def pytest_configure(config):
    config.addinivalue_line("markers", "full: an expensive variation, run only with --full (scripts/test --full)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--full"):
        return
    variations = [item for item in items if item.get_closest_marker("full")]
    if variations:
        items[:] = [item for item in items if not item.get_closest_marker("full")]
        config.hook.pytest_deselected(items=variations)
        config.stash[_DESELECTED] = len(variations)


_DESELECTED = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"tiers: {count} expensive variation(s) deselected (the default tier); "
            f"run them with scripts/test --full")
