"""Tests of the Vagrant VM itself (its lifecycle, not lvmkit's operations): they need
`--lvm-host=vagrant`, which `scripts/test --lvm-host=vagrant` gives inside vagrant/sandbox.
Against any other host they are deselected, and the summary says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiers import deselect

HERE = Path(__file__).resolve().parent
VAGRANT_HOSTS = ("vagrant", "vagrant:debian12")
_DESELECTED = pytest.StashKey[int]()


def pytest_collection_modifyitems(config, items):
    if config.getoption("--lvm-host") not in VAGRANT_HOSTS:
        deselect(config, items, [item for item in items if HERE in Path(item.path).resolve().parents], _DESELECTED)


def pytest_terminal_summary(terminalreporter, config):
    if config.stash.get(_DESELECTED, 0):
        terminalreporter.write_line("vagrant: tests/vagrant/ deselected; they run with scripts/test --lvm-host=vagrant")
