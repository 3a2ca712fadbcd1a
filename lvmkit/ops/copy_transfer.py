"""The commands of a copy: where a copy's parts live, the rsync that moves them, the check on
arrival and the atomic publication. Pure argv builders and parsers; lvmkit.ops.copy runs them.

A copy of SET into DIR is written as DIR/.SET.copy-partial (its own suffix: a backup's
`.NAME.partial` belongs to a run on the target and is cleaned by that run's rules), checked
there with `sha256sum -c SHA256SUMS`, made durable (syncfs) and renamed to DIR/SET, and the
rename made durable (fsync of DIR).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lvmkit.core.host import Host

COPY_PARTIAL_SUFFIX = ".copy-partial"

# rsync for an archive set: -a (times, modes 0600/0700, symlinks of an rsync tree), -H -A -X
# -S --numeric-ids (an rsync engine's tree/ keeps hard links, ACLs, xattrs, sparse files and
# owners the way the backup wrote them); --partial keeps a file cut off mid-way, which the next
# copy uses as its basis (over SSH it sends only what differs); --delete-during leaves nothing
# in the partial that the set does not hold, so what is published is exactly the set.
RSYNC_OPTIONS = ["-aHAXS", "--numeric-ids", "--partial", "--delete-during"]

# Checked on arrival: sha256sum prints "NAME: FAILED" (or "NAME: FAILED open or read") for
# each file that differs; --quiet leaves out the ones that pass.
_CHECK = 'cd "$1" && exec sha256sum --quiet --strict -c SHA256SUMS'
_FAILED_LINE = re.compile(r"(?P<name>.+): FAILED(?: open or read)?")

# Publish: the partial's bytes reach the disk (syncfs of its filesystem) before the rename,
# and the rename reaches it (fsync of the directory) before the copy says "done". -T: the
# new name is the set's, never a directory to move the partial into.
_PUBLISH = 'sync --file-system -- "$1" && mv -T -- "$1" "$2" && sync -- "$3"'


@dataclass(frozen=True)
class Place:
    """A directory on a host: the source's directory, a copy destination, the staging area."""

    host: Host
    directory: str

    def describe(self, name: str = "") -> str:
        path = f"{self.directory.rstrip('/')}/{name}" if name else self.directory
        return path if self.host.name == "local" else f"{self.host.name}{path}"

    def final(self, name: str) -> str:
        return f"{self.directory.rstrip('/')}/{name}"

    def partial(self, name: str) -> str:
        return f"{self.directory.rstrip('/')}/.{name}{COPY_PARTIAL_SUFFIX}"


def make_partial_argv(path: str) -> list[str]:
    # -m 0700: an archive set's directory is root's alone from its first instant
    return ["install", "-d", "-m", "0700", "--", path]


def rsync_argv(source: Host, source_dir: str, dest: Host, dest_dir: str, bwlimit_kib: int | None = None) -> list[str]:
    """rsync, run on the controller, from source_dir on `source` into dest_dir on `dest`.

    At most one side may be remote: rsync cannot copy between two remote hosts (a copy
    between two remote hosts goes through the controller's staging directory).
    """
    source_options, source_location = source.rsync_endpoint(f"{source_dir.rstrip('/')}/")
    dest_options, dest_location = dest.rsync_endpoint(f"{dest_dir.rstrip('/')}/")
    if source_options and dest_options:
        raise ValueError("rsync copies between the controller and one remote host, not two")
    limit = [f"--bwlimit={bwlimit_kib}"] if bwlimit_kib else []
    return ["rsync", *RSYNC_OPTIONS, *limit, *source_options, *dest_options, source_location, dest_location]


def check_argv(partial: str) -> list[str]:
    return ["sh", "-c", _CHECK, "sh", partial]


def failed_files(output: str) -> list[str] | None:
    """The names sha256sum -c reported as FAILED; None when a line cannot be read safely
    (sha256sum begins a line with '\\' when it escaped a name)."""
    names = []
    for line in output.splitlines():
        if line.startswith("\\"):
            return None
        match = _FAILED_LINE.fullmatch(line)
        if match:
            names.append(match["name"])
        elif line.strip():
            return None
    return names


def remove_file_argv(path: str) -> list[str]:
    return ["rm", "-f", "--", path]


def remove_tree_argv(path: str) -> list[str]:
    # --one-file-system: a mount inside a partial (never ours) is not descended into
    return ["rm", "-rf", "--one-file-system", "--", path]


def publish_argv(partial: str, final: str, directory: str) -> list[str]:
    return ["sh", "-c", _PUBLISH, "sh", partial, final, directory]
