"""A backup's preflight: every question to the target in one batch, then one check per answer.

Asked one by one, the ten questions of a preflight cost ~2 s in the emulated lab (0.2-0.5 s
each, most of it the round trip and process starts). The answers come back together from
one batch of read-only queries (lvmkit.core.batch); each is then judged on its own, so a
failure still names the check that failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from lvmkit.archive.archive_set import ArchiveSetPaths
from lvmkit.archive.digest import digest_tools
from lvmkit.archive.engines.base import Engine
from lvmkit.archive.engines.repository import ParentChoice
from lvmkit.core.batch import Query, run_batch
from lvmkit.core.errors import CommandError, LvmkitError
from lvmkit.core.host import DEBIAN_PACKAGE, CommandResult, Host, missing_tools_argv
from lvmkit.core.ownership import OWNERSHIP_PROBE, judge_ownership
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import UID_ARGV, root_check_from
from lvmkit.core.scripts import packaged_script
from lvmkit.core.sizes import human, parse_size
from lvmkit.lvm.filesystem import (
    FilesystemInfo,
    mount_sources_argv,
    mount_sources_from_result,
    probe_argv,
    probe_from_result,
    usage,
)
from lvmkit.lvm.layout import describe, fs_parameters_query, layout_queries
from lvmkit.lvm.lock import LockInfo, lock_from_result, lock_path, read_lock_argv
from lvmkit.lvm.reports import (
    LogicalVolume,
    VolumeGroup,
    missing_vg,
    parse_lvs,
    parse_vgs,
    vg_lvs_argv,
    vgs_argv,
)
from lvmkit.lvm.snapshot import LVMKIT_TAG, SnapshotSpec, run_tag

DEFAULT_SNAPSHOT_SIZE = "20%ORIGIN"
# Tools every backup needs besides the engine's own.
BASE_TOOLS = ["lvcreate", "lvremove", "lvs", "dmsetup", "blkid", "mount", "umount", "findmnt",
              "df", "sha256sum", "install", "mv", *digest_tools()]

_PROBE_DESTINATION = packaged_script(__package__, "backup_probe_destination.sh")  # one part of the batch


@dataclass
class Findings:
    """What the preflight learned, for the run to use."""

    checks: Preflight
    origin: LogicalVolume
    filesystem: FilesystemInfo | None
    holder: LockInfo | None
    snapshot: SnapshotSpec
    vg_free_extents: int
    origin_mounts: list[str]
    expected_bytes: int | None
    engine_version: str
    layout: dict  # layout.json: what a rebuild on a blank disk makes again (lvmkit.lvm.layout)
    device_number: tuple[int, int] | None  # the origin's (major, minor)
    parent: ParentChoice | None = None  # a repository engine's earlier snapshot; None: it takes none


def probe_queries(vg: str, lv: str, engine: Engine, tools: list[str], paths: ArchiveSetPaths | None,
                  engine_options: dict[str, str] | None = None) -> list[Query]:
    """The batch a backup's preflight sends; `paths` None: a group member (the group checks the destination)."""
    device = f"/dev/{vg}/{lv}"
    queries = [
        Query("uid", UID_ARGV),
        Query("lvs", vg_lvs_argv(vg)),  # the origin, its pool, the snapshot name, stale snapshots
        Query("vgs", vgs_argv(vg)),
        Query("lock", read_lock_argv(lock_path(vg, lv))),
        Query("blkid", probe_argv(device)),
        # every tool the engine may need, whatever the filesystem turns out to be
        Query("tools", missing_tools_argv(tools)),
        Query("mounts", mount_sources_argv(device)),
        # a mounted device's filesystem; "target" tells it is the origin's (not /dev's)
        Query("used", ["df", "--block-size=1", "--output=used,target", device]),
        # -L: the device node behind /dev/VG/LV's symlink; %t:%T its major:minor in hex
        Query("devno", ["stat", "-L", "-c", "%t:%T", "--", device]),
        # the layout the volume came from, for the archive set's layout.json
        *layout_queries(vg),
        fs_parameters_query(device),
    ]
    # the engine's version, for the manifest: asked now rather than as a command of its own
    queries += [Query(f"version{index}", argv) for index, argv in enumerate(_version_argvs(engine))]
    if paths is not None:
        queries.append(Query("dest", destination_probe_argv(paths)))
    if engine.repository:  # opened with its password now: a wrong one fails before any snapshot
        queries.append(Query("repository", engine.probe_argv(engine_options or {})))
        earlier = engine.earlier_snapshots_argv(engine_options or {}, f"{vg}/{lv}")
        if earlier is not None:  # the parent: the origin's latest snapshot made by this host
            queries += [Query("earlier", earlier), Query("hostname", ["uname", "-n"])]
    return queries


