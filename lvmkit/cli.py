"""The `lvmkit` command."""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__, lab
from .errors import LvmkitError
from .host import Host
from .journal import Journal
from .lab.paths import LabPaths
from .status import read_status, render
from .targets import connect, default_journal_path


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lvmkit", description=__doc__)
    parser.add_argument("--version", action="version", version=f"lvmkit {__version__}")
    parser.add_argument("--host", default="local",
                        help="where to act: local (default), lab, or ssh://[user@]host[:port]")
    parser.add_argument("--journal", default=None,
                        help=f"command journal, JSON lines (default {default_journal_path()})")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser("status", help="volume groups, volumes and snapshots of the host")
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    status.set_defaults(handler=cmd_status)

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
    return parser


def cmd_status(args, journal: Journal) -> int:
    status = read_status(connect(args.host, journal))
    print(json.dumps(status.as_dict(), indent=2) if args.json else render(status))
    return 0


def cmd_lab_up(args, journal: Journal) -> int:
    state = lab.up(Host(journal=journal), LabPaths.default(), port=args.port, use_vm=True if args.vm else None)
    where = f"an emulated guest, SSH on 127.0.0.1:{state.port}" if state.kind == "vm" else "this host"
    print(f"lab is up: {where}; volume group {lab.LAB_VG}. Try: lvmkit --host lab status")
    return 0


def cmd_lab_status(args, journal: Journal) -> int:
    paths = LabPaths.default()
    state = lab.read_state(paths)
    if not lab.is_up(state):
        message = "no lab is up" if state is None else f"the lab started {state.started} is gone (QEMU pid {state.pid} is not running); run `lvmkit lab down` to clear it"
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    journal = Journal(args.journal or default_journal_path())
    try:
        return args.handler(args, journal)
    except LvmkitError as error:
        print(f"lvmkit: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lvmkit: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
