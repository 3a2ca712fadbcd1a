"""Anchoring the audit log's head off its own disk: each new head sent to syslog.

Whoever can write the records can rewrite the chain from an edited line on, or cut its end
off cleanly; a head kept elsewhere exposes both (`lvmkit audit verify --head`). A change
ticket is one such place; `runbook run --anchor` adds syslog, which a central log server
usually collects. `logger` (util-linux) writes to /dev/log, or to `--anchor-socket PATH`;
`--socket-errors=on` makes a missing socket an error instead of silence.
"""

from __future__ import annotations

from pathlib import Path

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host

TAG = "lvmkit-audit"


def anchor_argv(line: dict, records: Path, socket: Path | None = None) -> list[str]:
    message = f"head {line['hash']} seq {line['seq']} record {line['record']} log {records}/audit.log"
    where = ["--socket", str(socket)] if socket is not None else []
    return ["logger", "--tag", TAG, "--socket-errors=on", *where, "--", message]


def send_head(line: dict, records: Path, socket: Path | None = None) -> None:
    """Send the head after `line` (audit.append's answer) to syslog on this machine."""
    result = Host().run(anchor_argv(line, records, socket), check=False)
    if result.returncode != 0:
        raise LvmkitError(f"the audit head {line['hash']} could not be sent to syslog "
                          f"({result.stderr.strip() or f'logger exit {result.returncode}'}); the record and its "
                          f"line are written: keep the head elsewhere by hand, or fix --anchor-socket")
