"""The hash-chained audit log: any edited, deleted, added or reordered record is found."""

from __future__ import annotations

import json
import threading

import pytest

from lvmkit.runbooks import audit


def make_record(records, name: str, outcome: str = "succeeded", files: dict | None = None) -> dict:
    """A record folder as `runbook run` writes it: files, run.json over them, a line in the log."""
    folder = records / name
    folder.mkdir(parents=True)
    for file, text in (files or {"backup.ipynb": '{"cells": []}', "journal.jsonl": '{"argv": ["lvs"]}\n',
                                 "sub/manifest.json": "{}"}).items():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text(text)
    run = {"record": name, "runbook": "backup", "outcome": outcome, "start": f"{name}-start",
           "end": f"{name}-end", "operator": "alice", "change_id": "0012345",
           "files": audit.folder_files(folder)}
    (folder / audit.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    return audit.append(records, name, run)


@pytest.fixture
def records(tmp_path):
    for name in ("20261126T010000Z-backup-aaaa", "20261126T020000Z-verify-bbbb", "20261126T030000Z-backup-cccc"):
        make_record(tmp_path, name)
    assert audit.verify(tmp_path).intact
    return tmp_path


def log_lines(records) -> list[str]:
    return (records / audit.AUDIT_LOG).read_text().splitlines()


def write_lines(records, lines: list[str]) -> None:
    (records / audit.AUDIT_LOG).write_text("".join(line + "\n" for line in lines))


def problems(records, **options) -> str:
    report = audit.verify(records, **options)
    assert not report.intact
    return "\n".join(report.problems)


def test_verify_with_intact_records_reports_count_and_head(records):
    report = audit.verify(records)
    assert report.intact and report.lines == 3
    assert report.head == audit.line_hash(log_lines(records)[-1])
    assert "3 records" in report.render()


def test_each_line_chains_to_the_previous_one(records):
    lines = [json.loads(line) for line in log_lines(records)]
    assert lines[0]["prev"] == audit.GENESIS
    assert lines[1]["prev"] == audit.line_hash(log_lines(records)[0])
    assert [line["seq"] for line in lines] == [1, 2, 3]


# --- edited ----------------------------------------------------------------------------


def test_verify_with_one_byte_of_a_record_file_changed_finds_it(records):
    path = records / "20261126T020000Z-verify-bbbb" / "journal.jsonl"
    path.write_bytes(path.read_bytes().replace(b"lvs", b"lvS"))
    assert "20261126T020000Z-verify-bbbb: journal.jsonl was edited" in problems(records)


def test_verify_with_run_json_edited_finds_it(records):
    path = records / "20261126T010000Z-backup-aaaa" / audit.RUN_JSON
    path.write_text(path.read_text().replace('"succeeded"', '"failed"'))
    assert f"20261126T010000Z-backup-aaaa: {audit.RUN_JSON} was edited" in problems(records)


def test_verify_with_last_line_edited_finds_it_though_no_line_follows(records):
    lines = log_lines(records)
    lines[-1] = lines[-1].replace('"operator":"alice"', '"operator":"mallory"')
    write_lines(records, lines)
    assert "line 3 says operator 'mallory', the record's run.json 'alice': edited" in problems(records)


def test_verify_with_middle_line_edited_finds_the_broken_chain(records):
    lines = log_lines(records)
    lines[1] = lines[1].replace('"change_id":"0012345"', '"change_id":"0099999"')
    write_lines(records, lines)
    found = problems(records)
    assert "line 3 does not chain to the line before it" in found
    assert "line 2 says change_id '0099999'" in found


def test_verify_with_garbage_line_says_it_is_not_json(records):
    lines = log_lines(records)
    lines[0] = lines[0][:-1]
    write_lines(records, lines)
    assert "line 1 is not a JSON object" in problems(records)


# --- deleted ---------------------------------------------------------------------------


def test_verify_with_record_folder_deleted_finds_it(records):
    folder = records / "20261126T020000Z-verify-bbbb"
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()
    assert "record 20261126T020000Z-verify-bbbb (audit.log line 2) is missing: deleted" in problems(records)


def test_verify_with_file_of_a_record_deleted_finds_it(records):
    (records / "20261126T030000Z-backup-cccc" / "sub" / "manifest.json").unlink()
    assert "20261126T030000Z-backup-cccc: sub/manifest.json is missing: deleted" in problems(records)


def test_verify_with_middle_line_deleted_finds_the_gap(records):
    lines = log_lines(records)
    write_lines(records, [lines[0], lines[2]])
    found = problems(records)
    assert "line 2 does not chain" in found and "line 2 has sequence number 3" in found
    assert "20261126T020000Z-verify-bbbb is not in audit.log" in found


def test_verify_with_last_line_and_its_record_deleted_needs_the_head_kept_elsewhere(records):
    head = audit.verify(records).head
    lines = log_lines(records)
    write_lines(records, lines[:-1])
    folder = records / "20261126T030000Z-backup-cccc"
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()
    assert audit.verify(records).intact, "a clean cut is invisible to the chain alone"
    assert "the log was cut short or rewritten" in problems(records, head=head)


# --- added -----------------------------------------------------------------------------


def test_verify_with_record_folder_added_finds_it(records):
    (records / "20261126T040000Z-backup-dddd").mkdir()
    (records / "20261126T040000Z-backup-dddd" / audit.RUN_JSON).write_text("{}")
    assert "20261126T040000Z-backup-dddd is not in audit.log: added" in problems(records)


def test_verify_with_file_added_to_a_record_finds_it(records):
    (records / "20261126T010000Z-backup-aaaa" / "extra.txt").write_text("later")
    assert "20261126T010000Z-backup-aaaa: extra.txt was added after the run" in problems(records)


def test_verify_with_forged_line_for_a_missing_record_finds_it(records):
    lines = log_lines(records)
    forged = {"seq": 4, "prev": audit.line_hash(lines[-1]), "record": "20261126T050000Z-backup-eeee",
              "run_json_sha256": "0" * 64}
    write_lines(records, lines + [json.dumps(forged, sort_keys=True, separators=(",", ":"))])
    assert "record 20261126T050000Z-backup-eeee (audit.log line 4) is missing" in problems(records)


def test_verify_with_line_naming_a_record_twice_finds_it(records):
    lines = log_lines(records)
    second = json.loads(lines[0])
    second.update(seq=4, prev=audit.line_hash(lines[-1]))
    write_lines(records, lines + [json.dumps(second, sort_keys=True, separators=(",", ":"))])
    assert "line 4 names 20261126T010000Z-backup-aaaa again (first on line 1)" in problems(records)


# --- reordered -------------------------------------------------------------------------


def test_verify_with_lines_swapped_finds_the_reordering(records):
    lines = log_lines(records)
    write_lines(records, [lines[1], lines[0], lines[2]])
    found = problems(records)
    assert "line 1 does not chain" in found and "line 1 has sequence number 2" in found


def test_verify_with_record_folders_swapped_finds_it(records):
    first, second = records / "20261126T010000Z-backup-aaaa", records / "20261126T030000Z-backup-cccc"
    first.rename(records / "swap")
    second.rename(first)
    (records / "swap").rename(second)
    assert f"20261126T010000Z-backup-aaaa: {audit.RUN_JSON} was edited" in problems(records)


# --- appending -------------------------------------------------------------------------


def test_append_from_concurrent_runs_keeps_one_chain(tmp_path):
    threads = [threading.Thread(target=make_record, args=(tmp_path, f"20261126T0{n:05d}Z-backup-{n:04x}"))
               for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = audit.verify(tmp_path)
    assert report.intact, report.problems
    assert report.lines == 16


def test_verify_without_audit_log_fails(tmp_path):
    assert audit.verify(tmp_path).problems == [f"no audit.log in {tmp_path}"]


def test_verify_ignores_the_plans_directory(records):
    (records / "plans").mkdir()
    (records / "plans" / ("a" * 64 + ".json")).write_text("{}")
    assert audit.verify(records).intact


# --- heads kept elsewhere, damaged bytes ------------------------------------------------


def test_verify_with_head_of_an_earlier_run_accepts_it_and_says_where_it_sits(records):
    lines = log_lines(records)
    earlier = audit.line_hash(lines[1])  # the head the second run reported into its ticket
    report = audit.verify(records, head=earlier)
    assert report.intact, report.problems
    assert report.given_head_line == 2
    assert "the given head is line 2 of the chain; 1 record appended since" in report.render()


def test_verify_with_the_current_head_says_it_is_the_last_line(records):
    report = audit.verify(records, head=audit.verify(records).head)
    assert report.intact and "(the last line)" in report.render()


def test_verify_with_a_head_the_chain_never_passes_through_fails(records):
    assert "never passes through the head " + "f" * 64 in problems(records, head="f" * 64)


def test_verify_with_head_from_after_records_cut_off_the_end_finds_the_cut(records):
    head = audit.verify(records).head
    write_lines(records, log_lines(records)[:-1])
    found = problems(records, head=head)
    assert "the log was cut short or rewritten" in found


def test_verify_without_head_says_a_clean_cut_would_not_show(records):
    assert "no --head given" in audit.verify(records).render()


def test_verify_with_a_non_utf8_byte_reports_the_line_as_damaged(records):
    log = records / audit.AUDIT_LOG
    raw = log.read_bytes().split(b"\n")
    raw[1] = raw[1].replace(b"alice", b"al\xffce")
    log.write_bytes(b"\n".join(raw))
    found = problems(records)
    assert "line 2 is not UTF-8 text: damaged or edited" in found
    assert "line 3 does not chain" in found, "the edit changed line 2's hash too"


# --- plans, symlinks, durability and the anchor (issue 12) -------------------------------


def make_record_over_plans(records, name: str) -> dict:
    """A record whose run.json lists the plans kept when it ended, as runner.py writes it."""
    folder = records / name
    folder.mkdir(parents=True)
    (folder / "journal.jsonl").write_text("{}\n")
    (folder / "latest").symlink_to("journal.jsonl")
    run = {"record": name, "runbook": "backup", "outcome": "succeeded", "start": "s", "end": "e",
           "operator": "alice", "change_id": None, "files": audit.folder_files(folder),
           "plans": audit.plan_files(records)}
    (folder / audit.RUN_JSON).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    return audit.append(records, name, run)


@pytest.fixture
def planned(tmp_path):
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / f"{'a' * 64}.json").write_text('{"plan": "approved one"}\n')
    make_record_over_plans(tmp_path, "20261126T010000Z-backup-aaaa")
    assert audit.verify(tmp_path).intact
    return tmp_path


def test_a_kept_plan_edited_after_a_run_is_found(planned):
    (planned / "plans" / f"{'a' * 64}.json").write_text('{"plan": "another"}\n')
    assert f"plans/{'a' * 64}.json was edited" in problems(planned)


def test_a_kept_plan_deleted_after_a_run_is_found(planned):
    (planned / "plans" / f"{'a' * 64}.json").unlink()
    assert f"plans/{'a' * 64}.json is missing: deleted" in problems(planned)


def test_a_plan_kept_after_the_last_run_is_named_not_failed(planned):
    (planned / "plans" / f"{'b' * 64}.json").write_text("{}\n")
    report = audit.verify(planned)
    assert report.intact and report.uncovered_plans == [f"{'b' * 64}.json"]
    assert "1 plan(s) in plans/ kept after the last run" in report.render()


def test_a_symlink_of_a_record_pointed_elsewhere_is_found(planned):
    link = planned / "20261126T010000Z-backup-aaaa" / "latest"
    link.unlink()
    link.symlink_to("/etc/shadow")
    assert "latest was edited" in problems(planned)


def test_append_flushes_the_record_before_its_line_and_the_line_before_returning(tmp_path, monkeypatch):
    synced = []
    real_fsync = audit.os.fsync

    def recording_fsync(descriptor):
        synced.append(audit.os.readlink(f"/proc/self/fd/{descriptor}"))
        real_fsync(descriptor)

    monkeypatch.setattr(audit.os, "fsync", recording_fsync)
    make_record(tmp_path, "20261126T010000Z-backup-aaaa")
    folder = tmp_path / "20261126T010000Z-backup-aaaa"
    log = synced.index(str(tmp_path / audit.AUDIT_LOG))
    for path in (folder / audit.RUN_JSON, folder / "sub" / "manifest.json", folder / "sub", folder, tmp_path):
        assert str(path) in synced[:log], f"{path} not flushed before the line"
    assert synced[-1] == str(tmp_path), "the records directory is flushed after the line (a new audit.log)"


def test_anchor_sends_each_new_head_to_the_given_syslog_socket(tmp_path):
    import socket

    from lvmkit.runbooks import anchor

    path = tmp_path / "log.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(10)
    try:
        line = make_record(tmp_path / "records", "20261126T010000Z-backup-aaaa")
        anchor.send_head(line, tmp_path / "records", path)
        message = listener.recv(4096).decode()
    finally:
        listener.close()
    assert f"{anchor.TAG}" in message and f"head {line['hash']} seq 1" in message


def test_anchor_to_a_missing_socket_is_an_error_that_says_what_is_kept(tmp_path):
    from lvmkit.core.errors import LvmkitError
    from lvmkit.runbooks import anchor

    line = make_record(tmp_path, "20261126T010000Z-backup-aaaa")
    with pytest.raises(LvmkitError, match="could not be sent to syslog"):
        anchor.send_head(line, tmp_path, tmp_path / "no-such.sock")
