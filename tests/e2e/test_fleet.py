"""The Ansible collection across a fleet of two hosts, with ansible-playbook, in the lab.

The fleet is two SSH aliases of the lab guest (fleet-a, fleet-b) in an ssh_config of the
test's own, each inventory host owning one volume group: fleet-a the lab's labvg, fleet-b a
small loop-backed VG (fleetvg) that this module creates and removes. Every module runs on
this machine and reaches its host through lvmkit's own SSH door, as it would a real fleet.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from lvmkit.core.host import SshHost
from tests import collection
from tests.collection import BIN, REPOSITORY

from .conftest import LAB_VG

FLEET_VG = "fleetvg"
FLEET_VG_FILE = "/var/tmp/lvmkit-fleetvg.img"
PLAYBOOKS = REPOSITORY / "ansible" / "playbooks"
SHA256 = re.compile(r"^[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def fleet_vg(lvm_host):
    """A second volume group, 96 MiB on a loop device in the guest; removed afterwards."""
    lvm_host.run(["truncate", "-s", "96M", FLEET_VG_FILE], changes=True)
    loop = lvm_host.run(["losetup", "--find", "--show", FLEET_VG_FILE], changes=True).stdout.strip()
    try:
        lvm_host.run(["vgcreate", "--quiet", FLEET_VG, loop], changes=True)
        yield FLEET_VG
    finally:
        lvm_host.run(["vgremove", "--yes", "--force", FLEET_VG], changes=True, check=False)
        lvm_host.run(["pvremove", "--yes", loop], changes=True, check=False)
        lvm_host.run(["losetup", "-d", loop], changes=True, check=False)
        lvm_host.run(["rm", "-f", FLEET_VG_FILE], changes=True, check=False)


@pytest.fixture(scope="module")
def volumes(lvm_host, fleet_vg):
    """One small ext4 volume per host, holding a file: fleet-a's in labvg, fleet-b's in fleetvg."""
    made = {"fleet-a": f"{LAB_VG}/fleet_a", "fleet-b": f"{fleet_vg}/fleet_b"}
    for spec in made.values():
        vg, lv = spec.split("/")
        lvm_host.run(["lvremove", "--yes", spec], changes=True, check=False)  # an earlier run's
        lvm_host.run(["lvcreate", "--quiet", "--yes", "-L", "16M", "-n", lv, vg], changes=True)
        lvm_host.run(["mkfs.ext4", "-q", "-d", "/etc/lvm", f"/dev/{spec}"], changes=True)  # some real files
    yield made
    for spec in made.values():
        lvm_host.run(["lvremove", "--yes", spec], changes=True, check=False)


@pytest.fixture(scope="module")
def fleet(lvm_host, volumes, backup_store, tmp_path_factory):
    """The inventory, ssh_config and installed collection; a function that runs a playbook."""
    root = tmp_path_factory.mktemp("fleet")
    collections = collection.install(root / "collections")
    if not isinstance(lvm_host, SshHost):
        pytest.fail("the fleet tests reach their hosts over SSH: run them against the emulated lab or ssh://", pytrace=False)
    ssh_config = root / "fleet.ssh_config"
    login = lvm_host.user or "root"  # the lab's root; a Vagrant VM's vagrant, which uses sudo -n
    lines = ["Host fleet-a fleet-b", f"  HostName {lvm_host.address.strip('[]')}", f"  User {login}"]
    if lvm_host.identity_file:
        lines += [f"  IdentityFile {lvm_host.identity_file}", "  IdentitiesOnly yes"]
    if lvm_host.known_hosts_file:
        lines += [f"  UserKnownHostsFile {lvm_host.known_hosts_file}", "  StrictHostKeyChecking yes"]
    if lvm_host.host_key_alias:
        lines.append(f"  HostKeyAlias {lvm_host.host_key_alias}")
    ssh_config.write_text("\n".join(lines) + "\n")
    for name in volumes:
        lvm_host.run(["mkdir", "-p", f"{backup_store}/{name}"], changes=True)
    hosts = {name: {"ansible_host": name, "ansible_port": lvm_host.port, "lvmkit_ssh_user": login,
                    "lvmkit_vg": spec.split("/")[0],
                    "lvmkit_origin": spec, "lvmkit_dest": f"{backup_store}/{name}"} for name, spec in volumes.items()}
    state = {"root": root, "hosts": hosts, "changes": root / "changes", "env": collection.ansible_environment(collections)}

    def playbook(name: str, change: str, *options: str, overrides: dict | None = None) -> subprocess.CompletedProcess:
        inventory = {"all": {"hosts": {h: dict(v, **(overrides or {}).get(h, {})) for h, v in hosts.items()},
                             "vars": {"lvmkit_ssh_config": str(ssh_config), "fleet_changes_dir": str(state["changes"]),
                                      "lvmkit_executable": str(BIN / "lvmkit"), "fleet_operator": "fleet-test"}}}
        (root / "inventory.yml").write_text(yaml.safe_dump(inventory))
        return subprocess.run([str(BIN / "ansible-playbook"), "-i", str(root / "inventory.yml"), str(PLAYBOOKS / name),
                               "-e", f"change_id={change}", "--forks", "2", *options],
                              capture_output=True, text=True, stdin=collection.NO_STDIN, env=state["env"], timeout=900)

    state["playbook"] = playbook
    yield state
    for name in volumes:
        lvm_host.run(["rm", "-rf", "--", f"{backup_store}/{name}"], changes=True, check=False)


def lvm_state(lvm_host, backup_store) -> tuple[str, str]:
    volumes = lvm_host.run(["lvs", "--noheadings", "-o", "vg_name,lv_name,lv_attr,lv_tags", LAB_VG, FLEET_VG]).stdout
    files = lvm_host.run(["find", backup_store]).stdout
    return volumes, files


def results(change_dir) -> dict[str, dict]:
    return {r["host"]: r for r in json.loads((change_dir / "results.json").read_text())}


def audit_verify(records) -> dict:
    done = subprocess.run([str(BIN / "lvmkit"), "audit", "verify", str(records), "--json"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def planned(fleet, lvm_host, backup_store):
    """`--check` of fleet-backup.yml for change CHG-F1: its change folder, and the hosts' state before and after."""
    before = lvm_state(lvm_host, backup_store)
    done = fleet["playbook"]("fleet-backup.yml", "CHG-F1", "--check")
    assert done.returncode == 0, done.stdout + done.stderr
    return {"change": fleet["changes"] / "CHG-F1", "before": before, "after": lvm_state(lvm_host, backup_store)}