def _version_argvs(engine: Engine) -> list[list[str]]:
    """The engine's version commands, one per filesystem it handles, each once."""
    argvs: list[list[str]] = []
    for fstype in engine.filesystems:
        if engine.version_argv(fstype) not in argvs:
            argvs.append(engine.version_argv(fstype))
    return argvs


def all_tools(engine: Engine) -> list[str]:
    tools = list(BASE_TOOLS)
    for fstype in engine.filesystems:
        tools += [t for t in engine.tools(fstype) if t not in tools]
    return tools


def run_preflight(host: Host, request, engine: Engine, vg: str, lv: str, paths: ArchiveSetPaths,
                  run_id: str, *, in_group: bool) -> Findings:
    """Ask everything in one batch, judge each answer; raise PreflightError if a check fails."""
    answers = run_batch(host, probe_queries(vg, lv, engine, all_tools(engine), None if in_group else paths,
                                            request.engine_options))
    checks = Preflight()
    checks.add(root_check_from(answers["uid"].stdout, "LVM snapshots need root"))
    volumes, group = _volumes(host, vg, answers, checks)
    origin = next((v for v in volumes if (v.vg_name, v.name) == (vg, lv)), None)
    if origin is None:
        if group is not None:
            checks.fail("origin exists", f"no logical volume {vg}/{lv}; `lvmkit status` lists the volumes")
        checks.raise_if_failed()
    checks.add(Check("origin exists and is active", origin.attr.is_active,
                     f"{vg}/{lv} exists" if origin.attr.is_active else f"{vg}/{lv} is not active: lvchange -ay {vg}/{lv}"))
    if origin.attr.is_snapshot or origin.attr.is_thin_pool or origin.hidden:
        checks.fail("origin is a volume", f"{vg}/{lv} is a {origin.attr.volume_type}, not a volume to back up")
        checks.raise_if_failed()
    holder = lock_from_result(host.name, lock_path(vg, lv), answers["lock"])
    checks.add(Check("no other run of the origin", holder is None, "none" if holder is None else holder.describe()))
    filesystem = probe_from_result(host.name, f"/dev/{vg}/{lv}", answers["blkid"])
    fstype = filesystem.type if filesystem else None
    supported = fstype in engine.filesystems
    checks.add(Check("filesystem supported", supported,
                     f"{fstype} on {vg}/{lv}" if supported else
                     f"{vg}/{lv} holds {fstype or 'no filesystem'}; "
                     f"engine {engine.name} handles {', '.join(engine.filesystems)}"))
    checks.raise_if_failed()

    tools = BASE_TOOLS + engine.tools(fstype)
    absent = set(_answer(host, answers["tools"]).split())
    missing = [t for t in tools if t in absent]
    checks.add(Check("tools installed", not missing,
                     f"{len(tools)} tools found" if not missing else missing_message(missing)))

    snapshot, room_check, vg_free_extents = snapshot_spec(request, origin, run_id, group, volumes)
    checks.add(room_check)
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

    origin_mounts = mount_sources_from_result(answers["mounts"])
    expected = _used_bytes(host, answers["used"], origin_mounts)
    if engine.name == "dd":  # every block, used or not
        expected = origin.size
    device_number = _device_number(answers["devno"])
    if not in_group:
        check_destination(host, checks, paths, engine, expected, answers["dest"],
                          origins=[(f"{vg}/{lv}", device_number)])
    parent = None
    if engine.repository and not missing and check_repository(engine, request.engine_options,
                                                              answers["repository"], checks):
        parent = check_parent(engine, f"{vg}/{lv}", answers, checks)
    checks.raise_if_failed()
    version = answers[f"version{_version_argvs(engine).index(engine.version_argv(fstype))}"]
    return Findings(checks, origin, filesystem, holder, snapshot, vg_free_extents, origin_mounts, expected,
                    engine.parse_version(version.stdout + version.stderr),
                    describe(group, volumes, origin, filesystem, answers, origin_mounts), device_number, parent)


