"""What runs that died (SIGKILL, power loss of the controller) left behind, and its removal.

A run is known by its run_id, which it writes everywhere it leaves state:
  - volumes it created carry the tags `lvmkit` and `lvmkit-run-<run_id>` (snapshots, and
    the scratch volumes of deep verification);
  - its mounts are under /run/lvmkit/<run_id>/;
  - its lock /run/lvmkit/locks/<vg>-<lv>.lock names it (see lock.py);
  - its partial archive set DEST/.NAME.partial holds a marker file `.lvmkit-run` with it.

A run is live while a lock names it and its holder is alive, or may be (held on another
controller). Everything of a live run is left alone. Everything of other runs is stale,
and removed in this order: mounts (never forced: a busy mount is reported and the whole
run is left alone, since something still uses it), volumes (only with the `lvmkit` tag,
re-checked just before `lvremove`), partial archive sets, empty directories, and last the
run's lock, which is kept while anything of the run could not be removed.

What cannot be attributed to a run (a tagged volume without a run tag, a partial archive
set without a marker, a lock that cannot be read) is reported and never touched.

Belonging to no run, the temporary files an interrupted `lvmkit verify` left inside the
published sets of a destination (see cleanup_temporaries) are removed too, after the
partial sets; not when only some runs' leftovers are asked for (`only_runs`, `vg`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Collection

from lvmkit.core.errors import CommandError, LvmkitError
from lvmkit.core.host import Host
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Step, acting
from lvmkit.core.runs import RUN_ID, RUN_MARKER, RUN_ROOT
from lvmkit.core.scripts import packaged_script
from lvmkit.lvm.lock import CmdlineOf, LockInfo, list_locks, remove_if_same, remove_if_same_argv
from lvmkit.lvm.reports import list_lvs
from lvmkit.lvm.snapshot import LVMKIT_TAG, remove_if_ours, run_tag
from lvmkit.ops.cleanup_temporaries import StaleTemporary, find_temporaries

_RUN_TAG_PREFIX = run_tag("")

_LIST_PARTIALS = packaged_script(__package__, "cleanup_list_partials.sh")  # NAME, KIND, RUN_ID of each
# rmdir each directory given, in order; print the ones removed (rmdir removes only empty ones).
# A dead group run's watchdog leaves its "fired" marker; its pid file, while it still waits
# to resume devices, is left alone, and so is its directory.
_RMDIR_EACH = ("for d; do rm -f -- \"$d/watchdog.fired\"; rmdir -- \"$d\" 2>/dev/null && printf '%s\\n' \"$d\"; "
               "done; exit 0")
# Run directories and what is directly in them; not below (a mount's content is not ours).
_RUN_DIRECTORIES = '[ -d "$1" ] || exit 0; exec find "$1" -mindepth 1 -maxdepth 2 -type d'


def findmnt_argv() -> list[str]:
    return ["findmnt", "--json", "--list", "--output", "TARGET,SOURCE"]


def partials_argv(dest: str) -> list[str]:
    return ["sh", "-c", _LIST_PARTIALS, "sh", dest, RUN_MARKER]


def rmdir_each_argv(directories: list[str]) -> list[str]:
    return ["sh", "-c", _RMDIR_EACH, "sh", *directories]


def run_directories_argv() -> list[str]:
    return ["sh", "-c", _RUN_DIRECTORIES, "sh", RUN_ROOT]


@dataclass(frozen=True)
class StaleVolume:
    vg: str
    name: str
    run_id: str
    origin: str | None

    @property
    def full_name(self) -> str:
        return f"{self.vg}/{self.name}"


@dataclass(frozen=True)
class StaleMount:
    target: str
    source: str
    run_id: str


@dataclass(frozen=True)
class PartialSet:
    path: str
    run_id: str | None  # None: no marker, so no telling whose it is


@dataclass(frozen=True)
class LeftAlone:
    what: str
    why: str


@dataclass
class StaleState:
    host: str
    volumes: list[StaleVolume] = field(default_factory=list)
    mounts: list[StaleMount] = field(default_factory=list)  # deepest first: the order to unmount
    partials: list[PartialSet] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)  # under RUN_ROOT, deepest first
    locks: list[LockInfo] = field(default_factory=list)  # holders dead
    temporaries: list[StaleTemporary] = field(default_factory=list)  # verify's, in published sets
    unknown: list[LeftAlone] = field(default_factory=list)  # never touched
    live: list[LockInfo] = field(default_factory=list)  # runs in progress: never touched

    @property
    def empty(self) -> bool:
        return not (self.volumes or self.mounts or self.partials or self.directories or self.locks
                    or self.temporaries)


@dataclass(frozen=True)
class Action:
    kind: str  # "unmount", "remove volume", "remove partial archive set", "remove temporary file",
    #            "remove directory", "remove lock"
    target: str
    run_id: str | None
    outcome: str  # "done", "planned" (dry run), "failed", "kept"
    detail: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class CleanupReport:
    host: str
    dry_run: bool
    actions: list[Action] = field(default_factory=list)
    unknown: list[LeftAlone] = field(default_factory=list)
    live: list[LockInfo] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Everything stale was removed (or, in a dry run, would be attempted)."""
        return all(a.outcome in ("done", "planned") for a in self.actions)

    def as_dict(self) -> dict:
        return {
            "host": self.host, "dry_run": self.dry_run, "clean": self.clean,
            "actions": [a.as_dict() for a in self.actions],
            "left_alone": [dataclasses.asdict(u) for u in self.unknown],
            "live_runs": [lk.as_dict() for lk in self.live],
        }


