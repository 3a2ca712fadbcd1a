"""Consistency groups: snapshots of several volumes that all show one instant.

The seed's example, on two volumes: uploads on one, the database that refers to them on
the other. Snapshots taken one after the other can restore rows whose files are missing.

The mechanism (measured on Debian 12, kernel 6.1, LVM 2.03.16; see docs/lab.md): suspend
every mounted member's device first (`dmsetup suspend` also freezes its filesystem), then
`lvcreate -s` each member in turn; each lvcreate resumes its own origin. Every snapshot
shows the instant at which the last member was suspended. `fsfreeze` followed by lvcreate
does NOT work on that kernel: lvcreate's own suspend fails against the frozen filesystem
and leaves a stray volume.

Writers to a suspended volume block, so the window must be short and must end on every
path: the freeze runs as one command on the target (no round trips inside the window), it
resumes every member on exit whatever happened, and a watchdog outside lvmkit (started
detached, in a session of its own) resumes them after --freeze-timeout even if lvmkit and
its freeze command are killed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lvmkit import __version__
from lvmkit.archive import signature
from lvmkit.archive.archive_set import (
    MANIFEST,
    SUMS,
    ArchiveSetPaths,
    publish_argvs,
    validate_set_name,
    write_file,
    write_file_argv,
)
from lvmkit.archive.closure import SIGNATURE
from lvmkit.archive.engines import get_engine
from lvmkit.archive.manifest import (
    GROUP_KIND,
    MANIFEST_SCHEMA,
    FreezeWindow,
    GroupEngine,
    GroupManifest,
    GroupMember,
    HookRecord,
    read_manifest,
)
from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import BULKY
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Plan, Step, StepRecord, default_log, execute
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import RUN_MARKER, RUN_ROOT, make_run_dirs_argv, new_run_id
from lvmkit.core.scripts import packaged_script
from lvmkit.core.sizes import human
from lvmkit.lvm.guard import GuardSettings
from lvmkit.lvm.lock_steps import lock_steps
from lvmkit.lvm.metadata_dirs import check_metadata_dirs, metadata_dirs_argv
from lvmkit.lvm.names import parse_lv_spec
from lvmkit.lvm.reports import list_vgs
from lvmkit.lvm.snapshot import remove_if_ours, run_tag
from lvmkit.lvm.watch import dm_name, read_argv
from lvmkit.ops.backup import BackupRequest, BackupRun, check_destination, snapshot_device
from lvmkit.ops.backup import plan as member_plan
from lvmkit.ops.backup import prepare as prepare_member
from lvmkit.ops.backup_seal import sign_sums, signing_argvs
from lvmkit.ops.hooks import Hook
from lvmkit.ops.restore import RestoreRequest, check_archive
from lvmkit.ops.restore import restore as restore_member

# Versions on which suspend-then-snapshot was measured to work; others are refused.
TESTED_LVM = (2, 3, 11)
TESTED_KERNEL = (5, 10)

_FREEZE = packaged_script(__package__, "group_freeze.sh")  # what it does and takes: see its header

_WATCHDOG = packaged_script(__package__, "group_watchdog.sh")

# Stops the watchdog's whole session (bash and its sleep) if it still runs.
_STOP_WATCHDOG = r"""
if [ -f "$1" ]; then kill -TERM -- "-$(cat "$1")" 2>/dev/null; rm -f "$1"; fi
exit 0
"""

# Every file of the group's set, member sets included, as `sha256sum -c` reads them.
_GROUP_SUMS = r"""
set -o pipefail
cd "$1" && find . -mindepth 2 -type f ! -name .lvmkit-run -printf '%P\0' | sort -z | xargs -0 -r sha256sum --
"""


class GroupError(LvmkitError):
    pass


@dataclass(frozen=True)
class GroupRequest:
    members: tuple[str, ...]  # VG/LV, each once
    dest: str
    engine: str = "fsarchiver"
    name: str | None = None
    snapshot_size: str | None = None
    engine_options: dict[str, str] = field(default_factory=dict)
    guard: GuardSettings = GuardSettings()
    pre_snapshot: Hook | None = None
    post_snapshot: Hook | None = None
    freeze_timeout_s: float = 30.0  # the watchdog resumes every member after this long
    hold_window_s: float = 0.0  # drills and tests: stay frozen this long inside the window
    sign_key: str | None = None  # the group's SHA256SUMS (every member file) is signed; members are not

    def __post_init__(self):
        target_path(self.dest, "--dest")
        signature.key_file(self.sign_key)


@dataclass
class GroupRun:
    request: GroupRequest
    run_id: str
    members: list[BackupRun]
    paths: ArchiveSetPaths
    preflight: Preflight
    window: dict = field(default_factory=dict)
    hooks: list[dict] = field(default_factory=list)
    manifest: GroupManifest | None = None  # once the group's set is sealed
    post_hook_ran: bool = False

    @property
    def run_dir(self) -> str:
        return f"{RUN_ROOT}/{self.run_id}"

    @property
    def frozen_devices(self) -> list[str]:
        """The mounted members' origins: those that can be written to, so they are suspended."""
        return [dm_name(m.origin.vg_name, m.origin.name) for m in self.members if m.origin_mounts]

    @property
    def watchdog_files(self) -> tuple[str, str]:
        return f"{self.run_dir}/watchdog.pid", f"{self.run_dir}/watchdog.fired"


