"""Shared unit-test helpers: a Host that plays back a script instead of running commands, and
the fixtures several test modules use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lvmkit.core import declared
from lvmkit.core.errors import CommandError
from lvmkit.core.host import CommandResult, Host, stderr_tail
from lvmkit.runbooks.catalog import RUNBOOKS_ENV
from tests.unit.small_runbook import write_runbook

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@dataclass
class ScriptedHost(Host):
    """Answers each expected argv, in order, with a recorded result.

    Fails the test on a command it did not expect (or expected with another `changes`);
    `assert_done` fails on expected commands that never ran.
    """

    name: str = "scripted"
    script: list[tuple[list[str], bool, CommandResult]] = field(default_factory=list)

    def expect(self, argv, *, stdout="", stderr="", returncode=0, changes=False) -> None:
        result = CommandResult(list(argv), returncode, stdout, stderr, 0.0)
        self.script.append((list(argv), changes, result))

    def run(self, argv, *, changes=False, check=True, input=None, timeout=None, private=None) -> CommandResult:
        if changes:
            declared.check(list(argv))  # as Host does: only what the acting plan step declares
        if not self.script:
            pytest.fail(f"unexpected command: {argv}")
        expected, expected_changes, result = self.script.pop(0)
        if list(argv) != expected or changes != expected_changes:
            pytest.fail(
                f"unexpected command: {argv} (changes={changes});\n"
                f"expected: {expected} (changes={expected_changes})"
            )
        if check and result.returncode != 0:
            raise CommandError(self.name, argv, result.returncode, stderr_tail(result.stderr))
        return result

    def assert_done(self) -> None:
        if self.script:
            pytest.fail(f"expected commands never ran: {[argv for argv, _, _ in self.script]}")


@pytest.fixture
def scripted_host():
    host = ScriptedHost()
    yield host
    host.assert_done()


@pytest.fixture
def fixture_text():
    """Read a recorded output from tests/fixtures/, e.g. fixture_text("lvm/lvs-lab.json")."""
    return lambda relative: (FIXTURES / relative).read_text()


@pytest.fixture
def shellcheck():
    """Run shellcheck over the given files, every severity down to style; fails on any finding."""
    return lambda paths: Host().run(["shellcheck", "--severity=style", *map(str, paths)])


@pytest.fixture(scope="module")
def books(tmp_path_factory):
    """A runbooks folder holding the small runbook (small_runbook.py), which $LVMKIT_RUNBOOKS
    names while the module's tests run: the runner's and the audit report's."""
    directory = tmp_path_factory.mktemp("runbooks")
    write_runbook(directory)
    patch = pytest.MonkeyPatch()
    patch.setenv(RUNBOOKS_ENV, str(directory))
    yield directory
    patch.undo()
