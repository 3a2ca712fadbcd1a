"""The seed document's own backup script, read from ../shared/seed/ and adapted only in its variables.

The project does not copy the script: the benchmark and the seed test read it from the
document beside the clone, so they run what the document says, as it says it.
"""

from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "making-consistent-backups-with-lvm.md"


def seed_script(**variables: str) -> str:
    """The bash script of the seed document, with its configuration variables replaced."""
    if not SEED.exists():
        raise FileNotFoundError(f"the seed document is not at {SEED}: CI and developers have it beside the clone")
    script = re.search(r"```\n(#!/bin/bash\n.*?)```", SEED.read_text(), re.DOTALL).group(1)
    for name, value in variables.items():
        script, count = re.subn(rf"^{name}='[^']*'", f"{name}='{value}'", script, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"the seed script has no variable {name}")
    return script
