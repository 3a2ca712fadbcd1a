"""Restore an archive set onto a volume, and prove it by the content digest.

`--to VG/LV` overwrites an existing volume (unmounted, large enough, and named twice by
the operator); `--to-new VG/NAME` creates a fresh volume sized from the manifest, the
path of a disaster-recovery rehearsal.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lvmkit.archive import closure, signature
from lvmkit.archive.archive_set import SUMS, ArchiveError, read_file
from lvmkit.archive.digest import ContentDigest, compare, compute_digest, digest_commands, digest_tools
from lvmkit.archive.encryption import (
    IdentityError,
    check_identity,
    decrypt_argv,
    decrypt_text,
    decrypt_text_argv,
)
from lvmkit.archive.engines import get_engine
from lvmkit.archive.engines.base import Engine
from lvmkit.archive.engines.common import STREAM_IN
from lvmkit.archive.manifest import GroupManifest, Manifest, read_manifest
from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.ownership import OWNERSHIP_PROBE, judge_ownership
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Plan, Step, StepRecord, default_log, execute
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import RUN_ROOT, make_run_dirs_argv, new_run_id, root_check
from lvmkit.core.sizes import human
from lvmkit.lvm.filesystem import mkfs_argv, mount_sources, restore_mount_options
from lvmkit.lvm.lock_steps import lock_steps
from lvmkit.lvm.names import parse_lv_spec
from lvmkit.lvm.reports import get_lv, list_vgs
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours, run_tag
from lvmkit.ops.backup_preflight import check_repository

RESTORED_TAG = "lvmkit-restored"  # not "lvmkit": cleanup must never take a restored volume


@dataclass(frozen=True)
class RestoreRequest:
    archive: str  # the archive set's directory
    to: str | None = None  # an existing VG/LV, overwritten
    confirm: str | None = None  # must repeat `to`
    to_new: str | None = None  # VG/NAME of a volume to create
    scratch: bool = False  # a throwaway volume (deep verify): tagged for `lvmkit cleanup`
    trust: str | None = None  # allowed_signers on the controller: the set must be signed by one of them
    in_group: bool = False  # a group's member set: the group's signature covers it
    identity: str | None = None  # an age identity on the target, for a set made with --encrypt-to
    # A repository engine's password_file or password_command, instead of the manifest's.
    password: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        target_path(self.archive, "archive set")


@dataclass
class RestoreRun:
    request: RestoreRequest
    run_id: str
    manifest: Manifest
    engine: Engine
    vg: str
    lv: str
    create: bool
    extents: int | None
    mountpoint: str
    preflight: Preflight
    expected_digest: ContentDigest | None = None
    comparison: object = None
    # The filesystem to make before a file-level engine restores (default: mkfs_argv); a
    # rebuild passes mkfs with the recorded UUID, label, block and inode sizes.
    make_filesystem: list[str] | None = None
    duration_s: float = 0.0
    result: dict = field(default_factory=dict)

    @property
    def device(self) -> str:
        return f"/dev/{self.vg}/{self.lv}"

    @property
    def run_dir(self) -> str:
        return f"{RUN_ROOT}/{self.run_id}"

    @property
    def fstype(self) -> str:
        return self.manifest.filesystem.type

    @property
    def archive(self) -> str:
        """What the engine restores: the archive in the set, or the repository snapshot's id."""
        if self.engine.repository:
            return self.manifest.repository.id
        return f"{self.request.archive.rstrip('/')}/{self.manifest.engine.archive}"

    @property
    def engine_options(self) -> dict[str, str]:
        return engine_options(self.manifest, self.request.password)


def engine_options(manifest: Manifest, password: dict[str, str]) -> dict[str, str]:
    """The options the archive was made with; a password given now replaces the recorded one."""
    options = dict(manifest.engine.options)
    if password:
        options.update({"password_file": "", "password_command": "", **password})
    return options


def checksums_argv(archive_set: str) -> list[str]:
    # --strict: a malformed line is an error too; --quiet: print only what fails
    return ["env", f"--chdir={archive_set}", "sha256sum", "--check", "--strict", "--quiet", SUMS]


# The set's ownership chain (core/ownership.py's probe, $2), then each symlink among the
# set's own files: lvmkit reads and writes them as root and follows none.
_SET_PROBE = """sh -c "$2" sh "$1" || exit
find "$1" -mindepth 1 -maxdepth 1 -type l -printf 'contains-link %f\\n'
"""


def set_probe_argv(archive_set: str) -> list[str]:
    return ["sh", "-c", _SET_PROBE, "sh", archive_set, OWNERSHIP_PROBE]


