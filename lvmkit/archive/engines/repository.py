"""What restic and borg share: a repository outside the archive set, reached with a password.

A repository engine reads the snapshot's read-only mount like tar, but writes into a
deduplicating, encrypted repository (a local path, or an SSH/SFTP location) instead of the
archive set. The set then holds the content digest, the manifest and the tool's own report
of the backup (its JSON output: the snapshot's or archive's id and what it added), not the
data. Restore and verify address the repository snapshot by that id.

The password never reaches an argv or the journal: the tool reads it from a file on the
target (`password_file`) or from the output of a command it runs there (`password_command`);
only the file's path or the command appear in commands. Both are engine options, recorded in
the manifest, so verify, restore and prune find the repository again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lvmkit.archive.engines.base import Engine, EngineOption, Level
from lvmkit.archive.engines.common import PIPELINE_PROLOGUE, Reads, bash_pipeline, first_line, require_filesystem
from lvmkit.core.errors import UsageError
from lvmkit.core.paths import target_path

# $1 the report file in the archive set, $2 the snapshot's mount, then the tool's argv.
# The tool runs inside the mount and is given "." so that the repository holds the
# volume's files at its root (restored into any mount as they were), not under the
# run's mount point; its JSON report goes to the archive set.
BACKUP_SCRIPT = PIPELINE_PROLOGUE + 'report=$1; cd -- "$2"; shift 2; "$@" > "$report"\n'

# $1 the repository; then the tool's read-only command. What the directory holds is told
# first for a local repository: each tool misreads the other's repository (restic says
# "wrong password", borg fails with a traceback), lvmkit names it instead.
PROBE_SCRIPT = """repo=$1; shift
case $repo in /*)
  [ -e "$repo" ] || echo "lvmkit-repository=missing"
  grep -qs "Borg Backup repository" "$repo/README" && echo "lvmkit-repository=borg"
  [ -d "$repo/keys" ] && [ -d "$repo/snapshots" ] && echo "lvmkit-repository=restic"
esac
exec "$@"
"""

# Where a repository may be: a local path, or the remote forms the tool speaks.
SFTP_LOCATION = re.compile(r"sftp:(//)?([a-z_][a-z0-9_.-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?[:/].*")
SSH_LOCATION = re.compile(r"ssh://([a-z_][a-z0-9_.-]{0,31}@)?[A-Za-z0-9][A-Za-z0-9.-]{0,252}(:[0-9]{1,5})?/.*")


@dataclass(frozen=True)
class RepositoryForm:
    """The remote form one tool accepts, and how to say it."""

    pattern: re.Pattern
    example: str


def parse_location(value: str, tool: str, remote: RepositoryForm, other: RepositoryForm) -> str:
    """The repository location, if it is one `tool` reaches: an absolute path or its remote form."""
    value = str(value)
    if not value:
        raise ValueError(f"give the repository: --repository PATH or {remote.example}")
    if "\n" in value or "\r" in value or "\0" in value or value.startswith("-"):
        raise ValueError(f"{value!r} is not a repository location")
    if value.startswith("/"):
        target_path(value, "repository")
        return value
    if remote.pattern.fullmatch(value):
        return value
    if other.pattern.fullmatch(value):
        raise ValueError(f"{value!r} is the other tool's form; {tool} reaches a remote repository as {remote.example}")
    raise ValueError(f"expected an absolute path or {remote.example}, not {value!r}")


def parse_password_file(value: str) -> str:
    return target_path(str(value), "password file") if value else ""


def parse_password_command(value: str) -> str:
    if "\n" in str(value) or "\0" in str(value):
        raise ValueError("a password command is one line")
    return str(value)


PASSWORD_FILE = EngineOption("password_file", "file on the target holding the repository's password",
                             "", parse=parse_password_file)
PASSWORD_COMMAND = EngineOption("password_command", "command on the target that prints the password",
                                "", parse=parse_password_command)
PASSWORD_OPTIONS = ("password_file", "password_command")


@dataclass(frozen=True)
class ParentChoice:
    """The earlier snapshot a backup names as its parent (docs/repositories.md, "Costs")."""

    id: str | None  # None: no earlier snapshot of the origin, the tool reads every file
    said: str  # for the preflight and the plan: which one, or why none


@dataclass(frozen=True)
class RepositoryEngine(Engine):
    """An engine whose data lives in a repository; the archive set holds its report."""

    name: str = ""
    level: Level = "file"
    reads: Reads = "mount"
    restore_makes_filesystem: bool = False
    archive_name: str = ""  # the tool's JSON report of the backup
    compresses: bool = True
    repository: bool = True
    tool: str = ""

    def tools(self, fstype: str) -> list[str]:
        require_filesystem(self, fstype)
        return [self.tool, "bash", "env"]

    def parse_version(self, output: str) -> str:
        return first_line(output)

    def resolve_options(self, given: dict[str, str]) -> dict[str, str]:
        resolved = super().resolve_options(given)
        if bool(resolved["password_file"]) == bool(resolved["password_command"]):
            raise UsageError(f"engine {self.name}: give the repository's password as exactly one of "
                             f"--password-file FILE or --password-command CMD (on the target; never the "
                             f"password itself)")
        return resolved

    def backup_argv(self, source: str, archive: str, fstype: str, options: dict[str, str], *,
                    origin: str, parent: str | None = None) -> list[str]:
        """`origin` VG/LV; `parent` the earlier snapshot the tool compares with (choose_parent)."""
        require_filesystem(self, fstype)
        chosen = self.resolve_options(options)
        return bash_pipeline(BACKUP_SCRIPT, target_path(archive, "report"), target_path(source, "snapshot mount"),
                             *self.create_argv(chosen, archive, origin, parent))

    def probe_argv(self, options: dict[str, str]) -> list[str]:
        """Read-only: opens the repository with the password (and, for borg, its lock)."""
        chosen = self.resolve_options(options)
        return ["bash", "-c", PROBE_SCRIPT, "bash", chosen["repository"], *self.open_argv(chosen)]

    def earlier_snapshots_argv(self, options: dict[str, str], origin: str) -> list[str] | None:
        """Read-only: lists the repository's snapshots of `origin`; None: the tool takes no parent."""
        return None

    def choose_parent(self, returncode: int, stdout: str, stderr: str, hostname: str) -> ParentChoice:
        """From earlier_snapshots_argv's answer; raises LvmkitError when the tool could not list."""
        raise NotImplementedError

    # what each tool provides
    def create_argv(self, options: dict[str, str], archive: str, origin: str, parent: str | None) -> list[str]:
        raise NotImplementedError

    def open_argv(self, options: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def parse_report(self, text: str) -> dict:
        """{"id": what restore and forget name, "added_bytes": new data in the repository, ...}"""
        raise NotImplementedError

    def forget_argv(self, snapshot: str, options: dict[str, str]) -> list[str]:
        raise NotImplementedError

    def compact_argv(self, options: dict[str, str]) -> list[str]:
        """Gives back the room of forgotten snapshots (restic prune, borg compact)."""
        raise NotImplementedError

    def judge_probe(self, returncode: int, output: str) -> str | None:
        """None when the repository is ready; else what is wrong and what to do."""
        raise NotImplementedError


def with_repository(engine_options: dict[str, str], repository: str | None, password_file: str | None,
                    password_command: str | None) -> dict[str, str]:
    """The engine options with --repository, --password-file and --password-command in them."""
    given = {"repository": repository, "password_file": password_file, "password_command": password_command}
    return {**engine_options, **{key: value for key, value in given.items() if value}}


def password_given(password_file: str | None, password_command: str | None) -> dict[str, str]:
    """The password a restore, verify or prune is given now (empty: the manifest's)."""
    if password_file and password_command:
        raise UsageError("give the password as --password-file or --password-command, not both")
    if password_file:
        return {"password_file": parse_password_file(password_file)}
    return {"password_command": parse_password_command(password_command)} if password_command else {}


def found_kind(output: str) -> str | None:
    """What the probe saw at a local repository path: missing, borg, restic, or None."""
    kinds = re.findall(r"^lvmkit-repository=(\w+)$", output, re.MULTILINE)
    return kinds[0] if kinds else None


def tool_lines(output: str) -> str:
    return "; ".join(line.strip() for line in output.splitlines()
                     if line.strip() and not line.startswith("lvmkit-repository="))[-400:]
