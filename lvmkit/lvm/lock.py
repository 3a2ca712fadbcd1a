"""One run per origin at a time: a lock file per origin on the target host.

`/run/lvmkit/locks/<vg>-<lv>.lock` lives on a tmpfs, so a reboot, which ends every run,
also clears every lock. The file appears complete or not at all: its JSON is written to a
temporary file that is then hard-linked to the lock's name, and link(2) fails when the
name exists (the O_EXCL of a name), so two runs cannot both take it and no reader ever
sees half a lock. Only its own run removes it (`release`), or `lvmkit cleanup` once its
holder is provably dead; a lock is never taken over silently.

The lock is on the target; whether its holder lives can be told only on the controller,
the machine whose Python process wrote it. A lock names its holder by the controller's
machine id (/etc/machine-id), its boot id, the pid and the process's start time, not by
hostname: cloned VMs and containers share hostnames, and judging another controller's
live run dead would let `cleanup` remove its snapshot. The holder is dead when the lock
names this machine and either an earlier boot of it (no process survives a reboot) or, in
this boot, a pid that no process has, or has with another start time (the pid was
reused). A holder on another machine is `alive=None`: unknown, and treated as alive.
Locks of lvmkit 0.1 carry only a hostname: for them, the hostname and the process's
command line decide, as they did then.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lvmkit.core.errors import CommandError, LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.scripts import packaged_script
from lvmkit.lvm.names import validate_lv_name, validate_vg_name
from lvmkit.lvm.watch import dm_name

LOCK_DIR = "/run/lvmkit/locks"

_CREATE = packaged_script(__package__, "lock_create.sh")  # atomically and complete, or not at all
_LIST = packaged_script(__package__, "lock_list.sh")  # NAME NUL BASE64 NUL for each lock
_REMOVE_IF_SAME = packaged_script(__package__, "lock_remove_if_same.sh")  # compare and remove in one step
DOING = {"backup": "being backed up", "restore": "being restored onto", "verify": "being verified"}

# The command line of a controller process by pid; None when no such process exists.
CmdlineOf = Callable[[int], "list[str] | None"]


class LockHeld(LvmkitError):
    """Another run holds the origin's lock (or left it behind when it died)."""

    def __init__(self, lock: "LockInfo"):
        self.lock = lock
        super().__init__(lock.describe())


@dataclass(frozen=True)
class LockInfo:
    path: str
    content: str  # the file's text, exactly as read
    run_id: str | None = None
    origin: str | None = None
    controller: str | None = None
    pid: int | None = None
    command: str | None = None
    started: str | None = None
    alive: bool | None = None  # None: held on another controller (or unreadable): cannot tell
    problem: str | None = None  # why the content could not be understood

    def holder(self) -> str:
        return f"run {self.run_id} (pid {self.pid} on {self.controller}, since {self.started})"

    def describe(self) -> str:
        origin = self.origin or self.path
        if self.problem:
            return (f"{origin} is locked by {self.path}, which lvmkit cannot read ({self.problem}); "
                    f"lvmkit never takes over a lock: find out what wrote it, then remove it by hand")
        if self.alive is False:
            return (f"{origin} has a stale lock: {self.holder()} died without cleaning up; "
                    f"`lvmkit cleanup` removes the lock and whatever that run left behind")
        doing = DOING.get(self.command or "", f"in use by `lvmkit {self.command}`")
        message = f"{origin} is {doing} by {self.holder()}; wait for it to finish"
        if self.alive is None:
            message += (f" (it runs on another controller, so lvmkit cannot check it from here: "
                        f"if it died, run `lvmkit cleanup` on {self.controller})")
        return message

    def as_dict(self) -> dict:
        return {"path": self.path, "run_id": self.run_id, "origin": self.origin,
                "controller": self.controller, "pid": self.pid, "command": self.command,
                "started": self.started, "alive": self.alive, "problem": self.problem}


@dataclass(frozen=True)
class OriginLock:
    """A lock this process holds; `release` it when the run ends."""

    vg: str
    lv: str
    run_id: str
    path: str
    content: str


def create_lock_argv(path: str) -> list[str]:
    return ["sh", "-c", _CREATE, "sh", path]


def list_locks_argv(directory: str = LOCK_DIR) -> list[str]:
    return ["sh", "-c", _LIST, "sh", directory]


def remove_if_same_argv(path: str, content: str) -> list[str]:
    # $(cat) drops trailing newlines: compare without them.
    return ["sh", "-c", _REMOVE_IF_SAME, "sh", path, content.rstrip("\n")]


def lock_path(vg: str, lv: str) -> str:
    # device-mapper's escaping (hyphens doubled): vg "a-b"/lv "c" and vg "a"/lv "b-c" differ
    return f"{LOCK_DIR}/{dm_name(validate_vg_name(vg), validate_lv_name(lv))}.lock"


def acquire(host: Host, vg: str, lv: str, run_id: str, command: str, *,
            hostname: str | None = None, cmdline_of: CmdlineOf | None = None) -> OriginLock:
    """Take the lock of VG/LV for this run, or raise LockHeld naming its holder."""
    path = lock_path(vg, lv)
    content = json.dumps({
        "run_id": run_id, "origin": f"{vg}/{lv}", "controller": hostname or socket.gethostname(),
        "pid": os.getpid(), "command": command, "started": utc_now().isoformat(timespec="seconds"),
        **this_controller(), "pid_start": process_start(os.getpid()),
    })
    if host.dry_run:  # the creation below is only planned: say now whether it would fail
        held = read_lock(host, path, hostname=hostname, cmdline_of=cmdline_of)
        if held is not None:
            raise LockHeld(held)
    try:
        host.run(create_lock_argv(path), changes=True, input=content + "\n")
    except CommandError as error:
        held = read_lock(host, path, hostname=hostname, cmdline_of=cmdline_of)
        if held is None:
            raise  # not a lock in the way: say what failed
        raise LockHeld(held) from error
    return OriginLock(vg, lv, run_id, path, content)