def parse_members(text: str) -> tuple[str, ...]:
    members = tuple(part.strip() for part in text.split(",") if part.strip())
    seen = set()
    for member in members:
        parse_lv_spec(member)
        if member in seen:
            raise UsageError(f"{member} is given twice in --group: name each volume once")
        seen.add(member)
    if not members:
        raise UsageError("--group needs at least one VG/LV, e.g. --group vg0/uploads,vg0/database")
    return members


def prepare(host: Host, request: GroupRequest, log=default_log, run_id: str | None = None) -> GroupRun:
    members = parse_members(",".join(request.members))
    if request.freeze_timeout_s <= 0:
        raise UsageError(f"--freeze-timeout must be positive, not {request.freeze_timeout_s:g}: "
                         f"the watchdog would resume the members at once")
    run_id = run_id or new_run_id()
    name = validate_set_name(request.name or f"group-{run_id}")
    engine = get_engine(request.engine)
    paths = ArchiveSetPaths(request.dest, name, "")
    checks = Preflight()
    runs = []
    for member in members:
        vg, lv = parse_lv_spec(member)
        try:
            run = prepare_member(host, BackupRequest(
                origin=member, dest=paths.partial, engine=request.engine, snapshot_size=request.snapshot_size,
                name=f"{vg}-{lv}", engine_options=request.engine_options, guard=request.guard,
            ), run_id, log, in_group=True)
        except LvmkitError as error:
            checks.fail(f"{member}: member ready", str(error).replace("\n", " "))
            continue
        runs.append(run)
        checks.add(Check(f"{member}: member ready", True,
                         f"{run.filesystem.type}, mounted at {run.origin_mounts[0]}: frozen in the window"
                         if run.origin_mounts else
                         f"{run.filesystem.type}, not mounted: snapshot taken without freezing (nothing writes to it)"))
    checks.raise_if_failed()
    _check_room(host, checks, runs)
    checks.add(_freeze_supported(host))
    checks.add(check_metadata_dirs(host.run(metadata_dirs_argv()).stdout,
                                   [(run.request.origin, run.device_number) for run in runs]))
    for hook in (request.pre_snapshot, request.post_snapshot):
        if hook is not None:
            checks.add(hook.check(host))
    expected = sum(run.expected_bytes or 0 for run in runs) or None
    check_destination(host, checks, paths, engine, expected,
                      origins=[(run.request.origin, run.device_number) for run in runs])
    checks.raise_if_failed()
    return GroupRun(request, run_id, runs, paths, checks)


