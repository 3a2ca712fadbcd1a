"""A Host that replays a workflow recorded in the lab (tests/fixtures/record_workflows.py).

Each command must be the next one of the recording (argv and whether it changes state),
and is answered with what the real tool answered there; a command the recording does not
have next fails the test, and so do recorded commands that never ran (`assert_done`). Like
lvmkit's own Host, it checks every state-changing command against the plan step acting
now (lvmkit.core.declared), and refuses one outside any step.

What differs between two runs of one workflow is only the lock's content (the controller's
name and identity, its pid, the time): only the run id, origin and command are compared.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from lvmkit.core import declared
from lvmkit.core.errors import CommandError
from lvmkit.core.host import CommandResult, Host, stderr_tail
from tests.unit.conftest import FIXTURES

WORKFLOWS = FIXTURES / "workflows"
# What a lock says of the run; the rest names the controller's process and time.
_LOCK_RUN_FIELDS = ("run_id", "origin", "command")
ENGINE_PID = 4242  # the pid the replayed engine says it has; kill commands name its group


def normalised(argv: list[str]) -> list[str]:
    return [_lock_run(word) for word in argv]


def _lock_run(word: str) -> str:
    if not word.startswith('{"run_id"'):
        return word
    try:
        lock = json.loads(word)
    except ValueError:
        return word
    return json.dumps({key: lock.get(key) for key in _LOCK_RUN_FIELDS})


@dataclass
class ReplayHost(Host):
    name: str = "replay"
    recording: list[dict] = field(default_factory=list)
    outside: str = "refuse"  # "allow": state changes outside a plan's steps are not refused
    # After the run left the recording (a test that makes it fail on purpose), answer every
    # further command with success and no output, and keep it in `unrecorded`.
    lenient: bool = False
    executed: list[list[str]] = field(default_factory=list)
    unrecorded: list[list[str]] = field(default_factory=list)
    planned: list[list[str]] = field(default_factory=list)  # dry runs: recorded changes not run

    @classmethod
    def of(cls, workflow: str, **options) -> ReplayHost:
        lines = (WORKFLOWS / f"{workflow}.jsonl").read_text().splitlines()
        return cls(recording=[json.loads(line) for line in lines], **options)

    def _next(self, argv: list[str], changes: bool) -> CommandResult:
        if changes:
            declared.check(argv, outside=self.outside)
            if self.dry_run:  # as Host does: planned, not run; the recorded run's command is passed
                if self.recording and normalised(self.recording[0]["argv"]) == normalised(argv):
                    self.planned.append(self.recording.pop(0)["argv"])
                return CommandResult(list(argv), 0, "", "", 0.0, planned=True)
        self.executed.append(list(argv))
        entry = self.recording[0] if self.recording and not self.unrecorded else None
        if entry is None or normalised(entry["argv"]) != normalised(argv) or entry["changes_state"] != changes:
            if self.lenient:
                self.unrecorded.append(list(argv))
                return CommandResult(list(argv), 0, "", "", 0.0)
            expected = "nothing more" if entry is None else f"{entry['argv']} (changes={entry['changes_state']})"
            pytest.fail(f"unexpected command: {argv} (changes={changes});\nrecorded next: {expected}")
        self.recording.pop(0)
        return CommandResult(list(argv), entry["returncode"], entry["stdout"], entry["stderr"], 0.0)

    def run(self, argv, *, changes=False, check=True, input=None, timeout=None, private=None) -> CommandResult:
        result = self._next(list(argv), changes)
        if check and result.returncode != 0:
            raise CommandError(self.name, list(argv), result.returncode, stderr_tail(result.stderr))
        return result

    def start(self, argv, *, changes=True) -> ReplayedCommand:
        return ReplayedCommand(self, self._next(list(argv), changes))

    def assert_done(self) -> None:
        if self.recording:
            pytest.fail(f"recorded commands never ran: {[entry['argv'] for entry in self.recording]}")


class ReplayedCommand:
    """A background command (an engine, the group's freeze) that has already ended as recorded."""

    def __init__(self, host: ReplayHost, result: CommandResult):
        self.host, self.result, self.argv = host, result, result.argv

    def remote_pid(self, timeout: float = 30.0) -> int:
        return ENGINE_PID

    def poll(self, timeout: float = 0.0) -> int:
        return self.result.returncode

    def stderr_so_far(self) -> str:
        return self.result.stderr

    def terminate(self) -> None:
        self.host.run(["kill", "-TERM", "--", f"-{ENGINE_PID}"], changes=True, check=False)

    def wait(self, *, check: bool = True) -> CommandResult:
        if check and self.result.returncode != 0:
            raise CommandError(self.host.name, self.argv, self.result.returncode, stderr_tail(self.result.stderr))
        return self.result
