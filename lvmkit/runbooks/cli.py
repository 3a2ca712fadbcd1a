"""`lvmkit runbook list|params|plan|run` and `lvmkit audit verify|report`."""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path

from lvmkit.archive import signature
from lvmkit.core.journal import Journal
from lvmkit.logs import is_quiet
from lvmkit.runbooks import audit, audit_report, planning
from lvmkit.runbooks.catalog import find, list_runbooks, runbooks_dir
from lvmkit.runbooks.display import Table
from lvmkit.runbooks.params import ParameterError, validate
from lvmkit.runbooks.runner import RunRequest, default_operator, default_records, exit_code, plan_runbook, run_runbook
from lvmkit.targets import connect
from lvmkit.terminal import add_verbose, is_verbose


def add_commands(subparsers) -> None:
    """Add `runbook` and `audit` to lvmkit's command parsers."""
    runbook = subparsers.add_parser("runbook", help="run a runbook: a notebook that documents, executes and records a change")
    actions = runbook.add_subparsers(dest="runbook_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="the runbooks there are")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_runbook_list)

    params = actions.add_parser("params", help="a runbook's parameters: type, default, help")
    params.add_argument("name", metavar="NAME")
    params.add_argument("--json", action="store_true")
    params.set_defaults(handler=cmd_runbook_params)

    plan = actions.add_parser("plan", help="compute a runbook's plan (changes nothing) and print its sha256 to approve")
    plan.add_argument("name", metavar="NAME")
    _run_options(plan)
    plan.add_argument("--json", action="store_true")
    plan.set_defaults(handler=cmd_runbook_plan)

    run = actions.add_parser("run", help="execute a runbook and keep its record")
    run.add_argument("name", metavar="NAME")
    _run_options(run)
    run.add_argument("--change", default=None, metavar="ID", help="the change ticket this run belongs to")
    run.add_argument("--operator", default=None, metavar="NAME",
                     help="who runs it (default: $SUDO_USER, else the login name)")
    run.add_argument("--approve", default=None, metavar="PLAN_SHA256",
                     help="refuse to run unless the plan computed now is this approved one (see `runbook plan`)")
    run.add_argument("--approved-by", default=None, metavar="NAME", help="who approved the plan, for the record")
    run.add_argument("--anchor", action="store_true",
                     help="send the audit log's new head to syslog (logger -t lvmkit-audit), a copy off its disk")
    run.add_argument("--anchor-socket", default=None, metavar="PATH",
                     help="with --anchor: the syslog socket to write to instead of /dev/log")
    run.add_argument("--sign-key", default=None, metavar="FILE",
                     help="sign the record's run.json with this OpenSSH key (docs/security.md)")
    add_verbose(run)
    run.set_defaults(handler=cmd_runbook_run)

    audit_parser = subparsers.add_parser("audit", help="check the records of runbook runs")
    audit_actions = audit_parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    check = audit_actions.add_parser("verify", help="detect any edited, deleted, added or reordered record")
    _audit_options(check)
    check.add_argument("--head", default=None, metavar="SHA256",
                       help="the chain's head hash as kept elsewhere (a change ticket): also detects a cut-short log")
    check.add_argument("--json", action="store_true")
    check.set_defaults(handler=cmd_audit_verify)

    page = audit_actions.add_parser("report", help="one HTML page of every recorded run, linked to its notebook")
    _audit_options(page)
    page.add_argument("--html", required=True, metavar="FILE",
                      help="the page to write (0600), outside DIR; its links to the records are relative")
    page.set_defaults(handler=cmd_audit_report)


def _audit_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("records", metavar="DIR", nargs="?", default=None,
                        help=f"the records directory (default {default_records()})")
    parser.add_argument("--trust", default=None, metavar="FILE",
                        help=f"allowed_signers: every record must be signed by one of them "
                             f"(default {signature.DEFAULT_TRUST} when it exists)")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--parameter", action="append", nargs=2, default=[], metavar=("KEY", "VALUE"),
                        dest="parameters", help="a parameter of the runbook (repeatable); see `runbook params NAME`")
    parser.add_argument("--records", default=None, metavar="DIR",
                        help=f"where the records and plans are kept (default {default_records()}, or $LVMKIT_RECORDS)")


