"""Back up a logical volume from an LVM snapshot: preflight, plan, execute.

The seed's script, done as a careful operator would: every check before anything changes,
a tagged snapshot, a read-only mount, a content digest, the archive written atomically
with checksums and a manifest, the snapshot checked still valid after the last byte was
read, and on failure everything undone in reverse (except what the operator keeps).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lvmkit import __version__
from lvmkit.archive.archive_set import (
    DIGEST,
    MANIFEST,
    SUMS,
    ArchiveSetPaths,
    checksum_argv,
    parse_sums,
    validate_set_name,
    write_file,
    write_file_argv,
)
from lvmkit.archive.digest import compute_digest, digest_commands
from lvmkit.archive.engines import get_engine
from lvmkit.archive.engines.base import Engine
from lvmkit.archive.manifest import (
    ARCHIVE_SET_KIND,
    MANIFEST_SCHEMA,
    DigestSummary,
    EngineRecord,
    Extension,
    Filesystem,
    Manifest,
    Origin,
    Snapshot,
)
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import DEBIAN_PACKAGE, Host, utc_now
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Plan, Step, StepRecord, default_log, execute
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.progress import Progress
from lvmkit.core.runs import RUN_MARKER, RUN_ROOT, new_run_id, private, root_check
from lvmkit.core.scripts import packaged_script
from lvmkit.core.sizes import human, parse_size
from lvmkit.lvm.filesystem import FilesystemInfo, mount_sources, probe, snapshot_mount_options, usage
from lvmkit.lvm.guard import GuardSettings, SnapshotGuard
from lvmkit.lvm.lock import held, lock_path, read_lock
from lvmkit.lvm.reports import LogicalVolume, get_lv, list_lvs, list_vgs, parse_lv_spec
from lvmkit.lvm.snapshot import LVMKIT_TAG, SnapshotSpec, remove_if_ours, run_tag
from lvmkit.lvm.watch import dm_name, read_argv, thin_pool_device

DEFAULT_SNAPSHOT_SIZE = "20%ORIGIN"
ENGINE_CHECK_S = 0.5  # how often the read step looks at the guard and the engine (no command)
# Tools every backup needs besides the engine's own.
BASE_TOOLS = ["lvcreate", "lvremove", "lvs", "dmsetup", "blkid", "mount", "umount", "findmnt",
              "df", "find", "sha256sum", "install", "mv", "xargs", "bash"]


@dataclass(frozen=True)
class BackupRequest:
    origin: str  # "VG/LV"
    dest: str
    engine: str = "fsarchiver"
    snapshot_size: str | None = None  # thick snapshots only; default DEFAULT_SNAPSHOT_SIZE
    name: str | None = None
    engine_options: dict[str, str] = field(default_factory=dict)
    keep_snapshot_on_failure: bool = False
    guard: GuardSettings = GuardSettings()  # watching the snapshot: thresholds, autoextend

    def __post_init__(self):
        target_path(self.dest, "--dest")


@dataclass
class BackupRun:
    """Everything computed before anything changes, and what execution learns on the way."""

    request: BackupRequest
    run_id: str
    host: str
    origin: LogicalVolume
    filesystem: FilesystemInfo
    engine: Engine
    engine_options: dict[str, str]
    snapshot: SnapshotSpec
    paths: ArchiveSetPaths
    mountpoint: str
    expected_bytes: int | None  # what the engine will read, for progress
    preflight: Preflight
    guard: SnapshotGuard
    origin_mounts: list[str] = field(default_factory=list)
    engine_version: str = ""
    bytes_read: int | None = None
    digest: DigestSummary | None = None  # once the snapshot's content digest is written
    manifest: Manifest | None = None  # once the archive set is sealed
    started: str = ""
    ended: str = ""

    @property
    def archive(self) -> str:
        return self.paths.in_partial(self.engine.archive_name)

    @property
    def run_dir(self) -> str:
        return f"{RUN_ROOT}/{self.run_id}"

    @property
    def source(self) -> str:
        return self.mountpoint if self.engine.reads == "mount" else self.snapshot.device


def prepare(host: Host, request: BackupRequest, run_id: str | None = None, log=default_log, *,
            in_group: bool = False) -> BackupRun:
    """Run the preflight checks (read-only) and compute the run; raise if any check fails.

    A member of a consistency group (`in_group`) writes into the group's archive set, which
    does not exist yet: the group checks the destination once for all members.
    """
    run_id = run_id or new_run_id()
    vg, lv = parse_lv_spec(request.origin)
    engine = get_engine(request.engine)
    engine_options = engine.resolve_options(request.engine_options)
    if request.guard.autoextend:  # refused now, not half-way through the read
        parse_size(request.guard.autoextend_step, 1), parse_size(request.guard.autoextend_max, 1)
    name = validate_set_name(request.name or f"{vg}-{lv}-{run_id}")
    checks = Preflight()

    checks.add(root_check(host, "LVM snapshots need root"))
    origin = get_lv(host, vg, lv)
    if origin is None:
        checks.fail("origin exists", f"no logical volume {vg}/{lv}; `lvmkit status` lists the volumes")
        checks.raise_if_failed()
    checks.add(Check("origin exists and is active", origin.attr.is_active,
                     f"{vg}/{lv} exists" if origin.attr.is_active else f"{vg}/{lv} is not active: lvchange -ay {vg}/{lv}"))
    if origin.attr.is_snapshot or origin.attr.is_thin_pool or origin.hidden:
        checks.fail("origin is a volume", f"{vg}/{lv} is a {origin.attr.volume_type}, not a volume to back up")
        checks.raise_if_failed()
    holder = read_lock(host, lock_path(vg, lv))
    checks.add(Check("no other run of the origin", holder is None, "none" if holder is None else holder.describe()))
    filesystem = probe(host, f"/dev/{vg}/{lv}")
    fstype = filesystem.type if filesystem else None
    supported = fstype in engine.filesystems
    checks.add(Check("filesystem supported", supported,
                     f"{fstype} on {vg}/{lv}" if supported else
                     f"{vg}/{lv} holds {fstype or 'no filesystem'}; "
                     f"engine {engine.name} handles {', '.join(engine.filesystems)}"))
    checks.raise_if_failed()

    tools = BASE_TOOLS + engine.tools(fstype)
    missing = host.missing_tools(tools)
    checks.add(Check("tools installed", not missing,
                     f"{len(tools)} tools found" if not missing else _missing_message(missing)))

    snapshot, room_check, vg_free_extents = _snapshot_spec(host, request, origin, run_id)
    checks.add(room_check)
    volumes = list_lvs(host, vg)  # one report for both checks below (~0.25 s each in the lab)
    existing = next((v for v in volumes if v.name == snapshot.name), None)
    checks.add(Check("snapshot name free", existing is None,
                     f"{vg}/{snapshot.name}" if existing is None else f"{vg}/{snapshot.name} exists already"))
    # A snapshot of a run that still holds the origin's lock is that run's, not stale.
    running = run_tag(holder.run_id) if holder is not None and holder.alive is not False else None
    stale = [v for v in volumes if LVMKIT_TAG in v.tags and v.origin == lv and running not in v.tags]
    checks.add(Check("no stale lvmkit snapshot of the origin", not stale,
                     "none" if not stale else
                     f"{', '.join(v.full_name for v in stale)} left by an earlier run; "
                     f"remove with `lvmkit cleanup` (it removes only volumes tagged {LVMKIT_TAG!r})"))

    paths = ArchiveSetPaths(request.dest, name, engine.archive_name)
    origin_mounts = mount_sources(host, f"/dev/{vg}/{lv}")
    expected = usage(host, origin_mounts[0])[0] if origin_mounts else None
    if engine.name == "dd":  # every block, used or not
        expected = origin.size
    if not in_group:
        check_destination(host, checks, paths, engine, expected)
    checks.raise_if_failed()

    return BackupRun(
        request=request, run_id=run_id, host=host.name, origin=origin, filesystem=filesystem,
        engine=engine, engine_options=engine_options, snapshot=snapshot, paths=paths,
        mountpoint=f"{RUN_ROOT}/{run_id}/{vg}-{lv}", expected_bytes=expected, preflight=checks,
        origin_mounts=origin_mounts,
        guard=SnapshotGuard(host, snapshot, origin,
                            replace(request.guard, keep_snapshot_on_failure=request.keep_snapshot_on_failure),
                            vg_free_extents, log),
    )


def plan(run: BackupRun, *, in_group: bool = False) -> Plan:
    """The run's steps; a group creates and watches its members' snapshots itself."""
    snapshot, engine, paths, mp = run.snapshot, run.engine, run.paths, run.mountpoint
    fstype = run.filesystem.type
    size = "thin" if snapshot.thin else f"{snapshot.extents} extents"
    mount = Step(
        f"mount the snapshot read-only at {mp}",
        [["mkdir", "-p", mp], ["mount", "-t", fstype, "-o", snapshot_mount_options(fstype), snapshot.device, mp]],
        undo_commands=[["umount", mp], ["rmdir", mp, run.run_dir]],
        undo_armed_before=True,
    )
    unmount = Step("unmount the snapshot", [["umount", mp]])
    create = [
        Step(
            f"create snapshot {snapshot.vg}/{snapshot.name} ({size}) of {snapshot.vg}/{snapshot.origin}",
            [snapshot.create_argv()],
            undo_commands=[snapshot.remove_argv()],
            undo=lambda host: _remove_snapshot(host, run),
            # lvcreate can fail half-way and leave the volume behind (docs/lab.md): arm first.
            undo_armed_before=True,
            keep_on_failure=run.request.keep_snapshot_on_failure,
        ),
    ]
    watch = [
        Step(
            f"watch the snapshot's usage every {run.request.guard.poll_interval_s:g} s until the last byte is read",
            [read_argv(snapshot_device(run))],
            run=lambda host: run.guard.start(),
            undo=lambda host: run.guard.stop(),
        ),
    ]
    steps = [
        *([] if in_group else create + watch),
        mount,
        Step(
            f"create the archive set {paths.partial}",
            [["mkdir", "-m", "0700", paths.partial]],
            undo_commands=[["rm", "-rf", "--", paths.partial]],
        ),
        Step(
            "mark the archive set with the run id (for `lvmkit cleanup` after a crash)",
            [write_file_argv(paths.in_partial(RUN_MARKER))],
            run=lambda host: write_file(host, paths.in_partial(RUN_MARKER), run.run_id + "\n"),
        ),
        Step(
            "content digest of the snapshot",
            [*digest_commands(mp), write_file_argv(paths.in_partial(DIGEST))],
            run=lambda host: _digest(host, run),
        ),
    ]
    read = Step(
        f"read the snapshot with {engine.name} into {run.archive}",
        [engine.backup_argv(run.source, run.archive, fstype, run.engine_options)],
        run=lambda host: _read(host, run),
    )
    steps += [unmount, read] if unmounts_before_reading(engine) else [read, unmount]
    steps += [
        Step("check the snapshot was still valid after the last byte was read",
             [read_argv(snapshot_device(run))], run=lambda host: _final_check(host, run)),
        Step(
            "checksums and manifest",
            [checksum_argv(paths.partial, [engine.archive_name, DIGEST], tree=engine.archive_name == "tree"),
             write_file_argv(paths.in_partial(MANIFEST)), write_file_argv(paths.in_partial(SUMS))],
            run=lambda host: _seal(host, run),
        ),
        Step(
            f"publish the archive set as {paths.final}",
            # -T: the name is the target itself, never a directory to move into
            [["rm", "-f", "--", paths.in_partial(RUN_MARKER)], ["mv", "-T", "--no-clobber", paths.partial, paths.final]],
            run=lambda host: _publish(host, run),
        ),
        Step(f"remove snapshot {snapshot.vg}/{snapshot.name}", [snapshot.remove_argv(), ["rmdir", mp, run.run_dir]],
             run=lambda host: (_remove_snapshot(host, run),
                               host.run(["rmdir", mp, run.run_dir], changes=True, check=False))),
    ]
    return Plan(f"back up {run.request.origin} with {engine.name} to {paths.final}", steps,
                facts={"run_id": run.run_id, "preflight": run.preflight.as_list()})


def unmounts_before_reading(engine: Engine) -> bool:
    """A block engine reads the device unmounted; the others read while the mount is there."""
    return engine.reads == "device" and not engine.reads_through_existing_mount


def backup(host: Host, request: BackupRequest, *, log=None) -> BackupRun:
    """Prepare, plan and execute a backup; returns the run with its manifest."""
    log = log or default_log
    run = prepare(host, request, log=log)
    the_plan = plan(run)
    log(f"preflight on {host.name}:\n{run.preflight.render()}")
    execute_run(host, run, the_plan, log)
    return run


def execute_run(host: Host, run: BackupRun, the_plan: Plan, log=default_log) -> list[StepRecord]:
    """Execute the plan under the origin's lock; on failure the completed steps are undone."""
    with held(host, run.origin.vg_name, run.origin.name, run.run_id, "backup"):
        run.started = utc_now().isoformat()
        return execute(the_plan, host, log=log)


