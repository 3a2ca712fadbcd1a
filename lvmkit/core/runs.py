"""A run of lvmkit on a target: its id, where its mounts live, the marker of its partial
archive set, and the checks and wrappers every run shares."""

from __future__ import annotations

import re
import secrets

from lvmkit.core.host import Host, utc_now
from lvmkit.core.preflight import Check

RUN_ROOT = "/run/lvmkit"  # on the target: one directory per run for its mounts
RUN_MARKER = ".lvmkit-run"  # in DEST/.NAME.partial: the run_id of the run writing it
# new_run_id()'s shape: 20261126T023323Z-8f9a; the suffix may be any word (tests use their own)
RUN_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z(?:-[A-Za-z0-9_.+]+)?")

# umask 077: whatever the engine creates is readable by root alone (archives hold all the data).
_PRIVATE = 'umask 077 && exec "$@"'


def new_run_id() -> str:
    return utc_now().strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def make_run_dirs_argv(*directories: str) -> list[str]:
    """Create a run's directories 0700 each, whatever the umask (install -d sets the mode of
    every directory it is given; missing parents, RUN_ROOT, get the default 0755)."""
    return ["install", "-d", "-m", "0700", "--", *directories]


def private(argv: list[str]) -> list[str]:
    return ["sh", "-c", _PRIVATE, "sh", *argv]


def root_check(host: Host, why: str) -> Check:
    return root_check_from(host.run(UID_ARGV).stdout, why)


UID_ARGV = ["id", "-u"]


def root_check_from(uid_output: str, why: str) -> Check:
    """The check from the output of UID_ARGV."""
    uid = uid_output.strip() or "unknown"
    return Check("running as root", uid == "0", "uid 0" if uid == "0" else f"uid {uid}: {why}; run lvmkit as root (sudo)")
