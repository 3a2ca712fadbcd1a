"""The command journal is root's alone: it holds commands' arguments and outputs."""

from __future__ import annotations

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
