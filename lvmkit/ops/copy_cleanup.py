"""`lvmkit cleanup --copies DEST`: remove the partial copies that no running copy holds.

A partial copy (DEST/.SET.copy-partial, and STAGING/.SET.copy-partial on the controller) is
left by a copy that was interrupted; the next copy of SET resumes it. It is stale when no
copy of SET holds the controller's copy lock (lvmkit.ops.copy_lock): then it is removed.
Run it from the controller that runs the copies (the lock is there).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from lvmkit.core.errors import CommandError
from lvmkit.core.host import Host
from lvmkit.core.plan import Step, acting
from lvmkit.ops.copy import DEFAULT_STAGING
from lvmkit.ops.copy_lock import COPY_LOCK_DIR, is_running
from lvmkit.ops.copy_transfer import COPY_PARTIAL_SUFFIX, Place, remove_tree_argv

# Each partial copy directly in "$1", NUL-terminated; symbolic links are skipped.
_LIST = (f'cd -- "$1" 2>/dev/null || exit 0; for d in .*{COPY_PARTIAL_SUFFIX}; do '
         '[ -d "$d" ] && [ ! -L "$d" ] && printf "%s\\0" "$d"; done; exit 0')


@dataclass(frozen=True)
class Removal:
    path: str
    outcome: str  # "removed", "would remove", "kept: a copy is running", "failed: ..."

    def as_dict(self) -> dict:
        return asdict(self)


def list_partials_argv(directory: str) -> list[str]:
    return ["sh", "-c", _LIST, "sh", directory]


def partial_copies(place: Place) -> list[tuple[str, str]]:
    """(set name, path) of each partial copy in the place."""
    found = place.host.run(list_partials_argv(place.directory)).stdout
    return [(entry[1:-len(COPY_PARTIAL_SUFFIX)], f"{place.directory.rstrip('/')}/{entry}")
            for entry in found.split("\0") if entry.startswith(".") and entry.endswith(COPY_PARTIAL_SUFFIX)
            and "/" not in entry and len(entry) > len(COPY_PARTIAL_SUFFIX) + 1]


def cleanup_copies(controller: Host, places: list[Place], *, dry_run: bool = False,
                   staging: str = DEFAULT_STAGING, lock_dir: Path = COPY_LOCK_DIR) -> list[Removal]:
    removals = []
    for place in [*places, Place(controller, staging)]:
        for name, path in partial_copies(place):
            shown = place.describe(path.rsplit("/", 1)[1])
            if is_running(lock_dir, name):
                removals.append(Removal(shown, "kept: a copy is running"))
                continue
            if dry_run:
                removals.append(Removal(shown, "would remove"))
                continue
            argv = remove_tree_argv(path)
            try:
                with acting(Step(f"remove the partial copy {shown}", [argv])):
                    place.host.run(argv, changes=True)
                removals.append(Removal(shown, "removed"))
            except CommandError as error:
                removals.append(Removal(shown, f"failed: {error.stderr_tail or error}"))
    return removals


def render(removals: list[Removal]) -> str:
    if not removals:
        return "no partial copies"
    return "\n".join(f"{r.outcome}: {r.path}" for r in removals)