def check_set_ownership(host: Host, archive_set: str, checks: Preflight) -> bool:
    """The set is root's alone, no link itself nor holding one; False when it is not."""
    lines = host.run(set_probe_argv(archive_set), check=False).stdout.splitlines()
    check = judge_ownership("\n".join(line for line in lines if not line.startswith("contains-link ")),
                            archive_set, "archive set", link_allowed=False)
    links = [line.split(" ", 1)[1] for line in lines if line.startswith("contains-link ")]
    if check.passed and links:
        check = Check(check.name, False, f"{archive_set} holds symlinks ({', '.join(links)}): lvmkit never follows "
                                         f"links in an archive set; the set was tampered with, use another copy")
    checks.add(check)
    return check.passed


def check_archive(host: Host, archive_set: str, checks: Preflight, trust: str | None = None,
                  in_group: bool = False) -> Manifest | GroupManifest | None:
    """Manifest readable and of a known schema, the set complete and closed, its signature
    (unless it is a group's member: the group's signature covers it), every checksum right;
    returns the manifest, or None when it is unreadable."""
    if not check_set_ownership(host, archive_set, checks):
        return None
    try:
        manifest = read_manifest(host, archive_set)
    except ArchiveError as error:
        checks.fail("manifest readable", str(error))
        return None
    checks.add(Check("manifest readable", True, f"schema {manifest.schema}, engine {manifest.engine.name}"))
    listing = closure.read_listing(host, archive_set)
    if not in_group:
        _check_signature(host, archive_set, listing, trust, checks)
    try:
        sums = closure.read_sums(host, archive_set)
    except ArchiveError as error:
        checks.fail("file list complete and closed", f"{SUMS}: {error}")
        return manifest
    found = closure.problems(manifest, sums, listing)
    checks.add(Check("file list complete and closed", not found,
                     f"{len(sums)} files, each in {SUMS} and the manifest" if not found else
                     f"the archive set was changed: {'; '.join(found[:5])}"
                     f"{f' (and {len(found) - 5} more)' if len(found) > 5 else ''}"))
    result = host.run(checksums_argv(archive_set), check=False)
    failures = (result.stdout + result.stderr).strip()
    checks.add(Check("checksums match", result.returncode == 0,
                     f"every file in {SUMS} matches" if result.returncode == 0 else
                     f"the archive set is damaged or incomplete: {failures[-400:]}; restore from another copy"))
    return manifest


def _check_signature(host: Host, archive_set: str, listing: dict[str, str], trust: str | None,
                     checks: Preflight) -> None:
    base = archive_set.rstrip("/")
    data = read_file(host, f"{base}/{SUMS}") if listing.get(SUMS) == "f" else ""
    sig = read_file(host, f"{base}/{closure.SIGNATURE}") if listing.get(closure.SIGNATURE) == "f" else None
    verdict = signature.check(host, data, sig, trust, signature.ARCHIVE_NAMESPACE, f"{base}/{SUMS}")
    checks.add(Check("signature", verdict.ok, verdict.detail))


def prepare(host: Host, request: RestoreRequest, run_id: str | None = None) -> RestoreRun:
    if bool(request.to) == bool(request.to_new):
        raise UsageError("say where to restore: either --to VG/LV (an existing volume) or --to-new VG/NAME")
    run_id = run_id or new_run_id()
    checks = Preflight()
    checks.add(root_check(host, "restoring a volume needs root"))
    manifest = check_archive(host, request.archive, checks, request.trust, request.in_group)
    checks.raise_if_failed()
    if isinstance(manifest, GroupManifest):
        members = ", ".join(f"{request.archive.rstrip('/')}/{m.archive_set}" for m in manifest.members)
        raise UsageError(f"{request.archive} is a consistency group's archive set: restore its members "
                         f"({members}) one by one, or all with `lvmkit restore-group`")
    engine = get_engine(manifest.engine.name)
    fstype = manifest.filesystem.type
    tools = engine.tools(fstype) + ["lvcreate", "mount", "umount", "findmnt", "sha256sum",
                                    *digest_tools(manifest.digest.algorithm)]
    if not engine.restore_makes_filesystem:
        tools.append(mkfs_argv(fstype, "x")[0])
    if manifest.encryption:
        tools.append("age")
    missing = host.missing_tools(tools)
    checks.add(Check("tools installed", not missing, "all found" if not missing else f"missing: {', '.join(missing)}"))
    if manifest.encryption and not missing:
        check_decryption(host, request.archive, manifest, request.identity, checks)
    if engine.repository and not missing:  # the repository there, and the password right, before anything changes
        options = engine_options(manifest, request.password)
        check_repository(engine, options, host.run(engine.probe_argv(options), check=False), checks)
    needed = manifest.filesystem.size_bytes

    if request.to:
        vg, lv = parse_lv_spec(request.to)
        create, extents = False, None
        _check_existing_target(host, checks, request, vg, lv, needed)
    else:
        vg, lv = parse_lv_spec(request.to_new)
        create = True
        extents = _check_new_target(host, checks, vg, lv, needed)
    checks.raise_if_failed()
    return RestoreRun(request, run_id, manifest, engine, vg, lv, create, extents,
                      f"{RUN_ROOT}/{run_id}/restore-{vg}-{lv}", checks)