# --- finding ---------------------------------------------------------------------------


def find_stale(host: Host, *, destinations: Collection[str] = (), only_runs: Collection[str] | None = None,
               hostname: str | None = None, cmdline_of: CmdlineOf | None = None, vg: str | None = None) -> StaleState:
    """Read-only: what dead runs left on the host (and in `destinations`).

    `only_runs` limits everything to those run_ids: for tests that share a host with other
    runs which hold no lock, and for an operator who wants one run's leftovers gone.
    `vg` limits it to the runs of one volume group (see `in_vg`).
    """
    state = _find_stale(host, destinations, only_runs, hostname, cmdline_of)
    return in_vg(state, vg) if vg else state


def in_vg(state: StaleState, vg: str) -> StaleState:
    """Only what belongs to volume group `vg`: the runs with a volume there or a lock on an origin there.

    A fleet's inventory host owns one volume group; its cleanup must not touch another
    group's runs on the same machine. A dead run that left neither (only a mount or an empty
    directory) cannot be told apart, and is left to a cleanup of the whole machine, and so
    are verify's temporary files (whose set's volume group only its manifest says).
    """
    def of_vg(lock: LockInfo) -> bool:
        return (lock.origin or "").partition("/")[0] == vg

    runs = {v.run_id for v in state.volumes if v.vg == vg} | {lock.run_id for lock in state.locks if of_vg(lock)}
    return StaleState(
        state.host,
        volumes=[v for v in state.volumes if v.vg == vg],
        mounts=[m for m in state.mounts if m.run_id in runs],
        partials=[p for p in state.partials if p.run_id in runs],
        directories=[d for d in state.directories if _run_of_directory(d) in runs],
        locks=[lock for lock in state.locks if of_vg(lock)],
        unknown=[u for u in state.unknown if u.what.startswith(f"{vg}/")],
        live=[lock for lock in state.live if of_vg(lock)],
    )