def plan(run: GroupRun) -> Plan:
    request, paths = run.request, run.paths
    devices = run.frozen_devices
    locks = [lock_steps(m.origin.vg_name, m.origin.name, run.run_id, "backup") for m in run.members]
    steps = [take for take, _ in locks]
    if request.pre_snapshot:
        steps.append(Step(f"pre-snapshot hook: {' '.join(request.pre_snapshot.argv)}",
                          [request.pre_snapshot.run_argv()],
                          run=lambda host: _hook(host, run, request.pre_snapshot),
                          # The post hook always runs, also when this hook or a later step fails:
                          # a pre hook that failed half-way may have locked the application.
                          undo_commands=[request.post_snapshot.run_argv()] if request.post_snapshot else [],
                          undo=(lambda host: _post_hook(host, run)) if request.post_snapshot else None,
                          undo_armed_before=True))
    steps += [
        Step(f"start the watchdog: it resumes {len(devices)} device(s) after {request.freeze_timeout_s:g} s "
             f"if lvmkit dies inside the window",
             [make_run_dirs_argv(run.run_dir), _watchdog_argv(run)],
             undo_commands=[_stop_watchdog_argv(run)]),
        Step(f"freeze {len(devices)} member(s) and snapshot all {len(run.members)} at one instant",
             [_freeze_argv(run)],
             run=lambda host: _freeze(host, run),
             undo_commands=[*(["dmsetup", "resume", device] for device in devices),
                            *(member.snapshot.remove_argv() for member in run.members)],
             undo=lambda host: _unfreeze_and_remove(host, run),
             undo_armed_before=True,  # whatever happened inside, resume and remove our snapshots
             keep_on_failure=False),
        Step("stop the watchdog", [_stop_watchdog_argv(run)],
             run=lambda host: host.run(_stop_watchdog_argv(run), changes=True)),
        Step(f"watch every member's snapshot every {request.guard.poll_interval_s:g} s until its last byte is read",
             [read_argv(snapshot_device(member)) for member in run.members],
             run=lambda host: [member.guard.start() for member in run.members],
             undo=lambda host: [member.guard.stop() for member in run.members],
             conditional=[c for member in run.members for c in member.guard.conditional_commands()]),
    ]
    if request.post_snapshot:
        steps.append(Step(f"post-snapshot hook: {' '.join(request.post_snapshot.argv)}",
                          [request.post_snapshot.run_argv()], run=lambda host: _post_hook(host, run)))
    steps += [
        Step(f"create the group's archive set {paths.partial}", [["mkdir", "-m", "0700", "--", paths.partial]],
             undo_commands=[["rm", "-rf", "--", paths.partial]]),
        Step("mark it with the run id (for `lvmkit cleanup` after a crash)",
             [write_file_argv(f"{paths.partial}/{RUN_MARKER}")],
             run=lambda host: write_file(host, f"{paths.partial}/{RUN_MARKER}", run.run_id + "\n")),
    ]
    for member in run.members:
        for step in member_plan(member, in_group=True).steps:
            step.title = f"{member.origin.vg_name}/{member.origin.name}: {step.title}"
            steps.append(step)
    steps += [
        Step("group checksums and manifest",
             [["bash", "-c", _GROUP_SUMS, "bash", paths.partial], write_file_argv(f"{paths.partial}/{MANIFEST}"),
              write_file_argv(f"{paths.partial}/{SUMS}"),
              *signing_argvs(run.request.sign_key, f"{paths.partial}/{SIGNATURE}")],
             run=lambda host: _seal(host, run)),
        Step(f"publish the group's archive set as {paths.final}",
             [*publish_argvs(paths, RUN_MARKER), ["rmdir", run.run_dir]],
             run=lambda host: _publish(host, run)),
        *(give_back for _, give_back in reversed(locks)),  # in the reverse order of taking
    ]
    return Plan(f"back up {', '.join(request.members)} as one group with {request.engine} to {paths.final}",
                steps, facts={"run_id": run.run_id})


def backup_group(host: Host, request: GroupRequest, *, log=None) -> GroupRun:
    log = log or default_log
    run = prepare(host, request, log)
    the_plan = plan(run)
    log(f"preflight on {host.name}:\n{run.preflight.render()}")
    execute_run(host, run, the_plan, log)
    log(f"freeze window: {run.window['frozen_s'] * 1000:.0f} ms for {len(run.frozen_devices)} frozen member(s)")
    return run