def plan(run: RestoreRun) -> Plan:
    engine, mp, device, fstype = run.engine, run.mountpoint, run.device, run.fstype
    options = run.engine_options
    steps = []
    if run.create:
        kind = LVMKIT_TAG if run.request.scratch else RESTORED_TAG
        tags = ["--addtag", kind, "--addtag", run_tag(run.run_id)]
        steps.append(Step(
            f"create volume {run.vg}/{run.lv} ({run.extents} extents)",
            [["lvcreate", "--yes", "--extents", str(run.extents), "--name", run.lv, *tags, run.vg]],
            undo_commands=[["lvremove", "--yes", f"{run.vg}/{run.lv}"]],
            undo=lambda host: remove_if_ours(host, run.vg, run.lv, run_tag(run.run_id)),
            undo_armed_before=True,
        ))
    mount = Step(f"mount {device} at {mp}",
                 [make_run_dirs_argv(run.run_dir, mp), ["mount", "-t", fstype, "-o", restore_mount_options(fstype), device, mp]],
                 undo_commands=[["umount", mp], ["rmdir", mp, run.run_dir]], undo_armed_before=True)
    target = mp if not engine.restore_makes_filesystem else device
    if run.manifest.encryption:  # age decrypts into the engine's stdin: no clear copy on the disk
        restore_argv = decrypt_argv(run.request.identity, run.archive,
                                    engine.restore_argv(STREAM_IN, target, fstype, options))
    else:
        restore_argv = engine.restore_argv(run.archive, target, fstype, options)
    restore = Step(f"restore with {engine.name}", [restore_argv])
    if engine.restore_makes_filesystem:
        steps += [restore, mount]
    else:
        steps += [Step(f"make a {fstype} filesystem on {device}", [run.make_filesystem or mkfs_argv(fstype, device)]),
                  mount, restore]
    steps += [
        Step("content digest of the restored volume, compared with the archive's",
             [*digest_commands(mp, algorithm=run.manifest.digest.algorithm),
              read_digest_argv(run.request.archive, run.manifest, run.request.identity)],
             run=lambda host: _prove(host, run)),
        Step(f"unmount {mp}", [["umount", mp], ["rmdir", mp, run.run_dir]]),
    ]
    take, give_back = lock_steps(run.vg, run.lv, run.run_id, "verify" if run.request.scratch else "restore")
    # The preflight may be minutes old (a runbook, an approval): what it saw is asked again
    # now that no other lvmkit run can take the volume; only read-only queries.
    recheck = Step(f"check {run.vg}/{run.lv} again under the lock", [], run=lambda host: recheck_target(host, run))
    return Plan(f"restore {run.request.archive} onto {run.vg}/{run.lv}", [take, recheck, *steps, give_back],
                facts={"run_id": run.run_id})


def recheck_target(host: Host, run: RestoreRun) -> None:
    """Refuse when the target changed since the preflight: mounted or opened (an existing
    one), or created by someone else (a new one)."""
    target = f"{run.vg}/{run.lv}"
    volume = get_lv(host, run.vg, run.lv)
    if run.create:
        if volume is not None:
            raise LvmkitError(f"{target} was created after the preflight, by someone else: nothing was restored; "
                              f"choose another name with --to-new")
        return
    if volume is None:
        raise LvmkitError(f"{target} was removed after the preflight: nothing was restored")
    mounted = mount_sources(host, f"/dev/{run.vg}/{run.lv}")
    if mounted or volume.attr.is_open:
        raise LvmkitError(f"{target} came into use after the preflight (mounted at "
                          f"{', '.join(mounted) or 'an unknown place'}): restoring would overwrite a filesystem in "
                          f"use; nothing was restored; unmount it and run the restore again")


def restore(host: Host, request: RestoreRequest, *, log=None, run_id: str | None = None) -> RestoreRun:
    log = log or default_log
    run = prepare(host, request, run_id)
    the_plan = plan(run)
    log(f"preflight on {host.name}:\n{run.preflight.render()}")
    execute_run(host, run, the_plan, log)
    return run


