"""Verify an archive set: checksums, manifest, the engine's own test; --deep restores it.

A deep verification restores into a scratch volume (tagged, so `lvmkit cleanup` can find
it if lvmkit dies), compares the content digest with the archived one, and removes the
scratch volume again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from lvmkit.archive.archive_set import DIGEST, read_file, write_file, write_file_argv
from lvmkit.archive.digest import ContentDigest
from lvmkit.archive.engines import get_engine
from lvmkit.archive.manifest import GroupManifest, Manifest
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Step, acting, default_log
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import new_run_id
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours
from lvmkit.ops.restore import RestoreRequest, check_archive, engine_options
from lvmkit.ops.restore import restore as restore_archive

VERIFICATION = "verification.json"  # beside the set's files; not covered by SHA256SUMS


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
           log=None, run_id: str | None = None, password: dict[str, str] | None = None) -> VerifyResult:
    target_path(archive_set, "archive set")
    checks = Preflight()
    manifest = check_archive(host, archive_set, checks)
    if isinstance(manifest, GroupManifest):
        _members(host, archive_set, manifest, checks, deep, scratch_vg, log, password or {})
    elif manifest is not None:
        _engine_test(host, archive_set, manifest, checks, password or {})
        _digest_matches_manifest(host, archive_set, manifest, checks)
        if deep and checks.passed:
            _deep(host, archive_set, manifest, scratch_vg, checks, log, run_id or new_run_id(), password or {})
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
                        scratch_vg=scratch_vg, log=log, password=password)
        for check in result.checks.checks:
            checks.add(replace(check, name=f"{member.vg}/{member.lv}: {check.name}"))


def _engine_test(host: Host, archive_set: str, manifest: Manifest, checks: Preflight, password: dict[str, str]) -> None:
    engine = get_engine(manifest.engine.name)
    # a repository engine's snapshot is named by its id, and opened with the recorded password
    archive = manifest.repository.id if engine.repository else f"{archive_set.rstrip('/')}/{engine.archive_name}"
    options = engine_options(manifest, password) if engine.repository else None
    result = host.run(engine.verify_argv(archive, manifest.filesystem.type, options), check=False)
    tail = (result.stderr or result.stdout).strip()[-400:]
    checks.add(Check(f"{engine.name} reads the archive", result.returncode == 0,
                     "no error" if result.returncode == 0 else f"exit {result.returncode}: {tail}"))


def _digest_matches_manifest(host: Host, archive_set: str, manifest: Manifest, checks: Preflight) -> None:
    try:
        digest = ContentDigest.from_json(read_file(host, f"{archive_set.rstrip('/')}/{DIGEST}"))
    except LvmkitError as error:
        checks.fail("content digest readable", str(error))
        return
    recorded = manifest.digest.sha256
    checks.add(Check("content digest matches the manifest", digest.sha256 == recorded,
                     f"{digest.file_count} files" if digest.sha256 == recorded else
                     f"digest.json hashes to {digest.sha256}, the manifest recorded {recorded}"))


def _deep(host: Host, archive_set: str, manifest: Manifest, scratch_vg: str | None, checks: Preflight, log,
          run_id: str, password: dict[str, str]) -> None:
    vg = scratch_vg or manifest.origin.vg
    name = f"lvmkit-verify-{run_id}"  # the run's id: a replayed or approved run names it alike
    try:
        run = restore_archive(host, RestoreRequest(archive_set, to_new=f"{vg}/{name}", scratch=True,
                                                            password=password), log=log,
                              run_id=run_id)
        checks.add(Check("deep: restored content equals the archived digest", run.comparison.equal,
                         run.comparison.summary()))
    except LvmkitError as error:
        checks.fail("deep: restore into a scratch volume", str(error))
    finally:
        with acting(Step(f"remove the scratch volume {vg}/{name}", [["lvremove", "--yes", f"{vg}/{name}"]]),
                    log or default_log):
            remove_if_ours(host, vg, name, LVMKIT_TAG)
