"""Which state-changing commands the step that runs now has declared, and the check of each.

A plan shows, hashes and executes steps; while a step executes (or is undone), the plan's
executor makes it the *acting* step here. Every command that changes state passes
`check(argv)` before it runs (Host.run with changes=True, Host.start, and the test hosts):

  - a step's forward command that it did not declare is refused (UndeclaredCommand) before it
    runs: nothing has happened yet, the step fails, and its plan's undo runs. An approved plan
    is then exactly what may run, and a missing declaration shows at once, in the tests;
  - an undeclared command while a step is undone still runs (the undo removes snapshots and
    unmounts: blocking it would leave them behind), and is reported to the executor's log
    and recorded on the step's record, which the tests assert empty.

Commands outside any step (the lab's setup, drills, read-only queries) are not checked; a
test host can ask for `outside="refuse"` to prove a workflow runs nothing outside its plan.

Background work started by a step (the snapshot guard's thread) acts for that step: it
keeps the step it was started by (`owner()` then `acting_for(owner)`).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Callable, Iterator, Protocol


class UndeclaredCommand(Exception):
    """A step ran a state-changing command its plan does not show.

    A bug in lvmkit, not a condition of the machine: not an LvmkitError, so that no handler
    of those (a step that blames an overflow for its failure, the CLI's one-line errors)
    takes it for something else.
    """

class Declares(Protocol):
    title: str

    def declares(self, argv: list[str], *, undoing: bool) -> bool: ...


@dataclass
class Acting:
    """The step acting now, whether it is being undone, and what it ran undeclared."""

    step: Declares
    undoing: bool = False
    log: Callable[[str], None] = print
    undeclared: list[list[str]] = field(default_factory=list)


_acting: ContextVar[Acting | None] = ContextVar("lvmkit_acting_step", default=None)


def owner() -> Acting | None:
    """The step acting now (for background work it starts), or None outside a plan."""
    return _acting.get()


@contextmanager
def acting_for(acting: Acting | None) -> Iterator[None]:
    token = _acting.set(acting)
    try:
        yield
    finally:
        _acting.reset(token)


def check(argv: list[str], *, outside: str = "allow") -> None:
    """Refuse (or, while undoing, report) a state-changing argv its acting step did not declare."""
    acting = _acting.get()
    if acting is None:
        if outside == "refuse":
            raise UndeclaredCommand(f"{argv!r} changes state outside any step of a plan")
        return
    if acting.step.declares(list(argv), undoing=acting.undoing):
        return
    what = "its undo" if acting.undoing else "its commands"
    message = (f"step '{acting.step.title}' ran {argv!r}, which is not among {what} in the plan "
               f"(the approved plan must show every command that changes state)")
    if not acting.undoing:
        raise UndeclaredCommand(message)
    acting.undeclared.append(list(argv))
    acting.log(f"warning: {message}")