# --- the steps' work ---------------------------------------------------------------------


def _blaming_the_snapshot(step):
    """When a step that reads the snapshot fails, say so if the real cause is an overflow.

    An overflowed snapshot fails its readers with I/O errors; the operator needs to hear
    "the snapshot overflowed", not "find: read error".
    """
    def checked(host: Host, run: BackupRun, *args) -> None:
        try:
            step(host, run, *args)
        except LvmkitError as error:
            run.guard.check_now()
            run.guard.raise_problem(cause=error)
            raise
    return checked


@_blaming_the_snapshot
def _digest(host: Host, run: BackupRun) -> None:
    digest = compute_digest(host, run.mountpoint)
    write_file(host, run.paths.in_partial(DIGEST), digest.to_json())
    run.digest = DigestSummary(file=DIGEST, sha256=digest.sha256, files=digest.file_count, bytes=digest.total_bytes)
    if run.expected_bytes is None and run.engine.name != "dd":
        run.expected_bytes = digest.total_bytes


@_blaming_the_snapshot
def _read(host: Host, run: BackupRun) -> None:
    engine = run.engine
    run.engine_version = engine.parse_version(
        _combined(host.run(engine.version_argv(run.filesystem.type), check=False)))
    argv = engine.backup_argv(run.source, run.archive, run.filesystem.type, run.engine_options)
    progress = Progress(f"{engine.name}", run.expected_bytes)
    guard = run.guard
    guard.raise_problem()
    running = host.start(private(argv))
    guard.engine_pid = running.remote_pid()
    try:
        while running.poll(timeout=ENGINE_CHECK_S) is None:
            guard.raise_problem()
            progress.update(guard.bytes_read, f"snapshot {guard.percent or 0:.1f}% used")
    except BaseException:
        if running.poll() is None:
            running.terminate()
        raise
    finally:
        guard.engine_pid = None
    running.wait()
    run.bytes_read = guard.bytes_read
    progress.finish(run.bytes_read)


