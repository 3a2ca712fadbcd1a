"""Signed sets: ssh-keygen -Y sign at publish, -Y verify against allowed_signers when read.

Real keys and the real ssh-keygen on this machine (tests/unit/signing_keys.py); the set is a
real directory (tests/unit/archive_sets.py builds it as the backup does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lvmkit.archive import signature
from lvmkit.archive.closure import SIGNATURE
from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host

from .archive_sets import checked, failure, make_set
from .signing_keys import allowed, make_key


@pytest.fixture
def keys(tmp_path):
    return make_key(tmp_path, "operator"), make_key(tmp_path, "stranger")


@pytest.fixture
def tar_set(tmp_path):
    return make_set(tmp_path / "labvg-x-1", {"filesystem.tar.zst": b"the archive\n", "digest.json": b"{}\n"})


def sign_set(directory: Path, key: Path, namespace=signature.ARCHIVE_NAMESPACE) -> None:
    sig = signature.sign(Host(), str(key), (directory / "SHA256SUMS").read_text(), namespace)
    (directory / SIGNATURE).write_text(sig)


def signature_check(checks):
    (check,) = [c for c in checks.checks if c.name == "signature"]
    return check


def test_a_set_signed_by_a_trusted_key_passes_naming_the_signer(tar_set, keys, tmp_path):
    sign_set(tar_set, keys[0])
    checks = checked(tar_set, str(allowed(tmp_path, keys[0])))
    assert checks.passed, checks.render()
    assert signature_check(checks).detail.startswith("signed by operator@lvmkit (key SHA256:")


def test_an_unsigned_set_is_refused_with_a_trust_file_and_reported_unsigned_without(tar_set, keys, tmp_path):
    assert signature_check(checked(tar_set)).detail == "unsigned"
    checks = checked(tar_set, str(allowed(tmp_path, keys[0])))
    assert not checks.passed
    assert "unsigned: " in failure(checks) and "has no signature" in failure(checks)


def test_a_set_signed_by_an_untrusted_key_is_refused(tar_set, keys, tmp_path):
    sign_set(tar_set, keys[1])
    assert "wrongly signed: the signature of" in failure(checked(tar_set, str(allowed(tmp_path, keys[0]))))


def test_a_signed_set_whose_sums_changed_is_refused(tar_set, keys, tmp_path):
    sign_set(tar_set, keys[0])
    lines = (tar_set / "SHA256SUMS").read_text().splitlines(keepends=True)
    (tar_set / "SHA256SUMS").write_text("".join(reversed(lines)))  # the same lines: closed, but not what was signed
    assert "does not match its content" in failure(checked(tar_set, str(allowed(tmp_path, keys[0]))))


def test_a_signature_for_an_audit_record_is_not_accepted_for_a_set(tar_set, keys, tmp_path):
    sign_set(tar_set, keys[0], namespace=signature.AUDIT_NAMESPACE)
    assert "wrongly signed" in failure(checked(tar_set, str(allowed(tmp_path, keys[0]))))


@pytest.mark.parametrize("path", ["relative/key", "/nonexistent/key"])
def test_a_sign_key_that_is_not_an_absolute_readable_file_is_refused(path):
    with pytest.raises(UsageError, match="--sign-key"):
        signature.key_file(path)


def test_a_trust_file_that_does_not_exist_is_refused():
    with pytest.raises(UsageError, match="--trust"):
        signature.trust_file("/nonexistent/allowed_signers")
