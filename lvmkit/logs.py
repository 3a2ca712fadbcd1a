"""Where lvmkit's messages go: Python's `logging`, to the operator's terminal or, when
lvmkit runs as a systemd service, to the journal.

Levels: a plan's step is INFO, trouble (warnings, undo) WARNING, an error ERROR, every
other detail (the preflight's each check) DEBUG. `-v` shows DEBUG, `-q` only WARNING and
above; the default is INFO. On a terminal the lines keep lvmkit's calm form
(lvmkit.terminal: one live line for the step under way). Under systemd each record is one
journal line with its priority, so the journal holds one line per step and the summary.
"""

from __future__ import annotations

import argparse
import logging
import os

from lvmkit.terminal import OperatorLog, Terminal, classify, is_verbose

LOGGER = "lvmkit"
# sd-daemon(3): a line that starts with <N> is logged with syslog priority N.
PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
LEVELS = {"step": logging.INFO, "notable": logging.WARNING, "detail": logging.DEBUG}


def logger() -> logging.Logger:
    return logging.getLogger(LOGGER)


def under_journal(stream) -> bool:
    """True when `stream` is systemd's journal: systemd.exec(5) sets JOURNAL_STREAM to the
    DEVICE:INODE of the stream it connected; a child whose stderr was redirected elsewhere
    inherits the variable, hence the comparison."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        found = os.fstat(stream.fileno())
    except (AttributeError, ValueError, OSError):
        return False
    return expected == f"{found.st_dev}:{found.st_ino}"


def is_quiet(args: argparse.Namespace) -> bool:
    return vars(args).get("quiet", False) and not is_verbose(args)


def level_of(args: argparse.Namespace) -> int:
    if is_verbose(args):
        return logging.DEBUG
    return logging.WARNING if is_quiet(args) else logging.INFO


class JournalFormatter(logging.Formatter):
    """Each line of a record with the record's priority: the journal stores each line as an
    entry of its own, and a continuation line without the prefix would be logged as INFO."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{PRIORITIES.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in record.getMessage().splitlines() or [""])


class TerminalHandler(logging.Handler):
    """A record as a permanent line of the Terminal (which first ends a live line)."""

    def __init__(self, terminal: Terminal):
        super().__init__()
        self.terminal = terminal

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.terminal.line(record.getMessage())
        except Exception:  # noqa: BLE001 - logging's contract: a handler never raises
            self.handleError(record)


def configure(args: argparse.Namespace, terminal: Terminal, stream) -> bool:
    """Send the `lvmkit` logger's records to the journal (when `stream` is it) or to the
    terminal, at the level -v/-q ask for; return whether it is the journal."""
    journal = under_journal(stream)
    log = logger()
    for handler in list(log.handlers):  # main() may run more than once in a process (tests)
        log.removeHandler(handler)
    if journal:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JournalFormatter())
    else:
        handler = TerminalHandler(terminal)
    log.addHandler(handler)
    log.setLevel(level_of(args))
    log.propagate = False  # the root logger (papermill's, a test's) must not print it twice
    return journal


class JournalLog:
    """An operation's `log` under systemd: each line a record at its level (see LEVELS)."""

    def __init__(self, target: logging.Logger):
        self.target = target
        self._level = logging.DEBUG

    def __call__(self, message: str) -> None:
        for text in message.splitlines():
            kind = classify(text)
            if kind != "continued":
                self._level = LEVELS[kind]
            self.target.log(self._level, text)

    def done(self) -> None:
        """Nothing to clear: the journal has no live line."""


def operator_log(args: argparse.Namespace, terminal: Terminal):
    """Where an operation's step lines, warnings and details go."""
    if vars(args).get("under_journal"):
        return JournalLog(logger())
    return OperatorLog(terminal, is_verbose(args), quiet=is_quiet(args))
