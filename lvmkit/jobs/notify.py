"""The `notify` hook: the operator's command, told how a job ended.

It runs on the controller (where lvmkit runs, which is where mail or a pager is set up),
split like a shell would split it but never through a shell, with the job's name, outcome,
error, archive set and record path in its environment. Its failure is logged and never
changes the job's result.
"""

from __future__ import annotations

import shlex

from lvmkit.core.host import Host


def environment(job: str, outcome: str, error: str | None, archive_set: str | None, record: str | None) -> dict:
    return {"LVMKIT_JOB": job, "LVMKIT_OUTCOME": outcome, "LVMKIT_ERROR": error or "",
            "LVMKIT_ARCHIVE_SET": archive_set or "", "LVMKIT_RECORD": record or ""}


def notify(local: Host, command: str, env: dict, timeout_s: float, log) -> bool:
    """Run the hook; True if it succeeded. Never raises for the hook's own failure."""
    try:
        argv = shlex.split(command)
    except ValueError as error:
        log(f"notify: cannot split {command!r}: {error}")
        return False
    # env(1) puts the job's facts into the hook's environment; `--` first, so that nothing
    # in them is read as an option of env.
    result = local.run(["env", "--", *(f"{k}={v}" for k, v in env.items()), *argv],
                       changes=True, check=False, timeout=timeout_s)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip()[-300:]
        log(f"notify: {command!r} failed with exit code {result.returncode}: {tail} "
            "(the job's own result stands)")
        return False
    return True