def execute_run(host: Host, run: GroupRun, the_plan: Plan, log=default_log) -> list[StepRecord]:
    """Execute the plan (its first steps take every member's lock); on failure the completed
    steps are undone (members resumed, snapshots removed, the post-snapshot hook run)."""
    started = utc_now().isoformat()
    for member in run.members:  # each member's manifest says when its backup began
        member.started = started
    return execute(the_plan, host, log=log)


# --- the steps' work ---------------------------------------------------------------------


def _freeze_argv(run: GroupRun) -> list[str]:
    _, fired = run.watchdog_files
    creates = []
    for member in run.members:
        creates += [*member.snapshot.create_argv(), "--next--"]
    return ["bash", "-c", _FREEZE, "bash", f"{run.request.hold_window_s:g}", fired, *run.frozen_devices, "--",
            *creates[:-1]]


def _watchdog_argv(run: GroupRun) -> list[str]:
    pidfile, fired = run.watchdog_files
    # setsid --fork: a session of its own, so neither lvmkit's death nor the SSH
    # connection's end reaches it.
    return ["setsid", "--fork", "bash", "-c", _WATCHDOG, "bash", pidfile, fired,
            f"{run.request.freeze_timeout_s:g}", *run.frozen_devices]


def _stop_watchdog_argv(run: GroupRun) -> list[str]:
    return ["bash", "-c", _STOP_WATCHDOG, "bash", run.watchdog_files[0]]


def _freeze(host: Host, run: GroupRun) -> None:
    # Tethered to lvmkit: if lvmkit dies inside the window, the freeze dies with it and the
    # watchdog resumes the members.
    running = host.start(_freeze_argv(run))
    result = running.wait(check=False)
    if result.returncode != 0:
        reasons = {10: "a member could not be suspended", 11: "a snapshot could not be created",
                   12: "the watchdog had to resume the members first: raise --freeze-timeout"}
        raise GroupError(f"the group's freeze failed ({reasons.get(result.returncode, result.returncode)}); "
                         f"every member was resumed: {result.stderr.strip()[-400:]}")
    match = re.search(r"window (\S+) (\S+) (\S+)", result.stdout)
    start, frozen, end = (float(value) for value in match.groups())
    run.window = {"frozen_s": round(end - start, 6), "suspend_s": round(frozen - start, 6),
                  "frozen_devices": run.frozen_devices, "start_epoch": start, "end_epoch": end}


def _unfreeze_and_remove(host: Host, run: GroupRun) -> None:
    for device in run.frozen_devices:
        host.run(["dmsetup", "resume", device], changes=True, check=False)
    for member in run.members:
        remove_if_ours(host, member.snapshot.vg, member.snapshot.name, run_tag(run.run_id))


def _hook(host: Host, run: GroupRun, hook: Hook) -> None:
    began = utc_now()
    try:
        hook.run(host)
    finally:
        run.hooks.append({"role": hook.role, "argv": list(hook.argv), "timeout_s": hook.timeout_s,
                          "started": began.isoformat(), "ended": utc_now().isoformat()})


def _post_hook(host: Host, run: GroupRun) -> None:
    if run.post_hook_ran or run.request.post_snapshot is None:
        return
    run.post_hook_ran = True
    _hook(host, run, run.request.post_snapshot)


