"""The small exception tree of lvmkit.

Every error lvmkit raises on purpose is an `LvmkitError`; its message names what was wrong
and what to do. The CLI prints the message and exits non-zero; notebooks let it propagate.
"""

from __future__ import annotations


class LvmkitError(Exception):
    """An error with a message meant for the operator."""


class UsageError(LvmkitError):
    """The operator asked for something malformed (a name, a size, a host URL)."""


class CommandError(LvmkitError):
    """An external command exited non-zero."""

    def __init__(self, host: str, argv: list[str], returncode: int, stderr_tail: str):
        self.host = host
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        shown = " ".join(argv)
        message = f"command failed on {host} with exit code {returncode}: {shown}"
        if stderr_tail:
            message += "\n" + stderr_tail
        super().__init__(message)


class MissingToolError(LvmkitError):
    """Tools lvmkit needs are not installed; names them all with their Debian packages."""

    def __init__(self, host: str, missing: dict[str, str]):
        self.missing = dict(missing)
        listed = ", ".join(f"{tool} (Debian package {package})" for tool, package in missing.items())
        packages = " ".join(sorted(set(missing.values())))
        super().__init__(
            f"missing on {host}: {listed}. Install with: apt-get install {packages}"
        )


class HostUnreachable(LvmkitError):
    """An SSH target did not answer."""


class LabError(LvmkitError):
    """The lab could not be brought up, queried or taken down."""
