"""Every runbook executed with papermill against real LVM, and what its record holds.

One execution per runbook, against a small volume of the tests' own (named rb_*, so that
other runs in the same lab never hold its lock), with archives in a directory of their
own. Python and the kernel stay on this machine; the storage commands go to --lvm-host.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import uuid

import pytest
from selenium.webdriver.common.by import By

from lvmkit.lab.paths import LabPaths
from lvmkit.lvm.lock import lock_path
from lvmkit.lvm.reports import get_lv, list_lvs
from lvmkit.lvm.snapshot import run_tag
from lvmkit.runbooks import audit
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.steps import DRILL_TAG, FLOOD
from tests.browser import console_errors, headless_chromium, no_selenium_manager

from .conftest import LAB_VG
from .leftovers import assert_no_leftovers, lvmkit_mounts, lvmkit_volumes, partial_archives
from .runbook_cli import argvs, lvmkit, record_of

SHARE = f"{LabPaths.default().share}/rb-tests"  # the lab's share: the same directory here and in the guest
RB_ROOT = "/run/rb-tests"  # where these tests mount their volumes
GROUP_ROOT = "/run/lvmkit-test"  # where the group's members are mounted, as the other end-to-end tests do


@pytest.fixture(scope="module")
def host_spec(request):
    return request.config.getoption("--lvm-host")


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    return tmp_path_factory.mktemp("records")


@pytest.fixture(scope="module")
def module_unique():
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def dest(lvm_host, module_unique):
    path = f"{SHARE}/{module_unique}"
    lvm_host.run(["mkdir", "-p", path], changes=True)
    yield path
    lvm_host.run(["rm", "-rf", "--", path], changes=True)


def origin_named(name: str, root: str = RB_ROOT) -> dict:
    return {"lv": name, "spec": f"{LAB_VG}/{name}", "mountpoint": f"{root}/{name}", "root": root}


def make_origin(lvm_host, name: str, root: str = RB_ROOT) -> dict:
    origin = origin_named(name, root)
    mountpoint = origin["mountpoint"]
    lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", "64M", "-n", name, LAB_VG], changes=True)
    lvm_host.run(["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"], changes=True)
    lvm_host.run(["mkdir", "-p", mountpoint], changes=True)
    lvm_host.run(["mount", f"/dev/{LAB_VG}/{name}", mountpoint], changes=True)
    lvm_host.run(["cp", "-a", "/usr/share/zoneinfo", f"{mountpoint}/data"], changes=True)
    lvm_host.run(["sync"], changes=True)
    return origin


def remove_origin(lvm_host, origin: dict) -> None:
    """Also what a make_origin that failed half-way left: every command tolerates what is not there."""
    lvm_host.run(["umount", origin["mountpoint"]], changes=True, check=False)
    lvm_host.run(["rmdir", origin["mountpoint"]], changes=True, check=False)
    lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{origin['lv']}"], changes=True, check=False)
    if origin["root"] == RB_ROOT:  # the shared /run/lvmkit-test stays: other tests mount there
        lvm_host.run(["rmdir", RB_ROOT], changes=True, check=False)  # once no other test's is left


@pytest.fixture(scope="module")
def origin(lvm_host, module_unique):
    """A small live ext4 volume of these tests' own, holding a few thousand files."""
    volume = make_origin(lvm_host, f"rb_src_{module_unique}")
    yield volume
    remove_origin(lvm_host, volume)


def plots_in(record: dict, runbook: str) -> dict[str, str]:
    """Each plot in the executed notebook, by the source of its cell: the line it shows in a terminal.
    Each must be in the HTML too, inline (a data: URI, no URL to fetch)."""
    notebook = json.loads(open(f"{record['folder']}/{runbook}.ipynb").read())
    page = open(f"{record['folder']}/{runbook}.html").read()
    found = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                assert f'src="data:image/png;base64,{png.strip()}' in page, "the plot is inline in the HTML"
                found["".join(cell["source"])] = "".join(output["data"]["text/plain"])
    assert not re.search(r"<img[^>]+src=[\"']https?:", page), "no image fetched from elsewhere"
    return found


