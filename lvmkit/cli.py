"""The `lvmkit` command."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import PurePosixPath

from lvmkit import __version__, lab, logs
from lvmkit.archive import signature
from lvmkit.archive.engines import ENGINES
from lvmkit.archive.engines.repository import password_given, with_repository
from lvmkit.copy_cli import add_command as add_copy_command
from lvmkit.core.errors import EXIT_SIGINT, EXIT_SIGTERM, LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.core.paths import target_path
from lvmkit.core.sizes import human
from lvmkit.jobs.cli import add_commands as add_job_commands
from lvmkit.lab.paths import LabPaths
from lvmkit.lvm.guard import GuardSettings
from lvmkit.ops import backup as backup_module
from lvmkit.ops import cleanup as cleanup_module
from lvmkit.ops import copy as copy_module
from lvmkit.ops import copy_cleanup, copy_compare
from lvmkit.ops import group as group_module
from lvmkit.ops import listing as listing_module
from lvmkit.ops import restore as restore_module
from lvmkit.ops import verify as verify_module
from lvmkit.ops.copy_transfer import Place
from lvmkit.ops.hooks import Hook
from lvmkit.ops.status import read_status, render
from lvmkit.rebuild_cli import add_command as add_rebuild_command
from lvmkit.runbooks.cli import add_commands as add_runbook_commands
from lvmkit.targets import connect, copy_place, default_journal_path
from lvmkit.terminal import Terminal, add_verbose, is_verbose, show_plan

LIST_SHOWN = 5  # archive sets `lvmkit list` shows, newest first; -v shows every one


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lvmkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"lvmkit {__version__}")
    parser.add_argument("--host", default="local",
                        help="where to act: local (default), lab, or ssh://[user@]host[:port]")
    parser.add_argument("--journal", default=None,
                        help=f"command journal, JSON lines (default {default_journal_path()})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="every detail on the terminal: each step, the preflight's every check, "
                             "a runbook's cell-by-cell log (also after the command: backup -v ...)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="only warnings, errors and the result (also after the command)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser("status", help="volume groups, volumes and snapshots of the host")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.add_argument("--vg", default=None, metavar="VG",
                        help="only this volume group: its volumes, snapshots, stale state and locks")
    status.set_defaults(handler=cmd_status)

    backup = commands.add_parser("backup", help="back up a logical volume (or a group of them) from LVM snapshots")
    backup.add_argument("origin", metavar="VG/LV", nargs="?", help="the volume to back up (or use --group)")
    backup.add_argument("--group", metavar="VG/LV,VG/LV,...",
                        help="several volumes whose snapshots must show one instant (a consistency group)")
    backup.add_argument("--pre-snapshot", metavar="CMD", help="run before the snapshot (e.g. flush and lock a database)")
    backup.add_argument("--post-snapshot", metavar="CMD", help="run after the snapshot, always (e.g. unlock it)")
    backup.add_argument("--hook-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="a hook still running after this is stopped (default 60)")
    backup.add_argument("--freeze-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="group: a watchdog resumes every member after this, even if lvmkit dies (default 30)")
    backup.add_argument("--dest", required=True, help="directory for the archive set (on the host)")
    backup.add_argument("--engine", default="fsarchiver", help=f"one of: {', '.join(ENGINES)} (default fsarchiver)")
    backup.add_argument("--repository", default=None, metavar="URL",
                        help="restic/borg: the repository (a path on the host, sftp:HOST:/PATH or "
                             "ssh://HOST/PATH); --dest then keeps the set's report, digest and manifest")
    add_password_options(backup)
    backup.add_argument("--snapshot-size", default=None,
                        help="room for changes while the backup reads: 5G, 512M or 20%%ORIGIN (default 20%%ORIGIN)")
    backup.add_argument("--name", default=None, help="archive set name (default VG-LV-RUNID)")
    backup.add_argument("--sign-key", default=None, metavar="FILE",
                        help="sign SHA256SUMS with this OpenSSH key on this machine (docs/security.md)")
    backup.add_argument("--encrypt-to", default=None, metavar="RECIPIENTS",
                        help="encrypt the archive and the digest with age as they are written, to the "
                             "recipients file RECIPIENTS on the host (tar, dar, dd, partclone)")
    backup.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                        help="an engine setting, e.g. zstd_level=3 (repeatable)")
    backup.add_argument("--keep-snapshot-on-failure", action="store_true",
                        help="leave the snapshot in place when the backup fails, to retry from it")
    backup.add_argument("--autoextend", action="store_true",
                        help="grow the snapshot (lvextend) while the volume group has room, before it fills")
    backup.add_argument("--autoextend-step", default="20%ORIGIN", help="how much to grow each time (default 20%%ORIGIN)")
    backup.add_argument("--autoextend-max", default="100%ORIGIN", help="never grow beyond this (default 100%%ORIGIN)")
    backup.add_argument("--extend-at", type=float, default=60.0, metavar="PERCENT",
                        help="grow when the snapshot is this full (default 60)")
    backup.add_argument("--warn-at", type=float, default=80.0, metavar="PERCENT",
                        help="warn when the snapshot is this full (default 80)")
    backup.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
    backup.add_argument("--json", action="store_true", help="print the manifest (or the plan) as JSON")
    add_verbose(backup)
    backup.set_defaults(handler=cmd_backup)

    verify = commands.add_parser("verify", help="check an archive set; --deep restores it to a scratch volume")
    verify.add_argument("archive", metavar="ARCHIVE_SET")
    verify.add_argument("--deep", action="store_true", help="restore into a scratch volume and compare contents")
    verify.add_argument("--scratch-vg", default=None, help="volume group for the scratch volume (default: the origin's)")
    verify.add_argument("--identity", metavar="FILE", default=None,
                        help="an age identity file on the host, for a set made with --encrypt-to")
    add_password_options(verify)
    verify.add_argument("--json", action="store_true")
    add_trust(verify)
    add_verbose(verify)
    verify.set_defaults(handler=cmd_verify)

    restore = commands.add_parser("restore", help="restore an archive set onto a volume")
    restore.add_argument("archive", metavar="ARCHIVE_SET")
    target = restore.add_mutually_exclusive_group(required=True)
    target.add_argument("--to", metavar="VG/LV", help="an existing, unmounted volume: it is overwritten")
    target.add_argument("--to-new", metavar="VG/NAME", help="create this volume, sized from the manifest")
    restore.add_argument("--confirm", metavar="VG/LV", help="repeat the --to volume's name to confirm")
    restore.add_argument("--identity", metavar="FILE", default=None,
                        help="an age identity file on the host, for a set made with --encrypt-to")
    add_password_options(restore)
    restore.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
    restore.add_argument("--json", action="store_true")
    add_trust(restore)
    add_verbose(restore)
    restore.set_defaults(handler=cmd_restore)

    restore_group = commands.add_parser("restore-group", help="restore every member of a group's archive set")
    restore_group.add_argument("archive", metavar="GROUP_ARCHIVE_SET")
    restore_group.add_argument("--to-new-suffix", required=True, metavar="SUFFIX",
                               help="each member VG/LV is restored to a new volume VG/LV<SUFFIX>")
    restore_group.add_argument("--json", action="store_true")
    add_trust(restore_group)
    restore_group.set_defaults(handler=cmd_restore_group)

    add_rebuild_command(commands)
    add_copy_command(commands)

    listing = commands.add_parser("list", help="archive sets in a directory, newest first")
    listing.add_argument("directory", metavar="DIR")
    listing.add_argument("--copies", metavar="DEST", default=None,
                         help="compare with a copy destination: which sets are in both, missing, or differ")
    listing.add_argument("--json", action="store_true")
    add_verbose(listing)
    listing.set_defaults(handler=cmd_list)

    clean = commands.add_parser("cleanup", help="remove what crashed runs left: snapshots, mounts, locks, partial archive sets")
    clean.add_argument("--dest", action="append", default=[], metavar="DIR",
                       help="also remove partial archive sets of dead runs in DIR, and the temporary files "
                            "an interrupted verify left in its sets (repeatable)")
    clean.add_argument("--copies", action="append", default=[], metavar="DEST",
                       help="also remove partial copies no running copy holds at DEST (a directory on "
                            "this controller or ssh://...), and in the staging directory (repeatable)")
    clean.add_argument("--staging", default=copy_module.DEFAULT_STAGING, metavar="DIR",
                       help="with --copies: the controller's staging directory of `lvmkit copy --staging`")
    clean.add_argument("--run", action="append", default=None, metavar="RUN_ID",
                       help="only this run's leftovers (repeatable)")
    clean.add_argument("--vg", default=None, metavar="VG",
                       help="only the runs of this volume group (a volume or a lock there); others are left alone")
    clean.add_argument("--dry-run", action="store_true", help="show what would be removed, change nothing")
    clean.add_argument("--json", action="store_true")
    clean.set_defaults(handler=cmd_cleanup)

    lab_parser = commands.add_parser("lab", help="the built-in lab: real LVM on loop-backed volume groups")
    lab_commands = lab_parser.add_subparsers(dest="lab_command", required=True, metavar="ACTION")
    lab_up = lab_commands.add_parser("up", help="start the lab and build its volume group")
    lab_up.add_argument("--port", type=int, default=None,
                        help="loopback port for the guest's SSH (default: a free one)")
    lab_up.add_argument("--vm", action="store_true",
                        help="use the emulated guest even where this kernel has device-mapper")
    lab_up.set_defaults(handler=cmd_lab_up)
    lab_status = lab_commands.add_parser("status", help="is a lab up, and what is in it")
    lab_status.add_argument("--json", action="store_true")
    lab_status.set_defaults(handler=cmd_lab_status)
    lab_ssh = lab_commands.add_parser("ssh", help="a shell in the lab, or run one command there")
    lab_ssh.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD")
    lab_ssh.set_defaults(handler=cmd_lab_ssh)
    lab_down = lab_commands.add_parser("down", help="stop the lab and remove every trace of it")
    lab_down.set_defaults(handler=cmd_lab_down)

    add_runbook_commands(commands)  # runbook list|params|plan|run, audit verify
    add_job_commands(commands)  # job list|show|check|run|install|uninstall, prune; backup's [defaults]
    return parser


def add_password_options(parser) -> None:
    parser.add_argument("--password-file", default=None, metavar="FILE",
                        help="restic/borg: file on the host holding the repository's password (never the password)")
    parser.add_argument("--password-command", default=None, metavar="CMD",
                        help="restic/borg: command on the host that prints the password")


def engine_options_of(args) -> dict[str, str]:
    """--engine-option pairs, with --repository and the password's file or command."""
    return with_repository(parse_engine_options(args.engine_option), args.repository, args.password_file,
                           args.password_command)


