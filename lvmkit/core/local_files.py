"""Files lvmkit writes on the controller itself (metrics, reports): whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def replace_file(target: Path, text: str, *, mode: int, temp_prefix: str, temp_suffix: str = "") -> Path:
    """Write `text` to a fresh temporary file beside `target`, fsync it and rename it over
    `target`: a reader sees the old file or the new one, never a half-written one.

    mkstemp makes the temporary 0600 under a name nobody planted (O_EXCL); the rename
    replaces whatever `target` was, a planted symlink included, without writing through it.
    Same directory: rename(2) is atomic only within one filesystem."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=temp_prefix, suffix=temp_suffix)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target
