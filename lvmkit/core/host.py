"""The one door: every external command lvmkit runs goes through a Host.

A Host runs an argv list (never a shell string built from parameters) with `LC_ALL=C`,
locally or over SSH, and appends each command to the journal. With `dry_run`, commands
that change state are recorded as planned and not run; read-only queries still run, so a
dry run plans from the real state of the machine.

This is the only module of lvmkit that imports subprocess.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from lvmkit.core import declared, signals
from lvmkit.core.errors import CommandError, HostUnreachable, MissingToolError, UsageError
from lvmkit.core.journal import Journal, JournalEntry, Private, bounded
from lvmkit.core.scripts import packaged_script

# Root's PATH on Debian and RHEL: lvm, mkfs.* and fsarchiver live in sbin directories,
# which non-login SSH sessions and some service managers leave out.
SUPERUSER_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
STDERR_TAIL_LINES = 12

# The Debian package that provides each tool lvmkit may call, for "missing tool" errors.
DEBIAN_PACKAGE = {
    "lvm": "lvm2", "lvs": "lvm2", "vgs": "lvm2", "pvs": "lvm2", "lvcreate": "lvm2",
    "lvremove": "lvm2", "lvextend": "lvm2", "lvchange": "lvm2", "vgcreate": "lvm2",
    "pvcreate": "lvm2", "dmsetup": "dmsetup", "losetup": "mount", "mount": "mount",
    "umount": "mount", "findmnt": "util-linux", "blkid": "util-linux", "fsfreeze": "util-linux",
    "mkfs.ext4": "e2fsprogs", "mkfs.xfs": "xfsprogs", "fsarchiver": "fsarchiver",
    "tar": "tar", "zstd": "zstd", "dar": "dar", "rsync": "rsync", "dd": "coreutils",
    "sha256sum": "coreutils", "install": "coreutils", "df": "coreutils", "mv": "coreutils",
    "b2sum": "coreutils", "openssl": "openssl", "split": "coreutils", "base64": "coreutils", "mktemp": "coreutils",
    "find": "findutils", "xargs": "findutils", "bash": "bash", "pgrep": "procps",
    "partclone.ext4": "partclone", "partclone.xfs": "partclone", "partclone.extfs": "partclone",
    "partclone.ext2": "partclone", "partclone.ext3": "partclone", "partclone.chkimg": "partclone",
    "mkfs.ext2": "e2fsprogs", "mkfs.ext3": "e2fsprogs",
    "qemu-system-x86_64": "qemu-system-x86", "busybox": "busybox-static", "cpio": "cpio",
    "modprobe": "kmod", "depmod": "kmod", "sshd": "openssh-server", "ssh": "openssh-client",
    "ssh-keygen": "openssh-client", "apt-get": "apt", "dpkg-deb": "dpkg", "dpkg": "dpkg",
    "sqlite3": "sqlite3", "age": "age",
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(stderr.strip().splitlines()[-lines:])


@dataclass(frozen=True)
class CommandResult:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    planned: bool = False


@dataclass
class Host:
    """Runs commands on the machine this process runs on."""

    journal: Journal = field(default_factory=Journal)
    dry_run: bool = False
    name: str = "local"

    def run(
        self,
        argv: list[str],
        *,
        changes: bool = False,
        check: bool = True,
        input: str | None = None,
        timeout: float | None = None,
        private: Private | None = None,
    ) -> CommandResult:
        """Run argv; `changes` says whether it changes state (a dry run skips those);
        `private` says what the journal keeps out (journal.Private)."""
        argv = _checked_argv(argv)
        if changes:
            declared.check(argv)  # refused unless the step running now declared it
        start = utc_now()
        if self.dry_run and changes:
            self._record(argv, changes, True, start, start, None, "", "", private)
            return CommandResult(argv, 0, "", "", 0.0, planned=True)
        began = time.monotonic()
        # A state change runs to its end even when Ctrl-C or SIGTERM arrives meanwhile;
        # the signal is raised right after, and the undo then knows what exists.
        with signals.deferred() if changes else nullcontext():
            returncode, stdout, stderr = self._complete(argv, input, timeout)
            self._record(argv, changes, False, start, utc_now(), returncode, stdout, stderr, private)
        duration = time.monotonic() - began
        self.check_transport(returncode, stderr)
        if check and returncode != 0:
            raise CommandError(self.name, argv, returncode, stderr_tail(stderr))
        return CommandResult(argv, returncode, stdout, stderr, duration)

    def _complete(self, argv: list[str], input: str | None, timeout: float | None) -> tuple[int, str, str]:
        try:
            completed = subprocess.run(
                self.transport_argv(argv),
                input=input,
                # Never the caller's stdin: ssh would forward a terminal's keystrokes to the
                # command, and sets O_NONBLOCK on the stdin it inherits (a killed ssh leaves it
                # so, and ansible-core then refuses to run from that shell).
                stdin=subprocess.DEVNULL if input is None else None,
                capture_output=True,
                text=True,
                errors="replace",
                env=self.environment(),
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as expired:
            # 124: the exit code timeout(1) uses, so journals read alike
            return 124, _text(expired.stdout), _text(expired.stderr) + f"\nlvmkit: timed out after {timeout} s"
        except FileNotFoundError:
            return 127, "", f"{argv[0]}: command not found"
        return completed.returncode, completed.stdout, completed.stderr

    def start(self, argv: list[str], *, changes: bool = True) -> "RunningCommand":
        """Start a long command (an engine) in the background; see RunningCommand."""
        argv = _checked_argv(argv)
        if changes:
            declared.check(argv)
        if self.dry_run and changes:
            raise RuntimeError("a dry run shows the plan; it never starts commands that change state")
        popen = subprocess.Popen(
            self.transport_argv(self.tethered_argv(argv)),
            stdin=subprocess.PIPE,  # held open, never written: its end tells the far side we died
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.environment(),
            start_new_session=True,  # our own process group: a terminal's Ctrl-C reaches lvmkit only
        )
        return RunningCommand(self, argv, changes, popen)

    def missing_tools(self, tools: list[str]) -> list[str]:
        """The tools of `tools` that are not on this host's PATH, in one round trip."""
        return self.run(missing_tools_argv(tools)).stdout.split()

    def require_tools(self, tools: list[str]) -> None:
        missing = self.missing_tools(tools)
        if missing:
            raise MissingToolError(self.name, {t: DEBIAN_PACKAGE.get(t, t) for t in missing})

    def tethered_argv(self, argv: list[str]) -> list[str]:
        return ["sh", "-c", _TETHERED, "sh", *argv]

    def transport_argv(self, argv: list[str]) -> list[str]:
        return argv

    def environment(self) -> dict[str, str]:
        # LC_ALL=C: tools print numbers, dates and messages the way the parsers expect.
        return {**os.environ, "LC_ALL": "C", "PATH": _with_superuser_path(os.environ.get("PATH", ""))}

    def check_transport(self, returncode: int, stderr: str) -> None:
        """Raise when the command could not reach the machine at all (only SSH can fail so)."""

    def rsync_endpoint(self, path: str) -> tuple[list[str], str]:
        """rsync's options and location for `path` on this host, for an rsync run on the controller."""
        return [], path

    def _record(self, argv, changes, planned, start, end, returncode, stdout, stderr,
                private: Private | None = None) -> None:
        if private is not None and not self.journal.keep_private:
            argv, (stdout, stderr) = private.argv(argv), private.outputs(stdout, stderr)
        self.journal.record(
            JournalEntry(
                host=self.name,
                argv=list(argv),
                changes_state=changes,
                planned=planned,
                start=start.isoformat(),
                end=end.isoformat(),
                duration_s=round((end - start).total_seconds(), 6),
                returncode=returncode,
                stdout=bounded(stdout),
                stderr=bounded(stderr),
            )
        )