def cell_errors(record: dict, runbook: str) -> list[tuple[str, dict]]:
    notebook = json.loads(open(f"{record['folder']}/{runbook}.ipynb").read())
    return [("".join(c["source"]), o) for c in notebook["cells"] for o in c.get("outputs", [])
            if o["output_type"] == "error"]


@pytest.fixture(scope="module")
def backed_up(lvm_host, host_spec, origin, dest, records):
    """The backup runbook, change-managed: its plan computed, approved by hash, executed."""
    common = ["-p", "origin", origin["spec"], "-p", "dest", dest, "-p", "engine", "fsarchiver",
              "--records", str(records)]
    code, lines = lvmkit("--host", host_spec, "runbook", "plan", "backup", *common)
    assert code == 0
    sha = lines[-1]
    plan = json.loads((records / "plans" / f"{sha}.json").read_text())
    code, lines = lvmkit("--host", host_spec, "runbook", "run", "backup", *common,
                         "--approve", sha, "--approved-by", "bob", "--change", "0012345", "--operator", "alice")
    record = record_of(lines)
    record.update(code=code, plan=plan, sha=sha)
    return record


def test_backup_runbook_runs_the_approved_plan_and_records_every_command(lvm_host, backed_up, dest):
    run, run_id = backed_up["run"], backed_up["plan"]["run_id"]
    assert backed_up["code"] == 0 and run["outcome"] == "succeeded", run["error"]
    assert run["approval"] == {"plan_sha256": backed_up["sha"], "approver": "bob"}
    assert run["change_id"] == "0012345" and run["operator"] == "alice" and run["run_id"] == run_id
    commands = argvs(backed_up)
    snapshot = next(argv for argv in commands if argv[:2] == ["lvcreate", "--snapshot"])
    assert run_tag(run_id) in snapshot, "the approved run id is the run's"
    # The plan's first step takes the origin's lock; the snapshot is the step after it.
    create = next(s for s in backed_up["plan"]["plan"]["steps"] if s["title"].startswith("create snapshot"))
    assert create["commands"][0] == snapshot, "the approved command ran"
    snapshot_name = snapshot[snapshot.index("--name") + 1]
    assert ["lvremove", "--yes", f"{LAB_VG}/{snapshot_name}"] in commands
    assert any("savefs" in argv for argv in commands)
    assert all(entry.returncode is not None for entry in backed_up["journal"])
    manifest = json.loads(open(f"{backed_up['folder']}/manifest.json").read())
    archive = f"{dest}/{manifest['name']}"
    assert json.loads(lvm_host.run(["cat", f"{archive}/manifest.json"]).stdout) == manifest
    lvm_host.run(["env", f"--chdir={archive}", "sha256sum", "--check", "--strict", "SHA256SUMS"])
    assert {"filesystem.fsa", "digest.json", "layout.json", "vgcfgbackup.txt"} <= set(manifest["checksums"])
    sums = lvm_host.run(["env", f"--chdir={archive}", "sha256sum", "--", *sorted(manifest["checksums"])]).stdout
    assert {line.split()[1]: line.split()[0] for line in sums.splitlines()} == manifest["checksums"]
    digest = lvm_host.run(["cat", f"{archive}/digest.json"]).stdout
    assert manifest["digest"]["files"] > 500
    assert manifest["digest"]["sha256"] == hashlib.sha256(digest.encode()).hexdigest()
    assert set(run["files"]) == {"backup.ipynb", "backup.html", "journal.jsonl", "manifest.json",
                                 "approved-plan.json"}
    readings = manifest["snapshot"]["readings"]  # the final check's at least, after the last byte
    assert readings and readings[-1]["used_percent"] == manifest["snapshot"]["final_percent"]
    assert max(r["used_percent"] for r in readings) == manifest["snapshot"]["peak_percent"]
    assert all(r["size_bytes"] == manifest["snapshot"]["size_bytes"] for r in readings), "not autoextended"
    (shown,) = plots_in(backed_up, "backup").values()  # one panel: this snapshot, every reading the manifest keeps
    assert shown == (f"[plot] snapshot {manifest['snapshot']['name']}: its copy-on-write space used: "
                     f"{len(readings)} readings, peak {manifest['snapshot']['peak_percent']:.1f}%")
    assert_no_leftovers(lvm_host, dest)