def execute_run(host: Host, run: RestoreRun, the_plan: Plan, log=default_log) -> list[StepRecord]:
    """Execute the plan (its first step takes the target's lock); its duration is the recovery time."""
    began = time.monotonic()
    records = execute(the_plan, host, log=log)
    run.duration_s = round(time.monotonic() - began, 3)
    run.result = {
        "archive": run.request.archive, "target": f"{run.vg}/{run.lv}", "created": run.create,
        "engine": run.engine.name, "verified": run.comparison.equal,
        "comparison": run.comparison.summary(), "duration_s": run.duration_s,
        "finished": utc_now().isoformat(),
    }
    return records


def _prove(host: Host, run: RestoreRun) -> None:
    expected = read_digest(host, run.request.archive, run.manifest, run.request.identity)
    actual = compute_digest(host, run.mountpoint, algorithm=expected.algorithm)  # the archive's, old or new
    run.expected_digest = expected
    run.comparison = compare(expected, actual)


def _check_existing_target(host, checks, request, vg, lv, needed) -> None:
    target = f"{vg}/{lv}"
    checks.add(Check("confirmation repeats the target", request.confirm == target,
                     f"--confirm {target}" if request.confirm == target else
                     f"restoring overwrites {target}: repeat its name with --confirm {target} "
                     f"(got {request.confirm!r})"))
    volume = get_lv(host, vg, lv)
    if volume is None:
        checks.fail("target exists", f"no volume {target}; to create one, use --to-new {target}")
        return
    mounted = mount_sources(host, f"/dev/{vg}/{lv}")
    checks.add(Check("target not mounted", not mounted and not volume.attr.is_open,
                     "unmounted" if not mounted and not volume.attr.is_open else
                     f"{target} is in use (mounted at {', '.join(mounted) or 'an unknown place'}): unmount it first"))
    checks.add(Check("target large enough", volume.size >= needed,
                     f"{human(volume.size)} for {human(needed)}" if volume.size >= needed else
                     f"{target} has {human(volume.size)}, the archived filesystem needs {human(needed)}: "
                     f"lvextend it or use --to-new"))
    checks.add(Check("target is a plain volume", not volume.attr.is_snapshot and not volume.attr.is_thin_pool,
                     volume.attr.volume_type))


def _check_new_target(host, checks, vg, lv, needed) -> int | None:
    groups = list_vgs(host, vg)
    (group,) = groups
    exists = get_lv(host, vg, lv) is not None
    checks.add(Check("new volume name free", not exists,
                     f"{vg}/{lv}" if not exists else f"{vg}/{lv} exists: choose another name, or --to to overwrite it"))
    extents = -(-needed // group.extent_size)
    ok = extents <= group.free_count
    checks.add(Check("room for the new volume", ok,
                     f"{human(extents * group.extent_size)} of {human(group.free)} free in {vg}" if ok else
                     f"the volume needs {human(needed)} but {vg} has {human(group.free)} free"))
    return extents


def read_digest_argv(archive_set: str, manifest: Manifest, identity: str | None) -> list[str]:
    path = f"{archive_set.rstrip('/')}/{manifest.digest.file}"
    return decrypt_text_argv(identity, path) if manifest.encryption else ["cat", "--", path]


def read_digest(host: Host, archive_set: str, manifest: Manifest, identity: str | None) -> ContentDigest:
    """The archived content digest, checked against the manifest; an encrypted one decrypted
    with the identity (never to disk)."""
    path = f"{archive_set.rstrip('/')}/{manifest.digest.file}"
    if manifest.encryption:
        text = decrypt_text(host, identity, path, list(manifest.encryption.recipients))
    else:
        text = read_file(host, path, bulky=True)
    digest = ContentDigest.from_json(text)
    if digest.sha256 != manifest.digest.sha256:  # checked in the preflight; it may have changed since
        raise ArchiveError(f"{path} changed since the preflight: its digest hashes to {digest.sha256}, the "
                           f"manifest recorded {manifest.digest.sha256}; the restore is not proved")
    return digest


def check_decryption(host: Host, archive_set: str, manifest: Manifest, identity: str | None,
                     checks: Preflight) -> None:
    """The identity is given, readable, and decrypts the set's digest (so it decrypts the set)."""
    try:
        check_identity(host, identity, archive_set)
        read_digest(host, archive_set, manifest, identity)
    except IdentityError as error:
        checks.fail("identity decrypts the set", str(error))
        return
    checks.add(Check("identity decrypts the set", True, f"{identity} decrypts {manifest.digest.file}"))