def cmd_status(args, journal: Journal) -> int:
    status = read_status(connect(args.host, journal), vg=args.vg)
    if args.vg and not status.volume_groups:
        raise UsageError(f"volume group {args.vg!r} does not exist on {status.host}: see `lvmkit status` for the ones there are")
    print(json.dumps(status.as_dict(), indent=2) if args.json else render(status))
    return 0


def cmd_backup(args, journal: Journal) -> int:
    if bool(args.origin) == bool(args.group):
        raise UsageError("give either one VG/LV or --group VG/LV,VG/LV,...")
    host = connect(args.host, journal)
    guard = GuardSettings(autoextend=args.autoextend, autoextend_step=args.autoextend_step,
                          autoextend_max=args.autoextend_max, extend_at_percent=args.extend_at,
                          warn_at_percent=args.warn_at)
    if args.group:
        if args.encrypt_to:
            raise UsageError("--encrypt-to encrypts one volume's set; a group's sets cannot be encrypted yet")
        return backup_group(args, host, guard)
    if args.pre_snapshot or args.post_snapshot:
        raise UsageError("hooks go with --group; for one volume, a group of one: --group VG/LV")
    request = backup_module.BackupRequest(
        origin=args.origin, dest=args.dest, engine=args.engine, snapshot_size=args.snapshot_size,
        name=args.name, engine_options=engine_options_of(args),
        keep_snapshot_on_failure=args.keep_snapshot_on_failure, guard=guard, sign_key=args.sign_key,
        encrypt_to=args.encrypt_to,
    )
    if args.dry_run:
        run = backup_module.prepare(host, request)
        return show_plan(backup_module.plan(run), run.preflight, args.json)
    log = operator_log(args)
    run = backup_module.backup(host, request, log=log)
    log.done()
    if args.json:
        print(json.dumps(run.manifest.to_dict(), indent=2))
        return 0
    m = run.manifest
    engine = m.engine.version if m.engine.version.startswith(m.engine.name) else f"{m.engine.name} {m.engine.version}"
    print(f"backed up {args.origin} to {run.paths.final} in {seconds_between(m.started, m.ended):.1f} s\n"
          f"  {m.digest.files} files, archive {human(m.bytes_written)} by {engine}, "
          f"snapshot peak {m.snapshot.peak_percent or 0:.1f}%")
    if is_verbose(args):
        print(f"  check it anywhere with: cd {run.paths.final} && sha256sum -c SHA256SUMS")
    print(f"  {run.commands.describe()}")  # the last line: what the backup cost the target
    return 0


