"""Jobs and prune against real LVM: `job run --all` over a volume, a group and a thin
volume, a refused job that does not stop the others, metrics of both outcomes, `job check`
changing nothing, a job run as the scheduled-job runbook (recorded and audited), and prune
over real sets with forged ages keeping exactly what the rules say."""

from __future__ import annotations

import json
import time

import pytest

from lvmkit import cli
from lvmkit.core.journal import Journal
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.verify import verify
from tests.fixtures.forge import forge_copy

from .conftest import LAB_VG
from .leftovers import lvmkit_mounts, lvmkit_volumes, partial_archives

QUIET = {"log": lambda message: None}


@pytest.fixture
def volumes(lvm_host, unique):
    """Volumes of the test's own, ext4, mounted: two small ones to back up and a store for
    the archive sets (the session's shared store may be held by another run of the tests on
    the same lab). The thin volume is the lab's own: a new one in labvg/pool is refused
    ("free space in thin pool reached threshold": the pool is over-provisioned already)."""
    names = {"one": f"j_{unique}a", "two": f"j_{unique}b", "store": f"j_{unique}s"}
    made = []
    try:
        for role, name in names.items():
            size = "128M" if role == "store" else "32M"
            lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", size, "-n", name, LAB_VG], changes=True)
            made.append(name)
            lvm_host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"], changes=True)
            lvm_host.run(["mkdir", "-p", f"/run/lvmkit-test/{name}"], changes=True)
            lvm_host.run(["mount", f"/dev/{LAB_VG}/{name}", f"/run/lvmkit-test/{name}"], changes=True)
            if role != "store":
                lvm_host.run(["cp", "-r", "/usr/share/zoneinfo/Europe", f"/run/lvmkit-test/{name}/"], changes=True)
        yield {**{role: f"{LAB_VG}/{name}" for role, name in names.items()}, "thin": f"{LAB_VG}/thinvol"}
    finally:
        for name in reversed(made):
            lvm_host.run(["umount", f"/run/lvmkit-test/{name}"], changes=True, check=False)
            lvm_host.run(["rmdir", f"/run/lvmkit-test/{name}"], changes=True, check=False)
            lvm_host.run(["lvremove", "--quiet", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)


@pytest.fixture
def dest(lvm_host, volumes):
    """An empty directory on the test's own store."""
    path = f"/run/lvmkit-test/{volumes['store'].split('/')[1]}/sets"
    lvm_host.run(["mkdir", "-m", "0700", "--", path], changes=True)
    return path


def assert_nothing_left(host, volumes: dict, dest: str) -> None:
    """No snapshot or mount of this test's volumes and no partial set: the lab's whole
    check (leftovers.assert_no_leftovers) would see other engineers' runs in the shared lab."""
    ours = tuple(volume.split("/")[1] for volume in volumes.values() if volume.split("/")[1].startswith("j_"))
    assert [v for v in lvmkit_volumes(host) if v.split("/")[1].startswith(ours)] == []
    assert [m for m in lvmkit_mounts(host) if any(f"-{name}" in m for name in ours)] == []
    assert partial_archives(host, dest) == []


def sets_in(host, directory: str) -> list[str]:
    found = host.run(["find", directory, "-mindepth", "1", "-maxdepth", "1", "-printf", "%f\\n"]).stdout
    return sorted(found.split())


def test_job_run_all_runs_each_job_and_a_refused_one_does_not_stop_the_others(
        lvm_host, volumes, dest, tmp_path, request, capsys):
    host_spec = request.config.getoption("--lvm-host")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    config = tmp_path / "lvmkit.toml"
    config.write_text(f"""
[defaults]
host = "{host_spec}"
dest = "{dest}"
engine = "tar"
metrics_dir = "{metrics_dir}"
retention = {{ last = 1 }}

[jobs.a_missing]
origin = "{LAB_VG}/j_no_such_volume"

[jobs.b_volume]
origin = "{volumes['one']}"
after = ["verify", "prune"]  # on one job only: the emulated lab is slow

[jobs.c_thin]
origin = "{volumes['thin']}"

[jobs.d_group]
group = ["{volumes['one']}", "{volumes['two']}"]
""")
    journal = tmp_path / "journal.jsonl"
    assert cli.main(["--journal", str(journal), "job", "check", "--config", str(config)]) == 3  # refused
    assert not [e for e in Journal.read(journal) if e.changes_state], "job check changed something"
    out = capsys.readouterr().out
    assert "job a_missing: NOT READY" in out and "3 of 4 jobs ready" in out

    began = time.monotonic()
    assert cli.main(["--journal", str(journal), "job", "run", "--all", "--config", str(config)]) == 1
    print(f"job run --all of 4 jobs: {time.monotonic() - began:.0f} s")  # the lab's cost, shown with -s
    out = capsys.readouterr().out
    assert "a_missing: refused" in out and "3 of 4 jobs succeeded; failed: a_missing" in out
    names = sets_in(lvm_host, dest)
    assert [n.split("-")[0] for n in names] == ["b_volume", "c_thin", "d_group"]
    assert 'lvmkit_job_freeze_window_seconds{job="d_group"}' in (metrics_dir / "lvmkit_job_d_group.prom").read_text()
    for job in ("b_volume", "c_thin", "d_group"):
        text = (metrics_dir / f"lvmkit_job_{job}.prom").read_text()
        assert f'lvmkit_job_last_run_success{{job="{job}"}} 1' in text
    assert 'lvmkit_job_last_verify_success{job="b_volume"} 1' in (metrics_dir / "lvmkit_job_b_volume.prom").read_text()
    refused = (metrics_dir / "lvmkit_job_a_missing.prom").read_text()
    assert 'lvmkit_job_last_run_refused{job="a_missing"} 1' in refused
    assert "lvmkit_job_last_success_timestamp_seconds" not in refused

    # A second run of one job, as the scheduled-job runbook: recorded and audited like a manual
    # run; its prune (keep last 1, per origin and job) removes the first set.
    records = tmp_path / "records"
    capsys.readouterr()
    assert cli.main(["--journal", str(journal), "runbook", "run", "scheduled-job", "-p", "job", "b_volume",
                     "-p", "config", str(config), "--records", str(records)]) == 0
    folder = json.loads(capsys.readouterr().out.splitlines()[-1])["record"]
    outcome = json.loads(open(f"{folder}/job.json").read())
    assert outcome["outcome"] == "success" and outcome["facts"]["pruned"] == 1
    recorded = [e.argv for e in Journal.read(f"{folder}/journal.jsonl") if e.changes_state]
    assert any(argv[:2] == ["lvcreate", "--snapshot"] for argv in recorded), "the record holds the job's commands"
    assert cli.main(["audit", "verify", str(records)]) == 0
    after = sets_in(lvm_host, dest)
    assert len(after) == 3 and names[0] not in after and names[1:] == after[1:]
    assert_nothing_left(lvm_host, volumes, dest)


# Forged ages across every boundary, newest first, and what --keep-daily 2 --keep-weekly 3
# --keep-monthly 3 --keep-yearly 2 decides (worked out by hand; see docs/retention.md):
AGES = {
    "2026-11-30T10:00:00+00:00": "keep",    # Mon W49: daily, weekly, monthly (Nov), yearly (2026)
    "2026-11-30T01:00:00+00:00": "remove",  # the same day, week, month and year
    "2026-11-29T23:00:00+00:00": "keep",    # Sun W48: week change; daily, weekly
    "2026-11-01T00:30:00+00:00": "keep",    # Sun W44: weekly (the third)
    "2026-10-31T23:30:00+00:00": "keep",    # month change: monthly (Oct)
    "2026-01-01T00:10:00+00:00": "keep",    # monthly (Jan 2026, the third)
    "2025-12-31T23:50:00+00:00": "keep",    # year change: yearly (2025, the second)
    "2025-06-01T12:00:00+00:00": "keep",    # every count used up, but the newest verified set
    "2025-05-01T12:00:00+00:00": "remove",  # the oldest, with no count left
}
VERIFIED = "2025-06-01T12:00:00+00:00"


def test_prune_over_real_sets_with_forged_ages_keeps_exactly_what_the_rules_say(lvm_host, volumes, dest, request,
                                                                                tmp_path, capsys):
    original = backup(lvm_host, BackupRequest(origin=volumes["one"], dest=dest, engine="tar"), **QUIET).paths.final
    store = f"{dest}/forged"
    lvm_host.run(["mkdir", "-m", "0700", "--", store], changes=True)
    named = {}
    for started in AGES:
        named[started] = f"j-{started[:19].replace(':', '')}"
        copy = forge_copy(lvm_host, original, store, named[started], started)
        if started == VERIFIED:
            assert verify(lvm_host, copy).passed  # the forged copy is a sound set
    lvm_host.run(["mkdir", "--", f"{store}/not-a-set"], changes=True)  # never touched

    journal = tmp_path / "journal.jsonl"
    argv = ["--host", request.config.getoption("--lvm-host"), "--journal", str(journal), "prune", store, "--keep-daily", "2",
            "--keep-weekly", "3", "--keep-monthly", "3", "--keep-yearly", "2"]
    capsys.readouterr()
    assert cli.main([*argv, "--dry-run", "--json"]) == 0
    declared = [argv for step in json.loads(capsys.readouterr().out)["plan"]["steps"] for argv in step["commands"]]
    assert len(sets_in(lvm_host, store)) == len(AGES) + 1  # a dry run removes nothing
    assert cli.main(argv) == 0
    executed = [entry.argv for entry in Journal.read(journal) if entry.changes_state and not entry.planned]
    assert executed == declared and len(declared) == 2 * 2  # two sets: rename, then delete each
    expected = sorted([named[t] for t, verdict in AGES.items() if verdict == "keep"] + ["not-a-set"])
    assert sets_in(lvm_host, store) == expected
    assert cli.main(argv) == 0  # a second prune finds nothing more to remove
    assert sets_in(lvm_host, store) == expected