def test_verify_runbook_checks_the_archive_set_without_restoring(lvm_host, host_spec, backed_up, dest, records):
    archive = f"{dest}/{json.loads(open(backed_up['folder'] + '/manifest.json').read())['name']}"
    code, lines = lvmkit("--host", host_spec, "runbook", "run", "verify", "-p", "archive", archive,
                         "--records", str(records))
    record = record_of(lines)
    assert code == 0 and record["run"]["outcome"] == "succeeded", record["run"]["error"]
    verification = json.loads(open(f"{record['folder']}/verification.json").read())
    assert verification["passed"] and not verification["deep"]
    assert {c["name"] for c in verification["checks"]} >= {"checksums match", "fsarchiver reads the archive",
                                                            "content digest matches the manifest"}
    assert any(argv[:2] == ["env", f"--chdir={archive}"] and "--check" in argv for argv in argvs(record))
    assert not any(argv[0] == "lvcreate" for argv in argvs(record)), "a plain verification creates nothing"


def test_restore_runbook_restores_to_a_new_volume_and_proves_it(lvm_host, host_spec, backed_up, dest, records,
                                                                module_unique):
    archive = f"{dest}/{json.loads(open(backed_up['folder'] + '/manifest.json').read())['name']}"
    target = f"rb_restored_{module_unique}"
    try:
        code, lines = lvmkit("--host", host_spec, "runbook", "run", "restore", "-p", "archive", archive,
                             "-p", "to_new", f"{LAB_VG}/{target}", "--records", str(records))
        record = record_of(lines)
        assert code == 0 and record["run"]["outcome"] == "succeeded", record["run"]["error"]
        result = json.loads(open(f"{record['folder']}/restore.json").read())
        assert result["verified"] is True and result["target"] == f"{LAB_VG}/{target}"
        assert result["comparison"].startswith("digests equal:")
        assert any(argv[0] == "lvcreate" and target in argv for argv in argvs(record))
        assert any("restfs" in argv for argv in argvs(record))
        assert get_lv(lvm_host, LAB_VG, target) is not None, "the restored volume stays: it was asked for"
        assert_no_leftovers(lvm_host, dest)
    finally:
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{target}"], changes=True, check=False)


def test_dr_rehearsal_runbook_proves_the_restore_reports_rto_and_rpo_and_tears_down(
        lvm_host, host_spec, origin, dest, records, module_unique):
    scratch = f"rb_dr_{module_unique}"
    try:
        code, lines = lvmkit("--host", host_spec, "runbook", "run", "dr-rehearsal", "-p", "origin",
                             origin["spec"], "-p", "dest", dest, "-p", "engine", "tar", "-p", "scratch_name", scratch,
                             "--records", str(records))
        record = record_of(lines)
        assert code == 0 and record["run"]["outcome"] == "succeeded", record["run"]["error"]
        report = json.loads(open(f"{record['folder']}/rehearsal.json").read())
        assert report["proved"] is True and report["restored_to"] == f"{LAB_VG}/{scratch}"
        assert 0 < report["rto_s"] < record["run"]["duration_s"]
        assert report["rto_s"] < report["rpo_s"] < record["run"]["duration_s"]
        assert report["paths_compared"] > 500
        commands = argvs(record)
        assert any(argv[0] == "lvcreate" and scratch in argv for argv in commands)
        assert ["lvremove", "--yes", f"{LAB_VG}/{scratch}"] in commands
        assert get_lv(lvm_host, LAB_VG, scratch) is None, "the scratch volume is torn down"
        assert {"manifest.json", "rehearsal.json"} <= set(record["run"]["files"])
        assert record["run"]["recovery"] == {key: report[key] for key in ("rto_s", "rpo_s", "origin", "engine",
                                                                           "proved")}
        (shown,) = plots_in(record, "dr-rehearsal").values()  # the first rehearsal of its volume in these records
        assert shown == f"[plot] rehearsals: 1, RTO of the latest (up to 5): {report['rto_s']:.1f} s"
        assert "the first rehearsal of this volume here" in open(f"{record['folder']}/dr-rehearsal.html").read()
        assert_no_leftovers(lvm_host, dest)
    finally:
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{scratch}"], changes=True, check=False)


