"""Run a runbook with papermill and keep the record of the run.

The notebook runs here, on the controlling machine, in a kernel of this very Python; its
cells send the storage commands to the target through a Host. Each run gets a record
folder RECORDS/<UTC time>-<runbook>-<4 hex>/:

    <runbook>.ipynb      the executed notebook: every cell's output, the failing cell's error
    <runbook>.html       the same, rendered to read in a browser
    journal.jsonl        every command sent to the target (lvmkit's journal)
    manifest.json        the archive set's manifest, when the runbook made one
    approved-plan.json   the approved plan, in a change-managed run
    rehearsal.json       a DR rehearsal's recovery report; its RTO and RPO are in run.json too
    run.json             who, what, where, when, the outcome, and the sha256 of every file above

and a line in RECORDS/audit.log that chains it to the runs before (audit.py). A failed
run is recorded exactly like a successful one, with outcome `failed`.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from lvmkit import __version__
from lvmkit.core.errors import EXIT_FAILED, EXIT_OK, EXIT_REFUSED, EXIT_SIGINT, EXIT_SIGTERM
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import Journal
from lvmkit.core.preflight import PreflightError
from lvmkit.core.runs import new_run_id
from lvmkit.lvm.lock import LockHeld
from lvmkit.runbooks import anchor, approval, audit, planning, rehearsals
from lvmkit.runbooks.catalog import Runbook
from lvmkit.runbooks.console import RunConsole
from lvmkit.runbooks.record_signing import sign_record
from lvmkit.targets import connect
from lvmkit.terminal import Terminal

RECORDS_ENV = "LVMKIT_RECORDS"
DEFAULT_RECORDS = Path("/var/lib/lvmkit/records")
RUN_SCHEMA = 1
# A kernel's start costs 2 s on a workstation; give slow or loaded machines far more.
START_TIMEOUT_S = 120
JOURNAL = "journal.jsonl"
APPROVED_PLAN = "approved-plan.json"


def default_records() -> Path:
    return Path(os.environ.get(RECORDS_ENV, DEFAULT_RECORDS))


def default_operator() -> str:
    # Under sudo, the person is SUDO_USER; root is only the account they used.
    return os.environ.get("SUDO_USER") or getpass.getuser()


@dataclass(frozen=True)
class RunRequest:
    runbook: Runbook
    values: dict  # the operator's parameters, validated (params.validate)
    host_spec: str
    records: Path
    operator: str
    change_id: str | None = None
    approve: str | None = None  # the approved plan's sha256
    approver: str | None = None
    anchor: bool = False  # send each new head to syslog (anchor.py)
    anchor_socket: Path | None = None  # logger's socket instead of /dev/log (tests)
    sign_key: str | None = None  # the operator's OpenSSH key on this machine: run.json is signed with it


@dataclass(frozen=True)
class RunResult:
    record: Path
    run: dict  # run.json
    audit_line: dict

    @property
    def outcome(self) -> str:
        return self.run["outcome"]


def plan_runbook(book: Runbook, values: dict, host: Host, records: Path) -> tuple[approval.PlanRecord, Path]:
    """Compute the runbook's plan (read-only) and keep it for approval under RECORDS/plans/."""
    run_id = new_run_id()
    the_plan, preflight = planning.compute(book.name, host, values, run_id)
    record = approval.new_record(book.name, book.sha256, host.name, values, run_id, the_plan, preflight.as_list())
    _private_dir(records)
    return record, approval.save(records, record)