def _find_stale(host: Host, destinations: Collection[str], only_runs: Collection[str] | None,
                hostname: str | None, cmdline_of: CmdlineOf | None) -> StaleState:
    for dest in destinations:
        target_path(dest, "--dest")
    state = StaleState(host.name)
    wanted = (lambda run_id: True) if only_runs is None else (lambda run_id: run_id in only_runs)

    live_runs = set()
    for lock in list_locks(host, hostname=hostname, cmdline_of=cmdline_of):
        if lock.problem:
            if only_runs is None:
                state.unknown.append(LeftAlone(lock.path, f"lock cannot be read ({lock.problem})"))
        elif lock.alive is False:
            if wanted(lock.run_id):
                state.locks.append(lock)
        else:
            live_runs.add(lock.run_id)
            if wanted(lock.run_id):
                state.live.append(lock)

    def stale(run_id: str) -> bool:
        return run_id not in live_runs and wanted(run_id)

    for volume in list_lvs(host):
        if LVMKIT_TAG not in volume.tags or volume.hidden:
            continue
        runs = [t[len(_RUN_TAG_PREFIX):] for t in volume.tags if t.startswith(_RUN_TAG_PREFIX)]
        if len(runs) != 1 or not runs[0]:
            if only_runs is None:
                state.unknown.append(LeftAlone(volume.full_name, f"tagged {LVMKIT_TAG!r} but with "
                                               f"{len(runs) or 'no'} run tags: whose it is is unknown"))
        elif stale(runs[0]):
            state.volumes.append(StaleVolume(volume.vg_name, volume.name, runs[0], volume.origin))
    # Snapshots before anything else: an origin cannot go before its snapshots.
    state.volumes.sort(key=lambda v: v.origin is None)

    for target, source in _run_mounts(host):
        run_id = _run_of_directory(target)
        if run_id is None:
            if only_runs is None:
                state.unknown.append(LeftAlone(target, f"mounted under {RUN_ROOT} but not in a run's directory"))
        elif stale(run_id):
            state.mounts.append(StaleMount(target, source, run_id))
    state.mounts.sort(key=lambda m: -m.target.count("/"))

    for directory in _run_directories(host):
        run_id = _run_of_directory(directory)
        if run_id is not None and stale(run_id):
            state.directories.append(directory)
    state.directories.sort(key=lambda d: -d.count("/"))

    for dest in destinations:
        for partial in _partials(host, dest):
            if partial.run_id is None:
                if only_runs is None:
                    state.unknown.append(LeftAlone(
                        partial.path, f"partial archive set without a {RUN_MARKER} marker: whose it is "
                                      "is unknown; remove it by hand if no backup writes it"))
            elif stale(partial.run_id):
                state.partials.append(partial)
        if only_runs is None:  # verify's temporaries belong to no run
            for temporary in find_temporaries(host, dest):
                if temporary.recent:
                    state.unknown.append(LeftAlone(temporary.path, "verify's temporary file, written in the last "
                                                   "minute: a verify may be writing it; run cleanup again later"))
                else:
                    state.temporaries.append(temporary)
    return state


def _run_of_directory(path: str) -> str | None:
    """The run_id of /run/lvmkit/<run_id>[/...], None for anything else (locks/ included)."""
    if not path.startswith(RUN_ROOT + "/"):
        return None
    component = path[len(RUN_ROOT) + 1:].split("/")[0]
    return component if RUN_ID.fullmatch(component) else None


def _run_mounts(host: Host) -> list[tuple[str, str]]:
    argv = findmnt_argv()
    stdout = host.run(argv).stdout
    try:
        filesystems = json.loads(stdout)["filesystems"] if stdout.strip() else []
        mounts = [(fs["target"], fs["source"]) for fs in filesystems]
    except (ValueError, KeyError, TypeError) as error:
        raise LvmkitError(f"{' '.join(argv)} on {host.name}: cannot read its output ({error!r}): "
                          f"{stdout[:200]!r}") from None
    return [(target, source) for target, source in mounts if target.startswith(RUN_ROOT + "/")]


def _run_directories(host: Host) -> list[str]:
    return host.run(run_directories_argv()).stdout.splitlines()