def _seal(host: Host, run: GroupRun) -> None:
    paths = run.paths
    sums = host.run(["bash", "-c", _GROUP_SUMS, "bash", paths.partial], private=BULKY).stdout  # rsync members: every file
    volume_groups = sorted({m.origin.vg_name for m in run.members})
    window = run.window
    run.manifest = GroupManifest(
        schema=MANIFEST_SCHEMA,
        kind=GROUP_KIND,
        name=paths.name,
        lvmkit_version=__version__,
        host=run.members[0].host,
        run_id=run.run_id,
        members=tuple(GroupMember(vg=m.origin.vg_name, lv=m.origin.name, archive_set=m.paths.name,
                                  frozen=bool(m.origin_mounts), archive_sha256=m.manifest.archive_sha256,
                                  digest_sha256=m.digest.sha256) for m in run.members),
        volume_groups=tuple(volume_groups),
        spans_volume_groups=len(volume_groups) > 1,
        freeze_window=FreezeWindow(frozen_s=window["frozen_s"], suspend_s=window["suspend_s"],
                                   frozen_devices=tuple(window["frozen_devices"]),
                                   start_epoch=window["start_epoch"], end_epoch=window["end_epoch"]),
        freeze_mechanism="dmsetup suspend of every mounted member, then lvcreate -s each in turn",
        hooks=tuple(HookRecord(role=hook["role"], argv=tuple(hook["argv"]), timeout_s=hook["timeout_s"],
                               started=hook["started"], ended=hook["ended"]) for hook in run.hooks),
        engine=GroupEngine(name=run.request.engine),
        ended=utc_now().isoformat(),  # as a single set's manifest: when it was sealed
    )
    write_file(host, f"{paths.partial}/{MANIFEST}", run.manifest.to_json())
    manifest_sum = host.run(["env", f"--chdir={paths.partial}", "sha256sum", "--", MANIFEST]).stdout
    write_file(host, f"{paths.partial}/{SUMS}", sums + manifest_sum)
    sign_sums(host, run.request.sign_key, sums + manifest_sum, f"{paths.partial}/{SIGNATURE}")


def _publish(host: Host, run: GroupRun) -> None:
    paths = run.paths
    if host.run(["test", "-e", paths.final], check=False).returncode == 0:
        raise GroupError(f"{paths.final} appeared while the backup ran; the new set stays at {paths.partial}")
    for argv in publish_argvs(paths, RUN_MARKER):
        host.run(argv, changes=True)
    host.run(["rmdir", run.run_dir], changes=True, check=False)


# --- preflight pieces --------------------------------------------------------------------


def _check_room(host: Host, checks: Preflight, runs: list[BackupRun]) -> None:
    """Each member checked its own snapshot; members in one VG share its free space."""
    needed: dict[str, int] = {}
    for run in runs:
        if run.snapshot.extents:
            needed[run.snapshot.vg] = needed.get(run.snapshot.vg, 0) + run.snapshot.extents
    for vg, extents in sorted(needed.items()):
        (group,) = list_vgs(host, vg)
        ok = extents <= group.free_count
        checks.add(Check(f"room in {vg} for the group's snapshots", ok,
                         f"{human(extents * group.extent_size)} of {human(group.free)} free" if ok else
                         f"the snapshots need {human(extents * group.extent_size)} together but {vg} has "
                         f"{human(group.free)} free: smaller --snapshot-size, or free space"))


def _version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(part) for part in match.groups() if part is not None) if match else ()


def _freeze_supported(host: Host) -> Check:
    lvm = _version(host.run(["lvm", "version"]).stdout.split("LVM version:")[-1])
    kernel = _version(host.run(["uname", "-r"]).stdout)
    ok = lvm >= TESTED_LVM and kernel >= TESTED_KERNEL
    shown = f"LVM {'.'.join(map(str, lvm))}, kernel {'.'.join(map(str, kernel))}"
    return Check("suspend-then-snapshot works here", ok,
                 shown if ok else
                 f"{shown}: one-instant snapshots were measured on LVM >= {'.'.join(map(str, TESTED_LVM))} and "
                 f"kernel >= {'.'.join(map(str, TESTED_KERNEL))}; on older ones lvcreate may not resume a suspended "
                 f"origin. Back up the members one by one, or test a group in a lab on this version first")


def restore_group(host: Host, archive_set: str, suffix: str, *, log=None, trust: str | None = None) -> list:
    """Restore every member to a new volume VG/LV<suffix> beside its origin, each proved; the
    group's set is checked whole first (closed, signed when `trust` asks it, checksums)."""
    target_path(archive_set, "group archive set")
    manifest = read_manifest(host, archive_set)
    if not isinstance(manifest, GroupManifest):
        raise UsageError(f"{archive_set} is not a consistency group's archive set: use `lvmkit restore`")
    checks = Preflight()
    check_archive(host, archive_set, checks, trust)
    checks.raise_if_failed()
    return [restore_member(host, RestoreRequest(f"{archive_set.rstrip('/')}/{member.archive_set}",
                                                to_new=f"{member.vg}/{member.lv}{suffix}", in_group=True), log=log)
            for member in manifest.members]