def _final_check(host: Host, run: BackupRun) -> None:
    """After the last byte was read, one more reading, taken now, decides."""
    run.guard.stop()
    run.guard.check_now()
    run.guard.raise_problem()


def _seal(host: Host, run: BackupRun) -> None:
    paths, engine = run.paths, run.engine
    sums_text = host.run(checksum_argv(paths.partial, [engine.archive_name, DIGEST],
                                       tree=engine.archive_name == "tree")).stdout
    sums = parse_sums(sums_text)
    archive_bytes = int(host.run(["du", "-sb", "--", run.archive]).stdout.split()[0])
    run.ended = utc_now().isoformat()
    run.manifest = _manifest(run, sums, archive_bytes)
    write_file(host, paths.in_partial(MANIFEST), run.manifest.to_json())
    manifest_sum = host.run(checksum_argv(paths.partial, [MANIFEST])).stdout
    write_file(host, paths.in_partial(SUMS), sums_text + manifest_sum)


def _publish(host: Host, run: BackupRun) -> None:
    paths = run.paths
    if host.run(["test", "-e", paths.final], check=False).returncode == 0:
        raise LvmkitError(f"{paths.final} appeared while the backup ran; the new archive set stays at {paths.partial}")
    host.run(["rm", "-f", "--", paths.in_partial(RUN_MARKER)], changes=True)
    host.run(["mv", "-T", "--no-clobber", paths.partial, paths.final], changes=True)