def run_runbook(request: RunRequest, *, journal: Journal | None = None, stream=None, verbose: bool = False,
                quiet: bool = False) -> RunResult:
    """Execute the runbook and record it; a failing notebook gives a record with outcome `failed`.

    The terminal (`stream`) shows the runbook's steps, progress, warnings and the outcome;
    `verbose` adds papermill's cell-by-cell log; `quiet` keeps only warnings, errors and the
    outcome (the step under way is a live line). The record holds everything either way.
    """
    stream = Terminal.of(stream or sys.stderr, quiet=quiet and not verbose)
    book, records = request.runbook, request.records
    host = connect(request.host_spec, journal or Journal())  # a bad --host fails here, before any record
    run_id, approved_path = "", None
    if request.approve:
        approved, approved_path = approval.load_approved(records, request.approve)
        say(stream, f"checking the plan against the approved plan {request.approve} ...")
        current, _ = planning.compute(book.name, host, request.values, approved.run_id)
        approval.require_same(approved, plan=current, runbook=book.name, runbook_sha256=book.sha256,
                              host=host.name, parameters=request.values)
        run_id = approved.run_id
        say(stream, "the plan computed now is the approved one")

    _private_dir(records)
    start = utc_now()
    record = records / f"{start.strftime('%Y%m%dT%H%M%SZ')}-{book.name}-{secrets.token_hex(2)}"
    record.mkdir(mode=0o700)
    journal_path = record / JOURNAL
    journal_path.touch(mode=0o600)
    injected = {"host_spec": request.host_spec, "journal_path": str(journal_path), "record_dir": str(record),
                "run_id": run_id, "approved_plan": ""}
    if approved_path is not None:
        shutil.copyfile(approved_path, record / APPROVED_PLAN)
        injected["approved_plan"] = str(record / APPROVED_PLAN)
    notebook = record / f"{book.name}.ipynb"
    if not quiet:
        say(stream, f"runbook {book.name} on {host.name}, record folder {record}")

    began = time.monotonic()
    console = RunConsole(stream, book.notebook.get("cells", []), verbose, quiet)
    outcome, error = execute(book, notebook, {**request.values, **injected}, record, console)
    end = utc_now()
    html_error = None
    if notebook.exists():
        try:
            render_html(notebook, record / f"{book.name}.html")
        except Exception as problem:  # the record stands without its rendering; say why it lacks one
            html_error = f"{type(problem).__name__}: {problem}"
    if journal is not None and journal.path is not None:
        for entry in Journal.read(journal_path):  # the operator's journal holds every command too
            journal.record(entry)

    run = {
        "schema": RUN_SCHEMA,
        "kind": "lvmkit-runbook-run",
        "record": record.name,
        "runbook": book.name,
        "runbook_file": book.path.name,
        "runbook_sha256": book.sha256,
        "parameters": request.values,
        "host_spec": request.host_spec,
        "host": host.name,
        "run_id": run_id or None,
        "operator": request.operator,
        "controller": socket.gethostname(),
        "lvmkit_version": __version__,
        "change_id": request.change_id,
        "approval": {"plan_sha256": request.approve, "approver": request.approver} if request.approve else None,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "duration_s": round(time.monotonic() - began, 3),
        "outcome": outcome,
        "error": error,
        "html_error": html_error,
        "files": audit.folder_files(record),
        "plans": audit.plan_files(records),
    }
    recovery = rehearsals.recovery_of(record)
    if recovery is not None:  # a DR rehearsal's RTO and RPO: the history the next rehearsal compares with
        run["recovery"] = recovery
    (record / audit.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    line = audit.append(records, record.name, run, sign_record(request.sign_key, record))
    if request.anchor:
        anchor.send_head(line, records, request.anchor_socket)
    if error:
        step = f" in step {console.step}" if console.step else ""
        cell = f" at In [{error['execution_count']}]" if error["execution_count"] else ""
        say(stream, f"runbook {book.name} {outcome}{step}{cell}: {error['ename']}: {error['evalue']}")
    # The head's hash is for a change ticket: on stdout (JSON), in audit.log, and here with -v.
    head = f", head {line['hash']}" if verbose else ""
    say(stream, f"runbook {book.name}: {outcome} in {run['duration_s']:.1f} s; record {record} "
                f"(audit.log line {line['seq']}{head})")
    return RunResult(record, run, line)


def execute(book: Runbook, output: Path, parameters: dict, cwd: Path, console: RunConsole) -> tuple[str, dict | None]:
    """Run the notebook with papermill; returns the outcome and, if it failed, where and why."""
    import nbformat
    import papermill
    from nbclient.exceptions import CellExecutionError
    from papermill.exceptions import PapermillExecutionError

    from lvmkit.runbooks.kernel import KERNEL_NAME, new_kernel_manager

    stream = console.terminal
    signals: list[int] = []
    runtime = tempfile.mkdtemp(prefix="lvmkit-kernel-")
    km = new_kernel_manager(runtime)

    def interrupt(signum, frame):
        # The kernel runs in a session of its own; pass the signal on, so that lvmkit undoes
        # the step in the cell that runs, and papermill records that cell as failed.
        signals.append(signum)
        say(stream, f"{signal.Signals(signum).name}: interrupting the runbook; the running step undoes what it did")
        if not km.interrupt(signal.SIGINT):
            raise KeyboardInterrupt

    def stop_before_next_cell(cell, cell_index):
        console.cell_starts(cell)
        # A signal that came between two cells: the next one does not start.
        if signals and cell.cell_type == "code":
            name = signal.Signals(signals[0]).name
            cell.outputs.append(nbformat.v4.new_output(
                "error", ename="KeyboardInterrupt", evalue=f"{name} before this cell ran", traceback=[]))
            raise CellExecutionError("", "KeyboardInterrupt", f"{name} before this cell ran")

    logger = logging.getLogger("papermill")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    level, propagate = logger.level, logger.propagate
    # Quiet, papermill's own warnings still show; -v shows its "Executing Cell N" log too.
    logger.setLevel(logging.INFO if console.verbose else logging.WARNING)
    logger.propagate = False
    if console.verbose:  # papermill logs every output of every cell, and draws its progress bar
        shown = {"log_output": True, "progress_bar": True}
    else:  # the cells' output streams come to the console as they arrive, to be sorted there
        shown = {"log_output": False, "progress_bar": False, "stdout_file": console.stdout,
                 "stderr_file": console.stderr}
    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        papermill.execute_notebook(
            str(book.path), str(output), parameters=parameters, kernel_name=KERNEL_NAME, km=km,
            start_timeout=START_TIMEOUT_S, cwd=str(cwd), on_cell_start=stop_before_next_cell, **shown,
            coalesce_streams=True,  # one stdout block per cell, progress lines (\r) settled
        )
    except PapermillExecutionError as failure:
        interrupted = failure.ename == "KeyboardInterrupt" or bool(signals)
        return ("interrupted" if interrupted else "failed"), {
            "execution_count": failure.exec_count, "source": failure.source,  # the cell shown as In [N]
            "ename": failure.ename, "evalue": failure.evalue,
            "signal": signal.Signals(signals[0]).name if signals else None,
        }
    except (Exception, KeyboardInterrupt) as failure:  # the kernel did not start, or died: no cell says why
        return ("interrupted" if signals else "failed"), {
            "execution_count": None, "source": None, "ename": type(failure).__name__, "evalue": str(failure),
            "signal": signal.Signals(signals[0]).name if signals else None,
        }
    finally:
        console.finish()
        for sig, handler_before in previous.items():
            signal.signal(sig, handler_before)
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
        _shut_down(km)
        shutil.rmtree(runtime, ignore_errors=True)
    if signals:
        return "interrupted", {"execution_count": None, "source": None, "ename": "KeyboardInterrupt",
                               "evalue": "interrupted", "signal": signal.Signals(signals[0]).name}
    return "succeeded", None


# nbconvert's lab template, less the scripts it loads from CDNs (templates/offline/): a record's
# rendering opens offline and reaches nothing outside itself.
TEMPLATES = Path(__file__).parent / "templates"
HTML_TEMPLATE = "offline"


def render_html(notebook: Path, html: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name=HTML_TEMPLATE, extra_template_basedirs=[str(TEMPLATES)])
    # The page's title is the runbook's name, as `from_filename` would give it.
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4),
                                          resources={"metadata": {"name": notebook.stem}})
    html.write_text(body, encoding="utf-8")


# A cell's error is recorded by its class name: these are refusals before anything changed.
REFUSALS = {PreflightError.__name__, LockHeld.__name__}


def exit_code(result: RunResult) -> int:
    """The same codes as every other command (lvmkit.core.errors): a refused run exits 3."""
    error = result.run["error"] or {}
    if result.outcome == "succeeded":
        return EXIT_OK
    if result.outcome == "interrupted":
        return EXIT_SIGTERM if error.get("signal") == "SIGTERM" else EXIT_SIGINT
    return EXIT_REFUSED if error.get("ename") in REFUSALS else EXIT_FAILED


def say(stream, message: str) -> None:
    Terminal.of(stream).line(f"lvmkit: {message}")


def _shut_down(km) -> None:
    from jupyter_core.utils import run_sync

    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=False)
    except Exception:  # a kernel that is gone already needs no shutdown
        pass


def _private_dir(path: Path) -> None:
    # Records hold command outputs of root's storage commands: root's eyes only.
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