def test_snapshot_overflow_drill_runbook_overflows_recovers_and_leaves_nothing(
        lvm_host, host_spec, dest, records, module_unique):
    name = f"rb_drill_{module_unique}"
    try:
        code, lines = lvmkit("--host", host_spec, "runbook", "run", "snapshot-overflow-drill",
                             "-p", "name", name, "-p", "dest", dest, "--records", str(records))
        record = record_of(lines)
        assert code == 0 and record["run"]["outcome"] == "succeeded", record["run"]["error"]
        commands = argvs(record)
        assert ["lvcreate", "-L8M", "-s", "-n", f"{name}-snap", "--addtag", DRILL_TAG,
                f"/dev/{LAB_VG}/{name}"] in commands, "the seed's snapshot command"
        assert any(argv[0] == "lvextend" for argv in commands), "autoextend grew the snapshot"
        html = open(f"{record['folder']}/snapshot-overflow-drill.html").read()
        assert "invalid_snapshot" in html, "what LVM reports is shown"
        assert "overflowed and became invalid" in html or "disappeared" in html, "what lvmkit says is shown"
        (shown,) = plots_in(record, "snapshot-overflow-drill").values()
        overflowed, extended = (re.fullmatch(r"(\d+) readings, peak ([\d.]+)%", panel.rsplit(": ", 1)[1]).groups()
                                for panel in shown.removeprefix("[plot] ").split("; "))
        assert int(overflowed[0]) >= 2 and float(overflowed[1]) >= 50, "the guard saw the space fill"
        assert int(extended[0]) >= 2 and float(extended[1]) < 100, "autoextend kept it below full"
        assert not [v.full_name for v in list_lvs(lvm_host, LAB_VG) if DRILL_TAG in v.tags and name in v.name]
        left = lvm_host.run(["ls", "-A", dest]).stdout.split()
        assert not [n for n in left if f"{LAB_VG}-{name}-" in n], "the drill removes its archive sets"
        assert_no_leftovers(lvm_host, dest)
    finally:
        lvm_host.run(["umount", f"/run/lvmkit-drill/{name}"], changes=True, check=False)
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}-snap"], changes=True, check=False)
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)


@pytest.fixture
def group_members(lvm_host, unique):
    """Two small live ext4 volumes of the test's own, holding a few thousand files each: the
    seed's uploads and database."""
    volumes = [origin_named(f"rb_g{role}_{unique}", GROUP_ROOT) for role in ("uploads", "db")]
    try:
        for volume in volumes:
            make_origin(lvm_host, volume["lv"], GROUP_ROOT)
        yield volumes
    finally:
        for volume in volumes:
            remove_origin(lvm_host, volume)