def release(host: Host, lock: OriginLock) -> bool:
    """Remove the lock if it is still this run's; True if it was removed. Idempotent."""
    return remove_if_same(host, lock.path, lock.content) == "removed"


def remove_if_same(host: Host, path: str, content: str) -> str:
    """Remove the lock file at `path` only while it holds exactly `content`.

    Returns "removed", "gone" (no file), "other" (another run's lock now) or, in a dry
    run, "planned".
    """
    result = host.run(remove_if_same_argv(path, content), changes=True)
    return "planned" if result.planned else result.stdout.strip()


def read_lock(host: Host, path: str, *, hostname: str | None = None,
              cmdline_of: CmdlineOf | None = None) -> LockInfo | None:
    """The lock at `path`, or None if there is none."""
    return lock_from_result(host.name, path, host.run(read_lock_argv(path), check=False),
                            hostname=hostname, cmdline_of=cmdline_of)


def read_lock_argv(path: str) -> list[str]:
    return ["cat", "--", path]


def lock_from_result(host_name: str, path: str, result, *, hostname: str | None = None,
                     cmdline_of: CmdlineOf | None = None) -> LockInfo | None:
    """The lock from the result of read_lock_argv(path): None when there is no lock."""
    if result.returncode != 0:
        if "No such file or directory" in result.stderr:
            return None
        raise CommandError(host_name, result.argv, result.returncode, result.stderr.strip())
    return parse_lock(path, result.stdout, hostname=hostname, cmdline_of=cmdline_of)


def list_locks(host: Host, *, hostname: str | None = None,
               cmdline_of: CmdlineOf | None = None) -> list[LockInfo]:
    """Every lock on the host, each with whether its holder is alive."""
    result = host.run(list_locks_argv())
    fields = result.stdout.split("\0")
    if fields[-1] != "" or len(fields) % 2 != 1:
        raise LvmkitError(f"listing the locks in {LOCK_DIR} on {host.name} gave garbled output: "
                          f"{result.stdout[:200]!r}")
    locks = []
    for name, encoded in zip(fields[0:-1:2], fields[1:-1:2], strict=False):
        try:
            content = base64.b64decode(encoded, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            raise LvmkitError(f"listing the locks in {LOCK_DIR} on {host.name}: {name} came "
                              f"with bad base64 {encoded[:80]!r}") from None
        locks.append(parse_lock(f"{LOCK_DIR}/{name}", content, hostname=hostname, cmdline_of=cmdline_of))
    return locks


def parse_lock(path: str, content: str, *, hostname: str | None = None,
               cmdline_of: CmdlineOf | None = None) -> LockInfo:
    try:
        data = json.loads(content)
    except ValueError as error:
        return LockInfo(path, content, problem=f"not JSON: {error}")
    if not isinstance(data, dict):
        return LockInfo(path, content, problem="not a JSON object")
    strings = ("run_id", "origin", "controller", "command", "started")
    bad = [k for k in strings if not isinstance(data.get(k), str) or not data[k]]
    pid = data.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        bad.append("pid")
    if bad:
        return LockInfo(path, content, problem=f"missing or malformed: {', '.join(bad)}")
    if isinstance(data.get("machine_id"), str):
        alive = holder_alive_by_identity(data, pid)
    else:
        alive = holder_alive(data["controller"], pid, hostname=hostname, cmdline_of=cmdline_of)
    return LockInfo(path, content, data["run_id"], data["origin"], data["controller"], pid,
                    data["command"], data["started"], alive)


def this_controller() -> dict:
    """This machine's identity as a lock records it; empty where the system keeps none."""
    identity = {}
    for key, path in (("machine_id", "/etc/machine-id"), ("boot_id", "/proc/sys/kernel/random/boot_id")):
        try:
            identity[key] = Path(path).read_text().strip()
        except OSError:
            return {}
    return identity if all(identity.values()) else {}


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, /proc/PID/stat field 22); None if no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return stat.rpartition(")")[2].split()[19]


def holder_alive_by_identity(lock: dict, pid: int) -> bool | None:
    """True/False when the lock's machine is this one; None (cannot tell) otherwise."""
    here = this_controller()
    if not here or lock.get("machine_id") != here["machine_id"]:
        return None
    if lock.get("boot_id") != here["boot_id"]:
        return False  # written in an earlier boot of this machine: its process is gone
    started = process_start(pid)
    return started is not None and started == lock.get("pid_start")


def holder_alive(controller: str, pid: int, *, hostname: str | None = None,
                 cmdline_of: CmdlineOf | None = None) -> bool | None:
    """For a lock of lvmkit 0.1 (a hostname only): True/False when `controller` is this
    machine's hostname; None (cannot tell) otherwise."""
    if controller != (hostname or socket.gethostname()):
        return None
    argv = (cmdline_of or controller_cmdline)(pid)
    if argv is None:
        return False  # no process with that pid
    return looks_like_lvmkit(argv)


def looks_like_lvmkit(argv: list[str]) -> bool:
    """Whether a command line can be an lvmkit run: Python (CLI, notebook, tests) or lvmkit.

    A zombie or kernel thread has an empty command line: not a run.
    """
    if not argv:
        return False
    return os.path.basename(argv[0]).startswith("python") or any("lvmkit" in arg for arg in argv)


def controller_cmdline(pid: int) -> list[str] | None:
    """The command line of process `pid` on this machine (the controller); None if none."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except PermissionError:
        # /proc mounted with hidepid: the process exists; call it lvmkit, the safe side
        return ["lvmkit"]
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
