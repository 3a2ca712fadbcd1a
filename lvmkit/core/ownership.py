"""Where root may write: a directory others cannot write to, nor swap for a link.

lvmkit writes archive sets and verification records as root. In a directory that another
user can write to, or under a parent that user can write to, that user can plant a symlink
or swap a directory for one between lvmkit's check and its write, and root then writes
where the link points. So a destination and an archive set must be owned by root and not
writable by others, and so must every parent directory, except a sticky one (/tmp):
there, others cannot rename or remove what root made.

The probe (ownership_probe.sh) resolves the path (realpath -e, so a symlinked path is
judged where it really is) and prints `MODE UID PATH` for it and each parent up to /; a
symlink given as the path itself is named too.
"""

from __future__ import annotations

from lvmkit.core.preflight import Check
from lvmkit.core.scripts import packaged_script

OWNERSHIP_PROBE = packaged_script(__package__, "ownership_probe.sh")
STICKY, OTHERS_WRITE = 0o1000, 0o002


def ownership_argv(path: str) -> list[str]:
    return ["sh", "-c", OWNERSHIP_PROBE, "sh", path]


def judge_ownership(output: str, path: str, what: str, *, link_allowed: bool = True) -> Check:
    """The check from ownership_argv(path)'s output; `what` names the path ("destination")."""
    name = f"{what} root's alone"
    lines = output.splitlines()
    if lines[:1] == ["link"]:
        if not link_allowed:
            return Check(name, False, f"{path} is a symlink: lvmkit never follows links in an archive set; "
                                      f"give the set's real path")
        lines = lines[1:]
    chain = []
    for line in lines:
        mode, uid, real = line.split(" ", 2)
        chain.append((int(mode, 8), int(uid), real))
    if not chain:
        return Check(name, False, f"cannot read the owner and mode of {path}")
    mode, uid, real = chain[0]
    shown = path if real == path else f"{path} ({real})"
    if uid != 0:
        return Check(name, False, f"{shown} is owned by uid {uid}, not root: another user could change what lvmkit "
                                  f"writes there as root; `chown root: {real}` or choose another {what}")
    if mode & OTHERS_WRITE:
        return Check(name, False, f"{shown} is writable by others (mode {mode:o}): `chmod o-w {real}` or choose "
                                  f"another {what}")
    for parent_mode, _, parent in chain[1:]:
        if parent_mode & OTHERS_WRITE and not parent_mode & STICKY:
            return Check(name, False, f"{parent}, a parent of {shown}, is writable by others and not sticky "
                                      f"(mode {parent_mode:o}): anyone could swap what lies under it for a link; "
                                      f"`chmod o-w {parent}` (or +t) or choose another {what}")
    return Check(name, True, f"{shown}: owned by root, mode {mode:o}, no parent writable by others")
