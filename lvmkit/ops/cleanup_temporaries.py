"""Temporary files an interrupted `lvmkit verify` left inside a published archive set.

verify writes its record as `verification.json` through archive_set.write_file: under a
temporary name beside it (mktemp's `verification.json.XXXXXX`), renamed over it when
complete. Killed before the rename, verify leaves the temporary in the set, and the set's
closure (archive.closure) then fails it for holding a file SHA256SUMS does not list. These
are found here, for `lvmkit cleanup --dest DIR`, and nothing else is:

  - only files named exactly as mktemp names that temporary (six letters or digits after
    `verification.json.`), regular files, never links;
  - only in an archive set (a directory of DIR with its manifest.json) or in a member set of
    a group's (DIR/SET/MEMBER/ beside its manifest.json, SET holding one too), where verify
    writes; never inside rsync's `tree/` (the archived files' own names) and never in a
    partial set (`.NAME.partial`: removed whole, or left alone, by cleanup);
  - one written in the last minute may be a verify writing it now: it is reported, not removed.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.archive.archive_set import MANIFEST, is_temporary_of
from lvmkit.archive.closure import TREE, VERIFICATION
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host

_KINDS = ("manifest", "old", "new")


@dataclass(frozen=True)
class StaleTemporary:
    path: str
    recent: bool  # written in the last minute: a verify may be writing it now


def temporaries_argv(dest: str) -> list[str]:
    """Each manifest.json and each file of verify's temporary name two or three levels below
    `dest` (a set's, a group member set's), NUL-terminated, as KIND PATH-INSIDE-DEST.

    find takes no `--`: `dest` is absolute (core/paths.py), never an expression. KIND is
    "manifest", "old" (last written over a minute ago: mktemp's file lives for as long as
    `cat` writes a few hundred bytes) or "new"."""
    return ["find", dest, "-mindepth", "2", "-maxdepth", "3", "-type", "f", "(",
            "-name", MANIFEST, "-printf", "manifest %P\\0", "-o",
            "-name", f"{VERIFICATION}.??????", "(", "-mmin", "+1", "-printf", "old %P\\0", "-o",
            "-printf", "new %P\\0", ")", ")"]


def find_temporaries(host: Host, dest: str) -> list[StaleTemporary]:
    dest = dest.rstrip("/") or "/"
    out = host.run(temporaries_argv(dest)).stdout
    entries = [entry.partition(" ") for entry in out.split("\0")[:-1]]
    if (out and not out.endswith("\0")) or any(kind not in _KINDS or not path for kind, _, path in entries):
        raise LvmkitError(f"listing verify's temporary files in {dest} on {host.name} gave garbled output: "
                          f"{out[:200]!r}")
    sets = {path.rpartition("/")[0] for kind, _, path in entries if kind == "manifest"}
    found = []
    for kind, _, path in entries:
        directory, _, name = path.rpartition("/")
        if kind != "manifest" and is_temporary_of(name, VERIFICATION) and _verify_writes_in(directory, sets):
            found.append(StaleTemporary(f"{dest.rstrip('/')}/{path}", kind == "new"))
    return sorted(found, key=lambda t: t.path)


def _verify_writes_in(directory: str, sets: set[str]) -> bool:
    """`directory` (inside the destination) is a published set, or a member set of a group's."""
    parts = directory.split("/")
    if directory not in sets or any(part.startswith(".") for part in parts):  # no set's name starts so
        return False
    return len(parts) == 1 or (len(parts) == 2 and parts[1] != TREE and parts[0] in sets)
