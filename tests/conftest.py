"""Options shared by every test tier, and the seed test's deselection."""

import pytest

from benchmarks.seed import SeedDocumentMissing, seed_test_deselection

SEED_DESELECTED = pytest.StashKey[str]()


def pytest_addoption(parser):
    parser.addoption(
        "--lvm-host",
        default="lab",
        help="where end-to-end tests run real LVM: lab (default), local, vagrant, or ssh://[user@]host[:port]",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "seed_document: needs the seed document, which is not in the repository")


def pytest_collection_modifyitems(config, items):
    """Without the seed document, its tests are deselected (not skipped: they cannot run
    here at all), and the summary says how to get it; under CI=true the run stops."""
    needing = [item for item in items if item.get_closest_marker("seed_document")]
    if not needing:
        return
    try:
        reason = seed_test_deselection()
    except SeedDocumentMissing as missing:
        raise pytest.UsageError(f"CI=true: {missing}") from None
    if reason is None:
        return
    items[:] = [item for item in items if item not in needing]
    config.hook.pytest_deselected(items=needing)
    config.stash[SEED_DESELECTED] = f"{len(needing)} deselected ({', '.join(i.name for i in needing)}): {reason}"


def pytest_terminal_summary(terminalreporter, config):
    if SEED_DESELECTED in config.stash:
        terminalreporter.section("seed document")
        terminalreporter.line(config.stash[SEED_DESELECTED], yellow=True)
