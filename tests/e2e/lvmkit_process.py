"""`lvmkit` as an operator runs it: a real process of its own, its output read line by line.

Shared by the end-to-end tests that interrupt or watch a run (test_interruptions.py,
test_copy.py): test modules import helpers from here, never from one another.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

STEP_TIMEOUT_S = 300


class LvmkitProcess:
    def __init__(self, host_spec: str, *args: str):
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "lvmkit.cli", "--host", host_spec, "--journal", "/dev/null", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )

    def wait_for(self, pattern: str) -> re.Match:
        for line in self.process.stdout:
            self.lines.append(line)
            if match := re.search(pattern, line):
                return match
        pytest.fail(f"lvmkit ended before {pattern!r}:\n{''.join(self.lines)}")

    def finish(self) -> tuple[int, str]:
        rest, _ = self.process.communicate(timeout=STEP_TIMEOUT_S)
        return self.process.returncode, "".join(self.lines) + rest

    @property
    def run_id(self) -> str:
        return re.search(r"/run/lvmkit/([^/]+)/", "".join(self.lines)).group(1)
