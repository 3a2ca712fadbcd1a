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


def deselect(config, items: list, chosen: list, counted: pytest.StashKey[int]) -> None:
    """Take `chosen` out of the run as deselected (named in the summary, never skipped) and
    count them in the stash under `counted`, for the summary line of whoever chose them."""
    if chosen:
        items[:] = [item for item in items if item not in chosen]
        config.hook.pytest_deselected(items=chosen)
        config.stash[counted] = len(chosen)


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--full"):
        deselect(config, items, [item for item in items if item.get_closest_marker("full")], _DESELECTED)


_DESELECTED = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(_DESELECTED, 0)
    if count:
        terminalreporter.write_line(
            f"tiers: {count} expensive variation(s) deselected (the default tier); "
            f"run them with scripts/test --full")
