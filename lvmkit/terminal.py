"""What an operator's terminal shows while lvmkit works: one live line for what is under way,
permanent lines for what matters (warnings, undo, errors, results); every detail with -v.

On a terminal, a "live" line is redrawn in place (`\\r`), cut to the terminal's width so that
it never wraps (a wrapped line cannot be redrawn: each redraw would leave a row behind). In
a log (not a terminal), a live line is written once, as a plain line, when it is final.
Quiet (-q), a live line that ends (an engine's progress, its final redraw included) is
erased, and in a log never written: -q shows only warnings, errors and the result.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil

CLEAR_LINE = "\r\x1b[K"  # back to column 0, erase to the end of the line
STEP = re.compile(r"\[\d+/\d+\] ")  # a plan's "[3/12] mount the snapshot ..." (core.plan)
# Lines an operator must see even when lvmkit is quiet: trouble, and what was undone or kept.
NOTABLE = ("warning:", "undo", "keeping:", "error")


class Terminal:
    """A text stream (stderr) that knows whether its current line is a live one."""

    def __init__(self, stream, quiet: bool = False):
        self.stream = stream
        self.tty = _isatty(stream)
        self.quiet = quiet  # a live line that ends is erased, not kept (-q)
        self._live = False  # the cursor is on a live line (tty) or a live line is pending (log)
        self._column = 0  # characters of the live line written (tty)
        self._pending = ""  # the live line's latest text, written when it ends (log)
        self.at_line_start = True

    @classmethod
    def of(cls, stream, quiet: bool = False) -> Terminal:
        """`stream` itself if it is a Terminal (its maker chose its quietness), else one on it."""
        return stream if isinstance(stream, Terminal) else cls(stream, quiet)

    def isatty(self) -> bool:
        return self.tty

    def fileno(self) -> int:
        return self.stream.fileno()

    def flush(self) -> None:
        self.stream.flush()

    def write(self, text: str) -> int:
        """Like a terminal: text after a `\\r` replaces the line (a progress line redraws itself)."""
        for part in re.split(r"(\r|\n)", text):
            if part == "\r":
                self._start_live()
            elif part == "\n":
                self._end_line(keep=not self.quiet)
            elif part:
                self._text(part)
            self.at_line_start = part in ("\r", "\n") or (not part and self.at_line_start)
        self.stream.flush()
        return len(text)

    def status(self, text: str) -> None:
        """What is under way now: redrawn in place on a terminal, a line of its own in a log."""
        if not self.tty:
            self.line(text)
            return
        self.write("\r" + text)

    def line(self, text: str) -> None:
        """A permanent line. A live line that is showing stays, as the context of this one."""
        if self._live:
            self._end_line()
        self.write(text + "\n")

    def clear(self) -> None:
        """Erase the live line (its work is done); nothing happens in a log."""
        if self._live and self.tty:
            self.stream.write(CLEAR_LINE)
            self.stream.flush()
        if self._live:
            self.at_line_start = True
        self._live, self._column, self._pending = False, 0, ""

    def _start_live(self) -> None:
        self._live, self._column, self._pending = True, 0, ""
        if self.tty:
            self.stream.write(CLEAR_LINE)

    def _text(self, part: str) -> None:
        if not self._live:
            self.stream.write(part)
        elif self.tty:
            room = max(_width(self.stream) - 1 - self._column, 0)
            shown = part.rstrip()[:room]  # progress lines pad themselves with spaces: not needed here
            self.stream.write(shown)
            self._column += len(shown)
        else:
            self._pending += part

    def _end_line(self, keep: bool = True) -> None:
        """End the line; a live one is kept as a permanent line, or (not `keep`) erased."""
        if self._live and not keep:
            self.clear()
            return
        if self._live and not self.tty:
            self.stream.write(self._pending.rstrip())
        self.stream.write("\n")
        self._live, self._column, self._pending = False, 0, ""


class OperatorLog:
    """The `log` that lvmkit's operations write to, sorted for the operator.

    Quiet (the default): a plan's step lines are the live line, notable lines (warnings,
    undo) are permanent, other details (the preflight's every check) are left out; they
    are all in the journal and with -v. With -q (quiet) only the notable lines are shown.
    A line that starts with whitespace continues the one before and is shown or left out
    with it.
    """

    def __init__(self, terminal: Terminal, verbose: bool = False, quiet: bool = False):
        self.terminal, self.verbose, self.quiet = terminal, verbose, quiet and not verbose
        self._last = "detail"

    def __call__(self, message: str) -> None:
        for text in message.splitlines() or [""]:
            self.write_line(text)

    def write_line(self, text: str) -> None:
        kind = classify(text)
        if kind == "continued":
            kind = "notable" if self._last == "notable" else "detail"
        else:
            self._last = kind
        if self.verbose:
            self.terminal.line(text)
        elif kind == "step" and not self.quiet:
            self.terminal.status(text)
        elif kind == "notable":
            self.terminal.line(text)

    def done(self) -> None:
        """The work is over: the live line goes, the results follow."""
        self.terminal.clear()


def classify(text: str) -> str:
    """"step", "notable", "continued" (starts with whitespace) or "detail"."""
    if STEP.match(text):
        return "step"
    if text[:1].isspace():
        return "continued"
    if text.lower().startswith(NOTABLE):
        return "notable"
    return "detail"


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _width(stream) -> int:
    # Asked each time: the window may have been resized. shutil's answer comes from stdout,
    # which may be a pipe while stderr is the terminal.
    # A terminal that does not know its size (a pty of `script`, a serial console) says 0.
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError):
        columns = 0
    return columns or shutil.get_terminal_size((80, 24)).columns


def add_verbose(parser: argparse.ArgumentParser) -> None:
    """`-v` and `-q` after a command, as well as before it (`lvmkit -v ...`)."""
    # SUPPRESS: a default here would overwrite the -v given before the command.
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="every detail on the terminal (a runbook: papermill's cell-by-cell log)")
    parser.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                        help="only warnings, errors and the result")


def is_verbose(args: argparse.Namespace) -> bool:
    return vars(args).get("verbose", False)  # a parser without lvmkit's own -v has no default


def show_plan(the_plan, preflight, as_json: bool) -> int:
    """A dry run's output: the preflight and the plan, as text or (--json) with the plan's sha256."""
    if as_json:
        print(json.dumps({**the_plan.as_dict(), "sha256": the_plan.sha256, "preflight": preflight.as_list()}, indent=2))
    else:
        print(f"preflight:\n{preflight.render()}\n\n{the_plan.render()}\n\n(dry run: nothing was changed)")
    return 0
