"""`lvmkit copy SET DEST`: a second copy of an archive set, somewhere else, proved on arrival.

The controller runs the copy: it pulls the set from the target and pushes it to the
destination, so the target holds no key for the destination. Both legs are rsync over the
OpenSSH settings lvmkit already uses for the target (lvmkit.core.host). A destination on
the controller gets the set directly; a destination on another host gets it through the
controller's staging directory (rsync cannot copy between two remote hosts), which then
holds one set at a time.

Resumable: the copy is written as DEST/.SET.copy-partial (and STAGING/.SET.copy-partial),
which an interrupted copy leaves behind and the next copy continues (rsync skips what
arrived whole and uses a file cut off mid-way as the basis for the rest). Checked on
arrival: `sha256sum -c SHA256SUMS` in the partial at the destination, by the destination's
own tools; files that fail are removed from the partial (the next copy sends them again) and
the copy is refused. Published atomically: syncfs, rename to DEST/SET, fsync of DEST.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from lvmkit.archive.archive_set import SUMS, read_file, validate_set_name
from lvmkit.archive.manifest import read_manifest
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Conditional, Plan, Slot, Step, StepRecord, execute
from lvmkit.ops.copy_lock import COPY_LOCK_DIR, holding
from lvmkit.ops.copy_transfer import (
    Place,
    check_argv,
    failed_files,
    make_partial_argv,
    publish_argv,
    remove_file_argv,
    remove_tree_argv,
    rsync_argv,
)

DEFAULT_STAGING = "/var/lib/lvmkit/copies"  # on the controller
STOP_ARGV = ["kill", "-TERM", "--", Slot("the process group of rsync")]


class CopyRefused(LvmkitError):
    """The copy arrived damaged, or the destination already holds a different set of that name."""


@dataclass(frozen=True)
class CopyRequest:
    archive_set: str  # on the target
    dest: Place  # a directory on the controller or on another host
    staging: str = DEFAULT_STAGING  # on the controller, for a destination on another host
    bwlimit_kib: int | None = None  # rsync's --bwlimit, KiB/s: keep a copy from filling the link
    lock_dir: Path = COPY_LOCK_DIR


@dataclass
class CopyRun:
    request: CopyRequest
    name: str
    source: Place
    sums: str  # the set's SHA256SUMS, as the target holds it
    already_there: bool
    plan: Plan | None = None
    records: list[StepRecord] = field(default_factory=list)

    @property
    def final(self) -> str:
        return self.request.dest.describe(self.name)


def validate_bwlimit(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 10_000_000:
        raise LvmkitError(f"--bwlimit {value}: give KiB/s between 1 and 10000000")
    return value


def prepare(target: Host, controller: Host, request: CopyRequest) -> CopyRun:
    """Read-only: the set exists and is whole on the target, the destination takes it."""
    archive_set = target_path(request.archive_set, "archive set")
    target_path(request.dest.directory, "copy destination")
    target_path(request.staging, "staging directory")
    validate_bwlimit(request.bwlimit_kib)
    name = validate_set_name(posixpath.basename(archive_set))
    source = Place(target, posixpath.dirname(archive_set))
    read_manifest(target, archive_set)  # an lvmkit set (or a group's), readable here
    sums = read_file(target, f"{archive_set}/{SUMS}")
    dest = request.dest
    for host in {id(h): h for h in (target, dest.host, controller)}.values():
        host.require_tools(["rsync", "sha256sum"] if host is dest.host else ["rsync"])
    if dest.host.run(["test", "-d", dest.directory], check=False).returncode != 0:
        raise LvmkitError(f"copy destination {dest.describe()} is not a directory: create it (mode 0700) first")
    existing = dest.host.run(["cat", "--", f"{dest.final(name)}/{SUMS}"], check=False)
    if existing.returncode == 0 and existing.stdout != sums:
        raise CopyRefused(f"{dest.describe(name)} exists and differs from {archive_set} (other SHA256SUMS): "
                          f"remove or rename it there first; lvmkit never overwrites a set")
    run = CopyRun(request, name, source, sums, already_there=existing.returncode == 0)
    if not run.already_there:
        run.plan = plan(run, controller)
    return run


def staged(run: CopyRun, controller: Host) -> bool:
    """Whether the copy goes through the controller's staging directory (both ends remote)."""
    return _remote(run.source.host) and _remote(run.request.dest.host)


def _remote(host: Host) -> bool:
    return bool(host.rsync_endpoint("/")[0])  # rsync reaches it through ssh options


