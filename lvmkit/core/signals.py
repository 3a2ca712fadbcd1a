"""Hold SIGINT and SIGTERM back while a state change must finish as a whole.

An `lvcreate` cut short by Ctrl-C can leave a volume that nobody records; an undo cut
short leaves a snapshot behind. Inside `deferred()`, a signal is noted instead, and raised
as usual (KeyboardInterrupt, or the SIGTERM handler's exception) as soon as the block ends.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager

HELD = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def deferred():
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    noted: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: noted.append(signum)) for sig in HELD}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(noted):
            os.kill(os.getpid(), signum)  # delivered now, to the handler in force again
