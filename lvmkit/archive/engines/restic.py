"""restic: the snapshot's files into a restic repository, deduplicated and encrypted.

The archive set keeps restic's JSON summary of the backup (`restic.json`: the snapshot's
id, what it added to the repository); restic itself keeps the data. Measured with restic
0.14.0 (Debian 12): `backup --json --quiet` prints exactly one line, the summary; its
`snapshot_id` is the short id, a prefix every restic command resolves (and refuses when
it is ambiguous or unknown: "no matching ID found for prefix").
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lvmkit.archive.engines.base import EngineOption
from lvmkit.archive.engines.common import PIPELINE_PROLOGUE, bash_pipeline
from lvmkit.archive.engines.repository import (
    PASSWORD_COMMAND,
    PASSWORD_FILE,
    SFTP_LOCATION,
    SSH_LOCATION,
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

    def create_argv(self, options: dict[str, str], archive: str) -> list[str]:
        return [
            *self.base_argv(options), "backup",
            "--json", "--quiet",  # only the summary, one JSON line (no progress)
            "--one-file-system",  # the snapshot only, never something mounted inside it
            "--tag", "lvmkit",
            ".",  # the mount's contents at the snapshot's root (see BACKUP_SCRIPT)
        ]

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