def plan(run: CopyRun, controller: Host) -> Plan:
    request, name, dest = run.request, run.name, run.request.dest
    source_dir = run.source.final(name)
    partial = dest.partial(name)
    steps = []
    if staged(run, controller):
        staging = Place(controller, request.staging).partial(name)
        steps += [
            Step(f"make the staging copy {staging} on the controller", [make_partial_argv(staging)]),
            _transfer(f"pull {run.source.describe(name)} into the staging copy", controller,
                      rsync_argv(run.source.host, source_dir, controller, staging, request.bwlimit_kib)),
        ]
        source_host, source_dir = controller, staging
    else:
        source_host = run.source.host
    steps += [
        Step(f"make the partial copy {dest.describe()}/.{name}.copy-partial",
             [make_partial_argv(partial)], run=_on(dest.host, [make_partial_argv(partial)])),
        _transfer(f"send the set into the partial copy at {dest.describe()}", controller,
                  rsync_argv(source_host, source_dir, dest.host, partial, request.bwlimit_kib)),
        _arrival(dest.host, partial, (controller, source_dir) if staged(run, controller) else None),
        Step(f"publish {dest.describe(name)}: sync, rename, sync the directory",
             [publish_argv(partial, dest.final(name), dest.directory)],
             run=_on(dest.host, [publish_argv(partial, dest.final(name), dest.directory)])),
    ]
    if staged(run, controller):
        staging = Place(controller, request.staging).partial(name)
        steps.append(Step("remove the staging copy", [remove_tree_argv(staging)],
                          run=_on(controller, [remove_tree_argv(staging)])))
    return Plan(f"copy {run.source.describe(name)} to {dest.describe()}", steps,
                facts={"set": name, "sums_sha256_lines": len(run.sums.splitlines())})


def copy(target: Host, controller: Host, request: CopyRequest, *, log=None) -> CopyRun:
    name = validate_set_name(posixpath.basename(target_path(request.archive_set, "archive set")))
    with holding(request.lock_dir, name):
        run = prepare(target, controller, request)
        if run.plan is not None:
            run.records = execute(run.plan, controller, log=log)
        return run


def _on(host: Host, commands: list[list[str]]):
    """A step's run on `host` (a plan executes with one host; a copy's steps act on several)."""
    def run(_host: Host) -> None:
        for argv in commands:
            host.run(argv, changes=True)
    return run


def _transfer(title: str, controller: Host, argv: list[str]) -> Step:
    def run(_host: Host) -> None:
        # Started tethered (Host.start): if lvmkit dies, rsync dies with it and leaves the
        # partial for the next copy; on Ctrl-C or SIGTERM it is stopped, and the partial kept.
        running = controller.start(argv)
        try:
            while running.poll(timeout=1.0) is None:
                pass
        except BaseException:
            running.terminate()
            raise
        running.wait()
    return Step(title, [argv], run=run, conditional=[Conditional("the copy is interrupted", STOP_ARGV)])


def _arrival(host: Host, partial: str, staging: tuple[Host, str] | None) -> Step:
    """Check the partial at the destination; a damaged file is removed from it (and from the
    staging copy, which may be where it was damaged) so that the next copy sends it anew."""
    partials = [partial] + ([staging[1]] if staging else [])
    damaged = [Conditional("a file fails its checksum (the next copy sends it anew)",
                           remove_file_argv(Slot(f"a damaged file in {path}"))) for path in partials]
    whole = [Conditional("a damaged file's name cannot be read back safely", remove_tree_argv(path))
             for path in partials]
    places = [(host, partial)] + ([staging] if staging else [])

    def run(_host: Host) -> None:
        result = host.run(check_argv(partial), check=False)
        if result.returncode == 0:
            return
        names = failed_files(result.stdout)
        for where, path in places:
            if names:
                for name in names:
                    where.run(remove_file_argv(f"{path}/{name}"), changes=True)
            else:
                where.run(remove_tree_argv(path), changes=True)
        what = f"{len(names)} file(s) failed their checksum ({', '.join(names[:5])})" if names else \
            f"sha256sum -c failed: {(result.stderr or result.stdout).strip()[-300:]}"
        raise CopyRefused(f"the copy arrived damaged at {host.name}:{partial}: {what}; "
                          f"{'they were' if names else 'the partial copy was'} removed, and nothing was published. "
                          f"Run the copy again: it sends {'them' if names else 'the set'} anew")
    return Step(f"check the copy on arrival: sha256sum -c {SUMS} in {partial}", [check_argv(partial)],
                run=run, conditional=[*damaged, *whole])
