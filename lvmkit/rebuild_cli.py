"""`lvmkit rebuild`: a server's volumes again, on a blank disk, from a directory of archive sets."""

from __future__ import annotations

import json
import sys

from lvmkit import logs
from lvmkit.core.journal import Journal
from lvmkit.ops import rebuild as rebuild_module
from lvmkit.targets import connect
from lvmkit.terminal import Terminal, add_verbose, show_plan


def add_command(commands) -> None:
    rebuild = commands.add_parser(
        "rebuild", help="create a new volume group on a blank disk and restore every volume into it")
    rebuild.add_argument("--from", dest="source_dir", required=True, metavar="DIR",
                         help="a directory of archive sets: each volume's newest verified set is used")
    rebuild.add_argument("--pv", required=True, metavar="DEVICE", help="the blank disk (refused if it holds a signature)")
    rebuild.add_argument("--vg", required=True, metavar="NAME", help="the new volume group (refused if it exists)")
    rebuild.add_argument("--new-uuids", action="store_true",
                         help="give every filesystem a new UUID (default: keep the recorded ones)")
    rebuild.add_argument("--dry-run", action="store_true", help="run the checks, print the plan, change nothing")
    rebuild.add_argument("--json", action="store_true")
    add_verbose(rebuild)
    rebuild.set_defaults(handler=cmd_rebuild)


def cmd_rebuild(args, journal: Journal) -> int:
    host = connect(args.host, journal)
    request = rebuild_module.RebuildRequest(args.source_dir, args.pv, args.vg, new_uuids=args.new_uuids)
    if args.dry_run:
        run = rebuild_module.prepare(host, request)
        return show_plan(rebuild_module.plan(run), run.preflight, args.json)
    log = logs.operator_log(args, Terminal.of(sys.stderr))  # -q and the systemd journal, as every command
    run = rebuild_module.rebuild(host, request, log=log)
    log.done()
    if args.json:
        print(json.dumps(run.as_dict(), indent=2))
        return 0
    print(render(run))
    return 0


def render(run: rebuild_module.RebuildRun) -> str:
    lines = [f"rebuilt {len(run.volumes)} volumes on {run.request.device} as {run.request.vg} "
             f"in {run.duration_s:.1f} s (recovery time)"]
    for volume in run.volumes:
        lines.append(f"  {volume.source.volume} -> {volume.target}: {volume.duration_s:.1f} s, "
                     f"proved by content digest ({volume.restore.comparison.expected_count} paths equal)")
    lines += ["lines for /etc/fstab:", *(f"  {line}" for line in run.fstab_lines())]
    return "\n".join(lines)