def backup_group(args, host: Host, guard: GuardSettings) -> int:
    request = group_module.GroupRequest(
        members=group_module.parse_members(args.group), dest=args.dest, engine=args.engine, name=args.name,
        snapshot_size=args.snapshot_size, engine_options=engine_options_of(args), guard=guard,
        pre_snapshot=Hook.parse("pre-snapshot", args.pre_snapshot, args.hook_timeout),
        post_snapshot=Hook.parse("post-snapshot", args.post_snapshot, args.hook_timeout),
        freeze_timeout_s=args.freeze_timeout, sign_key=args.sign_key,
    )
    if args.dry_run:
        run = group_module.prepare(host, request)
        return show_plan(group_module.plan(run), run.preflight, args.json)
    log = operator_log(args)
    run = group_module.backup_group(host, request, log=log)
    log.done()
    if args.json:
        print(json.dumps(run.manifest.to_dict(), indent=2))
    else:
        window = run.window
        print(f"backed up {', '.join(request.members)} as one group to {run.paths.final}\n"
              f"  the members were frozen for {window['frozen_s'] * 1000:.0f} ms "
              f"({len(window['frozen_devices'])} suspended, snapshots at one instant)\n"
              f"  check it anywhere with: cd {run.paths.final} && sha256sum -c SHA256SUMS")
    return 0


