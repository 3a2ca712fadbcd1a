"""A state-changing command is never cut short by SIGINT/SIGTERM; the signal comes after."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from lvmkit.core.host import Host
from lvmkit.core.journal import Journal


def send_soon(signum: int, delay: float = 0.3) -> threading.Timer:
    timer = threading.Timer(delay, os.kill, (os.getpid(), signum))
    timer.start()
    return timer


def test_run_with_changes_finishes_the_command_then_raises_keyboard_interrupt(tmp_path):
    journal = Journal()
    marker = tmp_path / "finished"
    send_soon(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        Host(journal=journal).run(["sh", "-c", 'sleep 1; touch "$1"', "sh", str(marker)], changes=True)
    assert marker.exists(), "the command ran to its end"
    assert journal.entries[-1].returncode == 0


def test_run_of_a_query_is_interrupted_at_once(tmp_path):
    marker = tmp_path / "finished"
    send_soon(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        Host().run(["sh", "-c", 'sleep 2; touch "$1"', "sh", str(marker)])
    assert not marker.exists()