def _device_number(result: CommandResult) -> tuple[int, int] | None:
    """(major, minor) from `stat -L -c %t:%T` (hex), None when the device was not there."""
    major, _, minor = result.stdout.strip().partition(":")
    try:
        return int(major, 16), int(minor, 16)
    except ValueError:
        return None


def _volumes(host: Host, vg: str, answers: dict[str, CommandResult],
             checks: Preflight) -> tuple[list[LogicalVolume], VolumeGroup | None]:
    """The VG's volumes and the VG; a missing VG is a failed check, any other error raised."""
    lvs, vgs = answers["lvs"], answers["vgs"]
    if lvs.returncode != 0 and missing_vg(lvs.stderr) == vg:
        checks.fail("origin exists", f'volume group "{vg}" not found on {host.name}; `vgs` lists the volume groups there')
        return [], None
    volumes = parse_lvs(_answer(host, lvs), source=f"lvs {vg}")
    (group,) = parse_vgs(_answer(host, vgs), source=f"vgs {vg}")
    return volumes, group


def _answer(host: Host, result: CommandResult) -> str:
    if result.returncode != 0:
        raise CommandError(host.name, result.argv, result.returncode, result.stderr.strip())
    return result.stdout


def _used_bytes(host: Host, result: CommandResult, mounts: list[str]) -> int | None:
    """The origin's used bytes when it is mounted, else None (known only once it is read)."""
    if not mounts:
        return None
    lines = result.stdout.splitlines()
    fields = lines[1].split(None, 1) if result.returncode == 0 and len(lines) == 2 else []
    if len(fields) == 2 and fields[1] in mounts and fields[0].isdigit():
        return int(fields[0])
    return usage(host, mounts[0])[0]  # df named another filesystem: ask for the mountpoint's


def snapshot_spec(request, origin: LogicalVolume, run_id: str, group: VolumeGroup,
                  volumes: list[LogicalVolume]) -> tuple[SnapshotSpec, Check, int]:
    vg = origin.vg_name
    name = f"{origin.name}-lvmkit-{run_id.split('-')[-1]}"[:127]
    if origin.attr.is_thin:
        if request.snapshot_size:
            raise LvmkitError(
                f"{vg}/{origin.name} is a thin volume: its snapshot takes room from pool "
                f"{origin.pool_lv} as needed; leave --snapshot-size out")
        pool = next(v for v in volumes if v.name == origin.pool_lv)
        percent = pool.data_percent or 0.0
        ok = percent < 90.0
        detail = (f"thin pool {vg}/{pool.name} {percent:.1f}% full" if ok else
                  f"thin pool {vg}/{pool.name} is {percent:.1f}% full: a snapshot could fill it and stop "
                  f"{vg}/{origin.name}; extend the pool (lvextend) first")
        return SnapshotSpec(vg, origin.name, name, run_id, None), Check("room for the snapshot", ok, detail), 0
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


def destination_probe_argv(paths: ArchiveSetPaths) -> list[str]:
    return ["sh", "-c", _PROBE_DESTINATION, "sh", paths.dest, paths.final, paths.partial, OWNERSHIP_PROBE]


