"""A record's run.json signed by the operator's key (`runbook run --sign-key FILE`).

The signature is `run.json.sig` in the record folder (ssh-keygen -Y sign, namespace
lvmkit-audit, so that it cannot pass for an archive set's); the record's audit line carries
its sha256 (`run_json_sig_sha256`) and the signer's key fingerprint (`signer`), so the chain
covers the signature as it covers run.json. `audit verify` checks both, and with a trust
file (allowed_signers) the signature itself and that the key is the one the line names.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from lvmkit.archive import signature
from lvmkit.core.host import Host

RUN_JSON = "run.json"
RUN_JSON_SIG = "run.json.sig"
LINE_FIELDS = ("run_json_sig_sha256", "signer")  # what a signed record adds to its audit line


def sign_record(key: str | None, record: Path, host: Host | None = None) -> dict:
    """Sign the record's run.json with `key` (None: unsigned); the fields its audit line gets."""
    if key is None:
        return {}
    host = host or Host()
    text = (record / RUN_JSON).read_text(encoding="utf-8")
    sig = signature.sign(host, key, text, signature.AUDIT_NAMESPACE)
    # O_EXCL | O_NOFOLLOW: a file or link planted under that name is never written through
    descriptor = os.open(record / RUN_JSON_SIG, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(sig)
    return {"run_json_sig_sha256": hashlib.sha256(sig.encode("utf-8")).hexdigest(),
            "signer": signature.fingerprint(host, key)}


def check_record(folder: Path, entry: dict, where: str, trust: str | None) -> list[str]:
    """What is wrong with the record's signature as its audit line describes it; [] if nothing."""
    name, sig = folder.name, folder / RUN_JSON_SIG
    recorded = entry.get("run_json_sig_sha256")
    if recorded is None:
        if sig.exists() or sig.is_symlink():
            return [f"record {name}: {RUN_JSON_SIG} is not in {where}: added after the run"]
        return [f"record {name}: unsigned, and {trust} requires a signature"] if trust else []
    if sig.is_symlink() or not sig.is_file():
        return [f"record {name}: {RUN_JSON_SIG} is missing: deleted"]
    data = sig.read_bytes()
    if hashlib.sha256(data).hexdigest() != recorded:
        return [f"record {name}: {RUN_JSON_SIG} was edited (its sha256 is not the one in {where})"]
    if trust is None:
        return []
    verdict = signature.check(Host(), (folder / RUN_JSON).read_text(encoding="utf-8"), data.decode("utf-8", "replace"),
                              trust, signature.AUDIT_NAMESPACE, f"record {name}'s {RUN_JSON}")
    if not verdict.ok:
        return [f"record {name}: {verdict.detail}"]
    if verdict.key != entry.get("signer"):
        return [f"record {name}: signed by the key {verdict.key}, {where} names {entry.get('signer')!r}"]
    return []