def test_group_backup_runbook_freezes_every_member_for_one_snapshot_instant_and_leaves_nothing(
        lvm_host, host_spec, group_members, dest, records):
    code, lines = lvmkit("--host", host_spec, "runbook", "run", "group-backup",
                         "-p", "members", ",".join(m["spec"] for m in group_members), "-p", "dest", dest,
                         "--records", str(records))
    record = record_of(lines)
    run = record["run"]
    assert code == 0 and run["outcome"] == "succeeded", run["error"]
    assert set(run["files"]) == {"group-backup.ipynb", "group-backup.html", "journal.jsonl", "manifest.json"}
    manifest = json.loads(open(f"{record['folder']}/manifest.json").read())
    assert manifest["kind"] == "lvmkit-group-archive-set"
    assert [(m["lv"], m["frozen"]) for m in manifest["members"]] == [(m["lv"], True) for m in group_members]

    # One command on the target suspends both members, then snapshots each (dmsetup names: VG-LV).
    devices = [f"{LAB_VG}-{m['lv']}" for m in group_members]
    commands = argvs(record)
    (freeze,) = [argv for argv in commands if argv[:2] == ["bash", "-c"] and "dmsetup suspend" in argv[2]]
    separator = freeze.index("--")
    assert freeze[separator - len(devices):separator] == devices
    creates = [[]]
    for word in freeze[separator + 1:]:
        if word == "--next--":
            creates.append([])
        else:
            creates[-1].append(word)
    assert [create[:2] for create in creates] == [["lvcreate", "--snapshot"]] * len(group_members)
    assert [create[-1] for create in creates] == [m["spec"] for m in group_members]
    assert all(run_tag(manifest["run_id"]) in create for create in creates)
    for create in creates:
        name = create[create.index("--name") + 1]
        assert ["lvremove", "--yes", f"{LAB_VG}/{name}"] in commands, "each member's snapshot is removed"
    assert all(entry.returncode == 0 for entry in record["journal"] if entry.argv == freeze)

    # The window, as the notebook shows it, and as the manifest keeps it.
    window = manifest["freeze_window"]
    assert window["frozen_devices"] == devices and 0 < window["suspend_s"] < window["frozen_s"] < 30
    notebook = open(f"{record['folder']}/group-backup.ipynb").read()
    assert "the freeze window" in notebook and f"{window['frozen_s'] * 1000:.0f} ms" in notebook

    archive = f"{dest}/{manifest['name']}"
    lvm_host.run(["env", f"--chdir={archive}", "sha256sum", "--check", "--strict", "--quiet", "SHA256SUMS"])
    for member in group_members:
        assert get_lv(lvm_host, LAB_VG, member["lv"]).attr.state == "active", "resumed, not suspended"
        assert lvm_host.run(["test", "-e", lock_path(LAB_VG, member["lv"])], check=False).returncode == 1
    # leftovers.py's checks, narrowed to this run: others' group tests may hold snapshots in the lab now.
    ours = tuple(f"{LAB_VG}/{m['lv']}-" for m in group_members)
    assert [v for v in lvmkit_volumes(lvm_host) if v.startswith(ours)] == []
    assert [m for m in lvmkit_mounts(lvm_host) if m.startswith(f"/run/lvmkit/{manifest['run_id']}/")] == []
    assert partial_archives(lvm_host, dest) == []


@pytest.fixture
def flooded_origin(lvm_host, unique):
    """A volume of its own that a writer floods as soon as lvmkit has mounted its snapshot."""
    volume = make_origin(lvm_host, f"rb_flood_{unique}")
    writer = lvm_host.start(["bash", "-c", FLOOD, "bash", volume["mountpoint"], f"{LAB_VG}-{volume['lv']}", "40",
                             "0.05"])
    yield volume
    writer.terminate()
    writer.wait(check=False)
    remove_origin(lvm_host, volume)


