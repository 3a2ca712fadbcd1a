"""Paths that reach a command on the target.

A path given by a person (a destination, an archive set, a directory to list) ends up in
an argv. A value beginning with `-` is read as an option by most tools, and `find` has no
`--`: `find -delete ...` deletes. So every such path is absolute (which also keeps it from
ever beginning with `-`), normalised (no `.` or `..` parts, no repeated or trailing `/`),
and holds no newline (it would split a line of SHA256SUMS or of a tool's output).
"""

from __future__ import annotations

import posixpath

from lvmkit.core.errors import UsageError


def target_path(value: str, what: str) -> str:
    """The path if it is absolute and normalised; else a UsageError saying what to give."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"{what}: a path is needed, got {value!r}")
    if value.startswith("-"):
        raise UsageError(f"{what} {value!r} begins with '-' and would be read as an option: "
                         f"give an absolute path, e.g. /backups")
    if "\n" in value or "\r" in value or "\0" in value:
        raise UsageError(f"{what} {value!r} holds a line break or NUL: give a path without one")
    if not value.startswith("/"):
        raise UsageError(f"{what} {value!r} is relative: give an absolute path "
                         f"(on the target, e.g. /{value.lstrip('./')})")
    if ".." in value.split("/"):
        raise UsageError(f"{what} {value!r} holds '..': give the path without it")
    normal = posixpath.normpath(value)
    if normal.startswith("//"):  # POSIX keeps a leading '//' as possibly special
        normal = "/" + normal.lstrip("/")
    if normal != value:
        raise UsageError(f"{what} {value!r} is not normalised: give {normal!r}")
    return value
