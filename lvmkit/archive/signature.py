"""Signatures of archive sets and records: OpenSSH's `ssh-keygen -Y sign` and `-Y verify`.

A set's SHA256SUMS names every file of the set with its sha256 (lvmkit.archive.closure),
so signing SHA256SUMS signs the set. The key stays on the controller (the machine lvmkit
runs on): the target is the machine being backed up and the backup store is written from
it, so a key there would be readable by whoever could forge a set. ssh-keygen reads the
data on stdin and writes the signature to stdout; with a public key as the key file it
signs through ssh-agent, so a key can stay in an agent or on a hardware token.

Checking takes an allowed_signers file (ssh-keygen(1), "ALLOWED SIGNERS"): `--trust FILE`,
else /etc/lvmkit/allowed_signers when it exists. The namespace keeps a set's signature from
being accepted for a record and the other way round.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host

ARCHIVE_NAMESPACE = "lvmkit-archive"
AUDIT_NAMESPACE = "lvmkit-audit"
DEFAULT_TRUST = "/etc/lvmkit/allowed_signers"
_GOOD = re.compile(r'Good "[^"]*" signature for (.+) with \S+ key (SHA256:\S+)')


@dataclass(frozen=True)
class Verdict:
    ok: bool
    detail: str  # "signed by NAME (key SHA256:...)", "unsigned", or why it was refused
    key: str | None = None  # the signer's key fingerprint (SHA256:...), when checked and good


def controller(host: Host) -> Host:
    """The machine lvmkit runs on, where keys and allowed_signers are; commands journaled alike."""
    return Host(journal=host.journal, name="controller")


def key_file(path: str | None) -> str | None:
    """--sign-key: an absolute path to a readable file on the controller, or None."""
    if path is None:
        return None
    if not os.path.isabs(path) or not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise UsageError(f"--sign-key {path!r}: give the absolute path of a readable OpenSSH private key "
                         f"(or its .pub, with the key in ssh-agent) on this machine")
    return path


def trust_file(path: str | None) -> str | None:
    """--trust FILE, else the default allowed_signers when it exists, else None (signatures not required)."""
    if path is not None:
        if not os.path.isabs(path) or not os.path.isfile(path):
            raise UsageError(f"--trust {path!r}: give the absolute path of an allowed_signers file "
                             f"(ssh-keygen(1), ALLOWED SIGNERS) on this machine")
        return path
    return DEFAULT_TRUST if os.path.isfile(DEFAULT_TRUST) else None


def sign_argv(key: str, namespace: str) -> list[str]:
    # No file argument: ssh-keygen signs stdin and writes the armoured signature to stdout.
    return ["ssh-keygen", "-Y", "sign", "-n", namespace, "-f", key]


def sign(host: Host, key: str, data: str, namespace: str) -> str:
    """The signature of `data` by `key`, made on the controller."""
    return controller(host).run(sign_argv(key, namespace), input=data).stdout


def check(host: Host, data: str, signature: str | None, trust: str | None, namespace: str, what: str) -> Verdict:
    """Whether `signature` (None: there is none) signs `data` by a key `trust` allows."""
    if signature is None:
        if trust is None:
            return Verdict(True, "unsigned")
        return Verdict(False, f"unsigned: {what} has no signature, and {trust} requires one; "
                              f"sign it with --sign-key, or restore from a signed copy")
    if trust is None:
        return Verdict(True, "signed, not checked: no allowed_signers file (--trust FILE)")
    local = controller(host)
    with tempfile.TemporaryDirectory(prefix="lvmkit-sig-") as scratch:  # 0700: only this user
        sig = f"{scratch}/data.sig"
        with open(sig, "w") as out:
            out.write(signature)
        found = local.run(["ssh-keygen", "-Y", "find-principals", "-s", sig, "-f", trust], check=False)
        principals = found.stdout.split()
        if found.returncode != 0 or not principals:
            return Verdict(False, f"wrongly signed: the signature of {what} is not by a key in {trust}")
        result = local.run(["ssh-keygen", "-Y", "verify", "-f", trust, "-I", principals[0], "-n", namespace,
                            "-s", sig], input=data, check=False)
    match = _GOOD.search(result.stdout + result.stderr)
    if result.returncode != 0 or not match:
        return Verdict(False, f"wrongly signed: the signature of {what} does not match its content "
                              f"(or is not for {namespace})")
    return Verdict(True, f"signed by {match[1]} (key {match[2]})", match[2])


def fingerprint(host: Host, key: str) -> str:
    """The SHA256 fingerprint of a key file (private or public), as ssh-keygen shows it."""
    out = controller(host).run(["ssh-keygen", "-l", "-E", "sha256", "-f", key]).stdout.split()
    return out[1]
