"""borg: the snapshot's files into a borg repository, deduplicated and encrypted.

The archive set keeps borg's JSON report of `borg create` (`borg.json`: the archive's name
and id, what it added); borg keeps the data. The archive is named after the archive set,
so the two are found from each other. Measured with borg 1.2.4 (Debian 12).

borg reads its password only from its environment: BORG_PASSCOMMAND, a command borg splits
(shlex) and runs itself; `password_file` becomes `cat -- FILE` there. The environment is
set by `env` in the argv, so the command's words are seen, the password is not.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath

from lvmkit.archive.engines.base import EngineOption
from lvmkit.archive.engines.repository import (
    PASSWORD_COMMAND,
    PASSWORD_FILE,
    RepositoryEngine,
    found_kind,
    parse_location,
    tool_lines,
)
from lvmkit.archive.engines.restic import BORG_REMOTE, RESTIC_REMOTE
from lvmkit.core.errors import LvmkitError

REPOSITORY = EngineOption("repository", "borg repository: an absolute path or ssh://[USER@]HOST[:PORT]/PATH", "",
                          parse=lambda value: parse_location(value, "borg", BORG_REMOTE, RESTIC_REMOTE))


@dataclass(frozen=True)
class BorgEngine(RepositoryEngine):
    name: str = "borg"
    archive_name: str = "borg.json"
    tool: str = "borg"
    options: tuple[EngineOption, ...] = (REPOSITORY, PASSWORD_FILE, PASSWORD_COMMAND)

    def version_argv(self, fstype: str) -> list[str]:
        return ["borg", "--version"]  # "borg 1.2.4"

    def environment(self, options: dict[str, str]) -> list[str]:
        chosen = self.resolve_options(options)
        command = (shlex.join(["cat", "--", chosen["password_file"]]) if chosen["password_file"]
                   else chosen["password_command"])
        # No question may wait for an answer that never comes (stdin is /dev/null): a moved
        # or unencrypted repository is refused rather than accepted.
        return ["env", f"BORG_PASSCOMMAND={command}", "BORG_RELOCATED_REPO_ACCESS_IS_OK=no",
                "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=no"]

    def borg(self, options: dict[str, str], *argv: str) -> list[str]:
        return [*self.environment(options), "borg", *argv]

    def create_argv(self, options: dict[str, str], archive: str, origin: str, parent: str | None) -> list[str]:
        # borg finds unchanged files in its files cache, keyed by absolute path: no parent to name.
        return self.borg(
            options, "create",
            "--json",  # the report: archive name, id and statistics, on stdout
            "--one-file-system",  # the snapshot only, never something mounted inside it
            "--numeric-ids",  # owners as numbers: the names of this host say nothing about the volume's
            f"{self.resolve_options(options)['repository']}::{archive_set_name(archive)}",
            ".",
        )

    def open_argv(self, options: dict[str, str]) -> list[str]:
        # Opens the repository with its lock (a locked one fails after --lock-wait, 1 s) and
        # decrypts the manifest: the password is checked; nothing is written.
        return self.borg(options, "info", self.resolve_options(options)["repository"])

    def parse_report(self, text: str) -> dict:
        try:
            archive = json.loads(text)["archive"]
            return {"id": archive["name"], "archive_id": archive["id"],
                    "added_bytes": archive["stats"]["deduplicated_size"], "files": archive["stats"]["nfiles"],
                    "bytes_processed": archive["stats"]["original_size"]}
        except (ValueError, KeyError, TypeError):
            raise LvmkitError(f"borg create printed no archive report: {text.strip()[-300:]!r}") from None

    def archive_argv(self, archive: str, options: dict[str, str]) -> str:
        return f"{self.resolve_options(options)['repository']}::{archive}"

    def verify_argv(self, archive: str, fstype: str, options: dict[str, str] | None = None) -> list[str]:
        # The repository's segments and this archive's metadata; fails if the archive is gone.
        return self.borg(options or {}, "check", self.archive_argv(archive, options or {}))

    def restore_argv(self, archive: str, target: str, fstype: str, options: dict[str, str]) -> list[str]:
        # borg extracts into its working directory: the target's mount.
        env = self.environment(options)
        return [env[0], f"--chdir={target}", *env[1:], "borg", "extract", "--numeric-ids",
                self.archive_argv(archive, options)]

    def forget_argv(self, snapshot: str, options: dict[str, str]) -> list[str]:
        return self.borg(options, "delete", self.archive_argv(snapshot, options))

    def compact_argv(self, options: dict[str, str]) -> list[str]:
        return self.borg(options, "compact", self.resolve_options(options)["repository"])

    def judge_probe(self, returncode: int, output: str) -> str | None:
        kind, said = found_kind(output), tool_lines(output)
        if kind == "missing" or "does not exist" in output:
            return f"no borg repository there ({said}); create one with `borg init --encryption repokey REPOSITORY`"
        if kind == "restic":
            return "that is a restic repository, not borg's: use --engine restic, or another --repository"
        if returncode == 0:
            return None
        if "Failed to create/acquire the lock" in output:
            return f"the repository is locked by another borg ({said}); wait for it, or `borg break-lock` if none runs"
        if "is incorrect" in output or "can not acquire a passphrase" in output:
            return f"the password is wrong or could not be read ({said}): check --password-file or --password-command"
        if "is not a valid repository" in output:
            return f"not a borg repository: {said}"
        return f"borg could not open the repository: {said}"


def archive_set_name(report: str) -> str:
    """The borg archive's name: its archive set's (DEST/.NAME.partial/borg.json).

    A member of a consistency group writes DEST/.GROUP.partial/.VG-LV.partial/borg.json: its
    archive is GROUP+VG-LV, as unique in the repository as the group's set is in DEST.
    """
    names = []
    for directory in PurePosixPath(report).parents:
        if not (directory.name.startswith(".") and directory.name.endswith(".partial")):
            break
        names.insert(0, directory.name[1:-len(".partial")])
    return "+".join(names) or PurePosixPath(report).parent.name
