"""age encryption of an archive set: the engine's stream and the digest, encrypted as written.

`--encrypt-to RECIPIENTS` names an age recipients file on the target (one public key a
line: age X25519 `age1...` or OpenSSH `ssh-ed25519 ...`; `#` comments). The engine writes
its archive to its stdout (`/dev/stdout` as its archive path: tar's --file, zstd's -o), which
`age --encrypt` reads and writes as `ARCHIVE.age`: the clear archive never touches a disk.
The content digest lists every path of the volume: it is written as `digest.json.age`, by
age reading it on its stdin. The manifest stays clear and holds no path names; SHA256SUMS
covers the ciphertext, so `sha256sum -c` and `lvmkit verify` work without any key.

Reading needs an age identity on the target (`--identity FILE`): `age --decrypt` writes the
clear stream into the engine's stdin (`/dev/stdin` as its archive path).

Engines that cannot write one stream are refused with the reason.
"""

from __future__ import annotations

import re

from lvmkit.archive.engines.base import Engine
from lvmkit.archive.engines.common import PIPELINE_PROLOGUE, bash_pipeline
from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host, stderr_tail
from lvmkit.core.paths import target_path

AGE_SUFFIX = ".age"

# Why each engine that cannot be encrypted as it writes is refused.
NOT_STREAMED = {
    "fsarchiver": "fsarchiver writes its archive with seeks and cannot write it to a pipe",
    "rsync": "rsync writes a tree of files, not one stream",
}

# $1 recipients file, $2 encrypted archive, then the engine's argv writing to /dev/stdout.
_ENCRYPT = PIPELINE_PROLOGUE + 'r=$1 out=$2; shift 2\n"$@" | age --encrypt --recipients-file "$r" --output "$out"\n'
# $1 identity file, $2 encrypted archive, then the engine's argv reading /dev/stdin.
_DECRYPT = PIPELINE_PROLOGUE + 'i=$1 in=$2; shift 2\nage --decrypt --identity "$i" "$in" | "$@"\n'
# $1 recipients file, $2 output: the text on stdin, encrypted (umask: root's alone at once).
_ENCRYPT_TEXT = 'umask 077 && exec age --encrypt --recipients-file "$1" --output "$2"'

_RECIPIENT = re.compile(r"(age1[0-9a-z]{58}|ssh-ed25519 [A-Za-z0-9+/]+={0,2})(?: .*)?")


class IdentityError(LvmkitError):
    """The identity is missing, unreadable, or decrypts nothing of this set."""


def refuse_unstreamed(engine: Engine) -> None:
    if engine.stream_out is None:
        raise UsageError(f"--encrypt-to cannot encrypt engine {engine.name}: "
                         f"{NOT_STREAMED.get(engine.name, 'it does not write one stream')}. "
                         f"Engines that write one stream, encrypted as written: tar, dar, dd, partclone")


def encrypted_name(name: str) -> str:
    return name + AGE_SUFFIX


def encrypt_argv(recipients: str, output: str, engine_argv: list[str]) -> list[str]:
    return bash_pipeline(_ENCRYPT, recipients, output, *engine_argv)


def decrypt_argv(identity: str, archive: str, engine_argv: list[str]) -> list[str]:
    return bash_pipeline(_DECRYPT, identity, archive, *engine_argv)


def encrypt_text_argv(recipients: str, output: str) -> list[str]:
    return ["sh", "-c", _ENCRYPT_TEXT, "sh", recipients, output]


def decrypt_text_argv(identity: str, path: str) -> list[str]:
    return ["age", "--decrypt", "--identity", identity, path]


def read_recipients(host: Host, path: str) -> list[str]:
    """The public keys of the recipients file on `host`; refused if it holds none or another kind."""
    target_path(path, "--encrypt-to")
    result = host.run(["cat", "--", path], check=False)
    if result.returncode != 0:
        raise UsageError(f"--encrypt-to {path}: cannot read it on {host.name} ({result.stderr.strip()}); "
                         f"give an age recipients file there (age-keygen -y IDENTITY > {path})")
    keys = [line.strip() for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")]
    wrong = [key[:40] for key in keys if not _RECIPIENT.fullmatch(key)]
    if not keys or wrong:
        raise UsageError(f"--encrypt-to {path}: " + (f"{wrong[0]!r}... is not an age X25519 (age1...) or "
                                                      f"ssh-ed25519 public key" if wrong else "holds no recipient"))
    return [" ".join(key.split()[:2]) for key in keys]  # the key without its comment


def check_identity(host: Host, identity: str | None, archive_set: str) -> str:
    """The identity path, if given and readable on `host`; else a clear error."""
    if identity is None:
        raise IdentityError(f"{archive_set} is encrypted with age: give --identity FILE, an age identity "
                            f"on {host.name} whose public key is among the set's recipients (in its manifest)")
    target_path(identity, "--identity")
    if host.run(["test", "-r", identity], check=False).returncode != 0:
        raise IdentityError(f"--identity {identity}: no readable file on {host.name}")
    return identity


def decrypt_text(host: Host, identity: str, path: str, recipients: list[str]) -> str:
    result = host.run(decrypt_text_argv(identity, path), check=False)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("age: error:")]
        said = errors[0] if errors else stderr_tail(result.stderr, 1) or f"exit {result.returncode}"
        raise IdentityError(f"--identity {identity} does not decrypt {path} ({said}); the set was "
                            f"encrypted to: {', '.join(recipients)}")
    return result.stdout
