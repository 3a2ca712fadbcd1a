"""The seed document's own backup script, read from ../shared/seed/ and adapted only in its variables.

The project does not copy the script: the benchmark and the seed test read it from the
document beside the clone, so they run what the document says, as it says it.
"""

from __future__ import annotations

import re
from pathlib import Path

SEED_DOCUMENT = Path("shared") / "seed" / "making-consistent-backups-with-lvm.md"
# Beside the clone: ../shared for a clone, ../../shared for a worktree under wt/.
SEED = next((parent / SEED_DOCUMENT for parent in Path(__file__).resolve().parents[2:4]
             if (parent / SEED_DOCUMENT).exists()), Path(__file__).resolve().parents[2] / SEED_DOCUMENT)


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
