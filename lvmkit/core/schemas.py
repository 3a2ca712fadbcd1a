"""The published JSON Schemas (docs/schemas/, draft 2020-12), checked when lvmkit reads a file.

What lvmkit writes (manifest.json, digest.json, run.json, an audit line) is a contract with
whoever reads it without lvmkit: the schema says it, and lvmkit reads through it too, so a
damaged or hostile file gets an error naming the field (`origin.size_bytes: -1 is less
than the minimum of 0`) rather than a traceback, and what the schema allows is what lvmkit
accepts.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@cache
def _validator(name: str, definition: str | None):
    from jsonschema import Draft202012Validator  # imported here: only what reads these files pays for it

    schema = json.loads((SCHEMAS / name).read_text())
    if definition is not None:  # one alternative of the schema, for errors about it alone
        schema = {key: value for key, value in schema.items() if key != "oneOf"}
        schema["$ref"] = f"#/$defs/{definition}"
    return Draft202012Validator(schema)


def problems(document, name: str, definition: str | None = None, limit: int = 3) -> list[str]:
    """What in `document` the schema docs/schemas/`name` does not allow, field first; [] if nothing."""
    from jsonschema.exceptions import best_match

    errors = sorted(_validator(name, definition).iter_errors(document), key=lambda e: list(e.absolute_path))
    # "not valid under any of the given schemas" says nothing: the alternative's own error does
    errors = [best_match(error.context) if error.context else error for error in errors]
    return [f"{_field(error.absolute_path)}: {_message(error)}" for error in errors[:limit]]


def _field(path) -> str:
    shown = "".join(f"[{part}]" if isinstance(part, int) else f".{_cut(str(part))}" for part in path)
    return shown.lstrip(".") or "(the document)"


def _message(error) -> str:
    return _cut(error.message, 160)


def _cut(text: str, limit: int = 60) -> str:
    """A hostile file's names and values may be long or hold control characters."""
    text = text if text.isprintable() else repr(text)
    return text if len(text) <= limit else text[:limit] + "..."
