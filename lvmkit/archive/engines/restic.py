"""restic: the snapshot's files into a restic repository, deduplicated and encrypted.

The archive set keeps restic's JSON summary of the backup (`restic.json`: the snapshot's
id, what it added to the repository); restic itself keeps the data. Measured with restic
0.14.0 (Debian 12): `backup --json --quiet` prints exactly one line, the summary; its
`snapshot_id` is the short id, a prefix every restic command resolves (and refuses when
it is ambiguous or unknown: "no matching ID found for prefix").

Each backup names its parent: the latest earlier snapshot of the same origin, made on the same
host (restic's own rule), found in the repository by the tag `lvmkit-origin:VG/LV` that every
backup writes (docs/repositories.md, "Costs"). restic would choose one itself only among
snapshots of the same paths, and lvmkit's mount point changes with each run: without
`--parent` restic reads and hashes every file again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from lvmkit.archive.engines.base import EngineOption
from lvmkit.archive.engines.common import PIPELINE_PROLOGUE, bash_pipeline
from lvmkit.archive.engines.repository import (
    PASSWORD_COMMAND,
    PASSWORD_FILE,
    SFTP_LOCATION,
    SSH_LOCATION,
    ParentChoice,
    RepositoryEngine,
    RepositoryForm,
    found_kind,
    parse_location,
    tool_lines,
)
from lvmkit.core.errors import LvmkitError

RESTIC_REMOTE = RepositoryForm(SFTP_LOCATION, "sftp:[USER@]HOST:/PATH")
BORG_REMOTE = RepositoryForm(SSH_LOCATION, "ssh://[USER@]HOST[:PORT]/PATH")

REPOSITORY = EngineOption("repository", "restic repository: an absolute path or sftp:[USER@]HOST:/PATH", "",
                          parse=lambda value: parse_location(value, "restic", RESTIC_REMOTE, BORG_REMOTE))

# $1 the snapshot id, then restic with its repository and password: the snapshot must be
# there (`cat snapshot` fails on an unknown id), and the whole repository must check.
VERIFY_SCRIPT = PIPELINE_PROLOGUE + 'id=$1; shift\n"$@" cat snapshot "$id" > /dev/null\nexec "$@" check\n'

# The tag that finds an origin's snapshots. restic splits --tag at commas; LVM names have none
# (letters, digits and "+_.-"), and restic keeps ":" and "/" in a tag as they are (measured).
ORIGIN_TAG = "lvmkit-origin:"
SNAPSHOT_ID = re.compile(r"[0-9a-f]{64}")  # restic's full id: what --parent is given


def origin_tag(origin: str) -> str:
    return ORIGIN_TAG + origin


def snapshot_time(text: str) -> datetime:
    """restic's time ("2026-11-30T14:03:18.128521006Z" or "+01:00"): nanoseconds cut to micro."""
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", text))