def _remove_snapshot(host: Host, run: BackupRun) -> None:
    remove_if_ours(host, run.snapshot.vg, run.snapshot.name, run_tag(run.run_id))


def _manifest(run: BackupRun, sums: dict[str, str], archive_bytes: int) -> Manifest:
    engine, snapshot, origin, guard = run.engine, run.snapshot, run.origin, run.guard
    return Manifest(
        schema=MANIFEST_SCHEMA,
        kind=ARCHIVE_SET_KIND,
        name=run.paths.name,
        lvmkit_version=__version__,
        host=run.host,
        run_id=run.run_id,
        origin=Origin(vg=origin.vg_name, lv=origin.name, size_bytes=origin.size, uuid=origin.uuid,
                      thin=origin.attr.is_thin, pool=origin.pool_lv),
        filesystem=Filesystem(type=run.filesystem.type, uuid=run.filesystem.uuid, label=run.filesystem.label,
                              size_bytes=origin.size),
        snapshot=Snapshot(name=snapshot.name, thin=snapshot.thin, size_bytes=snapshot.size_bytes,
                          final_size_bytes=guard.snapshot_bytes,
                          extensions=tuple(Extension(**grown) for grown in guard.extensions),
                          peak_percent=guard.peak_percent, final_percent=guard.percent, tags=tuple(snapshot.tags)),
        engine=EngineRecord(name=engine.name, level=engine.level, version=run.engine_version,
                            options=dict(run.engine_options), archive=engine.archive_name),
        started=run.started,
        ended=run.ended,
        bytes_read=run.bytes_read,
        bytes_written=archive_bytes,
        digest=run.digest,
        checksums=dict(sums),
        archive_sha256=sums.get(engine.archive_name),
    )


