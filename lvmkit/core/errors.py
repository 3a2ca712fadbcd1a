"""The small exception tree of lvmkit.

Every error lvmkit raises on purpose is an `LvmkitError`; its message names what was wrong
and what to do. The CLI prints the message and exits with the error's `exit_code`; notebooks let it propagate.

Exit codes (the README's table): 0 ok, 1 failed, 2 usage or configuration, 3 refused before
anything changed (the preflight, or another run holding the origin's lock), 130 / 143
interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2  # also argparse's own code for a malformed command line
EXIT_REFUSED = 3
EXIT_SIGINT = 130  # 128 + the signal's number, as a shell reports it
EXIT_SIGTERM = 143


SERIOUSNESS = (EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED)  # most serious first


def most_serious(codes: list[int]) -> int:
    """One exit code for several outcomes (`job check` of many jobs): a failure outweighs a
    configuration error, which outweighs a refusal; 0 when there is none."""
    return min(codes, key=SERIOUSNESS.index, default=EXIT_OK)


class LvmkitError(Exception):
    """An error with a message meant for the operator."""

    exit_code = EXIT_FAILED


class UsageError(LvmkitError):
    """The operator asked for something malformed (a name, a size, a host URL, a configuration)."""

    exit_code = EXIT_USAGE


class Refused(LvmkitError):
    """lvmkit said no before changing anything: a scheduler may retry later, nothing to clean up."""

    exit_code = EXIT_REFUSED


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
