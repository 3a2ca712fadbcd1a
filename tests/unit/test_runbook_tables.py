"""The runbooks' tables: what they show of a run's commands."""

from __future__ import annotations

from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.runbooks.tables import commands


def test_commands_table_shows_nul_separated_output_as_visible_separators():
    host = Host(journal=Journal())
    host.run(["printf", r"/backups/a\0/backups/b\0"])  # as `find -printf '%h\0'` answers
    row = commands(host).rows[0]
    assert row[-1] == r"/backups/a\0/backups/b\0", "no raw NUL reaches the notebook or its HTML"
