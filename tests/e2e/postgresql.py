"""A PostgreSQL cluster in the lab, run by the tests: Debian's own binaries, as the postgres user.

The guest runs the host's userspace (docs/lab.md), so the server, pgbench and pg_amcheck of
Debian's postgresql-15 and postgresql-client-15 are there; no cluster of the package's own
is started (docs/postgresql.md). A cluster keeps its data directory on one volume and its
WAL on another (`initdb --waldir`: `pg_wal` is a symlink to the WAL volume), listens on
its own port and a socket directory of its own, under /run/lvmkit-test, and is stopped by
whoever started it, also when a test fails.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

PG_BIN = "/usr/lib/postgresql/15/bin"
ROOT = "/run/lvmkit-test"

# Small enough for the lab's RAM and volumes; checkpoints stay frequent under pgbench as on
# a busy server (max_wal_size), and WAL is recycled at each (min_wal_size).
SETTINGS = """
shared_buffers = 32MB
max_connections = 20
min_wal_size = 32MB
max_wal_size = 64MB
fsync = on
full_page_writes = on
"""

# The invariant pgbench's transaction keeps: every committed transaction adds the same delta
# to one account, one teller, one branch, and inserts it into the history.
INVARIANT = """
SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),
       (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),
       (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),
       (SELECT coalesce(sum(delta), 0) FROM pgbench_history),
       (SELECT count(*) FROM pgbench_history)
"""


def as_postgres(argv: list[str]) -> list[str]:
    # --chdir: the SSH session's directory (/root) is closed to the postgres user
    return ["runuser", "-u", "postgres", "--", "env", "--chdir=/", *argv]


def postgres_dir(host, path: str) -> None:
    host.run(["install", "-d", "-o", "postgres", "-g", "postgres", "-m", "0700", path], changes=True)


@dataclass
class Cluster:
    """One running (or runnable) cluster: its data directory, port and socket directory."""

    data: str
    port: int
    run_dir: str  # socket and server log; the postgres user's

    @property
    def log(self) -> str:
        return f"{self.run_dir}/server.log"

    def start(self, host, timeout_s: int = 600) -> float:
        """Start it and wait until it accepts connections (after crash recovery, if any);
        the seconds that took. Raises CommandError when it does not start."""
        postgres_dir(host, self.run_dir)
        began = time.monotonic()
        # -o: the port and socket directory of this copy, whatever its postgresql.conf says
        # (a restored copy must not collide with its origin, which still runs); -w -t: wait
        # for the end of recovery, up to timeout_s
        host.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", str(timeout_s),
                              "-o", f"-p {self.port} -k {self.run_dir}", "start"]), changes=True)
        return time.monotonic() - began

    def stop(self, host) -> None:
        """Stop it if it runs (fast shutdown); a cluster that never started is no error."""
        host.run(as_postgres([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "120", "stop"]),
                 changes=True, check=False)

    def client(self, program: str, *args: str) -> list[str]:
        return as_postgres([f"{PG_BIN}/{program}", "-h", self.run_dir, "-p", str(self.port), *args])

    def sql(self, host, query: str) -> list[str]:
        # -X: no psqlrc; -A -t: bare values, one row a line, columns separated by |
        out = host.run(self.client("psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", "postgres",
                                   "-c", query)).stdout
        return out.split()

    def server_log(self, host) -> str:
        return host.run(["cat", self.log], check=False).stdout


def initdb(host, data_mount: str, wal_mount: str, port: int, run_dir: str) -> Cluster:
    """A new cluster: data directory on one mounted volume, WAL on the other."""
    data, wal = f"{data_mount}/data", f"{wal_mount}/wal"
    postgres_dir(host, data)
    postgres_dir(host, wal)
    # --no-sync: the lab's volumes are in RAM anyway, and the server syncs as usual afterwards
    host.run(as_postgres([f"{PG_BIN}/initdb", "--no-sync", "-A", "trust", "-U", "postgres", "--waldir", wal,
                          "-D", data]), changes=True)
    host.run(["tee", "-a", f"{data}/postgresql.conf"], input=SETTINGS, changes=True)
    return Cluster(data, port, run_dir)


def restored_copy(host, data_mount: str, wal_mount: str, port: int, run_dir: str) -> Cluster:
    """A cluster on copies of the two volumes (restored, or snapshots) mounted elsewhere: its
    pg_wal points at the copy of the WAL, and the origin's postmaster.pid (the origin still
    runs, so PostgreSQL would refuse to start over it) is removed, as a DBA does."""
    data, wal = f"{data_mount}/data", f"{wal_mount}/wal"
    host.run(["ln", "-sfn", "--", wal, f"{data}/pg_wal"], changes=True)
    host.run(["rm", "-f", "--", f"{data}/postmaster.pid"], changes=True)
    return Cluster(data, port, run_dir)


@dataclass(frozen=True)
class Invariant:
    accounts: int
    tellers: int
    branches: int
    history: int
    transactions: int

    @property
    def holds(self) -> bool:
        return self.accounts == self.tellers == self.branches == self.history


def invariant(host, cluster: Cluster) -> Invariant:
    values = [int(v) for v in cluster.sql(host, INVARIANT)[0].split("|")]
    return Invariant(*values)


def amcheck(host, cluster: Cluster):
    """pg_amcheck over every database (heap and B-tree indexes), installing the amcheck
    extension where it is missing; the command's result (exit 0: no corruption found)."""
    return host.run(cluster.client("pg_amcheck", "--all", "--install-missing", "-U", "postgres"), check=False)


REDO_ELAPSED = re.compile(r"redo done at .*elapsed: (?P<s>[0-9.]+) s")


def redo_seconds(log: str) -> float | None:
    """How long the server's crash recovery replayed WAL, from its own log (None: no redo)."""
    found = REDO_ELAPSED.search(log)
    return float(found["s"]) if found else None


PROGRESS = re.compile(r"progress: [0-9.]+ s, (?P<tps>[0-9.]+) tps")


def progress_tps(stderr: str) -> list[float]:
    """The tps of each `pgbench --progress` line."""
    return [float(m["tps"]) for m in PROGRESS.finditer(stderr)]
