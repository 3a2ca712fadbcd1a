"""One copy of an archive set at a time, per controller: a lock the copy holds while it runs.

The controller runs every copy, so the lock lives on the controller: an flock on
/run/lvmkit/copies/SET.lock, held for the copy's life and released by the kernel when its
process ends, however it ends. `lvmkit cleanup --copies DIR` removes a partial copy only
when it can take that lock itself: then no copy of that set is running.
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from lvmkit.core.errors import LvmkitError

COPY_LOCK_DIR = Path("/run/lvmkit/copies")


class CopyRunning(LvmkitError):
    """A copy of this set is running on this controller."""


def lock_path(lock_dir: Path, name: str) -> Path:
    return lock_dir / f"{name}.lock"


@contextmanager
def holding(lock_dir: Path, name: str) -> Iterator[None]:
    """Hold the copy lock of set `name`, or raise CopyRunning naming the holder."""
    lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = lock_path(lock_dir, name)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
            raise CopyRunning(f"a copy of {name} is running on this controller (pid {holder}, lock {path}); "
                              f"wait for it, or stop it and run the copy again to resume") from None
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the flock


def is_running(lock_dir: Path, name: str) -> bool:
    """Whether a copy of set `name` holds its lock now."""
    path = lock_path(lock_dir, name)
    if not path.exists():
        return False
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False
