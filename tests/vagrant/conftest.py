"""Tests of the Vagrant VM itself (its lifecycle, not lvmkit's operations): they need
`--lvm-host=vagrant`, which `scripts/test --lvm-host=vagrant` gives inside vagrant/sandbox.
Against any other host they are deselected, and the summary says so."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VAGRANT_HOSTS = ("vagrant", "vagrant:debian12")
_DESELECTED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config, items):
    if config.getoption("--lvm-host") in VAGRANT_HOSTS:
        return
    vagrant_only = [item for item in items if HERE in Path(item.path).resolve().parents]
    if vagrant_only:
        items[:] = [item for item in items if item not in vagrant_only]
        config.hook.pytest_deselected(items=vagrant_only)
        config.stash[_DESELECTED] = len(vagrant_only)


def pytest_terminal_summary(terminalreporter, config):
    if config.stash.get(_DESELECTED, 0):
        terminalreporter.write_line("vagrant: tests/vagrant/ deselected; they run with scripts/test --lvm-host=vagrant")