def add_trust(parser) -> None:
    parser.add_argument("--trust", default=None, metavar="FILE",
                        help=f"allowed_signers: refuse a set not signed by one of them "
                             f"(default {signature.DEFAULT_TRUST} when it exists)")


def cmd_verify(args, journal: Journal) -> int:
    log = operator_log(args)
    result = verify_module.verify(connect(args.host, journal), args.archive, deep=args.deep, scratch_vg=args.scratch_vg,
                                  log=log, trust=signature.trust_file(args.trust),
                                  identity=args.identity,
                                  password=password_given(args.password_file, args.password_command))
    log.done()
    deep = " (deep)" if args.deep else ""
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif result.passed and not is_verbose(args):
        print(f"verified {args.archive}{deep}: {len(result.checks.checks)} checks passed")
    else:  # a failed check is shown with the ones that passed: together they say how far it got
        print(f"verify {args.archive}{deep}:\n{result.checks.render()}")
        print("verified" if result.passed else "VERIFICATION FAILED")
    return 0 if result.passed else 1


def cmd_restore(args, journal: Journal) -> int:
    host = connect(args.host, journal)
    request = restore_module.RestoreRequest(args.archive, to=args.to, confirm=args.confirm, to_new=args.to_new,
                                            trust=signature.trust_file(args.trust),
                                            identity=args.identity,
                                            password=password_given(args.password_file, args.password_command))
    if args.dry_run:
        run = restore_module.prepare(host, request)
        return show_plan(restore_module.plan(run), run.preflight, args.json)
    log = operator_log(args)
    run = restore_module.restore(host, request, log=log)
    log.done()
    comparison = run.comparison
    if args.json:
        print(json.dumps(run.result, indent=2))
    else:
        outcome = (f"proved by content digest: {comparison.expected_count} paths equal" if comparison.equal
                   else f"CONTENT DIFFERS: {comparison.summary()}")
        print(f"restored {args.archive} onto {run.vg}/{run.lv} in {run.duration_s:.1f} s\n  {outcome}")
    return 0 if comparison.equal else 1


def cmd_restore_group(args, journal: Journal) -> int:
    runs = group_module.restore_group(connect(args.host, journal), args.archive, args.to_new_suffix,
                                      trust=signature.trust_file(args.trust))
    if args.json:
        print(json.dumps([run.result for run in runs], indent=2))
    else:
        for run in runs:
            outcome = "proved" if run.comparison.equal else "CONTENT DIFFERS"
            print(f"{run.request.archive} -> {run.vg}/{run.lv}: {outcome}: {run.comparison.summary()}")
    return 0 if all(run.comparison.equal for run in runs) else 1


def cmd_list(args, journal: Journal) -> int:
    if args.copies:
        controller = Host(journal=journal)
        rows = copy_compare.compare(Place(connect(args.host, journal), target_path(args.directory, "directory")),
                                    copy_place(args.copies, controller))
        print(json.dumps([row.as_dict() for row in rows], indent=2) if args.json else copy_compare.render(rows))
        return 0 if all(row.state == copy_compare.IN_BOTH for row in rows) else 1
    sets = listing_module.list_sets(connect(args.host, journal), args.directory)
    if args.json:
        print(json.dumps([{"path": s.path, "manifest": s.manifest and s.manifest.to_dict(),
                           "verification": s.verification,
                           "problem": s.problem} for s in sets], indent=2))
    elif not sets:
        print(f"no archive sets in {args.directory}")
    else:
        # Quiet: the newest few, by name (each is DIR/NAME); -v: every one, by its full path.
        shown = sets if is_verbose(args) else [replace(s, path=PurePosixPath(s.path).name) for s in sets[:LIST_SHOWN]]
        print(listing_module.render(shown))
        if len(shown) < len(sets):
            print(f"(the newest {len(shown)} of {len(sets)}; lvmkit list -v DIR shows every one)")
    return 0