def _partials(host: Host, dest: str) -> list[PartialSet]:
    dest = dest.rstrip("/") or "/"
    result = host.run(partials_argv(dest), check=False)
    if result.returncode == 2:
        raise LvmkitError(f"{dest} is not a directory on {host.name}: "
                          "give the directory the archive sets are written to")
    if result.returncode != 0:
        raise CommandError(host.name, result.argv, result.returncode, result.stderr.strip())
    fields = result.stdout.split("\0")
    if fields[-1] != "" or len(fields) % 3 != 1:
        raise LvmkitError(f"listing partial archive sets in {dest} on {host.name} gave garbled output: "
                          f"{result.stdout[:200]!r}")
    partials = []
    for name, kind, run_id in zip(fields[0:-1:3], fields[1:-1:3], fields[2:-1:3], strict=False):
        if "/" in name or not (name.startswith(".") and name.endswith(".partial")) or name in (".", ".."):
            raise LvmkitError(f"listing partial archive sets in {dest} on {host.name} gave the name {name!r}")
        marked = kind == "marker" and bool(RUN_ID.fullmatch(run_id.strip()))
        partials.append(PartialSet(f"{dest.rstrip('/')}/{name}", run_id.strip() if marked else None))
    return partials


# --- removing ----------------------------------------------------------------------------


def cleanup(host: Host, *, dry_run: bool = False, destinations: Collection[str] = (),
            only_runs: Collection[str] | None = None, hostname: str | None = None,
            cmdline_of: CmdlineOf | None = None, vg: str | None = None) -> CleanupReport:
    """Remove what dead runs left behind; safe to run again (it then finds nothing)."""
    if dry_run and not host.dry_run:
        host = dataclasses.replace(host, dry_run=True)  # same journal: planned commands are recorded
    state = find_stale(host, destinations=destinations, only_runs=only_runs,
                       hostname=hostname, cmdline_of=cmdline_of, vg=vg)
    report = CleanupReport(host.name, host.dry_run, unknown=list(state.unknown), live=list(state.live))
    blocked: set[str] = set()  # runs of which something could not be removed: keep their lock
    done = "planned" if host.dry_run else "done"

    for mount in state.mounts:
        if mount.run_id in blocked:
            report.actions.append(Action("unmount", mount.target, mount.run_id, "kept",
                                         "an earlier mount of the run is busy"))
            continue
        with _removal(f"unmount {mount.target}", ["umount", mount.target]):
            result = host.run(["umount", mount.target], changes=True, check=False)
        if result.returncode == 0 or "not mounted" in result.stderr:
            report.actions.append(Action("unmount", mount.target, mount.run_id, done, mount.source))
        else:
            blocked.add(mount.run_id)
            # Never forced, never lazy: whatever uses it may be the run itself, alive after all.
            report.actions.append(Action(
                "unmount", mount.target, mount.run_id, "kept",
                f"{result.stderr.strip()} - something still uses it (see `fuser -vm {mount.target}`); "
                f"everything of run {mount.run_id} is left in place"))

    for volume in state.volumes:
        if volume.run_id in blocked:
            report.actions.append(Action("remove volume", volume.full_name, volume.run_id, "kept",
                                         "a mount of its run is busy"))
            continue
        try:
            # Re-reads the volume and refuses it unless it carries the tag.
            with _removal(f"remove volume {volume.full_name}", ["lvremove", "--yes", volume.full_name]):
                removed = remove_if_ours(host, volume.vg, volume.name, LVMKIT_TAG)
            if removed:
                report.actions.append(Action("remove volume", volume.full_name, volume.run_id, done))
            else:
                report.actions.append(Action("remove volume", volume.full_name, volume.run_id, "done", "already gone"))
        except LvmkitError as error:
            blocked.add(volume.run_id)
            report.actions.append(Action("remove volume", volume.full_name, volume.run_id, "failed", str(error)))

    for partial in state.partials:
        if partial.run_id in blocked:
            report.actions.append(Action("remove partial archive set", partial.path, partial.run_id, "kept",
                                         "something of its run is still in use"))
            continue
        # --one-file-system: never descend into anything mounted inside it
        argv = ["rm", "-rf", "--one-file-system", "--", partial.path]
        with _removal(f"remove partial archive set {partial.path}", argv):
            result = host.run(argv, changes=True, check=False)
        if result.returncode == 0:
            report.actions.append(Action("remove partial archive set", partial.path, partial.run_id, done))
        else:
            blocked.add(partial.run_id)
            report.actions.append(Action("remove partial archive set", partial.path, partial.run_id, "failed",
                                         result.stderr.strip()))

    for temporary in state.temporaries:
        argv = ["rm", "-f", "--", temporary.path]  # -f: gone meanwhile (renamed by its verify) is fine
        with _removal(f"remove verify's temporary file {temporary.path}", argv):
            result = host.run(argv, changes=True, check=False)
        if result.returncode == 0:
            report.actions.append(Action("remove temporary file", temporary.path, None, done,
                                         "left by an interrupted `lvmkit verify`; the set's closure refuses it"))
        else:
            report.actions.append(Action("remove temporary file", temporary.path, None, "failed",
                                         result.stderr.strip()))

    directories = []
    for directory in state.directories:
        run_id = _run_of_directory(directory)
        if run_id in blocked:
            report.actions.append(Action("remove directory", directory, run_id, "kept",
                                         "something of its run is still in use"))
        else:
            directories.append(directory)
    if directories:
        with _removal("remove the dead runs' empty directories", rmdir_each_argv(directories)):
            result = host.run(rmdir_each_argv(directories), changes=True)
        removed = set(result.stdout.splitlines())
        for directory in directories:
            run_id = _run_of_directory(directory)
            if host.dry_run or directory in removed:
                report.actions.append(Action("remove directory", directory, run_id, done))
            else:
                blocked.add(run_id)
                report.actions.append(Action("remove directory", directory, run_id, "kept", "not empty"))

    for lock in state.locks:
        if lock.run_id in blocked:
            report.actions.append(Action("remove lock", lock.path, lock.run_id, "kept",
                                         "kept until everything of its run is gone"))
            continue
        with _removal(f"remove lock {lock.path}", remove_if_same_argv(lock.path, lock.content)):
            outcome = remove_if_same(host, lock.path, lock.content)
        detail = {"gone": "already gone",
                  "other": "replaced meanwhile by another run's lock, which stays"}.get(
            outcome, f"{lock.command} of {lock.origin}, pid {lock.pid} on {lock.controller}, which is dead")
        report.actions.append(Action("remove lock", lock.path, lock.run_id, done, detail))
    return report


