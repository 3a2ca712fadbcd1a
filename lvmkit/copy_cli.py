"""`lvmkit copy SET DEST`: an archive set to a second place, checked on arrival (lvmkit.ops.copy)."""

from __future__ import annotations

import sys

from lvmkit import logs
from lvmkit.core.host import Host
from lvmkit.core.journal import Journal
from lvmkit.ops import copy as copy_module
from lvmkit.targets import connect, copy_place
from lvmkit.terminal import Terminal, add_verbose


def add_command(commands) -> None:
    copy = commands.add_parser("copy", help="copy an archive set to a second place, checked on arrival")
    copy.add_argument("archive", metavar="ARCHIVE_SET", help="the set, on the host")
    copy.add_argument("copy_dest", metavar="DEST",
                      help="a directory on this controller, or ssh://[user@]host[:port]/DIR")
    copy.add_argument("--bwlimit", type=int, default=None, metavar="KIB_PER_S",
                      help="limit the transfer to this many KiB/s (rsync --bwlimit)")
    copy.add_argument("--staging", default=copy_module.DEFAULT_STAGING, metavar="DIR",
                      help=f"on the controller: where a copy between two remote hosts passes "
                           f"(default {copy_module.DEFAULT_STAGING})")
    copy.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
    add_verbose(copy)
    copy.set_defaults(handler=cmd_copy)


def cmd_copy(args, journal: Journal) -> int:
    controller = Host(journal=journal, dry_run=args.dry_run)
    request = copy_module.CopyRequest(args.archive, copy_place(args.copy_dest, controller), staging=args.staging,
                                      bwlimit_kib=args.bwlimit)
    target = connect(args.host, journal, dry_run=args.dry_run)
    if args.dry_run:
        run = copy_module.prepare(target, controller, request)
        print(f"{run.final} is already there (same SHA256SUMS)" if run.plan is None else
              f"{run.plan.render()}\n\n(dry run: nothing was changed)")
        return 0
    log = logs.operator_log(args, Terminal.of(sys.stderr))
    run = copy_module.copy(target, controller, request, log=log)
    log.done()
    print(f"{run.final} is already there (same SHA256SUMS): nothing to copy" if run.already_there else
          f"copied {args.archive} to {run.final}: checked on arrival (sha256sum -c SHA256SUMS), published")
    return 0
