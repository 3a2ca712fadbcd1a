"""`lvmkit audit report`: one static HTML page of every recorded run, for people to read.

A row per record folder, in the chain's order: when it ran, the runbook, the change, who
ran it and who approved its plan, the host, the outcome, how long it took, and what the
audit chain says of it (audit.verify: intact, or each problem found). Each row links to the
record's rendered notebook by a relative link, so the page and the records folder can be
copied together; the page has no script and loads nothing (its style is inline).

The page is written beside the records folder, never in it: a file there that no line of
audit.log accounts for is what the chain reports as added.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from lvmkit.core.errors import UsageError
from lvmkit.core.local_files import replace_file
from lvmkit.runbooks import audit

COLUMNS = ("#", "time (UTC)", "runbook", "change", "operator", "approver", "host", "outcome", "duration", "chain")
STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; vertical-align: top; }
th { background: #eee; }
td.outcome-succeeded { color: #176117; }
td.outcome-failed, td.outcome-interrupted { color: #a11; font-weight: bold; }
tr.tampered td { background: #fde8e8; }
td.chain ul { margin: 0; padding-left: 1.2em; }
p.intact { color: #176117; }
p.failed, td.chain.tampered { color: #a11; font-weight: bold; }
"""


@dataclass(frozen=True)
class Row:
    record: str
    seq: int | None  # its line in audit.log; None: no line names it
    run: dict  # run.json as it is on disk, or, where unreadable, the fields its audit line repeats
    problems: tuple[str, ...]  # what the audit chain found of it; empty: intact
    notebook_html: Path | None  # its rendered notebook, if there is one

    @property
    def tampered(self) -> bool:
        return bool(self.problems)


def rows(records: Path, report: audit.AuditReport) -> list[Row]:
    """Every record the chain names, in its order, then every folder it does not name."""
    found = []
    unnamed = sorted(name for name in report.by_record if name not in report.entries)
    for name in [*report.entries, *unnamed]:
        entry = report.entries.get(name, {})
        run = audit.read_run_json(records / name) or {key: entry.get(key) for key in audit.SUMMARY}
        found.append(Row(name, entry.get("seq"), run, tuple(report.by_record.get(name, ())),
                         _rendering(records / name, run.get("runbook"))))
    return found


def write_report(records: Path, out: Path, *, trust: str | None = None) -> audit.AuditReport:
    """Verify the chain and write the page to `out` (0600, replaced atomically); the verification."""
    records, out = Path(records).resolve(), Path(out).absolute()
    if out.resolve().is_relative_to(records):
        raise UsageError(f"the report {out} would be inside the records folder {records}, where the audit chain "
                         f"reports any file no run made as added: write it beside, e.g. {records.parent / 'report.html'}")
    if not records.is_dir():
        raise UsageError(f"no records folder {records}: give the folder `lvmkit runbook run --records` wrote to")
    if not out.parent.is_dir():
        raise UsageError(f"the report's folder {out.parent} does not exist: create it, or give another --html path")
    report = audit.verify(records, trust=trust)
    page = render(records, report, rows(records, report), out.parent)
    replace_file(out, page, mode=0o600, temp_prefix=f".{out.name}.")
    return report


def render(records: Path, report: audit.AuditReport, table: list[Row], base: Path) -> str:
    """The page; its links are relative to `base`, the folder the page is written to."""
    tampered = sum(row.tampered for row in table)
    if report.intact:
        summary = (f"<p class='intact'>Audit chain intact: {report.lines} record{'s' if report.lines != 1 else ''}, "
                   f"every file as recorded; head <code>{report.head}</code>.</p>")
    else:
        summary = (f"<p class='failed'>AUDIT FAILED: {len(report.problems)} problem(s); {tampered} record(s) "
                   f"marked TAMPERED below.</p>")
    others = [p for p in report.problems if not any(p in row.problems for row in table)]
    chain = "".join(f"<li>{html.escape(p)}</li>" for p in others)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    body = "".join(_row(row, base) for row in table)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<title>lvmkit audit report</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>lvmkit audit report</h1>\n<p>Records in <code>{html.escape(str(records))}</code>: "
        f"{len(table)} run{'s' if len(table) != 1 else ''}. Each record links to its executed notebook. "
        f"Check it again with <code>lvmkit audit verify {html.escape(str(records))}</code>.</p>\n{summary}\n"
        + (f"<p>Problems of the chain itself:</p><ul class='chain-problems'>{chain}</ul>\n" if chain else "")
        + f"<table id='runs'>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n</body>\n</html>\n"
    )


def _row(row: Row, base: Path) -> str:
    run = row.run
    approver = (run.get("approval") or {}).get("approver") if isinstance(run.get("approval"), dict) else None
    duration = run.get("duration_s")
    if row.notebook_html is not None:
        link = quote(os.path.relpath(row.notebook_html, base))
        runbook = f"<a href='{html.escape(link)}'>{_text(run.get('runbook'))}</a>"
    else:
        why = run.get("html_error") or "no rendered notebook in the record"
        runbook = f"{_text(run.get('runbook'))} <small>({_text(why)})</small>"
    if row.tampered:
        chain = ("<td class='chain tampered'>TAMPERED<ul>"
                 + "".join(f"<li>{html.escape(p)}</li>" for p in row.problems) + "</ul></td>")
    else:
        chain = "<td class='chain'>intact</td>"
    outcome = _text(run.get("outcome"))
    cells = [
        f"<td>{row.seq if row.seq is not None else ''}</td>",
        f"<td title='{_text(row.record)}'>{_text(_time(run.get('start')))}</td>",
        f"<td>{runbook}</td>",
        f"<td>{_text(run.get('change_id'))}</td>",
        f"<td>{_text(run.get('operator'))}</td>",
        f"<td>{_text(approver)}</td>",
        f"<td>{_text(run.get('host'))}</td>",
        f"<td class='outcome-{outcome}'>{outcome}</td>",
        f"<td>{f'{duration:.1f} s' if isinstance(duration, int | float) else ''}</td>",
        chain,
    ]
    marked = " class='tampered'" if row.tampered else ""
    return f"<tr id='{_text(row.record)}'{marked}>{''.join(cells)}</tr>\n"


def _rendering(folder: Path, runbook: object) -> Path | None:
    if not isinstance(runbook, str) or "/" in runbook or runbook.startswith("."):
        return None  # an edited run.json does not get to point the link elsewhere
    path = folder / f"{runbook}.html"
    return path if path.is_file() and not path.is_symlink() else None


def _time(start: object) -> str:
    """2026-11-30T06:50:35.123456+00:00 as 2026-11-30 06:50:35."""
    return start[:19].replace("T", " ") if isinstance(start, str) else ""


def _text(value: object) -> str:
    return "" if value is None else html.escape(str(value))
