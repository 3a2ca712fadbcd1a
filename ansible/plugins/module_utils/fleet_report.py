# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report of one change: per host outcome, duration, RPO, record, audit head; totals.

Rendered twice from the same rows, as Markdown (for the change ticket) and as a
self-contained HTML page (for a browser or AWX's artifacts).
"""

from __future__ import annotations

import html
import json

COLUMNS = ("host", "outcome", "duration", "RPO", "archive set", "record", "audit head", "why")
OK_OUTCOMES = ("succeeded", "planned")


def seconds(value):
    return "" if value is None else "{0:.1f} s".format(float(value))


def cells(result):
    """One host's row; a plan's sha256 stands where a run's audit head would (a check run has no record)."""
    head = result.get("audit_head") or result.get("plan_sha256") or ""
    why = (result.get("error") or "").strip().splitlines()
    return [result.get("host", "?"), result.get("outcome", "?"), seconds(result.get("duration_s")),
            seconds(result.get("rpo_s")), result.get("archive_set") or "", result.get("record") or "",
            head[:16] + ("..." if len(head) > 16 else ""), why[0] if why else ""]


def totals(results):
    counts = {}
    for result in results:
        counts[result.get("outcome", "?")] = counts.get(result.get("outcome", "?"), 0) + 1
    durations = [float(r["duration_s"]) for r in results if r.get("duration_s") is not None]
    rpos = [float(r["rpo_s"]) for r in results if r.get("rpo_s") is not None]
    return dict(hosts=len(results), outcomes=dict(sorted(counts.items())),
                ok=sum(1 for r in results if r.get("outcome") in OK_OUTCOMES),
                host_seconds=round(sum(durations), 3), slowest_s=max(durations) if durations else None,
                worst_rpo_s=max(rpos) if rpos else None)


def summary_line(total):
    outcomes = ", ".join("{0} {1}".format(count, outcome) for outcome, count in total["outcomes"].items())
    line = "{0} hosts: {1}; {2} host-seconds, slowest {3}".format(
        total["hosts"], outcomes or "none", total["host_seconds"], seconds(total["slowest_s"]) or "-")
    if total["worst_rpo_s"] is not None:
        line += ", worst RPO {0}".format(seconds(total["worst_rpo_s"]))
    return line


def markdown(title, meta, results):
    total = totals(results)
    lines = ["# " + title, ""]
    lines += ["- {0}: {1}".format(key, value) for key, value in meta.items() if value]
    lines += ["", "**" + summary_line(total) + "**", ""]
    lines.append("| " + " | ".join(COLUMNS) + " |")
    lines.append("|" + " --- |" * len(COLUMNS))
    for result in results:
        lines.append("| " + " | ".join(_md_cell(value) for value in cells(result)) + " |")
    failed = [r for r in results if r.get("outcome") not in OK_OUTCOMES]
    if failed:
        lines += ["", "## Hosts that did not complete", ""]
        for result in failed:
            lines += ["### {0}: {1}".format(result.get("host"), result.get("outcome")), "", "```",
                      (result.get("error") or "(no message)").strip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _md_cell(value):
    text = str(value).replace("|", "\\|")
    return "`{0}`".format(text) if text.startswith("/") else text


def page(title, meta, results):
    total = totals(results)
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #999;padding:.3em .6em;text-align:left;font-size:90%}"
             ".failed,.refused{background:#fdd}.succeeded,.planned{background:#dfd}pre{background:#eee;padding:.5em}")
    parts = ["<!DOCTYPE html>", "<html><head><meta charset=\"utf-8\"><title>{0}</title><style>{1}</style></head><body>"
             .format(html.escape(title), style), "<h1>{0}</h1>".format(html.escape(title)), "<ul>"]
    parts += ["<li>{0}: {1}</li>".format(html.escape(key), html.escape(str(value))) for key, value in meta.items() if value]
    parts += ["</ul>", "<p><strong>{0}</strong></p>".format(html.escape(summary_line(total))), "<table>",
              "<tr>" + "".join("<th>{0}</th>".format(html.escape(c)) for c in COLUMNS) + "</tr>"]
    for result in results:
        parts.append("<tr class=\"{0}\">".format(html.escape(result.get("outcome", "?")))
                     + "".join("<td>{0}</td>".format(html.escape(str(v))) for v in cells(result)) + "</tr>")
    parts.append("</table>")
    for result in results:
        if result.get("outcome") not in OK_OUTCOMES:
            parts.append("<h3>{0}: {1}</h3><pre>{2}</pre>".format(
                html.escape(result.get("host", "?")), html.escape(result.get("outcome", "?")),
                html.escape((result.get("error") or "(no message)").strip())))
    parts.append("<script type=\"application/json\" id=\"fleet-results\">{0}</script>".format(
        html.escape(json.dumps(dict(totals=total, hosts=results), sort_keys=True), quote=False)))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def approval(change, results):
    """The approval file a check run proposes: every planned host with its plan's sha256."""
    hosts = {}
    for result in results:
        if result.get("outcome") == "planned":
            hosts[result["host"]] = dict(plan_sha256=result["plan_sha256"], runbook=result.get("runbook"),
                                         target=result.get("target"))
    return dict(change=change, hosts=hosts)
