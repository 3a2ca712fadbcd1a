"""Tables that read well in a notebook (HTML), in its rendering, and in a terminal (text)."""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field
from itertools import zip_longest

CELL_TEXT_LIMIT = 2000  # characters of one table cell; outputs are kept in the journal
# In a terminal, a cell shows at most this many lines of this many characters: the full
# text is in the notebook, its rendering and the journal.
TEXT_WIDTH, TEXT_LINES = 100, 6


@dataclass
class Table:
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    title: str = ""
    text_columns: list[str] | None = None  # the columns a terminal shows; None: all

    def cells(self) -> list[list[str]]:
        return [[_text(value) for value in row] for row in self.rows]

    def __str__(self) -> str:
        shown = [i for i, c in enumerate(self.columns) if self.text_columns is None or c in self.text_columns]
        rows = [[row[i] for i in shown] for row in [self.columns] + self.cells()]
        split = [[_clip(cell) for cell in row] for row in rows]
        widths = [max(len(line) for row in split for line in row[i]) for i in range(len(shown))]
        lines = [self.title] if self.title else []
        for number, row in enumerate(split):
            for parts in zip_longest(*row, fillvalue=""):
                lines.append("  ".join(part.ljust(width) for part, width in zip(parts, widths, strict=False)).rstrip())
            if number == 0:
                lines.append("  ".join("-" * width for width in widths))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(_html_cell(cell) for cell in row) + "</tr>" for row in self.cells()
        )
        caption = f"<caption style='text-align:left'><b>{html.escape(self.title)}</b></caption>" if self.title else ""
        return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def show(*objects) -> None:
    """Display in a notebook (HTML there, text in papermill's log); print elsewhere."""
    if "ipykernel" in sys.modules:
        from IPython.display import display

        display(*objects)
    else:
        for value in objects:
            print(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:.3f}".rstrip("0").rstrip(".")
    else:
        text = str(value)
    if len(text) > CELL_TEXT_LIMIT:
        text = text[:CELL_TEXT_LIMIT] + f" [... {len(text) - CELL_TEXT_LIMIT} more characters]"
    return text


def _clip(text: str) -> list[str]:
    lines = [line if len(line) <= TEXT_WIDTH else line[:TEXT_WIDTH - 3] + "..." for line in text.splitlines()]
    if len(lines) > TEXT_LINES:
        lines = lines[:TEXT_LINES - 1] + [f"[... {len(lines) - TEXT_LINES + 1} more lines]"]
    return lines or [""]


def _html_cell(text: str) -> str:
    escaped = html.escape(text)
    if "\n" in text or text.startswith("$ "):
        return f"<td style='text-align:left'><pre style='margin:0'>{escaped}</pre></td>"
    return f"<td style='text-align:left'>{escaped}</td>"