def cmd_cleanup(args, journal: Journal) -> int:
    host = connect(args.host, journal, dry_run=args.dry_run)
    if args.copies:  # copies are the controller's: only their partials, with the controller's locks
        controller = Host(journal=journal, dry_run=args.dry_run)
        places = [copy_place(spec, controller) for spec in args.copies]
        removals = copy_cleanup.cleanup_copies(controller, places, dry_run=args.dry_run, staging=args.staging)
        print(json.dumps([r.as_dict() for r in removals], indent=2) if args.json else copy_cleanup.render(removals))
        return 0 if all(r.outcome in ("removed", "would remove", "kept: a copy is running") for r in removals) else 1
    report = cleanup_module.cleanup(host, dry_run=args.dry_run, destinations=args.dest, only_runs=args.run,
                                     vg=args.vg)
    print(json.dumps(report.as_dict(), indent=2) if args.json else cleanup_module.render(report))
    return 0 if report.clean else 1


def operator_log(args):
    """Where an operation's step lines, warnings and details go (see lvmkit.logs)."""
    return logs.operator_log(args, Terminal.of(sys.stderr))


def seconds_between(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def parse_engine_options(pairs: list[str]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--engine-option {pair!r}: write KEY=VALUE, e.g. zstd_level=3")
        options[key] = value
    return options


def cmd_lab_up(args, journal: Journal) -> int:
    state = lab.up(Host(journal=journal), LabPaths.default(), port=args.port, use_vm=True if args.vm else None)
    where = f"an emulated guest, SSH on 127.0.0.1:{state.port}" if state.kind == "vm" else "this host"
    print(f"lab is up: {where}; volume group {lab.LAB_VG}. Try: lvmkit --host lab status")
    return 0


def cmd_lab_status(args, journal: Journal) -> int:
    paths = LabPaths.default()
    state = lab.read_state(paths)
    if not lab.is_up(state):
        message = "no lab is up" if state is None else (
            f"the lab started {state.started} is gone (QEMU pid {state.pid} is not running); "
            "run `lvmkit lab down` to clear it")
        print(json.dumps({"up": False, "message": message}) if args.json else message)
        return 1
    status = read_status(lab.connect(Host(journal=journal), paths))
    if args.json:
        print(json.dumps({"up": True, "kind": state.kind, "port": state.port, "pid": state.pid,
                          "started": state.started, **status.as_dict()}, indent=2))
    else:
        print(f"lab is up since {state.started} ({state.kind}"
              + (f", QEMU pid {state.pid}, SSH on 127.0.0.1:{state.port})" if state.kind == "vm" else ")"))
        print(render(status))
    return 0


def cmd_lab_ssh(args, journal: Journal) -> int:
    host = lab.connect(Host(journal=journal))
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not hasattr(host, "attach"):  # a local lab: its commands run right here
        return host.run(argv or ["bash", "-l"], check=False, changes=True).returncode
    return host.attach(argv or None)


def cmd_lab_down(args, journal: Journal) -> int:
    state = lab.down(Host(journal=journal), LabPaths.default())
    print(f"lab stopped (it was up since {state.started}); no guest, loop device or run file is left")
    return 0


class Terminated(BaseException):
    """SIGTERM, turned into an exception so that every step's undo runs (like Ctrl-C)."""


def _on_sigterm(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    journal = Journal(args.journal or default_journal_path())
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    # Every write to stderr (the progress lines too) passes the Terminal, which keeps its
    # live line from wrapping and clears it before a permanent line.
    terminal = Terminal(sys.stderr, quiet=logs.is_quiet(args))
    args.under_journal = logs.configure(args, terminal, sys.stderr)
    log = logs.logger()
    try:
        with contextlib.redirect_stderr(terminal):
            return args.handler(args, journal)
    except LvmkitError as error:  # the exit codes: lvmkit.core.errors
        log.error(f"lvmkit: {error}")
        return error.exit_code
    except KeyboardInterrupt:
        log.error("lvmkit: interrupted (SIGINT); what was done has been undone")
        return EXIT_SIGINT
    except Terminated:
        log.error("lvmkit: terminated (SIGTERM); what was done has been undone")
        return EXIT_SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
