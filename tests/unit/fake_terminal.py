"""A terminal to write to in tests, and what a real one would show of what was written:
shared by the terminal's and the runbook console's tests."""

from __future__ import annotations

import io


class FakeTty(io.StringIO):
    """Says it is a terminal; it has no fileno, so the width comes from $COLUMNS."""

    def isatty(self) -> bool:
        return True


def screen(written: str) -> list[str]:
    """What a terminal shows after `written`: \\r returns to column 0, ESC[K erases the rest."""
    rows, row, column = [], "", 0
    i = 0
    while i < len(written):
        if written.startswith("\x1b[K", i):
            row, i = row[:column], i + 3
            continue
        char = written[i]
        if char == "\r":
            column = 0
        elif char == "\n":
            rows.append(row)
            row, column = "", 0
        else:
            row = row[:column] + char + row[column + 1:]
            column += 1
        i += 1
    return rows + ([row] if row else [])
