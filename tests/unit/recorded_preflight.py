"""A backup's preflight replayed from the batches recorded in the lab (tests/fixtures/probe/,
made by tests/fixtures/record_probe.py): shared by the preflight-batch and rebuild tests."""

from __future__ import annotations

import json

from lvmkit.archive.archive_set import ArchiveSetPaths
from lvmkit.archive.engines import get_engine
from lvmkit.core.batch import Query, batch_argv
from lvmkit.ops.backup import BackupRequest
from lvmkit.ops.backup_preflight import all_tools, probe_queries, run_preflight

from .conftest import FIXTURES

RECORDED = json.loads((FIXTURES / "probe" / "cases.json").read_text())
RUN_ID = "20261130T010000Z-rec1"


def recorded(case: str) -> str:
    """The batch's output recorded for `case` (a key of cases.json, e.g. "ext4vol")."""
    return (FIXTURES / "probe" / f"{case}.out").read_text()


def queries(case: str, in_group: bool = False) -> list[Query]:
    vg, lv, engine_name = RECORDED["cases"][case]
    engine = get_engine(engine_name)
    paths = ArchiveSetPaths(RECORDED["dest"], RECORDED["name"], engine.archive_name)
    return probe_queries(vg, lv, engine, all_tools(engine), None if in_group else paths)


def preflight(scripted_host, case: str, output: str | None = None, **request):
    """run_preflight of `case` answered by its recorded batch, or by `output` in its place."""
    vg, lv, engine_name = RECORDED["cases"][case]
    engine = get_engine(engine_name)
    paths = ArchiveSetPaths(RECORDED["dest"], RECORDED["name"], engine.archive_name)
    scripted_host.expect(batch_argv(queries(case)), stdout=recorded(case) if output is None else output)
    return run_preflight(scripted_host, BackupRequest(f"{vg}/{lv}", RECORDED["dest"], engine_name, **request),
                         engine, vg, lv, paths, RUN_ID, in_group=False)
