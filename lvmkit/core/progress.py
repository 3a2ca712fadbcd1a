"""Progress of long steps: a live line on a terminal or in a notebook, plain log lines otherwise."""

from __future__ import annotations

import sys
import time

from lvmkit.core.sizes import human

LOG_EVERY_S = 10.0  # when output is not a terminal, a line this often is enough


class Progress:
    def __init__(self, label: str, total_bytes: int | None, stream=None):
        self.label, self.total = label, total_bytes
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        self.last_logged = 0.0
        # A terminal or a Jupyter cell redraws one line; a log file gets separate lines.
        self.live = self._is_tty() or "ipykernel" in sys.modules

    def _is_tty(self) -> bool:
        try:
            return self.stream.isatty()
        except (AttributeError, ValueError):
            return False

    def update(self, done_bytes: int | None, note: str = "") -> None:
        now = time.monotonic()
        if not self.live and now - self.last_logged < LOG_EVERY_S:
            return
        self.last_logged = now
        line = self.describe(done_bytes, now - self.began) + (f", {note}" if note else "")
        if self.live:
            self.stream.write("\r" + line.ljust(100))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def describe(self, done: int | None, elapsed: float) -> str:
        if done is None:
            return f"{self.label}: {elapsed:.0f} s"
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.label}: {human(done)}"
        if self.total:
            share = min(done / self.total, 1.0)
            text += f" of ~{human(self.total)} ({share:.0%})"
            if rate > 0 and done < self.total:
                text += f", ~{(self.total - done) / rate:.0f} s left"
        return text + f", {human(int(rate))}/s"

    def finish(self, done_bytes: int | None) -> None:
        self.live and self.stream.write("\r")
        self.stream.write(self.describe(done_bytes, time.monotonic() - self.began) + ", done\n")
        self.stream.flush()
