"""What several engines share: validated options, path checks, pipelines as constant scripts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from lvmkit.archive.engines.base import Engine, EngineOption
from lvmkit.core.errors import UsageError

Reads = Literal["mount", "device"]

# Every pipeline runs under bash, not sh: POSIX sh has no pipefail, and without it a
# pipeline's status is only its last command's, so `dd ... | zstd` would succeed on a
# dd read error. errexit and nounset make a typo or a missing parameter fail loudly too.
PIPELINE_PROLOGUE = "set -o errexit -o nounset -o pipefail\n"

# The archive path every streamed engine reads its archive from (an encrypted verify or
# restore: `age --decrypt` writes into the engine's stdin).
STREAM_IN = "/dev/stdin"


@dataclass(frozen=True)
class IntegerRange:
    """Parses an option's text as an integer from `low` to `high`, both included."""

    low: int
    high: int

    def __call__(self, raw) -> int:
        text = str(raw).strip()
        if not re.fullmatch(r"[0-9]+", text):
            raise ValueError(f"expected an integer from {self.low} to {self.high}")
        value = int(text)
        if not self.low <= value <= self.high:
            raise ValueError(f"{value} is out of range: allowed {self.low}-{self.high}")
        return value


# zstd's "normal" levels; 20-22 (--ultra) need up to 1.4 GiB of memory per thread.
ZSTD_LEVEL = EngineOption("zstd_level", "zstd compression level, 1-19", "3", parse=IntegerRange(1, 19))
THREADS = EngineOption("threads", "compression threads, 1-64", "2", parse=IntegerRange(1, 64))


def bash_pipeline(script: str, *parameters: str) -> list[str]:
    """argv running a constant script; the parameters reach it only as "$1", "$2", ...

    The word after the script is $0, the name bash uses in its error messages.
    """
    return ["bash", "-c", script, "bash", *parameters]


def absolute(path: str, what: str) -> str:
    """The path itself, if absolute.

    Over SSH a relative path would be relative to the login's home, and one that starts
    with "-" would be read as an option by most tools.
    """
    if not PurePosixPath(path).is_absolute():
        raise UsageError(f"the {what} must be an absolute path, not {path!r}")
    return path


def require_filesystem(engine: Engine, fstype: str) -> str:
    if fstype not in engine.filesystems:
        raise UsageError(
            f"engine {engine.name} does not handle {fstype!r} filesystems; "
            f"it handles: {', '.join(engine.filesystems)}"
        )
    return fstype


def joined_lines(output: str) -> str:
    """Every non-empty line, spaces collapsed, joined with "; " (tool, then zstd)."""
    return "; ".join(" ".join(line.split()) for line in output.splitlines() if line.strip()) or "unknown"


def first_line(output: str) -> str:
    lines = [" ".join(line.split()) for line in output.splitlines() if line.strip()]
    return lines[0] if lines else "unknown"