# --- preflight pieces --------------------------------------------------------------------


def _snapshot_spec(host: Host, request: BackupRequest, origin: LogicalVolume, run_id: str):
    vg = origin.vg_name
    name = f"{origin.name}-lvmkit-{run_id.split('-')[-1]}"[:127]
    if origin.attr.is_thin:
        if request.snapshot_size:
            raise LvmkitError(
                f"{vg}/{origin.name} is a thin volume: its snapshot takes room from pool "
                f"{origin.pool_lv} as needed; leave --snapshot-size out")
        pool = get_lv(host, vg, origin.pool_lv)
        percent = pool.data_percent or 0.0
        ok = percent < 90.0
        detail = (f"thin pool {vg}/{pool.name} {percent:.1f}% full" if ok else
                  f"thin pool {vg}/{pool.name} is {percent:.1f}% full: a snapshot could fill it and stop "
                  f"{vg}/{origin.name}; extend the pool (lvextend) first")
        return SnapshotSpec(vg, origin.name, name, run_id, None), Check("room for the snapshot", ok, detail), 0
    (group,) = list_vgs(host, vg)
    wanted = parse_size(request.snapshot_size or DEFAULT_SNAPSHOT_SIZE, origin.size)
    if request.snapshot_size is None:  # the default never asks for less than LVM can make
        wanted = max(wanted, group.extent_size)
    extents = -(-wanted // group.extent_size)
    spec = SnapshotSpec(vg, origin.name, name, run_id, extents, group.extent_size)
    free_after = group.free_count - extents
    if wanted < group.extent_size:
        return spec, Check("room for the snapshot", False,
                           f"{human(wanted)} is below the smallest snapshot LVM makes in {vg} "
                           f"(one extent, {human(group.extent_size)}): ask for at least that"), free_after
    ok = extents <= group.free_count
    detail = (f"{human(extents * group.extent_size)} of {human(group.free)} free in {vg}" if ok else
              f"the snapshot needs {human(extents * group.extent_size)} ({extents} extents) but {vg} has "
              f"{human(group.free)} ({group.free_count} extents) free: give a smaller --snapshot-size or free space")
    return spec, Check("room for the snapshot", ok, detail), free_after


_PROBE_DESTINATION = packaged_script(__package__, "backup_probe_destination.sh")  # one round trip, not seven


def check_destination(host: Host, checks: Preflight, paths: ArchiveSetPaths, engine: Engine,
                       expected: int | None) -> None:
    dest = paths.dest
    output = host.run(["sh", "-c", _PROBE_DESTINATION, "sh", dest, paths.final, paths.partial]).stdout
    probe = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    if probe["dir"] != "1":
        checks.fail("destination exists", f"{dest} is not a directory on {host.name}: create it first")
        return
    ok = probe["writable"] == "1" and "ro" not in probe["options"].strip().split(",")
    checks.add(Check("destination writable", ok, dest if ok else f"{dest} is read-only: choose a writable --dest"))
    taken = [path for path, key in ((paths.final, "final"), (paths.partial, "partial")) if probe[key] == "1"]
    checks.add(Check("archive name free", not taken,
                     paths.final if not taken else
                     f"{taken[0]} exists already; lvmkit never overwrites an archive: give another --name"))
    free = int(probe["avail"].strip() or 0)
    if expected is None:
        checks.add(Check("room at the destination", free > 0, f"{human(free)} free; the origin is not mounted, "
                         "so its used size is unknown until the snapshot is read"))
        return
    # A plausible archive: the data read, halved where the engine compresses it.
    plausible = expected // 2 if engine.compresses else expected
    ok = free >= plausible
    checks.add(Check("room at the destination", ok,
                     f"{human(free)} free for an archive of about {human(plausible)}" if ok else
                     f"{paths.dest} has {human(free)} free, an archive of about {human(plausible)} is likely: "
                     f"free space or choose another --dest"))


def _missing_message(missing: list[str]) -> str:
    packages = sorted({DEBIAN_PACKAGE.get(tool, tool) for tool in missing})
    return f"missing: {', '.join(missing)}; install with: apt-get install {' '.join(packages)}"


def _combined(result) -> str:
    return (result.stdout or "") + (result.stderr or "")


def snapshot_device(run: BackupRun) -> str:
    """The device whose status tells the snapshot's usage: its own, or its thin pool's."""
    snapshot = run.snapshot
    return thin_pool_device(snapshot.vg, run.origin.pool_lv) if snapshot.thin else dm_name(snapshot.vg, snapshot.name)