def test_check_mode_plans_every_host_changes_nothing_and_proposes_the_approval(planned):
    assert planned["after"] == planned["before"], "a check run changed the hosts"
    change = planned["change"]
    approval = json.loads((change / "approval-proposed.json").read_text())
    assert set(approval["hosts"]) == {"fleet-a", "fleet-b"}
    assert all(SHA256.match(host["plan_sha256"]) for host in approval["hosts"].values())
    assert approval["hosts"]["fleet-a"]["plan_sha256"] != approval["hosts"]["fleet-b"]["plan_sha256"]
    for host, entry in approval["hosts"].items():  # the plan each hash names is kept in the host's records
        assert (change / host / "plans" / f"{entry['plan_sha256']}.json").is_file()
    report = (change / "report.md").read_text()
    assert "2 hosts: 2 planned" in report and "mode: check (plans only, nothing changed)" in report


def test_fleet_backup_runs_approved_hosts_and_refuses_a_host_whose_plan_changed(planned, fleet, lvm_host, backup_store):
    change = planned["change"]
    approval = change / "approval.json"
    shutil.copy(change / "approval-proposed.json", approval)  # the approver signs off on these hashes
    # Then fleet-b's request changes (another engine): its plan is no longer the approved one.
    done = fleet["playbook"]("fleet-backup.yml", "CHG-F1", "-e", f"fleet_approval_file={approval}",
                             overrides={"fleet-b": {"lvmkit_engine": "tar"}})
    assert done.returncode == 0, done.stdout + done.stderr  # a refused host is reported, not a failed play
    outcome = results(change)
    a, b = outcome["fleet-a"], outcome["fleet-b"]
    assert a["outcome"] == "succeeded" and SHA256.match(a["audit_head"])
    assert a["archive_set"].startswith(f"{backup_store}/fleet-a/labvg-fleet_a-")
    lvm_host.run(["test", "-f", f"{a['archive_set']}/manifest.json"])
    assert audit_verify(change / "fleet-a")["head"] == a["audit_head"]
    assert b["outcome"] == "refused"
    assert b["error"].startswith("refusing to run: the plan differs from the approved plan"), b["error"]
    assert "parameter engine: approved 'fsarchiver', now 'tar'" in b["error"]
    assert not (change / "fleet-b" / "audit.log").exists(), "a refused host runs nothing"
    assert lvm_host.run(["find", f"{backup_store}/fleet-b", "-mindepth", "1"]).stdout == ""
    report = (change / "report.md").read_text()
    assert "2 hosts: 1 refused, 1 succeeded" in report and "### fleet-b: refused" in report
    assert "| fleet-a | succeeded |" in report and (change / "report.html").read_text().count("<tr class=") == 2


@pytest.mark.full
def test_fleet_dr_rehearsal_goes_on_when_one_hosts_preflight_fails(fleet, lvm_host, backup_store):
    change = fleet["changes"] / "CHG-F3"
    done = fleet["playbook"]("fleet-dr-rehearsal.yml", "CHG-F3",
                             overrides={"fleet-b": {"lvmkit_dest": f"{backup_store}/fleet-b/missing"}})
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = results(change)
    a, b = outcome["fleet-a"], outcome["fleet-b"]
    assert a["outcome"] == "succeeded" and a["rpo_s"] > 0 and a["rto_s"] > 0
    assert audit_verify(change / "fleet-a")["head"] == a["audit_head"]
    assert b["outcome"] == "failed" and f"{backup_store}/fleet-b/missing" in b["error"]
    assert audit_verify(change / "fleet-b")["head"] == b["audit_head"], "a failed run is recorded and chained too"
    volumes = lvm_host.run(["lvs", "--noheadings", "-o", "lv_name", LAB_VG, FLEET_VG]).stdout.split()
    assert not [v for v in volumes if "lvmkit" in v], f"a rehearsal left a volume: {volumes}"
    report = (change / "report.md").read_text()
    assert "2 hosts: 1 failed, 1 succeeded" in report and "worst RPO" in report and "### fleet-b: failed" in report


@pytest.mark.full
def test_fleet_backup_and_rehearsal_complete_on_every_host_one_at_a_time(fleet, lvm_host):
    for playbook, change in (("fleet-backup.yml", "CHG-F4"), ("fleet-dr-rehearsal.yml", "CHG-F5")):
        done = fleet["playbook"](playbook, change, "-e", "fleet_serial=1")
        assert done.returncode == 0, done.stdout + done.stderr
        outcome = results(fleet["changes"] / change)
        assert {h: r["outcome"] for h, r in outcome.items()} == {"fleet-a": "succeeded", "fleet-b": "succeeded"}
        for host, result in outcome.items():
            assert audit_verify(fleet["changes"] / change / host)["head"] == result["audit_head"]
