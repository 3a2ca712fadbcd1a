"""The Ansible collection (ansible/): its modules, run as Ansible runs them, against the real
lvmkit command line where no LVM is needed; its report; and ansible-test's offline sanity tests."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import stat
import subprocess

import pytest

from tests import collection
from tests.collection import BIN, REPOSITORY


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    return collection.install(tmp_path_factory.mktemp("collections"))


def module_utils(name: str):
    path = collection.COLLECTION / "plugins" / "module_utils" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_collection_installs_with_ansible_galaxy(installed):
    modules = installed / "ansible_collections" / "lvmkit" / "fleet" / "plugins" / "modules"
    assert {p.stem for p in modules.glob("lvmkit_*.py")} == {
        "lvmkit_backup", "lvmkit_runbook", "lvmkit_verify", "lvmkit_prune", "lvmkit_facts", "lvmkit_fleet_report"}


def test_runbook_module_in_check_mode_carries_lvmkits_message_for_an_unknown_parameter(installed, tmp_path):
    rc, result = collection.run_module(installed, "lvmkit_runbook", dict(
        host="lab", name="backup", parameters={"orign": "vg0/www", "dest": "/backups"}, records=str(tmp_path)),
        check_mode=True)
    assert rc == 1 and result["failed"]
    assert "orign" in result["msg"] and "origin" in result["msg"]  # lvmkit names it and the closest known one
    assert result["cmd"][-1] == "--json" and "plan" in result["cmd"]
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_facts_module_fails_with_lvmkits_message_for_a_malformed_host(installed):
    rc, result = collection.run_module(installed, "lvmkit_facts", dict(host="ssh://bad host", vg="vg0"))
    assert rc == 1
    assert result["msg"].startswith("cannot parse host 'ssh://bad host'")
    assert result["rc"] == 2


def test_backup_module_refuses_origin_and_group_together(installed):
    rc, result = collection.run_module(installed, "lvmkit_backup", dict(
        host="lab", origin="vg0/a", group=["vg0/b"], dest="/backups"))
    assert rc == 1 and "mutually exclusive" in result["msg"]


def test_prune_module_names_an_unknown_rule(installed):
    rc, result = collection.run_module(installed, "lvmkit_prune", dict(host="lab", dest="/backups", keep={"dayly": 7}))
    assert rc == 1 and "dayly" in result["msg"] and "daily" in result["msg"]


def test_fleet_report_module_writes_private_markdown_html_and_a_proposed_approval(installed, tmp_path):
    planned = [dict(host="web2", outcome="planned", plan_sha256="b" * 64, runbook="backup", duration_s=3.5),
               dict(host="web1", outcome="planned", plan_sha256="a" * 64, runbook="backup", duration_s=2.0)]
    rc, result = collection.run_module(installed, "lvmkit_fleet_report", dict(
        results=planned, directory=str(tmp_path / "CHG-1"), change="CHG-1"))
    assert rc == 0 and result["changed"]
    approval = json.loads((tmp_path / "CHG-1" / "approval-proposed.json").read_text())
    assert approval == {"change": "CHG-1", "hosts": {
        "web1": {"plan_sha256": "a" * 64, "runbook": "backup", "target": None},
        "web2": {"plan_sha256": "b" * 64, "runbook": "backup", "target": None}}}
    for name in ("report.md", "report.html", "results.json", "approval-proposed.json"):
        assert stat.S_IMODE(os.stat(tmp_path / "CHG-1" / name).st_mode) == 0o600
    rc, again = collection.run_module(installed, "lvmkit_fleet_report", dict(
        results=planned, directory=str(tmp_path / "CHG-1"), change="CHG-1"))
    assert rc == 0 and not again["changed"]  # the same results: the same files


def test_the_message_is_lvmkits_last_error_not_its_progress_lines():
    # stderr of `lvmkit runbook run --approve` when the plan changed, as the lab run printed it
    stderr = ("lvmkit: checking the plan against the approved plan 8d02 ...\n"
              "lvmkit: refusing to run: the plan differs from the approved plan 8d02 (the system or the request "
              "changed since the approval); what differs:\n  parameter engine: approved 'fsarchiver', now 'tar'\n")
    call = module_utils("lvmkit_cli").LvmkitCall(["lvmkit"], 1, "", stderr, 1.0)
    assert call.message().splitlines() == [
        "refusing to run: the plan differs from the approved plan 8d02 (the system or the request changed since the "
        "approval); what differs:", "  parameter engine: approved 'fsarchiver', now 'tar'"]


def test_fleet_report_counts_outcomes_and_shows_why_a_host_failed():
    report = module_utils("fleet_report")
    results = [dict(host="a", outcome="succeeded", duration_s=40.0, rpo_s=55.5, record="/c/a/r1", audit_head="f" * 64),
               dict(host="b", outcome="failed", duration_s=4.0, error="preflight failed:\n  FAIL dest missing")]
    text = report.markdown("fleet", {"change": "CHG-2"}, results)
    assert "**2 hosts: 1 failed, 1 succeeded; 44.0 host-seconds, slowest 40.0 s, worst RPO 55.5 s**" in text
    assert "| a | succeeded | 40.0 s | 55.5 s |  | `/c/a/r1` | ffffffffffffffff... |  |" in text
    assert "### b: failed" in text and "FAIL dest missing" in text
    page = report.page("fleet <1>", {}, results)
    assert "<title>fleet &lt;1&gt;</title>" in page and '<tr class="failed">' in page


def test_ansible_test_sanity_validate_modules_and_compile_pass(tmp_path):
    # ansible-test runs inside ansible_collections/NS/NAME; its validate-modules venv (and
    # pip's bootstrap, which it would download from a host we cannot reach) lives in a
    # HOME of its own under build/, kept across runs.
    home = REPOSITORY / "build" / "ansible-test-home"
    cache = home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPOSITORY / "tests" / "get_pip_offline.py", cache / "get_pip_24_2.py")
    tree = collection.copy_tree(tmp_path)
    done = subprocess.run([str(BIN / "ansible-test"), "sanity", "--test", "validate-modules", "--test", "compile",
                           "--python", "3.11", "--color", "no"],
                          cwd=tree, capture_output=True, text=True, stdin=collection.NO_STDIN,
                          env=dict(os.environ, HOME=str(home)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert 'Running sanity test "validate-modules"' in done.stdout
