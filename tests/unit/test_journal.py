"""The command journal is root's alone: it holds commands' arguments and outputs."""

from __future__ import annotations

import os
import stat

from lvmkit.core.journal import Journal, JournalEntry

ENTRY = JournalEntry(host="local", argv=["true"], changes_state=False, planned=False, start="s", end="e",
                     duration_s=0.0, returncode=0, stdout="", stderr="")


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_journal_in_a_new_directory_is_0600_in_0700(tmp_path):
    path = tmp_path / "log" / "lvmkit" / "journal.jsonl"
    Journal(path).record(ENTRY)
    assert mode(path.parent) == 0o700 and mode(path) == 0o600


def test_journal_created_world_readable_by_an_older_lvmkit_is_made_0600(tmp_path):
    path = tmp_path / "journal.jsonl"
    path.write_text("")
    path.chmod(0o644)
    Journal(path).record(ENTRY)
    assert mode(path) == 0o600
    assert Journal.read(path) == [ENTRY]


def test_journal_in_an_existing_directory_leaves_the_directory_alone(tmp_path):
    tmp_path.chmod(0o755)
    Journal(tmp_path / "journal.jsonl").record(ENTRY)
    assert mode(tmp_path) == 0o755


def test_journal_to_a_device_leaves_the_device_alone(tmp_path):
    """--journal /dev/null (the interruption tests use it) once made /dev/null root's alone."""
    fifo = tmp_path / "device-like"
    os.mkfifo(fifo, 0o666)
    fifo.chmod(0o666)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader, so that opening to write succeeds
    try:
        Journal(fifo).record(ENTRY)
    finally:
        os.close(reader)
    assert mode(fifo) == 0o666
