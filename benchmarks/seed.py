"""The seed document's own backup script, adapted only in its variables.

The project does not copy the script: the benchmark and the seed test read it from the
document itself, so they run what the document says, as it says it. The document is not
part of the repository: it is found at $LVMKIT_SEED_DOC, else in ../shared/seed/ beside
the checkout (where CI and the team keep it). Without it the seed test is deselected,
except under CI=true, where a missing document stops the run.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

SEED_NAME = "making-consistent-backups-with-lvm.md"
SEED_ENV = "LVMKIT_SEED_DOC"
CHECKOUT = Path(__file__).resolve().parents[1]


class SeedDocumentMissing(FileNotFoundError):
    pass


def seed_document_places(environ: Mapping[str, str] | None = None, checkout: Path | None = None) -> list[Path]:
    """Where the seed document is looked for, in order."""
    environ = os.environ if environ is None else environ
    checkout = CHECKOUT if checkout is None else checkout
    configured = [Path(environ[SEED_ENV])] if environ.get(SEED_ENV) else []
    return [*configured, checkout.parent / "shared" / "seed" / SEED_NAME]


def find_seed_document(environ: Mapping[str, str] | None = None, checkout: Path | None = None) -> Path:
    places = seed_document_places(environ, checkout)
    for place in places:
        if place.is_file():
            return place
    looked = " nor at ".join(str(place) for place in places)
    unset = "" if len(places) > 1 else f" ({SEED_ENV} is not set)"
    raise SeedDocumentMissing(
        f"the seed document {SEED_NAME} is not at {looked}{unset}. It is not part of the repository: "
        f"the team keeps it in shared/seed/ beside the clone; copy it to {places[-1]} or set "
        f"{SEED_ENV}=/path/to/{SEED_NAME}"
    )


def seed_test_deselection(environ: Mapping[str, str] | None = None, checkout: Path | None = None) -> str | None:
    """None when the seed test can run; else why it is deselected. Under CI=true a missing
    document raises SeedDocumentMissing instead: CI always runs the comparison."""
    environ = os.environ if environ is None else environ
    try:
        find_seed_document(environ, checkout)
    except SeedDocumentMissing as missing:
        if environ.get("CI", "").lower() == "true":
            raise
        return str(missing)
    return None


def seed_script(**variables: str) -> str:
    """The bash script of the seed document, with its configuration variables replaced."""
    script = re.search(r"```\n(#!/bin/bash\n.*?)```", find_seed_document().read_text(), re.DOTALL).group(1)
    for name, value in variables.items():
        script, count = re.subn(rf"^{name}='[^']*'", f"{name}='{value}'", script, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"the seed script has no variable {name}")
    return script
