"""Application hooks around a snapshot: flush and lock a database before, release it after.

A hook is the operator's own command, given as one string and split into argv like a
shell would split it (no expansion, no pipes): it runs on the target host under
coreutils' timeout, so that a hook that hangs cannot hold the application frozen.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.core.preflight import Check
from lvmkit.core.scripts import packaged_script

KILL_AFTER_S = 5  # after the timeout's SIGTERM, SIGKILL this much later

_FIND_PROGRAM = packaged_script(__package__, "hooks_find_program.sh")  # where timeout(1) will find it


class HookFailed(LvmkitError):
    pass


@dataclass(frozen=True)
class Hook:
    role: str  # "pre-snapshot" or "post-snapshot"
    argv: tuple[str, ...]
    timeout_s: float

    @classmethod
    def parse(cls, role: str, text: str | None, timeout_s: float) -> "Hook | None":
        if text is None:
            return None
        try:
            argv = tuple(shlex.split(text))
        except ValueError as error:
            raise UsageError(f"--{role} {text!r} cannot be split into words: {error}") from None
        if not argv:
            raise UsageError(f"--{role} is empty: give the command to run, e.g. --{role} '/usr/local/bin/db-flush'")
        if timeout_s <= 0:
            raise UsageError(f"the hook timeout must be positive, not {timeout_s}")
        return cls(role, argv, timeout_s)

    def run_argv(self) -> list[str]:
        return ["timeout", f"--kill-after={KILL_AFTER_S}", f"{self.timeout_s:g}", *self.argv]

    def check(self, host: Host) -> Check:
        """The hook's program exists on the target and may be executed."""
        found = host.run(["sh", "-c", _FIND_PROGRAM, "sh", self.argv[0]], check=False).stdout.strip()
        if not found:
            return Check(f"{self.role} hook found", False,
                         f"{self.argv[0]} is not found on {host.name}: give its full path")
        executable = host.run(["test", "-x", found], check=False).returncode == 0
        return Check(f"{self.role} hook executable", executable,
                     found if executable else f"{found} is not executable: chmod +x it, or run it through its interpreter")

    def run(self, host: Host) -> None:
        result = host.run(self.run_argv(), changes=True, check=False)
        if result.returncode == 0:
            return
        shown = shlex.join(self.argv)
        reasons = {124: f"did not finish within {self.timeout_s:g} s and was stopped",
                   137: f"did not finish within {self.timeout_s:g} s and was killed",
                   126: "is not executable", 127: "was not found"}
        reason = reasons.get(result.returncode, f"failed with exit code {result.returncode}")
        tail = result.stderr.strip()[-300:]
        raise HookFailed(f"the {self.role} hook `{shown}` {reason}" + (f": {tail}" if tail else ""))
