"""Rebuild a server's volumes on a blank disk from a directory of archive sets.

`lvmkit rebuild --from DIR --pv /dev/NEWDISK --vg NAME`: each volume's newest verified set
(lvmkit.ops.rebuild_sources), a preflight that refuses a disk with any signature and a
volume group name that exists (lvmkit.ops.rebuild_checks), then one plan: the PV, the VG,
the thin pools and the volumes as the layouts recorded them (lvmkit.ops.rebuild_steps),
and for each volume the restore's own steps (lvmkit.ops.restore.plan), each proved by its
content digest. An interrupted rebuild undoes every step in reverse; what is then still on
the disk is looked up and named.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from lvmkit.archive.digest import digest_tools
from lvmkit.archive.engines import get_engine
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host, utc_now
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Plan, Step, StepRecord, default_log, execute
from lvmkit.core.preflight import Check, Preflight
from lvmkit.core.runs import RUN_ROOT, new_run_id
from lvmkit.lvm.filesystem import probe
from lvmkit.lvm.reports import validate_vg_name
from lvmkit.ops import restore
from lvmkit.ops.rebuild_checks import REBUILD_TOOLS, check_target
from lvmkit.ops.rebuild_sources import Source, select_sources
from lvmkit.ops.rebuild_steps import (
    make_filesystem_argv,
    new_uuid_argv,
    pool_steps,
    volume_group_steps,
    volume_step,
)


@dataclass(frozen=True)
class RebuildRequest:
    source_dir: str  # --from: a directory of archive sets
    device: str  # --pv: the blank disk
    vg: str  # --vg: the new volume group's name
    new_uuids: bool = False

    def __post_init__(self):
        target_path(self.source_dir, "--from")
        target_path(self.device, "--pv")
        validate_vg_name(self.vg)


@dataclass
class Rebuilt:
    """One volume: where it came from, its restore, and how long it took to get it back."""

    source: Source
    restore: restore.RestoreRun
    steps: list[Step]
    duration_s: float = 0.0
    uuid: str | None = None

    @property
    def target(self) -> str:
        return f"{self.restore.vg}/{self.restore.lv}"


@dataclass
class RebuildRun:
    request: RebuildRequest
    run_id: str
    extent_size: int
    preflight: Preflight
    volumes: list[Rebuilt]
    duration_s: float = 0.0
    remains: list[str] = field(default_factory=list)  # after an interrupted run's undo

    @property
    def proved(self) -> bool:
        return all(v.restore.comparison is not None and v.restore.comparison.equal for v in self.volumes)

    def fstab_lines(self) -> list[str]:
        return [line for volume in self.volumes for line in fstab_lines(volume)]

    def as_dict(self) -> dict:
        return {
            "from": self.request.source_dir, "device": self.request.device, "vg": self.request.vg,
            "run_id": self.run_id, "duration_s": self.duration_s, "proved": self.proved,
            "volumes": [{"volume": v.source.volume, "archive_set": v.source.path, "target": v.target,
                         "engine": v.restore.engine.name, "duration_s": v.duration_s, "uuid": v.uuid,
                         "proved": v.restore.comparison is not None and v.restore.comparison.equal,
                         "comparison": v.restore.comparison.summary() if v.restore.comparison else None}
                        for v in self.volumes],
            "fstab": self.fstab_lines(), "finished": utc_now().isoformat(),
        }


def prepare(host: Host, request: RebuildRequest, run_id: str | None = None) -> RebuildRun:
    """Choose the sets and check the new disk (read-only); raise if anything is wrong."""
    run_id = run_id or new_run_id()
    selection = select_sources(host, request.source_dir)
    checks = Preflight()
    sources = selection.sources
    checks.add(Check("archive sets to rebuild from", bool(sources),
                     ", ".join(f"{s.volume} from {s.path}" for s in sources) if sources else
                     f"{request.source_dir} holds no verified archive set with a layout: "
                     f"`lvmkit verify` the sets, or back up again (lvmkit records layouts since 0.1)"))
    if selection.unverified:
        checks.fail("every volume has a verified set", f"not verified: {', '.join(selection.unverified)}; "
                    f"run `lvmkit verify` on their newest sets")
    if selection.without_layout:
        checks.fail("every volume's set records its layout",
                    f"{', '.join(selection.without_layout)}: their verified sets are older than layout "
                    f"recording; back them up again and verify")
    names = [s.lv for s in sources]
    clash = sorted({n for n in names if names.count(n) > 1})
    checks.add(Check("volume names distinct", not clash,
                     "yes" if not clash else f"{', '.join(clash)} come from several volume groups"))
    checks.raise_if_failed()
    extent_size = sources[0].layout["volume_group"]["extent_size"]
    tools = sorted({*REBUILD_TOOLS, *digest_tools(),
                    *(t for s in sources for t in get_engine(s.manifest.engine.name).tools(s.manifest.filesystem.type))})
    for check in check_target(host, request.device, request.vg, extent_size, sources, tools).checks:
        checks.add(check)
    checks.raise_if_failed()
    return RebuildRun(request, run_id, extent_size, checks, [_rebuilt(request, run_id, s) for s in sources])


def _rebuilt(request: RebuildRequest, run_id: str, source: Source) -> Rebuilt:
    engine = get_engine(source.manifest.engine.name)
    target = f"{request.vg}/{source.lv}"
    device = f"/dev/{target}"
    run = restore.RestoreRun(
        restore.RestoreRequest(source.path, to=target, confirm=target), run_id, source.manifest, engine,
        request.vg, source.lv, False, None, f"{RUN_ROOT}/{run_id}/restore-{request.vg}-{source.lv}", Preflight(),
        make_filesystem=None if engine.restore_makes_filesystem else
        make_filesystem_argv(source, device, request.new_uuids))
    steps = [volume_step(request.vg, source), *restore.plan(run).steps]
    if request.new_uuids and engine.restore_makes_filesystem:
        fstype = source.manifest.filesystem.type
        steps.append(Step(f"give {device}'s filesystem a new UUID", [new_uuid_argv(fstype, device)]))
    return Rebuilt(source, run, steps)


def plan(run: RebuildRun) -> Plan:
    request = run.request
    steps = [*volume_group_steps(request.device, request.vg, run.extent_size),
             *pool_steps(request.vg, [v.source for v in run.volumes])]
    for volume in run.volumes:
        steps += volume.steps
    return Plan(f"rebuild {len(run.volumes)} volumes from {request.source_dir} on {request.device} as {request.vg}",
                steps, facts={"run_id": run.run_id, "preflight": run.preflight.as_list()})


def rebuild(host: Host, request: RebuildRequest, *, log=None, run_id: str | None = None) -> RebuildRun:
    log = log or default_log
    run = prepare(host, request, run_id)
    log(f"preflight on {host.name}:\n{run.preflight.render()}")
    execute_run(host, run, plan(run), log)
    return run


def execute_run(host: Host, run: RebuildRun, the_plan: Plan, log=default_log) -> list[StepRecord]:
    """Execute; on failure (or a signal) the plan is undone, and what remains is named."""
    began = time.monotonic()
    try:
        records = execute(the_plan, host, log=log)
    except BaseException:
        run.remains = remains(host, run.request)
        log("the new disk is blank again" if not run.remains else
            "still on the new disk after the undo:\n  " + "\n  ".join(run.remains))
        raise
    run.duration_s = round(time.monotonic() - began, 3)
    durations = {id(step): record.duration_s for step, record in zip(the_plan.steps, records, strict=True)}
    for volume in run.volumes:
        volume.duration_s = round(sum(durations[id(step)] for step in volume.steps), 3)
        filesystem = probe(host, f"/dev/{volume.target}")
        volume.uuid = filesystem.uuid if filesystem else None
    failed = [v.target for v in run.volumes if not (v.restore.comparison and v.restore.comparison.equal)]
    if failed:
        raise LvmkitError(f"rebuilt, but the content of {', '.join(failed)} differs from its archive set "
                          f"(see above); the volumes stay for inspection")
    return records


def remains(host: Host, request: RebuildRequest) -> list[str]:
    """What is on the new disk: its signatures, and the volume group if it is still there."""
    found = []
    signatures = host.run(["wipefs", "--no-act", request.device], check=False)
    if signatures.returncode != 0:
        return [f"{request.device} cannot be read: {signatures.stderr.strip()}"]
    found += [f"signature: {line}" for line in signatures.stdout.splitlines()[1:] if line.strip()]
    lvs = host.run(["lvs", "--noheadings", "-o", "lv_name", request.vg], check=False)
    if lvs.returncode == 0:
        found.append(f"volume group {request.vg} with volumes: {' '.join(lvs.stdout.split()) or 'none'} "
                     f"(remove with lvremove {request.vg}/NAME, vgremove {request.vg}, pvremove {request.device})")
    return found


def fstab_lines(volume: Rebuilt) -> list[str]:
    """The lines to mount the rebuilt volume: the recorded ones with the new UUID, or suggested ones."""
    layout, fs = volume.source.layout, volume.source.layout["filesystem"]
    name = f"UUID={volume.uuid}" if volume.uuid else f"/dev/{volume.target}"
    recorded = layout.get("fstab") or []
    if recorded:
        return [" ".join([name, *line.split()[1:]]) for line in recorded]
    mountpoint = (layout.get("mountpoints") or [f"/srv/{volume.restore.lv}"])[0]
    return [f"{name} {mountpoint} {fs['type']} defaults 0 2"]

