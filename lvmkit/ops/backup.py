"""Back up a logical volume from an LVM snapshot: preflight, plan, execute.

The seed's script, done as a careful operator would: every check before anything changes,
a tagged snapshot, a read-only mount, a content digest, the archive written atomically
with checksums and a manifest, the snapshot checked still valid after the last byte was
read, and on failure everything undone in reverse (except what the operator keeps).
The checks are in `backup_preflight`, the records written into the set in `backup_seal`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from lvmkit.archive import signature
from lvmkit.archive.archive_set import (
    DIGEST,
    ArchiveSetPaths,
    publish_argvs,
    read_file,
    validate_set_name,
    write_file,
    write_file_argv,
)
from lvmkit.archive.digest import compute_digest, digest_commands
from lvmkit.archive.encryption import (
    encrypt_argv,
    encrypt_text_argv,
    encrypted_name,
    read_recipients,
    refuse_unstreamed,
)
from lvmkit.archive.engines import get_engine
from lvmkit.archive.engines.base import Engine
from lvmkit.archive.engines.repository import ParentChoice
from lvmkit.archive.manifest import (
    DigestSummary,
    Encryption,
    Manifest,
)
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import CommandCount, count_commands
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Conditional, Plan, Slot, Step, StepRecord, default_log, execute
from lvmkit.core.preflight import Preflight
from lvmkit.core.progress import Progress
from lvmkit.core.runs import RUN_MARKER, RUN_ROOT, make_run_dirs_argv, new_run_id, private
from lvmkit.core.sizes import parse_size
from lvmkit.lvm.filesystem import FilesystemInfo, snapshot_mount_options
from lvmkit.lvm.guard import GuardSettings, SnapshotGuard
from lvmkit.lvm.lock_steps import lock_steps
from lvmkit.lvm.names import parse_lv_spec
from lvmkit.lvm.reports import LogicalVolume
from lvmkit.lvm.snapshot import SnapshotSpec, remove_if_ours, run_tag
from lvmkit.lvm.watch import dm_name, read_argv, thin_pool_device
from lvmkit.ops.backup_preflight import check_destination as check_destination  # ops.group's import
from lvmkit.ops.backup_preflight import run_preflight
from lvmkit.ops.backup_seal import layout_argvs, record_layout, seal, seal_argvs

ENGINE_CHECK_S = 0.5  # how often the read step looks at the guard and the engine (no command)


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
    sign_key: str | None = None  # an OpenSSH key on the controller: SHA256SUMS is signed with it
    encrypt_to: str | None = None  # an age recipients file on the target (lvmkit.archive.encryption)

    def __post_init__(self):
        target_path(self.dest, "--dest")
        signature.key_file(self.sign_key)


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
    layout: dict = field(default_factory=dict)  # layout.json, asked in the preflight
    engine_version: str = ""
    device_number: tuple[int, int] | None = None  # the origin's (major, minor)
    bytes_read: int | None = None
    digest: DigestSummary | None = None  # once the snapshot's content digest is written
    manifest: Manifest | None = None  # once the archive set is sealed
    commands: CommandCount | None = None  # sent to the target by backup(), once it succeeded
    started: str = ""
    ended: str = ""
    encryption: Encryption | None = None  # with --encrypt-to: the recipients' public keys
    parent: ParentChoice | None = None  # restic's earlier snapshot of the origin, from the preflight

    @property
    def archive_name(self) -> str:
        return self.paths.archive_name

    @property
    def digest_name(self) -> str:
        return encrypted_name(DIGEST) if self.encryption else DIGEST

    @property
    def archive(self) -> str:
        return self.paths.in_partial(self.archive_name)

    @property
    def run_dir(self) -> str:
        return f"{RUN_ROOT}/{self.run_id}"

    @property
    def parent_id(self) -> str | None:
        return self.parent.id if self.parent else None

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
    if request.encrypt_to is not None:  # refused now: before any query of the target
        refuse_unstreamed(engine)
        target_path(request.encrypt_to, "--encrypt-to")
    if request.guard.autoextend:  # refused now, not half-way through the read
        parse_size(request.guard.autoextend_step, 1), parse_size(request.guard.autoextend_max, 1)
    name = validate_set_name(request.name or f"{vg}-{lv}-{run_id}")
    paths = ArchiveSetPaths(request.dest, name,
                            engine.archive_name if request.encrypt_to is None else encrypted_name(engine.archive_name))
    found = run_preflight(host, request, engine, vg, lv, paths, run_id, in_group=in_group)

    encryption = None
    if request.encrypt_to is not None:
        host.require_tools(["age"])
        encryption = Encryption(tool="age", version=host.run(["age", "--version"]).stdout.strip(),
                                recipients=tuple(read_recipients(host, request.encrypt_to)))
    return BackupRun(
        encryption=encryption,
        request=request, run_id=run_id, host=host.name, origin=found.origin, filesystem=found.filesystem,
        engine=engine, engine_options=engine_options, snapshot=found.snapshot, paths=paths,
        mountpoint=f"{RUN_ROOT}/{run_id}/{vg}-{lv}", expected_bytes=found.expected_bytes, preflight=found.checks,
        origin_mounts=found.origin_mounts, engine_version=found.engine_version, layout=found.layout,
        device_number=found.device_number, parent=found.parent,
        guard=SnapshotGuard(host, found.snapshot, found.origin,
                            replace(request.guard, keep_snapshot_on_failure=request.keep_snapshot_on_failure),
                            found.vg_free_extents, log),
    )


def plan(run: BackupRun, *, in_group: bool = False) -> Plan:
    """The run's steps; a group creates and watches its members' snapshots itself."""
    snapshot, engine, paths, mp = run.snapshot, run.engine, run.paths, run.mountpoint
    fstype = run.filesystem.type
    size = "thin" if snapshot.thin else f"{snapshot.extents} extents"
    mount = Step(
        f"mount the snapshot read-only at {mp}",
        [make_run_dirs_argv(run.run_dir, mp), ["mount", "-t", fstype, "-o", snapshot_mount_options(fstype), snapshot.device, mp]],
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
            conditional=run.guard.conditional_commands(),
        ),
    ]
    steps = [
        *([] if in_group else create + watch),
        mount,
        Step(
            f"create the archive set {paths.partial}",
            [["mkdir", "-m", "0700", "--", paths.partial]],
            undo_commands=[["rm", "-rf", "--", paths.partial]],
        ),
        Step(
            "mark the archive set with the run id (for `lvmkit cleanup` after a crash)",
            [write_file_argv(paths.in_partial(RUN_MARKER))],
            run=lambda host: write_file(host, paths.in_partial(RUN_MARKER), run.run_id + "\n"),
        ),
        Step(
            "content digest of the snapshot",
            [*digest_commands(mp), _digest_write_argv(run)],
            run=lambda host: _digest(host, run),
        ),
        Step(
            "record the layout the volume came from (for a rebuild on a blank disk)",
            layout_argvs(run),
            run=lambda host: record_layout(host, run),
        ),
    ]
    read = Step(
        f"read the snapshot with {engine.name} into {_written_to(run)}",
        [private(engine_argv(run))],
        run=lambda host: _read(host, run),
        conditional=[Conditional("the step fails or is interrupted while the engine runs",
                                 ["kill", "-TERM", "--", Slot("-the engine process group")])],
    )
    if engine.repository:  # a later failure (the snapshot overflowed) must not leave its snapshot there
        read.undo_commands = [engine.forget_argv(Slot("the new repository snapshot"), run.engine_options)]
        read.undo = lambda host: _forget_made(host, run)
    steps += [unmount, read] if unmounts_before_reading(engine) else [read, unmount]
    steps += [
        Step("check the snapshot was still valid after the last byte was read",
             [read_argv(snapshot_device(run))], run=lambda host: _final_check(host, run)),
        Step("checksums and manifest", seal_argvs(run), run=lambda host: seal(host, run)),
        Step(
            f"publish the archive set as {paths.final}, flushed to disk before and after the rename",
            publish_argvs(paths, RUN_MARKER),
            run=lambda host: _publish(host, run),
        ),
        Step(f"remove snapshot {snapshot.vg}/{snapshot.name}", [snapshot.remove_argv(), ["rmdir", mp, run.run_dir]],
             run=lambda host: (_remove_snapshot(host, run),
                               host.run(["rmdir", mp, run.run_dir], changes=True, check=False))),
    ]
    if not in_group:  # a group takes every member's lock itself, before its freeze
        take, give_back = lock_steps(snapshot.vg, snapshot.origin, run.run_id, "backup")
        steps = [take, *steps, give_back]
    return Plan(f"back up {run.request.origin} with {engine.name} to {paths.final}", steps,
                facts={"run_id": run.run_id, "preflight": run.preflight.as_list()})


def unmounts_before_reading(engine: Engine) -> bool:
    """A block engine reads the device unmounted; the others read while the mount is there."""
    return engine.reads == "device" and not engine.reads_through_existing_mount


def backup(host: Host, request: BackupRequest, *, log=None) -> BackupRun:
    """Prepare, plan and execute a backup; returns the run with its manifest."""
    log = log or default_log
    first = len(host.journal.entries)
    run = prepare(host, request, log=log)
    the_plan = plan(run)
    log(f"preflight on {host.name}:\n{run.preflight.render()}")
    execute_run(host, run, the_plan, log)
    # the guard's readings name the device, and the engine's pid while it runs
    run.commands = count_commands(host.journal.entries[first:], host.name, read_argv(snapshot_device(run))[:-1])
    return run


def execute_run(host: Host, run: BackupRun, the_plan: Plan, log=default_log) -> list[StepRecord]:
    """Execute the plan (its first step takes the origin's lock); on failure the completed
    steps are undone."""
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
    if run.encryption:  # age reads the digest on its stdin: no clear copy on the disk
        host.run(_digest_write_argv(run), input=digest.to_json(), changes=True)
    else:
        write_file(host, run.paths.in_partial(DIGEST), digest.to_json())
    run.digest = DigestSummary(file=run.digest_name, sha256=digest.sha256, algorithm=digest.algorithm,
                               files=digest.file_count, bytes=digest.total_bytes)
    if run.expected_bytes is None and run.engine.name != "dd":
        run.expected_bytes = digest.total_bytes


@_blaming_the_snapshot
def _read(host: Host, run: BackupRun) -> None:
    engine = run.engine
    if not run.engine_version:  # the preflight's batch asked it already
        run.engine_version = engine.parse_version(
            _combined(host.run(engine.version_argv(run.filesystem.type), check=False)))
    argv = engine_argv(run)
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


def _written_to(run: BackupRun) -> str:
    if run.engine.repository:
        parent = f"; {run.parent.said}" if run.parent else ""
        return f"the repository {run.engine_options['repository']} (its report: {run.archive}{parent})"
    return run.archive


def _forget_made(host: Host, run: BackupRun) -> None:
    """Forget the repository snapshot this run made, if it made one (its report tells)."""
    if host.run(["test", "-s", run.archive], check=False).returncode != 0:
        return  # the tool did not finish: a repository records a snapshot only at its end
    snapshot = run.engine.parse_report(read_file(host, run.archive))["id"]
    host.run(run.engine.forget_argv(snapshot, run.engine_options), changes=True, check=False)


def _publish(host: Host, run: BackupRun) -> None:
    paths = run.paths
    if host.run(["test", "-e", paths.final], check=False).returncode == 0:
        raise LvmkitError(f"{paths.final} appeared while the backup ran; the new archive set stays at {paths.partial}")
    for argv in publish_argvs(paths, RUN_MARKER):  # the snapshot is removed only after the last flush
        host.run(argv, changes=True)


def _remove_snapshot(host: Host, run: BackupRun) -> None:
    remove_if_ours(host, run.snapshot.vg, run.snapshot.name, run_tag(run.run_id))


def engine_argv(run: BackupRun) -> list[str]:
    """The engine writing the archive; with --encrypt-to, writing to age, which writes ARCHIVE.age."""
    engine, fstype = run.engine, run.filesystem.type
    if engine.repository:  # tagged with its origin, compared with its parent (engines.restic)
        return engine.backup_argv(run.source, run.archive, fstype, run.engine_options,
                                  origin=f"{run.origin.vg_name}/{run.origin.name}", parent=run.parent_id)
    if run.encryption is None:
        return engine.backup_argv(run.source, run.archive, fstype, run.engine_options)
    return encrypt_argv(run.request.encrypt_to, run.archive,
                        engine.backup_argv(run.source, engine.stream_out, fstype, run.engine_options))


def _digest_write_argv(run: BackupRun) -> list[str]:
    if run.encryption is None:
        return write_file_argv(run.paths.in_partial(DIGEST))
    return encrypt_text_argv(run.request.encrypt_to, run.paths.in_partial(run.digest_name))


def _combined(result) -> str:
    return (result.stdout or "") + (result.stderr or "")


def snapshot_device(run: BackupRun) -> str:
    """The device whose status tells the snapshot's usage: its own, or its thin pool's."""
    snapshot = run.snapshot
    return thin_pool_device(snapshot.vg, run.origin.pool_lv) if snapshot.thin else dm_name(snapshot.vg, snapshot.name)

