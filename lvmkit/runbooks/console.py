"""What the operator's terminal shows of a runbook run: its steps, progress, warnings.

A runbook's steps are its own outline: the headings of its markdown cells. A code cell
that follows a heading starts a step, titled by that heading and the headings above it
that came since the step before (`Part 1: the backup / Preflight`); a code cell with no
heading of its own continues the step before. The runbook's title (the level-1 heading) and the parameters cells are not
steps. Everything else a cell prints (tables, the preflight's checks, the plan) stays in
the record: the executed notebook and its rendering. With -v, papermill's cell-by-cell log
is shown too.
"""

from __future__ import annotations

import re

from lvmkit.terminal import OperatorLog, Terminal

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
FENCE = ("```", "~~~")
NUMBERING = re.compile(r"^\d+\.\s+")  # "1. Preflight": the console numbers the steps itself
NOT_STEPS = {"parameters", "injected-parameters"}  # papermill's tags
INDENT = "        "  # under "  [4/8] ": what the step prints


def source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def headings(markdown: str) -> list[tuple[int, str]]:
    """(level, text) of each heading, outside fenced code (where `#` starts a comment)."""
    found, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith(FENCE):
            fenced = not fenced
        elif not fenced and (match := HEADING.match(line)):
            found.append((len(match.group(1)), match.group(2)))
    return found


class Outline:
    """Fed the cells in order; says which code cell starts a step, and its title."""

    def __init__(self):
        self._pending: list[tuple[int, str]] = []  # (level, text): the headings since the last step

    def feed(self, cell) -> str | None:
        kind = cell.get("cell_type")
        if kind == "markdown":
            for level, text in headings(source_of(cell)):
                # A heading ends the sections of its level and below: what is left are its parents.
                self._pending = [(lvl, txt) for lvl, txt in self._pending if lvl < level]
                if level > 1:  # the runbook's own title is not a step
                    self._pending.append((level, NUMBERING.sub("", text)))
            return None
        tags = set(cell.get("metadata", {}).get("tags", []))
        if kind != "code" or not source_of(cell).strip() or tags & NOT_STEPS or not self._pending:
            return None
        title, self._pending = " / ".join(text for _, text in self._pending), []
        return title


def step_titles(cells) -> list[str]:
    outline = Outline()
    return [title for title in map(outline.feed, cells) if title]


class RunConsole:
    """The terminal's view of one run: papermill's hooks and output streams end here."""

    def __init__(self, terminal: Terminal, cells, verbose: bool = False, quiet: bool = False):
        self.terminal, self.verbose, self.quiet = terminal, verbose, quiet and not verbose
        self.total = len(step_titles(cells))
        self.outline, self.number = Outline(), 0
        self.step = ""  # "[4/8] Execute the plan": the step that runs (or failed)
        self.log = OperatorLog(Indented(terminal), verbose, quiet=self.quiet)
        self.stdout = _Lines(self.log)
        self.stderr = Indented(terminal)  # progress (redrawn with \r) and Python's warnings

    def cell_starts(self, cell) -> None:
        title = self.outline.feed(cell)
        if title is None:
            return
        self.number += 1
        self.step = f"[{self.number}/{self.total}] {title}"
        self.stdout.end()
        self.terminal.clear()
        if self.quiet:  # -q: on a terminal the step under way is a live line, gone when it ends; a log gets none
            if self.terminal.tty:
                self.terminal.status(f"  {self.step}")
        else:
            self.terminal.line(f"  {self.step}")

    def finish(self) -> None:
        self.stdout.end()
        self.terminal.clear()


class Indented:
    """A Terminal's writes, each line (and each redraw of a live line) indented under its step."""

    def __init__(self, terminal: Terminal):
        self.terminal = terminal
        self.tty = terminal.tty

    def isatty(self) -> bool:
        return self.tty

    def flush(self) -> None:
        self.terminal.flush()

    def write(self, text: str) -> int:
        for part in re.split(r"(\r|\n)", text):
            if part:
                self.terminal.write((INDENT if self.terminal.at_line_start and part not in ("\r", "\n") else "") + part)
        return len(text)

    def status(self, text: str) -> None:
        self.terminal.status(INDENT + text)

    def line(self, text: str) -> None:
        self.terminal.line(INDENT + text)

    def clear(self) -> None:
        self.terminal.clear()


class _Lines:
    """A cell's stdout, as it arrives in pieces, cut into lines for the OperatorLog."""

    def __init__(self, log: OperatorLog):
        self.log, self._partial = log, ""

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self.log.write_line(line.rpartition("\r")[2])
        return len(text)

    def flush(self) -> None:
        """papermill flushes after every piece; a line is complete only at its newline."""

    def end(self) -> None:
        if self._partial:
            self.log.write_line(self._partial.rpartition("\r")[2])
            self._partial = ""
