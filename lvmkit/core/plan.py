"""Plan, then execute: an ordered list of steps, each with its commands and its undo.

A plan is computed from the parameters and read-only queries before anything changes.
It can be shown (the exact commands), hashed (a change ticket approves the hash) and
executed. On failure, execution undoes the completed steps in reverse order, except the
ones the operator asked to keep, and re-raises the error.

What is shown is what runs: a step declares every command that changes state, exactly as
it is executed (wrappers included), the ones that run only on a condition with that
condition in words, and its undo. While a step executes, each state-changing command is
checked against its declaration (lvmkit.core.declared) and refused if it is not there.
A part known only when the step runs (a process id, a lock's content) is declared as a
Slot, shown and hashed by its description.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from shlex import join
from typing import Callable, Iterator

from lvmkit.core import declared, signals
from lvmkit.core.host import Host

Argv = list[str]


class Slot(str):
    """A word of a declared command known only when it runs: matches any word, shown as <what>."""

    def __new__(cls, what: str) -> Slot:
        return super().__new__(cls, f"<{what}>")

    def __reduce__(self):  # copies and pickles rebuild it from its description, not "<...>" again
        return (Slot, (self[1:-1],))


@dataclass(frozen=True)
class Conditional:
    """A command a step runs only when `when` holds (an extension at 60% usage, a stop)."""

    when: str
    argv: Argv


def matches(declared_argv: Argv, argv: Argv) -> bool:
    return len(declared_argv) == len(argv) and all(
        isinstance(want, Slot) or want == got for want, got in zip(declared_argv, argv, strict=True))


@dataclass
class Step:
    title: str
    # Every command of the step that changes state, exactly as executed (and read-only
    # queries worth showing); `run` may add read-only queries, and runs `conditional`
    # ones when their condition holds.
    commands: list[Argv]
    run: Callable[[Host], None] | None = None  # default: run `commands` in order
    undo_commands: list[Argv] = field(default_factory=list)
    undo: Callable[[Host], None] | None = None  # default: run `undo_commands`, tolerating failures
    # The undo is armed before the step runs, for steps that can leave something half-made
    # (a partial archive, a half-created snapshot).
    undo_armed_before: bool = False
    keep_on_failure: bool = False  # the operator asked to keep what this step made
    conditional: list[Conditional] = field(default_factory=list)

    def declares(self, argv: Argv, *, undoing: bool) -> bool:
        allowed = self.undo_commands if undoing else [*self.commands, *(c.argv for c in self.conditional)]
        return any(matches(want, argv) for want in allowed)

    def execute(self, host: Host) -> None:
        if self.run is not None:
            self.run(host)
        else:
            for argv in self.commands:
                host.run(argv, changes=True)

    def revert(self, host: Host) -> None:
        if self.undo is not None:
            self.undo(host)
        else:
            for argv in self.undo_commands:
                host.run(argv, changes=True, check=False)

    @property
    def has_undo(self) -> bool:
        return self.undo is not None or bool(self.undo_commands)


@dataclass
class Plan:
    title: str
    steps: list[Step]
    facts: dict = field(default_factory=dict)  # what the plan was computed from, for the record

    def as_dict(self) -> dict:
        return {
            "title": self.title,
            "steps": [_step_dict(s) for s in self.steps],
        }

    @property
    def sha256(self) -> str:
        """Hash of the steps and commands: what a change ticket approves."""
        canonical = json.dumps(self.as_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def render(self) -> str:
        lines = [f"plan: {self.title}  (sha256 {self.sha256})"]
        for number, step in enumerate(self.steps, 1):
            lines.append(f"{number:2}. {step.title}")
            lines += [f"      $ {join(argv)}" for argv in step.commands]
            lines += [f"      when {c.when}: $ {join(c.argv)}" for c in step.conditional]
            lines += [f"      undo: {join(argv)}" for argv in step.undo_commands]
        return "\n".join(lines)


def _step_dict(step: Step) -> dict:
    shown = {"title": step.title, "commands": step.commands, "undo": step.undo_commands}
    if step.conditional:  # absent when empty: plans approved before conditionals hash as they did
        shown["conditional"] = [{"when": c.when, "argv": c.argv} for c in step.conditional]
    return shown


@dataclass
class StepRecord:
    title: str
    outcome: str  # "done", "failed", "undone", "kept", "undo failed"
    duration_s: float
    error: str | None = None
    # State-changing commands its undo ran that the plan does not show (see core.declared).
    undeclared: list[Argv] = field(default_factory=list)


def default_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def acting(step: Step, log=default_log) -> Iterator[None]:
    """Run the block as `step` outside a plan (one removal of a cleanup, a verification's
    record): its state-changing commands are checked against the step's declaration."""
    with declared.acting_for(declared.Acting(step, log=log)):
        yield


def execute(plan: Plan, host: Host, *, log=None) -> list[StepRecord]:
    """Run every step; on failure undo completed steps in reverse and re-raise."""
    log = log or default_log
    records: list[StepRecord] = []
    completed: list[tuple[Step, StepRecord]] = []
    # The whole loop is guarded, not only each step's execution: a SIGTERM sent the moment a
    # step's title appears (the reader of that line is woken before lvmkit goes on) arrives
    # before the step starts, and must still undo the steps before it (seen in the lab).
    try:
        for number, step in enumerate(plan.steps, 1):
            log(f"[{number}/{len(plan.steps)}] {step.title}")
            began = time.monotonic()
            record = StepRecord(step.title, "done", 0.0)
            records.append(record)
            if step.undo_armed_before:
                completed.append((step, record))
            try:
                with acting(step, log):
                    step.execute(host)
            except BaseException as error:
                record.outcome, record.error = "failed", str(error) or type(error).__name__
                record.duration_s = round(time.monotonic() - began, 3)
                raise
            record.duration_s = round(time.monotonic() - began, 3)
            if not step.undo_armed_before:
                completed.append((step, record))
    except BaseException:
        _undo(completed, host, log)
        raise
    return records


def _undo(completed: list[tuple[Step, StepRecord]], host: Host, log) -> None:
    # A second Ctrl-C or SIGTERM must not cut the undo short and leave a snapshot behind.
    with signals.deferred():
        _undo_steps(completed, host, log)


def _undo_steps(completed: list[tuple[Step, StepRecord]], host: Host, log) -> None:
    for step, record in reversed(completed):
        if not step.has_undo:
            continue
        if step.keep_on_failure:
            log(f"keeping: {step.title} (as asked)")
            record.outcome = "kept"
            continue
        log(f"undo: {step.title}")
        acting = declared.Acting(step, undoing=True, log=log, undeclared=record.undeclared)
        try:
            with declared.acting_for(acting):
                step.revert(host)
            record.outcome = "undone" if record.outcome == "done" else record.outcome
        except Exception as error:  # keep undoing the rest; say what could not be undone
            log(f"undo of '{step.title}' failed: {error}")
            record.outcome = "undo failed"