def _removal(title: str, argv: list[str]):
    """One removal, as a step that declares its one command: whatever else the code under it
    would run that changes state is refused (core.declared), as in a plan's step."""
    return acting(Step(title, [argv]))


# --- showing -----------------------------------------------------------------------------

_VERB = {
    ("unmount", "done"): "unmounted", ("unmount", "planned"): "would unmount",
    ("unmount", "kept"): "NOT unmounted", ("unmount", "failed"): "FAILED to unmount",
}


def render(report: CleanupReport) -> str:
    lines = []
    for action in report.actions:
        verb = _VERB.get((action.kind, action.outcome))
        if verb is None:
            noun = action.kind.removeprefix("remove ")
            verb = {"done": "removed", "planned": "would remove", "kept": "KEPT",
                    "failed": "FAILED to remove"}[action.outcome] + f" {noun}"
        line = f"  {verb} {action.target}"
        line += f" (run {action.run_id})" if action.run_id else ""
        line += f": {action.detail}" if action.detail else ""
        lines.append(line)
    head = f"cleanup on {report.host}" + (" (dry run: nothing was changed)" if report.dry_run else "")
    if not report.actions:
        lines.append("  nothing to clean up")
    if report.unknown:
        lines.append("left alone (lvmkit cannot tell which run they belong to):")
        lines += [f"  {u.what}: {u.why}" for u in report.unknown]
    if report.live:
        lines.append("runs in progress, not touched:")
        lines += [f"  {lk.run_id}: {lk.command} of {lk.origin}, pid {lk.pid} on {lk.controller} since {lk.started}"
                  + ("" if lk.alive else " (on another controller: cannot tell if alive)") for lk in report.live]
    if not report.clean:
        lines.append("some leftovers remain: see above; run `lvmkit cleanup` again once they are no longer in use")
    return "\n".join([head, *lines])