def test_backup_runbook_whose_snapshot_overflows_records_failed_with_the_error_cell_and_leaves_nothing(
        lvm_host, host_spec, flooded_origin, records, unique):
    dest = f"{SHARE}/{unique}"
    lvm_host.run(["mkdir", "-p", dest], changes=True)
    try:
        code, lines = lvmkit("--host", host_spec, "runbook", "run", "backup", "-p", "origin",
                             flooded_origin["spec"], "-p", "dest", dest, "-p", "engine", "tar",
                             "-p", "snapshot_size", "8M", "--records", str(records))
        record = record_of(lines)
        run = record["run"]
        assert code == 1 and run["outcome"] == "failed"
        assert run["error"]["ename"] == "SnapshotInvalidated"
        assert "execute_backup" in run["error"]["source"], "the step that failed is the one that read"
        ((source, error),) = cell_errors(record, "backup")
        assert "execute_backup" in source and error["ename"] == "SnapshotInvalidated"
        assert "manifest.json" not in run["files"], "no cell ran after the failing one"
        commands = argvs(record)
        snapshot = next(argv for argv in commands if argv[:2] == ["lvcreate", "--snapshot"])
        name = snapshot[snapshot.index("--name") + 1]
        assert ["lvremove", "--yes", f"{LAB_VG}/{name}"] in commands, "the undo removed the snapshot"
        assert_no_leftovers(lvm_host, dest)
        assert lvm_host.run(["ls", "-A", dest]).stdout == "", "no archive, partial or not"
    finally:
        lvm_host.run(["rm", "-rf", "--", dest], changes=True)


def test_audit_verify_passes_on_the_records_and_fails_after_one_byte_changed(records, tmp_path):
    code, lines = lvmkit("audit", "verify", str(records))
    assert code == 0, lines
    assert lines[0].startswith("audit log intact:")
    copy = tmp_path / "records"
    shutil.copytree(records, copy)
    folder = next(p for p in sorted(copy.iterdir()) if p.name not in audit.NOT_RECORDS)
    journal = folder / "journal.jsonl"
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x01
    journal.write_bytes(bytes(data))
    code, lines = lvmkit("audit", "verify", str(copy))
    assert code == 1
    assert f"record {folder.name}: journal.jsonl was edited" in "\n".join(lines)


def test_audit_report_in_a_real_browser_lists_every_run_links_its_notebook_and_shows_the_tampered_one(
        records, backed_up, tmp_path):
    """The records this module's runbooks made, copied with one byte changed in one of them,
    reported as a page and read by headless Chromium cut off from every outside name."""
    site = tmp_path / "site"  # the page beside its records, as a folder one would copy
    copy = site / "records"
    shutil.copytree(records, copy)
    folders = [p for p in sorted(copy.iterdir()) if p.name not in audit.NOT_RECORDS]
    tampered = folders[0]
    journal = tampered / "journal.jsonl"
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0x01
    journal.write_bytes(bytes(data))
    code, lines = lvmkit("audit", "report", str(copy), "--html", str(site / "report.html"))
    assert code == 1 and lines[-1].startswith("AUDIT FAILED"), lines
    profile = tmp_path / "chromium"
    profile.mkdir()
    with no_selenium_manager() as manager_calls, headless_chromium(profile) as driver:
        driver.get((site / "report.html").as_uri())
        assert driver.title == "lvmkit audit report"
        assert console_errors(driver) == []
        rows = driver.find_elements(By.CSS_SELECTOR, "table#runs tbody tr")
        assert [row.get_attribute("id") for row in rows] == [folder.name for folder in folders], "a row per run"
        shown = {row.get_attribute("id"): row.find_element(By.CSS_SELECTOR, "td.chain").text for row in rows}
        assert shown[tampered.name].startswith("TAMPERED") and "journal.jsonl was edited" in shown[tampered.name]
        assert all(text == "intact" for name, text in shown.items() if name != tampered.name)
        assert {"alice", "bob", "0012345"} <= set(rows[folders.index(copy / backed_up["run"]["record"])].text.split())
        links = [(row.get_attribute("id"), row.find_element(By.CSS_SELECTOR, "a").text) for row in rows]
        for record, runbook in links:  # each opens its own record's notebook, and loads nothing from outside
            driver.get((site / "report.html").as_uri())
            driver.find_element(By.CSS_SELECTOR, f"tr[id='{record}'] a").click()
            assert driver.current_url == (copy / record / f"{runbook}.html").as_uri()
            assert driver.title == runbook
            assert driver.find_element(By.CSS_SELECTOR, "h1").text == find(runbook).title
            assert record in driver.page_source, "the notebook's parameters name its record folder"
            assert console_errors(driver) == [], record
    assert manager_calls == []
