"""Constant shell scripts kept as .sh files beside the module that runs them.

A script of six lines or more reads better, and is checked by shellcheck, as a file of its
own (tests/unit/test_shell_scripts.py checks every .sh file in the package). Each file
begins with a header: a shellcheck directive naming the shell that runs it (`sh -c` or
`bash -c`), then comments saying what it does and what its positional parameters are.
Only what follows the header is run, so journals and plans carry the commands, not the
comments. The files are package data (pyproject.toml), so a wheel install has them.
"""

from __future__ import annotations

import itertools
from importlib.resources import files

DIRECTIVE = "# shellcheck shell="


def packaged_script(package: str, name: str) -> str:
    """The script in the file `name` of `package` (a dotted name), without its header."""
    lines = files(package).joinpath(name).read_text(encoding="utf-8").splitlines(keepends=True)
    if not lines or not lines[0].startswith(DIRECTIVE):
        raise ValueError(f"{package}:{name} must begin with '{DIRECTIVE}sh' or '{DIRECTIVE}bash'")
    return "".join(itertools.dropwhile(lambda line: line.startswith("#"), lines))
