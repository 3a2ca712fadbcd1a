"""The runbooks there are: the notebooks in the repository's `runbooks/` directory."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from lvmkit.core.errors import UsageError
from lvmkit.runbooks.params import Parameter, declared

RUNBOOKS_ENV = "LVMKIT_RUNBOOKS"  # another directory of runbooks, e.g. an organisation's own


def runbooks_dir() -> Path:
    configured = os.environ.get(RUNBOOKS_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "runbooks"


@dataclass(frozen=True)
class Runbook:
    name: str
    path: Path

    @cached_property
    def content(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        """The hash of the stored notebook: which text of the runbook a record ran."""
        return hashlib.sha256(self.content).hexdigest()

    @cached_property
    def notebook(self) -> dict:
        return json.loads(self.content)

    @property
    def title(self) -> str:
        heading = self._first_markdown_lines()
        return heading[0].lstrip("# ").strip() if heading else self.name

    @property
    def summary(self) -> str:
        """The first paragraph after the title."""
        paragraph = []
        for line in self._first_markdown_lines()[1:]:
            if line.strip():
                paragraph.append(line.strip())
            elif paragraph:
                break
        return " ".join(paragraph)

    @cached_property
    def parameters(self) -> list[Parameter]:
        return declared(self.path)

    def _first_markdown_lines(self) -> list[str]:
        for cell in self.notebook.get("cells", []):
            if cell.get("cell_type") == "markdown":
                source = cell.get("source", "")
                return ("".join(source) if isinstance(source, list) else source).splitlines()
        return []


def list_runbooks(directory: Path | None = None) -> list[Runbook]:
    directory = directory or runbooks_dir()
    return [Runbook(path.stem, path) for path in sorted(directory.glob("*.ipynb"))]


def find(name: str, directory: Path | None = None) -> Runbook:
    """The runbook called `name` (with or without .ipynb); UsageError naming the others if none."""
    books = list_runbooks(directory)
    wanted = name.removesuffix(".ipynb")
    for book in books:
        if book.name == wanted:
            return book
    names = [book.name for book in books]
    close = difflib.get_close_matches(wanted, names, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise UsageError(f"no runbook {name!r}{hint}; there are: {', '.join(names) or 'none'} "
                     f"(in {directory or runbooks_dir()})")
