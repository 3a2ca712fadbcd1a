"""Verify an archive set: checksums, manifest, the engine's own test; --deep restores it.

A deep verification restores into a scratch volume (tagged, so `lvmkit cleanup` can find
it if lvmkit dies), compares the content digest with the archived one, and removes the
scratch volume again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from lvmkit.archive.archive_set import write_file, write_file_argv
from lvmkit.archive.closure import VERIFICATION
from lvmkit.archive.encryption import decrypt_argv
from lvmkit.archive.engines import get_engine
from lvmkit.archive.engines.common import STREAM_IN
from lvmkit.archive.manifest import GroupManifest, Manifest
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import BULKY
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Step, acting, default_log
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import new_run_id
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours
from lvmkit.ops.restore import RestoreRequest, check_archive, check_decryption, engine_options, read_digest
from lvmkit.ops.restore import restore as restore_archive


@dataclass
class VerifyResult:
    archive: str
    checks: Preflight
    deep: bool
    finished: str = ""

    @property
    def passed(self) -> bool:
        return self.checks.passed

    def as_dict(self) -> dict:
        return {"archive": self.archive, "passed": self.passed, "deep": self.deep,
                "finished": self.finished, "checks": self.checks.as_list()}


def verify(host: Host, archive_set: str, *, deep: bool = False, scratch_vg: str | None = None,
           log=None, run_id: str | None = None, trust: str | None = None, in_group: bool = False,
           identity: str | None = None, password: dict[str, str] | None = None) -> VerifyResult:
    """`trust`: an allowed_signers file on the controller (lvmkit.archive.signature.trust_file);
    `password`: a repository engine's password_file or password_command, instead of the manifest's."""
    target_path(archive_set, "archive set")
    checks = Preflight()
    manifest = check_archive(host, archive_set, checks, trust, in_group)
    if isinstance(manifest, GroupManifest):
        _members(host, archive_set, manifest, checks, deep, scratch_vg, log, password or {})
    elif manifest is not None and manifest.encryption and identity is None:
        _encrypted_without_identity(archive_set, manifest, checks, deep)
    elif manifest is not None:
        if manifest.encryption:
            check_decryption(host, archive_set, manifest, identity, checks)
        # The engine reads even a set whose checksums failed: its own error says what broke.
        # Encrypted, it reads only through an identity that was shown to decrypt the set.
        if not manifest.encryption or checks.passed:
            _engine_test(host, archive_set, manifest, checks, identity, password or {})
            _digest_matches_manifest(host, archive_set, manifest, checks, identity)
        if deep and checks.passed:
            _deep(host, archive_set, manifest, scratch_vg, checks, log, run_id or new_run_id(), identity,
                  password or {})
    result = VerifyResult(archive_set, checks, deep, utc_now().isoformat())
    if manifest is not None:
        path = f"{archive_set.rstrip('/')}/{VERIFICATION}"
        with acting(Step(f"record the verification in {path}", [write_file_argv(path)]), log or default_log):
            write_file(host, path, json.dumps(result.as_dict(), indent=2) + "\n")
    return result


def _members(host: Host, archive_set: str, manifest: GroupManifest, checks: Preflight, deep: bool,
             scratch_vg: str | None, log, password: dict[str, str]) -> None:
    """A group's set: each member's set is verified as a set of its own."""
    for member in manifest.members:
        result = verify(host, f"{archive_set.rstrip('/')}/{member.archive_set}", deep=deep,
                        scratch_vg=scratch_vg, log=log, in_group=True, password=password)
        for check in result.checks.checks:
            checks.add(replace(check, name=f"{member.vg}/{member.lv}: {check.name}"))


def _encrypted_without_identity(archive_set: str, manifest: Manifest, checks: Preflight, deep: bool) -> None:
    """Without a key, what can be proved of an encrypted set is its ciphertext (SHA256SUMS)."""
    if deep:
        checks.fail("identity given", f"{archive_set} is encrypted with age: verify --deep restores it and needs "
                                      f"--identity FILE, an age identity on the target for one of: "
                                      f"{', '.join(manifest.encryption.recipients)}")
        return
    checks.add(Check("encrypted with age", True, "the ciphertext matches SHA256SUMS; reading the archive and "
                                                 "the digest needs --identity FILE"))


def _engine_test(host: Host, archive_set: str, manifest: Manifest, checks: Preflight, identity: str | None,
                 password: dict[str, str]) -> None:
    engine = get_engine(manifest.engine.name)
    # a repository engine's snapshot is named by its id, and opened with the recorded password
    archive = manifest.repository.id if engine.repository else f"{archive_set.rstrip('/')}/{manifest.engine.archive}"
    options = engine_options(manifest, password) if engine.repository else None
    argv = (decrypt_argv(identity, archive, engine.verify_argv(STREAM_IN, manifest.filesystem.type, options))
            if manifest.encryption else engine.verify_argv(archive, manifest.filesystem.type, options))
    # its stdout is a list of every file (tar --list) or every block's progress: bulky
    result = host.run(argv, check=False, private=BULKY)
    tail = (result.stderr or result.stdout).strip()[-400:]
    checks.add(Check(f"{engine.name} reads the archive", result.returncode == 0,
                     "no error" if result.returncode == 0 else f"exit {result.returncode}: {tail}"))


def _digest_matches_manifest(host: Host, archive_set: str, manifest: Manifest, checks: Preflight,
                             identity: str | None) -> None:
    try:
        digest = read_digest(host, archive_set, manifest, identity)
    except LvmkitError as error:
        checks.fail("content digest readable", str(error))
        return
    recorded = manifest.digest.sha256
    checks.add(Check("content digest matches the manifest", digest.sha256 == recorded,
                     f"{digest.file_count} files" if digest.sha256 == recorded else
                     f"digest.json hashes to {digest.sha256}, the manifest recorded {recorded}"))


def _deep(host: Host, archive_set: str, manifest: Manifest, scratch_vg: str | None, checks: Preflight, log,
          run_id: str, identity: str | None, password: dict[str, str]) -> None:
    vg = scratch_vg or manifest.origin.vg
    name = f"lvmkit-verify-{run_id}"  # the run's id: a replayed or approved run names it alike
    try:
        # The set's own checks (signature included) passed above: the scratch restore is a member's or its own.
        run = restore_archive(host, RestoreRequest(archive_set, to_new=f"{vg}/{name}", scratch=True, in_group=True,
                                                   identity=identity, password=password), log=log, run_id=run_id)
        checks.add(Check("deep: restored content equals the archived digest", run.comparison.equal,
                         run.comparison.summary()))
    except LvmkitError as error:
        checks.fail("deep: restore into a scratch volume", str(error))
    finally:
        with acting(Step(f"remove the scratch volume {vg}/{name}", [["lvremove", "--yes", f"{vg}/{name}"]]),
                    log or default_log):
            remove_if_ours(host, vg, name, LVMKIT_TAG)
