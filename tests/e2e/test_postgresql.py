"""A real database, checked by its own tools: PostgreSQL with its data and its WAL on two volumes.

pgbench writes at full speed while lvmkit backs up both volumes as one consistency group;
both are restored to new volumes, PostgreSQL starts on them (its own crash recovery runs),
`pg_amcheck --all` finds no corruption and pgbench's invariant holds. The hazard that a
group prevents is shown too (full tier): snapshots taken one after the other, a forced
CHECKPOINT between them. What each order gave is in docs/postgresql.md.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

from lvmkit.core.errors import CommandError
from lvmkit.ops.group import GroupRequest, backup_group, restore_group

from . import postgresql as pg
from .conftest import LAB_VG
from .leftovers import assert_no_leftovers
from .runbook_cli import argvs, lvmkit, record_of
from .volumes import drop_volume, make_mount, make_volume

QUIET = {"log": lambda message: None}
VOLUME_SIZE = "192M"
PORT = 20000 + uuid.uuid4().int % 20000  # this module's cluster; its copies listen on the next port
WARM_UP_S = 10  # pgbench is writing at full speed before the snapshots


@pytest.fixture(scope="module")
def cluster(lvm_host):
    """A cluster whose data directory is on one volume and pg_wal on another, initialised by
    pgbench (scale 1: 100,000 accounts); stopped and removed at the end, also on failure."""
    unique = uuid.uuid4().hex[:8]
    data_lv, wal_lv = f"pgd_{unique}", f"pgw_{unique}"
    started = None
    try:
        data_mp = make_volume(lvm_host, data_lv, VOLUME_SIZE)
        wal_mp = make_volume(lvm_host, wal_lv, VOLUME_SIZE)
        started = pg.initdb(lvm_host, data_mp, wal_mp, PORT, f"{pg.ROOT}/pg-{unique}")
        started.start(lvm_host)
        lvm_host.run(started.client("pgbench", "-i", "-q", "-s", "1", "postgres"), changes=True)
        yield {"cluster": started, "data_lv": data_lv, "wal_lv": wal_lv,
               "members": (f"{LAB_VG}/{data_lv}", f"{LAB_VG}/{wal_lv}")}
    finally:
        if started is not None:
            started.stop(lvm_host)
            lvm_host.run(["rm", "-rf", "--", started.run_dir], changes=True, check=False)
        drop_volume(lvm_host, data_lv)
        drop_volume(lvm_host, wal_lv)


def start_pgbench(host, cluster: pg.Cluster):
    # -n: no vacuum first; -c 4 -j 2: four clients on the guest's two CPUs; -T: longer than
    # any test, which stops it; -P 5: a tps reading every 5 s on stderr
    bench = host.start(cluster.client("pgbench", "-n", "-c", "4", "-j", "2", "-T", "3600", "-P", "5", "postgres"))
    time.sleep(WARM_UP_S)
    assert bench.poll() is None, f"pgbench runs: {bench.stderr_so_far()}"
    return bench


def stop_pgbench(bench) -> list[float]:
    bench.terminate()
    return pg.progress_tps(bench.wait(check=False).stderr)


@dataclass
class Outcome:
    """What a copy of the two volumes gave when PostgreSQL was started on it."""

    started: bool
    start_s: float
    redo_s: float | None
    amcheck_rc: int | None
    invariant: pg.Invariant | None
    log: str

    @property
    def passes(self) -> bool:
        return self.started and self.amcheck_rc == 0 and self.invariant.holds

    def describe(self) -> str:
        if not self.started:
            return f"does not start after {self.start_s:.1f} s: {fatal_lines(self.log)}"
        return (f"started in {self.start_s:.1f} s (redo {self.redo_s} s), pg_amcheck exit {self.amcheck_rc}, "
                f"{self.invariant}")


def fatal_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "FATAL" in line or "PANIC" in line]


def start_and_check(host, data_mp: str, wal_mp: str, run_dir: str) -> Outcome:
    """Start PostgreSQL on a copy of both volumes, check it with its own tools, stop it."""
    copy = pg.restored_copy(host, data_mp, wal_mp, PORT + 1, run_dir)
    began = time.monotonic()
    try:
        try:
            start_s = copy.start(host, timeout_s=300)
        except CommandError:
            return Outcome(False, time.monotonic() - began, None, None, None, copy.server_log(host))
        checked = pg.amcheck(host, copy)
        found = pg.invariant(host, copy)
        log = copy.server_log(host)
        return Outcome(True, start_s, pg.redo_seconds(log), checked.returncode, found, log + checked.stdout)
    finally:
        copy.stop(host)
        host.run(["rm", "-rf", "--", run_dir], changes=True, check=False)


def test_group_backup_under_pgbench_restores_a_cluster_that_recovers_and_passes_its_checks(
        lvm_host, cluster, dest, unique):
    bench = start_pgbench(lvm_host, cluster["cluster"])
    try:
        began = time.monotonic()
        run = backup_group(lvm_host, GroupRequest(members=cluster["members"], dest=dest, engine="tar",
                                                  snapshot_size="50%ORIGIN"), **QUIET)
        backup_s = time.monotonic() - began
        assert bench.poll() is None, "pgbench wrote at full speed all along"
    finally:
        tps = stop_pgbench(bench)
    assert tps, "pgbench reported its progress"
    window = run.manifest.freeze_window

    suffix = f"-r{unique}"
    data_copy, wal_copy = f"{cluster['data_lv']}{suffix}", f"{cluster['wal_lv']}{suffix}"
    try:
        began = time.monotonic()
        restored = restore_group(lvm_host, run.paths.final, suffix, **QUIET)
        restore_s = time.monotonic() - began
        assert all(r.comparison.equal for r in restored)
        outcome = start_and_check(lvm_host, make_mount(lvm_host, data_copy), make_mount(lvm_host, wal_copy),
                                  f"{pg.ROOT}/pg-copy-{unique}")
    finally:
        drop_volume(lvm_host, data_copy)
        drop_volume(lvm_host, wal_copy)
    print(f"\nMEASURED group backup {backup_s:.1f} s (frozen {window.frozen_s:.2f} s), restore {restore_s:.1f} s, "
          f"pgbench tps {min(tps):.0f}-{max(tps):.0f}; copy {outcome.describe()}")
    assert outcome.started, f"the restored cluster starts: {fatal_lines(outcome.log)}"
    assert outcome.redo_s is not None, "it ran crash recovery: the snapshots were of a running server"
    assert outcome.amcheck_rc == 0, f"pg_amcheck --all finds no corruption:\n{outcome.log[-2000:]}"
    assert outcome.invariant.transactions > 0, "pgbench's transactions are in the copy"
    assert outcome.invariant.holds, f"every committed transaction is whole: {outcome.invariant}"
    assert_no_leftovers(lvm_host, dest)


@pytest.mark.full  # the default tier has the runbook's plan (tests/unit/test_postgresql_runbook.py)
def test_postgresql_backup_runbook_checkpoints_the_server_before_the_freeze(lvm_host, cluster, dest, tmp_path,
                                                                            request):
    server = cluster["cluster"]
    checkpoints = "SELECT checkpoints_req FROM pg_stat_bgwriter"
    before = int(server.sql(lvm_host, checkpoints)[0])
    hook = f"runuser -u postgres -- psql -X -h {server.run_dir} -p {server.port} -c CHECKPOINT"
    code, lines = lvmkit("--host", request.config.getoption("--lvm-host"), "runbook", "run", "postgresql-backup",
                         "-p", "members", ",".join(cluster["members"]), "-p", "dest", dest,
                         "-p", "pre_snapshot", hook, "--records", str(tmp_path))
    record = record_of(lines)
    assert code == 0 and record["run"]["outcome"] == "succeeded", record["run"]["error"]
    assert int(server.sql(lvm_host, checkpoints)[0]) > before, "the hook's CHECKPOINT reached the server"
    commands = argvs(record)
    # the journal keeps a hook's program, not its arguments (lvmkit/ops/hooks.py)
    hook_at = next(i for i, argv in enumerate(commands) if argv[0] == "timeout" and argv[3] == "runuser")
    freeze_at = next(i for i, argv in enumerate(commands) if argv[:2] == ["bash", "-c"] and "dmsetup suspend" in argv[2])
    assert hook_at < freeze_at, "the checkpoint comes before the snapshots"
    manifest = open(f"{record['folder']}/manifest.json").read()
    assert "pre-snapshot" in manifest and "runuser" in manifest, "the manifest records the hook"
    assert_no_leftovers(lvm_host, dest)


def snapshots_one_after_the_other(host, cluster, first: str, unique: str) -> Outcome:
    """Under pgbench: a snapshot of the `first` volume ("wal" or "data"), a forced CHECKPOINT,
    then a snapshot of the other; PostgreSQL started on the two snapshots."""
    order = ["wal", "data"] if first == "wal" else ["data", "wal"]
    snapshots = {role: f"hz{role[0]}_{unique}" for role in order}
    origins = {"data": cluster["members"][0], "wal": cluster["members"][1]}
    bench = start_pgbench(host, cluster["cluster"])
    try:
        host.run(["lvcreate", "--quiet", "-s", "-L", "96M", "-n", snapshots[order[0]], origins[order[0]]],
                 changes=True)
        # The CHECKPOINT moves the data ahead of the first snapshot for certain, whatever
        # the timing: it writes every dirty page and a checkpoint record into the WAL.
        cluster["cluster"].sql(host, "CHECKPOINT")
        host.run(["lvcreate", "--quiet", "-s", "-L", "96M", "-n", snapshots[order[1]], origins[order[1]]],
                 changes=True)
    finally:
        stop_pgbench(bench)
    try:
        return start_and_check(host, make_mount(host, snapshots["data"]), make_mount(host, snapshots["wal"]),
                               f"{pg.ROOT}/pg-hazard-{unique}")
    finally:
        for name in snapshots.values():
            drop_volume(host, name)


@pytest.mark.full
def test_wal_snapshotted_before_the_data_gives_a_cluster_that_does_not_start(lvm_host, cluster, unique):
    outcome = snapshots_one_after_the_other(lvm_host, cluster, "wal", unique)
    print(f"\nMEASURED wal first, CHECKPOINT, data: {outcome.describe()}")
    assert not outcome.started, f"the data's checkpoint is missing from the older WAL: {outcome.describe()}"
    assert any("could not locate a valid checkpoint record" in line for line in fatal_lines(outcome.log)), \
        fatal_lines(outcome.log)


@pytest.mark.full
def test_data_snapshotted_before_the_wal_recovers_whole_or_refuses_to_start(lvm_host, cluster, unique):
    """The base backup's order: the WAL copy is newer than the data. It recovers to the WAL's
    instant if the WAL still holds the data's checkpoint (measured in the lab: it did, see
    docs/postgresql.md); if the forced CHECKPOINT recycled that segment, it must refuse to
    start. What it may never do is start and fail its checks."""
    outcome = snapshots_one_after_the_other(lvm_host, cluster, "data", unique)
    print(f"\nMEASURED data first, CHECKPOINT, wal: {outcome.describe()}")
    if outcome.started:
        assert outcome.passes, outcome.describe()
        assert outcome.invariant.transactions > 0
    else:
        assert any("checkpoint record" in line or "has already been removed" in line
                   for line in fatal_lines(outcome.log)), outcome.describe()