def _values(args) -> tuple:
    book = find(args.name)
    given: dict[str, str] = {}
    twice = []
    for key, value in args.parameters:
        if key in given:
            twice.append(key)
        given[key] = value
    problems = [f"{key} is given more than once" for key in dict.fromkeys(twice)]
    try:
        values = validate(book.name, book.parameters, given, as_text=True)
    except ParameterError as error:
        raise ParameterError(book.name, problems + error.problems) from None
    if problems:
        raise ParameterError(book.name, problems)
    return book, values


def cmd_runbook_list(args, journal: Journal) -> int:
    books = list_runbooks()
    if args.json:
        print(json.dumps([{"name": b.name, "title": b.title, "summary": b.summary, "path": str(b.path),
                           "plan": planning.has_plan(b.name), "sha256": b.sha256} for b in books], indent=2))
        return 0
    if not books:
        print(f"no runbooks in {runbooks_dir()}")
        return 0
    print(Table(["runbook", "plan", "what it does"],
                [[b.name, "yes" if planning.has_plan(b.name) else "", b.title] for b in books]))
    print(f"\n(in {runbooks_dir()}; `lvmkit runbook params NAME` shows a runbook's parameters)")
    return 0


def cmd_runbook_params(args, journal: Journal) -> int:
    book = find(args.name)
    parameters = book.parameters
    if args.json:
        print(json.dumps([{"name": p.name, "type": p.type, "default": p.default, "required": p.required,
                           "help": p.help, "set_by_lvmkit": p.injected} for p in parameters], indent=2))
        return 0
    print(f"{book.name}: {book.title}\n{book.summary}\n")
    print(Table(["parameter", "type", "default", "help"],
                [[p.name, p.type, "(required)" if p.required else json.dumps(p.default), p.help]
                 for p in parameters if not p.injected]))
    injected = ", ".join(p.name for p in parameters if p.injected)
    print(f"\nset by `lvmkit runbook run` itself: {injected}")
    print(f"example: lvmkit --host lab runbook run {book.name} "
          + " ".join(f"-p {p.name} VALUE" for p in parameters if p.required and not p.injected))
    return 0


def cmd_runbook_plan(args, journal: Journal) -> int:
    book, values = _values(args)
    records = Path(args.records) if args.records else default_records()
    host = connect(args.host, journal)
    record, path = plan_runbook(book, values, host, records)
    if args.json:
        print(record.to_json())
        return 0
    print(f"preflight on {host.name}: every check passed\n")
    print(record.rendered)
    defaults = {p.name: p.default for p in book.parameters}
    given = " ".join(f"-p {key} {shlex.quote(value if isinstance(value, str) else json.dumps(value))}"
                     for key, value in values.items() if value != defaults.get(key))
    print(f"\nkept in {path}; run it, once approved, with:\n"
          f"  lvmkit --host {args.host} runbook run {book.name} {given} --records {records} --approve {record.sha256}")
    print(record.sha256)
    return 0


def cmd_runbook_run(args, journal: Journal) -> int:
    book, values = _values(args)
    records = Path(args.records) if args.records else default_records()
    request = RunRequest(book, values, args.host, records, args.operator or default_operator(),
                         change_id=args.change, approve=args.approve, approver=args.approved_by,
                         anchor=args.anchor or args.anchor_socket is not None,
                         anchor_socket=Path(args.anchor_socket) if args.anchor_socket else None,
                         sign_key=signature.key_file(args.sign_key))
    result = run_runbook(request, journal=journal, verbose=is_verbose(args), quiet=is_quiet(args))
    print(json.dumps({"record": str(result.record), "outcome": result.outcome,
                      "audit": {"seq": result.audit_line["seq"], "head": result.audit_line["hash"]}}))
    return exit_code(result)


def cmd_audit_verify(args, journal: Journal) -> int:
    records = Path(args.records) if args.records else default_records()
    report = audit.verify(records, head=args.head, trust=signature.trust_file(args.trust))
    if args.json:
        print(json.dumps({"records": str(records), "lines": report.lines, "head": report.head,
                          "given_head_line": report.given_head_line, "intact": report.intact,
                          "problems": report.problems}, indent=2))
    else:
        print(report.render())
    return 0 if report.intact else 1


def cmd_audit_report(args, journal: Journal) -> int:
    records = Path(args.records) if args.records else default_records()
    report = audit_report.write_report(records, Path(args.html), trust=signature.trust_file(args.trust))
    verdict = "audit chain intact" if report.intact else f"AUDIT FAILED: {len(report.problems)} problem(s), marked on the page"
    print(f"{verdict}; the report of {records} is {Path(args.html).absolute()}")
    return 0 if report.intact else 1