@dataclass(frozen=True)
class ResticEngine(RepositoryEngine):
    name: str = "restic"
    archive_name: str = "restic.json"
    tool: str = "restic"
    options: tuple[EngineOption, ...] = (REPOSITORY, PASSWORD_FILE, PASSWORD_COMMAND)

    def version_argv(self, fstype: str) -> list[str]:
        return ["restic", "version"]  # "restic 0.14.0 compiled with go1.19.8 on linux/amd64"

    def base_argv(self, options: dict[str, str]) -> list[str]:
        chosen = self.resolve_options(options)
        # The password by its file's path or its command, never the password itself.
        password = (["--password-file", chosen["password_file"]] if chosen["password_file"] else
                    ["--password-command", chosen["password_command"]])
        return ["restic", "--repo", chosen["repository"], *password]

    def create_argv(self, options: dict[str, str], archive: str, origin: str, parent: str | None) -> list[str]:
        return [
            *self.base_argv(options), "backup",
            "--json", "--quiet",  # only the summary, one JSON line (no progress)
            "--one-file-system",  # the snapshot only, never something mounted inside it
            "--tag", "lvmkit",
            "--tag", origin_tag(origin),  # how the next backup of the origin finds this one, its parent
            # Unchanged files (mtime, ctime, size, inode) are taken from the parent's tree, not
            # read again: restic's own choice needs the same paths, and the mount point changes.
            *(["--parent", parent] if parent else []),
            ".",  # the mount's contents at the snapshot's root (see BACKUP_SCRIPT)
        ]

    def earlier_snapshots_argv(self, options: dict[str, str], origin: str) -> list[str] | None:
        # Every snapshot of the origin: `--latest 1` counts per host and paths, and the paths
        # change with each run. Takes restic's shared lock: while a prune or check holds the
        # exclusive one this fails (measured), in the preflight, as the backup itself would.
        return [*self.base_argv(options), "snapshots", "--json", "--tag", origin_tag(origin)]

    def choose_parent(self, returncode: int, stdout: str, stderr: str, hostname: str) -> ParentChoice:
        """The latest snapshot of the origin made on `hostname`: restic's own rule picks a parent
        among the same host's snapshots only, and so does lvmkit."""
        if returncode != 0:
            raise LvmkitError(f"restic could not list the repository's snapshots: {tool_lines(stderr + stdout)}")
        try:
            listed = json.loads(stdout)
            ours = [(snapshot_time(s["time"]), s["id"]) for s in listed
                    if s["hostname"] == hostname and SNAPSHOT_ID.fullmatch(s["id"])]
        except (ValueError, TypeError, KeyError):
            raise LvmkitError(f"restic listed the repository's snapshots in a form lvmkit does not know: "
                              f"{stdout.strip()[:300]!r}") from None
        if not ours:
            others = f" (its {len(listed)} are from other hosts)" if listed else ""
            return ParentChoice(None, f"no earlier snapshot of this origin from {hostname}{others}: "
                                      f"restic reads every file")
        when, chosen = max(ours)
        return ParentChoice(chosen, f"parent snapshot {chosen[:8]} of {when.isoformat(timespec='seconds')}: "
                                    f"restic reads only the files changed since")

    def open_argv(self, options: dict[str, str]) -> list[str]:
        # Reads and decrypts the repository's config: needs the repository and the password,
        # takes no lock and changes nothing.
        return [*self.base_argv(options), "cat", "config"]

    def parse_report(self, text: str) -> dict:
        for line in reversed(text.splitlines()):
            try:
                summary = json.loads(line)
            except ValueError:
                continue
            if isinstance(summary, dict) and summary.get("message_type") == "summary" and summary.get("snapshot_id"):
                return {"id": summary["snapshot_id"], "added_bytes": summary.get("data_added"),
                        "files": summary.get("total_files_processed"),
                        "bytes_processed": summary.get("total_bytes_processed")}
        raise LvmkitError(f"restic printed no backup summary with a snapshot id: {text.strip()[-300:]!r}")

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        return bash_pipeline(VERIFY_SCRIPT, archive, *self.base_argv(options or {}))

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        # `archive` is the snapshot id; its files land at the target's root (backed up as ".").
        return [*self.base_argv(options), "restore", archive, "--target", target]

    def forget_argv(self, snapshot: str, options: dict[str, str]) -> list[str]:
        return [*self.base_argv(options), "forget", snapshot]

    def compact_argv(self, options: dict[str, str]) -> list[str]:
        return [*self.base_argv(options), "prune"]

    def judge_probe(self, returncode: int, output: str) -> str | None:
        kind, said = found_kind(output), tool_lines(output)
        if kind == "missing" or "Is there a repository" in output:
            return f"no restic repository there ({said}); create one with `restic init --repo REPOSITORY`"
        if kind == "borg":
            return "that is a borg repository, not restic's: use --engine borg, or another --repository"
        if returncode == 0:
            return None
        if "Resolving password failed" in output:
            return f"the password could not be read ({said}): check --password-file or --password-command"
        if "wrong password" in output:
            return f"wrong password for this repository ({said}): check --password-file or --password-command"
        return f"restic could not open the repository: {said}"