def check_destination(host: Host, checks: Preflight, paths: ArchiveSetPaths, engine: Engine,
                      expected: int | None, probed: CommandResult | None = None, *,
                      origins: list[tuple[str, tuple[int, int] | None]] = ()) -> None:
    """The destination's checks, from `probed` (the batch's answer) or asked now; `origins`:
    the volumes backed up, by name and (major, minor), none of which may hold the destination."""
    dest = paths.dest
    output = (probed or host.run(destination_probe_argv(paths))).stdout
    lines = output.splitlines()
    probe = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("owner="))
    if probe.get("dir") != "1":
        checks.fail("destination exists", f"{dest} is not a directory on {host.name}: create it first")
        return
    owner = "\n".join(line[len("owner="):] for line in lines if line.startswith("owner="))
    checks.add(judge_ownership(owner, dest, "destination"))
    checks.add(_not_on_an_origin(dest, probe.get("devno", ""), origins))
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
    # A plausible archive: the data read, halved where the engine compresses it; a
    # repository engine leaves only its report in the set.
    plausible = 0 if engine.repository else expected // 2 if engine.compresses else expected
    ok = free >= plausible
    checks.add(Check("room at the destination", ok,
                     f"{human(free)} free for an archive of about {human(plausible)}" if ok else
                     f"{paths.dest} has {human(free)} free, an archive of about {human(plausible)} is likely: "
                     f"free space or choose another --dest"))


def _not_on_an_origin(dest: str, devno: str, origins: list[tuple[str, tuple[int, int] | None]]) -> Check:
    """A destination on a volume being backed up would be copied into its own snapshot: every
    archive byte a changed block, until the snapshot overflows."""
    name = "destination not on a volume backed up"
    if not devno.strip().isdigit():
        return Check(name, False, f"cannot tell which device holds {dest} (stat said {devno!r})")
    device = os.major(int(devno)), os.minor(int(devno))  # st_dev: Linux's encoding on target and here
    for origin, origin_device in origins:
        if origin_device == device:
            return Check(name, False, f"{dest} is on /dev/{origin} ({device[0]}:{device[1]}), which this backup "
                                      f"snapshots: every archive byte would fill the snapshot until it overflows; "
                                      f"choose a --dest on another filesystem")
    return Check(name, True, f"{dest} is on device {device[0]}:{device[1]}, not on "
                             f"{', '.join(origin for origin, _ in origins) or 'a member'}")


def check_repository(engine: Engine, options: dict[str, str], probed: CommandResult, checks: Preflight) -> bool:
    location = engine.resolve_options(options)["repository"]
    problem = engine.judge_probe(probed.returncode, probed.stdout + probed.stderr)
    checks.add(Check("repository opens with its password", problem is None,
                     f"{engine.name} repository {location}" if problem is None else f"{location}: {problem}"))
    return problem is None


def check_parent(engine: Engine, origin: str, answers: dict[str, CommandResult],
                 checks: Preflight) -> ParentChoice | None:
    """The earlier snapshot the backup names as its parent, as the repository lists them now
    (a snapshot forgotten by hand or by prune is not listed); None: the engine takes none."""
    if "earlier" not in answers:
        return None
    earlier, hostname = answers["earlier"], answers["hostname"].stdout.strip()
    try:
        parent = engine.choose_parent(earlier.returncode, earlier.stdout, earlier.stderr, hostname)
    except LvmkitError as error:
        checks.fail("earlier snapshot of the origin", f"{error}; the backup would fail the same way")
        return None
    checks.add(Check("earlier snapshot of the origin", True, f"{origin}: {parent.said}"))
    return parent


def missing_message(missing: list[str]) -> str:
    packages = sorted({DEBIAN_PACKAGE.get(tool, tool) for tool in missing})
    return f"missing: {', '.join(missing)}; install with: apt-get install {' '.join(packages)}"