def missing_tools_argv(tools: list[str]) -> list[str]:
    """Prints each tool of `tools` that is not on the PATH, one a line."""
    # The script is constant; tool names arrive as positional parameters, never as code.
    script = 'for tool; do command -v "$tool" >/dev/null 2>&1 || echo "$tool"; done'
    return ["sh", "-c", script, "sh", *tools]


_TETHERED = packaged_script(__package__, "tethered.sh")  # no engine outlives its run: see its header


class RunningCommand:
    """A command running in the background: read its pid, stop it, wait for its result."""

    def __init__(self, host: Host, argv: list[str], changes: bool, popen: subprocess.Popen):
        self.host, self.argv, self.changes, self._popen = host, argv, changes, popen
        self._start, self._began = utc_now(), time.monotonic()
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        self._pid_known = threading.Event()
        self.pid: int | None = None  # on the machine where the command runs
        self._readers = [
            threading.Thread(target=self._read, args=(popen.stdout, self._stdout, False), daemon=True),
            threading.Thread(target=self._read, args=(popen.stderr, self._stderr, True), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, sink: list[bytes], is_stderr: bool) -> None:
        for line in iter(stream.readline, b""):
            if is_stderr and self.pid is None and line.startswith(b"lvmkit-pid "):
                self.pid = int(line.split()[1])
                self._pid_known.set()
                continue
            sink.append(line)
        if is_stderr:
            self._pid_known.set()  # stderr ended: no pid will come

    def remote_pid(self, timeout: float = 30.0) -> int | None:
        self._pid_known.wait(timeout)
        return self.pid

    def poll(self, timeout: float = 0.0) -> int | None:
        """The exit code, waiting up to `timeout` s for it (the waiter learns of the end at
        once, where sleeping between polls would notice it up to a whole sleep late); None
        while the command runs."""
        try:
            return self._popen.wait(timeout=timeout) if timeout else self._popen.poll()
        except subprocess.TimeoutExpired:
            return None

    def stderr_so_far(self) -> str:
        return b"".join(self._stderr).decode(errors="replace")

    def terminate(self) -> None:
        """Stop the command's whole process group where it runs, then this end too."""
        pid = self.remote_pid(timeout=5)
        if pid is not None and self.poll() is None:
            # The group's leader is our wrapper, exec'd into the command: '-PID' is its group.
            self.host.run(["kill", "-TERM", "--", f"-{pid}"], check=False, changes=True)
        try:
            self._popen.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._popen.kill()

    def wait(self, *, check: bool = True) -> CommandResult:
        returncode = self._popen.wait()
        for reader in self._readers:
            reader.join()
        stdout = b"".join(self._stdout).decode(errors="replace")
        stderr = b"".join(self._stderr).decode(errors="replace")
        self.host._record(self.argv, self.changes, False, self._start, utc_now(), returncode, stdout, stderr)
        self.host.check_transport(returncode, stderr)
        if check and returncode != 0:
            raise CommandError(self.host.name, self.argv, returncode, stderr_tail(stderr))
        return CommandResult(self.argv, returncode, stdout, stderr, time.monotonic() - self._began)


SSH_URL = re.compile(
    r"^ssh://(?:(?P<user>[a-z_][a-z0-9_.-]{0,31})@)?"
    r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?/?$"
)

# ssh exits 255 when it could not connect or authenticate, and says so with one of these.
SSH_TRANSPORT_FAILURES = (
    "Connection refused", "Connection timed out", "timed out", "No route to host",
    "Could not resolve hostname", "Permission denied", "Host key verification failed",
    "Connection closed by", "Connection reset", "kex_exchange_identification",
)


@dataclass
class SshHost(Host):
    """Runs commands on another machine through the OpenSSH client.

    Connection multiplexing (ControlMaster) keeps one connection open, so each command
    costs one round trip instead of a new handshake.
    """

    user: str | None = None
    address: str = ""
    port: int = 22
    identity_file: Path | None = None
    known_hosts_file: Path | None = None
    host_key_alias: str | None = None  # look the host key up under this name instead
    # With known_hosts_file: record the key of a host not yet in it (a Vagrant VM that was
    # just created, whose key exists nowhere else); a changed key is still refused.
    accept_new_host_key: bool = False
    config_file: Path | None = None  # an ssh_config of its own (ssh -F): aliases, keys, known hosts
    connect_timeout_s: int = 10
    control_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "lvmkit" / "ssh")

    def __post_init__(self) -> None:
        if not self.address:
            raise UsageError("an SSH host needs an address")
        user = f"{self.user}@" if self.user else ""
        self.name = f"ssh://{user}{self.address}:{self.port}"

    def ssh_options(self) -> list[str]:
        self.control_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        options = [
            "-o", "BatchMode=yes",  # never stop to ask for a password: fail instead
            "-o", f"ConnectTimeout={self.connect_timeout_s}",
            "-o", "ControlMaster=auto",  # first command opens the shared connection
            "-o", f"ControlPath={self.control_dir}/%C",  # %C: a hash, short enough for a socket path
            "-o", "ControlPersist=600",  # keep it ten minutes after the last command
            "-o", "ServerAliveInterval=15",
            "-o", "LogLevel=ERROR",  # no banners or warnings mixed into command output
            "-p", str(self.port),
        ]
        if self.config_file:
            # -F replaces ~/.ssh/config: a fleet's aliases (Host web1 -> HostName, IdentityFile)
            # live in one reviewed file that the controller (or AWX) hands to every run.
            options = ["-F", str(self.config_file), *options]
        if self.identity_file:
            options += ["-i", str(self.identity_file), "-o", "IdentitiesOnly=yes"]
        if self.known_hosts_file:
            options += [
                "-o", f"UserKnownHostsFile={self.known_hosts_file}",
                # the lab's host key is known: accept no other
                "-o", f"StrictHostKeyChecking={'accept-new' if self.accept_new_host_key else 'yes'}",
            ]
        if self.host_key_alias:
            options += ["-o", f"HostKeyAlias={self.host_key_alias}"]
        if self.user:
            options += ["-l", self.user]
        return options

    def transport_argv(self, argv: list[str]) -> list[str]:
        # The remote sshd hands the command to a shell; quoting each word makes that shell
        # rebuild exactly this argv, whatever characters it holds.
        remote = shlex.join([*self.become(), "env", "LC_ALL=C", f"PATH={SUPERUSER_PATH}", *argv])
        return ["ssh", *self.ssh_options(), self.address.strip("[]"), "--", remote]

    def become(self) -> list[str]:
        # LVM needs root: a login other than root gets there with sudo; -n: fail, never prompt
        return [] if self.user in (None, "root") else ["sudo", "-n"]

    def tethered_argv(self, argv: list[str]) -> list[str]:
        tethered = super().tethered_argv(argv)
        # sudo runs the wrapper as its child, inside sudo's process group: the wrapper is no
        # group's leader, and stopping "its" group (kill -TERM -PID) would stop nothing.
        # setsid makes it the leader of a group of its own; -w: when setsid has to fork (it
        # already leads one), it waits, so the exit status stays the command's.
        return ["setsid", "-w", *tethered] if self.become() else tethered

    def check_transport(self, returncode: int, stderr: str) -> None:
        if returncode == 255 and any(s in stderr for s in SSH_TRANSPORT_FAILURES):
            raise HostUnreachable(
                f"{self.name} did not answer (waited up to {self.connect_timeout_s} s to connect): "
                f"{stderr_tail(stderr, 3)}. Check that the machine is up and that sshd "
                f"accepts this key; for the lab, run `lvmkit lab status`."
            )

    def rsync_endpoint(self, path: str) -> tuple[list[str], str]:
        # rsync reaches the far side through ssh with these very options (multiplexing, the
        # lab's key and host key alias); it splits -e on spaces and honours quotes.
        options = ["-e", shlex.join(["ssh", *self.ssh_options()])]
        if self.become():
            options.append(f"--rsync-path={shlex.join([*self.become(), 'rsync'])}")
        # The login is in -l of the options; brackets keep an IPv6 address apart from ':'.
        return options, f"{self.address}:{path}"

    def attach(self, argv: list[str] | None = None) -> int:
        """Run argv (or a login shell) with this terminal attached; return its exit code."""
        start = utc_now()
        remote = [] if argv is None else ["--", shlex.join([*self.become(), "env", "LC_ALL=C", *_checked_argv(argv)])]
        # -t: a terminal for the shell or full-screen tools, when there is one to give
        tty = ["-t"] if os.isatty(0) else []
        returncode = subprocess.run(
            ["ssh", *self.ssh_options(), *tty, self.address.strip("[]"), *remote], check=False
        ).returncode
        shown = argv if argv is not None else ["(interactive shell)"]
        self._record(shown, True, False, start, utc_now(), returncode, "(on the terminal)", "")
        self.check_transport(returncode, "Connection refused" if returncode == 255 else "")
        return returncode

    def close(self) -> None:
        """Close the shared connection, if one is open."""
        subprocess.run(
            ["ssh", *self.ssh_options(), "-O", "exit", self.address.strip("[]")],
            capture_output=True, check=False,
        )


def parse_ssh_url(url: str, **options) -> SshHost:
    match = SSH_URL.match(url)
    if not match:
        raise UsageError(
            f"cannot parse host {url!r}: expected 'local', 'lab' or ssh://[user@]host[:port]"
        )
    port = int(match["port"] or 22)
    if not 1 <= port <= 65535:
        raise UsageError(f"port {port} in {url!r} is out of range (1-65535)")
    return SshHost(user=match["user"], address=match["host"], port=port, **options)


def _checked_argv(argv) -> list[str]:
    if isinstance(argv, (str, bytes)) or not argv:
        raise TypeError("a command is a non-empty argv list, never a shell string")
    argv = [os.fspath(part) if isinstance(part, os.PathLike) else part for part in argv]
    if not all(isinstance(part, str) for part in argv):
        raise TypeError(f"every argument must be a string: {argv!r}")
    return argv


def _with_superuser_path(path: str) -> str:
    parts = path.split(":") if path else []
    return ":".join(parts + [p for p in SUPERUSER_PATH.split(":") if p not in parts])


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data
