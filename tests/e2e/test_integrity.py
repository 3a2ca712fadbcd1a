"""Archive sets that cannot be forged unnoticed: closed, signed, checkable without lvmkit.

One signed tar backup of a small volume (module-scoped), then copies of it forged as an
attacker who can write the backup store would: each is refused by `lvmkit verify` and
`lvmkit restore` through the command line, naming what changed; the auditor's commands of
docs/security.md pass on the real set and fail on the forged one.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lvmkit.archive.archive_set import write_file
from lvmkit.core import schemas
from tests.e2e.conftest import LAB_VG

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def lvmkit(host_spec: str, journal: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lvmkit.cli", "--host", host_spec, "--journal", str(journal), *args],
                          capture_output=True, text=True, timeout=600)


def auditor_commands(which: str) -> str:
    """The shell lines docs/security.md shows an auditor, exactly."""
    block = re.search(rf"<!-- auditor: {which} -->\n```sh\n(.*?)```\n<!-- /auditor: {which} -->", DOC.read_text(), re.S)
    assert block, f"docs/security.md has no auditor block for {which}"
    return block[1]


@pytest.fixture(scope="module")
def signed(request, lvm_host, backup_store, tmp_path_factory):
    """A signed tar backup of a 64 MiB ext4 volume with a few files, and the trust file that accepts it."""
    spec = request.config.getoption("--lvm-host")
    keys = tmp_path_factory.mktemp("keys")
    key = keys / "signer"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "signer", "-f", str(key)], check=True)
    trust = keys / "allowed_signers"
    trust.write_text(f"backup-signer@lab {(keys / 'signer.pub').read_text()}")
    journal = tmp_path_factory.mktemp("journal") / "journal.jsonl"
    name, mountpoint, dest = "t_integ", "/run/lvmkit-test/t_integ", f"{backup_store}/integrity"
    for argv in (["lvcreate", "--quiet", "--yes", "-L", "64M", "-n", name, LAB_VG], ["mkfs.ext4", "-q", f"/dev/{LAB_VG}/{name}"],
                 ["mkdir", "-p", mountpoint, dest], ["mount", f"/dev/{LAB_VG}/{name}", mountpoint],
                 ["sh", "-c", 'printf data > "$1/a" && mkdir "$1/d" && printf more > "$1/d/b"', "sh", mountpoint]):
        lvm_host.run(argv, changes=True)
    try:
        made = lvmkit(spec, journal, "backup", f"{LAB_VG}/{name}", "--dest", dest, "--engine", "tar",
                      "--name", "signed", "--sign-key", str(key))
        assert made.returncode == 0, made.stderr
        yield {"spec": spec, "journal": journal, "set": f"{dest}/signed", "dest": dest, "trust": trust,
               "signers_text": trust.read_text()}
    finally:
        lvm_host.run(["umount", mountpoint], changes=True, check=False)
        lvm_host.run(["lvremove", "--yes", f"{LAB_VG}/{name}"], changes=True, check=False)
        lvm_host.run(["rm", "-rf", "--", dest, mountpoint], changes=True, check=False)


def forged_copy(lvm_host, signed, name: str, script: str) -> str:
    """A copy of the signed set changed by `script` (run in the copy's directory)."""
    copy = f"{signed['dest']}/{name}"
    lvm_host.run(["rm", "-rf", "--", copy], changes=True)
    lvm_host.run(["cp", "-a", "--", signed["set"], copy], changes=True)
    lvm_host.run(["bash", "-c", f'set -e; cd "$1"; {script}', "bash", copy], changes=True)
    return copy


def test_a_signed_set_verifies_with_the_trust_file_naming_its_signer(signed):
    result = lvmkit(signed["spec"], signed["journal"], "verify", signed["set"], "--trust", str(signed["trust"]), "-v")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "signed by backup-signer@lab (key SHA256:" in result.stdout
    assert "file list complete and closed" in result.stdout


def test_the_set_lvmkit_wrote_satisfies_the_published_schemas(lvm_host, signed):
    import json

    for file, schema in (("manifest.json", "manifest.json"), ("digest.json", "digest.json")):
        document = json.loads(lvm_host.run(["cat", f"{signed['set']}/{file}"]).stdout)
        assert schemas.problems(document, schema) == []


def test_an_archive_replaced_with_sums_cut_to_the_manifest_line_is_refused_by_verify_and_restore(lvm_host, signed):
    # The forgery that passed `lvmkit verify` before: another tar, SHA256SUMS only the manifest's line.
    copy = forged_copy(lvm_host, signed, "forged", "tar --zstd -cf filesystem.tar.zst -C /etc hostname && "
                                                   "grep ' manifest.json$' SHA256SUMS > s && mv s SHA256SUMS && "
                                                   "rm SHA256SUMS.sig")
    verified = lvmkit(signed["spec"], signed["journal"], "verify", copy)
    assert verified.returncode == 1
    assert "SHA256SUMS does not list filesystem.tar.zst, which the manifest's checksums record" in verified.stdout
    assert "VERIFICATION FAILED" in verified.stdout
    trusted = lvmkit(signed["spec"], signed["journal"], "verify", copy, "--trust", str(signed["trust"]))
    assert "unsigned: " in trusted.stdout and trusted.returncode == 1
    restored = lvmkit(signed["spec"], signed["journal"], "restore", copy, "--to-new", f"{LAB_VG}/t_never")
    assert restored.returncode != 0
    assert "does not list filesystem.tar.zst" in restored.stderr + restored.stdout
    assert lvm_host.run(["lvs", f"{LAB_VG}/t_never"], check=False).returncode != 0  # refused before anything ran


def test_a_set_rewritten_consistently_but_signed_by_no_trusted_key_is_refused(lvm_host, signed, tmp_path):
    key = tmp_path / "attacker"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    copy = forged_copy(lvm_host, signed, "resigned", "printf x >> digest.json")  # then sealed again, below
    sums = lvm_host.run(["bash", "-c", 'cd "$1" && sha256sum -- filesystem.tar.zst digest.json', "bash", copy]).stdout
    sig = subprocess.run(["ssh-keygen", "-Y", "sign", "-n", "lvmkit-archive", "-f", str(key)], input=sums,
                         capture_output=True, text=True, check=True).stdout
    write_file(lvm_host, f"{copy}/SHA256SUMS", sums)
    write_file(lvm_host, f"{copy}/SHA256SUMS.sig", sig)
    result = lvmkit(signed["spec"], signed["journal"], "verify", copy, "--trust", str(signed["trust"]))
    assert result.returncode == 1
    assert "wrongly signed: the signature of" in result.stdout
    assert "SHA256SUMS does not list manifest.json" in result.stdout


def test_a_temporary_an_interrupted_verify_left_fails_the_set_and_cleanups_plan_removes_it(lvm_host, signed):
    # What a verify killed (SIGKILL) before its rename leaves: mktemp's file, minutes old.
    copy = forged_copy(lvm_host, signed, "interrupted",
                       'touch -d "-5 minutes" -- "$(mktemp -- verification.json.XXXXXX)"')
    try:
        left = lvm_host.run(["find", copy, "-name", "verification.json.*"]).stdout.split()
        verified = lvmkit(signed["spec"], signed["journal"], "verify", copy)
        assert verified.returncode == 1 and "VERIFICATION FAILED" in verified.stdout
        assert "left by an interrupted `lvmkit verify`; `lvmkit cleanup --dest`" in verified.stdout
        # A dry run only: a real cleanup of the whole lab would touch other tests' runs.
        planned = lvmkit(signed["spec"], signed["journal"], "cleanup", "--dest", signed["dest"], "--dry-run")
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert [line.split()[4].rstrip(":") for line in planned.stdout.splitlines() if "temporary file" in line] == left
        assert len(left) == 1 and left[0].startswith(f"{copy}/verification.json.")
    finally:  # `lvmkit list` shows the newest 5 sets: the listing test below counts on its own
        lvm_host.run(["rm", "-rf", "--", copy], changes=True)


def test_a_damaged_set_is_listed_as_damaged_and_the_others_still_listed(lvm_host, signed):
    forged_copy(lvm_host, signed, "badverification", "printf '{not json' > verification.json")
    forged_copy(lvm_host, signed, "noengine", "jq 'del(.engine)' manifest.json > m && mv m manifest.json")
    listed = lvmkit(signed["spec"], signed["journal"], "list", signed["dest"])
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0].rsplit("/", 1)[-1]: line for line in listed.stdout.splitlines()[1:]}
    assert "damaged:" in rows["badverification"] and "verification.json is not JSON" in rows["badverification"]
    assert "damaged:" in rows["noengine"] and "engine is missing" in rows["noengine"]
    assert "damaged" not in rows["signed"]
    verified = lvmkit(signed["spec"], signed["journal"], "verify", f"{signed['dest']}/noengine")
    assert verified.returncode == 1 and "engine is missing" in verified.stdout
    assert "Traceback" not in verified.stderr + listed.stderr


def test_the_auditors_commands_of_the_docs_pass_on_the_set_and_fail_on_a_forged_one(lvm_host, signed):
    signers = f"{signed['dest']}/allowed_signers"
    write_file(lvm_host, signers, signed["signers_text"])
    script = auditor_commands("set")
    run = lvm_host.run(["env", f"SET={signed['set']}", f"SIGNERS={signers}", "bash", "-c", script], check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'Good "lvmkit-archive" signature for backup-signer@lab' in run.stdout + run.stderr
    extra = forged_copy(lvm_host, signed, "extra", "printf x > planted")
    run = lvm_host.run(["env", f"SET={extra}", f"SIGNERS={signers}", "bash", "-c", script], check=False)
    assert run.returncode != 0 and "> planted" not in run.stdout and "< planted" in run.stdout
