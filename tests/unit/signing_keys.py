"""Real ed25519 keys by the real ssh-keygen, and the allowed_signers file that trusts them:
shared by the tests of signed sets and signed records."""

from __future__ import annotations

import subprocess
from pathlib import Path


def make_key(directory: Path, name: str) -> Path:
    """A new key pair without passphrase, `directory/name` and `directory/name.pub`."""
    key = directory / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
    return key


def allowed(directory: Path, *keys: Path) -> Path:
    """An allowed_signers file trusting each key as NAME@lvmkit."""
    trust = directory / "allowed_signers"
    trust.write_text("".join(f"{key.name}@lvmkit {key.with_suffix('.pub').read_text()}" for key in keys))
    return trust
