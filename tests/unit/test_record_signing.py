"""Signed records: run.json.sig beside run.json, its hash and signer in the audit line,
checked by `audit verify` and by the auditor's commands of docs/security.md.

Records live on the controller, so this is where they are checked: real keys, the real
ssh-keygen, sha256sum and jq, on a record folder made as runner.py makes one.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from lvmkit.core import schemas
from lvmkit.runbooks import audit
from lvmkit.runbooks.record_signing import RUN_JSON_SIG, sign_record

from .signing_keys import allowed, make_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"


def make_record(records: Path, name: str, key: Path | None) -> dict:
    folder = records / name
    folder.mkdir(mode=0o700, parents=True)
    (folder / "backup.ipynb").write_text("{}\n")
    run = {"schema": 1, "kind": "lvmkit-runbook-run", "record": name, "runbook": "backup", "outcome": "succeeded",
           "start": "2026-11-30T01:00:00+00:00", "end": "2026-11-30T01:01:00+00:00", "operator": "op",
           "change_id": None, "files": audit.folder_files(folder)}
    (folder / "run.json").write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    return audit.append(records, name, run, sign_record(str(key) if key else None, folder))


@pytest.fixture
def keys(tmp_path):
    return make_key(tmp_path, "operator"), make_key(tmp_path, "stranger")


def test_a_signed_record_carries_its_signature_in_the_line_and_verifies(tmp_path, keys):
    records = tmp_path / "records"
    line = make_record(records, "20261130T010000Z-backup-aaaa", keys[0])
    assert set(line) >= {"run_json_sig_sha256", "signer"} and line["signer"].startswith("SHA256:")
    assert (records / "20261130T010000Z-backup-aaaa" / RUN_JSON_SIG).stat().st_mode & 0o777 == 0o600
    report = audit.verify(records, trust=str(allowed(tmp_path, keys[0])))
    assert report.intact, report.problems


def test_a_signature_edited_or_by_an_untrusted_key_is_refused(tmp_path, keys):
    records = tmp_path / "records"
    make_record(records, "20261130T010000Z-backup-aaaa", keys[1])
    trust = str(allowed(tmp_path, keys[0]))
    assert any("wrongly signed" in p for p in audit.verify(records, trust=trust).problems)
    sig = records / "20261130T010000Z-backup-aaaa" / RUN_JSON_SIG
    sig.write_text(sig.read_text() + "\n")
    assert any(f"{RUN_JSON_SIG} was edited" in p for p in audit.verify(records).problems)


def test_an_unsigned_record_passes_without_trust_and_is_refused_with_it(tmp_path, keys):
    records = tmp_path / "records"
    make_record(records, "20261130T010000Z-backup-aaaa", None)
    assert audit.verify(records).intact
    problems = audit.verify(records, trust=str(allowed(tmp_path, keys[0]))).problems
    assert problems == [f"record 20261130T010000Z-backup-aaaa: unsigned, and {tmp_path}/allowed_signers requires a signature"]


def test_a_signature_added_to_an_unsigned_record_is_named(tmp_path, keys):
    records = tmp_path / "records"
    make_record(records, "20261130T010000Z-backup-aaaa", None)
    (records / "20261130T010000Z-backup-aaaa" / RUN_JSON_SIG).write_text("x\n")
    assert any("run.json.sig is not in audit.log line 1: added after the run" in p
               for p in audit.verify(records).problems)


def test_what_lvmkit_writes_in_a_record_and_its_line_satisfies_the_schemas(tmp_path, keys):
    records = tmp_path / "records"
    make_record(records, "20261130T010000Z-backup-aaaa", keys[0])
    (line,) = (records / "audit.log").read_text().splitlines()
    assert schemas.problems(json.loads(line), "audit-line.json") == []


def test_the_auditors_record_commands_of_the_docs_pass_and_fail_on_an_edit(tmp_path, keys):
    records = tmp_path / "records"
    make_record(records, "20261130T010000Z-backup-aaaa", keys[0])
    make_record(records, "20261130T010100Z-backup-bbbb", keys[0])
    script = re.search(r"<!-- auditor: record -->\n```sh\n(.*?)```\n", DOC.read_text(), re.S)[1]
    env = {"RECORDS": str(records), "RECORD": "20261130T010000Z-backup-aaaa",
           "SIGNERS": str(allowed(tmp_path, keys[0])), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"head {audit.verify(records).head}" in run.stdout
    (records / "20261130T010000Z-backup-aaaa" / "backup.ipynb").write_text("{\"edited\": 1}\n")
    assert subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True).returncode != 0
