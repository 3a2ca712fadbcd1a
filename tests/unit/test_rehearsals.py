"""The DR rehearsals' trend: RTO and RPO in each run.json, the history read from the records,
and the flag on a rehearsal slower than the earlier ones' median by more than 20%.

The records are made by the runner itself (papermill, run.json, audit.log) from a runbook of
the test's own named dr-rehearsal, which keeps a recovery report as the real one does
(steps.recovery_report's fields) and calls the real trend step: no LVM, a few seconds a run.
"""

from __future__ import annotations

import io
import json
import shutil

import nbformat
import pytest

from lvmkit.runbooks import audit, rehearsals
from lvmkit.runbooks.catalog import RUNBOOKS_ENV, find
from lvmkit.runbooks.params import validate
from lvmkit.runbooks.rehearsals import Rehearsal, history, judge
from lvmkit.runbooks.runner import RunRequest, run_runbook

PARAMETERS = '''origin: str = "labvg/ext4vol"  # the volume rehearsed
rto_s: float = 10.0  # the recovery time this run reports
host_spec: str = "local"  # set by lvmkit
journal_path: str = ""  # set by lvmkit
record_dir: str = ""  # set by lvmkit
run_id: str = ""  # set by lvmkit
approved_plan: str = ""  # set by lvmkit'''

REPORT = '''from lvmkit.runbooks import steps
from lvmkit.core.host import utc_now
now = utc_now().isoformat()
report = {"origin": origin, "archive": "/backups/x", "engine": "tar", "restored_to": "labvg/scratch",
          "proved": True, "paths_compared": 612, "rto_s": rto_s, "rpo_s": rto_s + 7.5, "data_as_of": now,
          "restored_at": now}
steps.keep(record_dir, "rehearsal.json", report)'''


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    """Three rehearsals in one records folder: RTO 10, 12, then 14.5 (the earlier median 11,
    flagged above 13.2)."""
    books = tmp_path_factory.mktemp("runbooks")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    nb.cells += [parameters, nbformat.v4.new_code_cell(REPORT),
                 nbformat.v4.new_code_cell("trend = steps.recovery_trend(report, record_dir)\n"
                                           "steps.keep(record_dir, 'verdict.json', {'slow': trend.slow})")]
    nbformat.write(nb, books / "dr-rehearsal.ipynb")
    patch = pytest.MonkeyPatch()
    patch.setenv(RUNBOOKS_ENV, str(books))
    records = tmp_path_factory.mktemp("records")
    book = find("dr-rehearsal")
    results = []
    for rto in (10.0, 12.0, 14.5):
        values = validate(book.name, book.parameters, {"rto_s": str(rto)}, as_text=True)
        results.append(run_runbook(RunRequest(book, values, "local", records, "alice"), stream=io.StringIO()))
    patch.undo()
    return records, results


def verdict_of(result) -> bool:
    return json.loads((result.record / "verdict.json").read_text())["slow"]


def test_each_rehearsal_records_its_rto_and_rpo_in_run_json(rehearsed):
    records, results = rehearsed
    assert all(r.outcome == "succeeded" for r in results), [r.run["error"] for r in results]
    assert [r.run["recovery"]["rto_s"] for r in results] == [10.0, 12.0, 14.5]
    assert results[0].run["recovery"] == {"rto_s": 10.0, "rpo_s": 17.5, "origin": "labvg/ext4vol",
                                          "engine": "tar", "proved": True}
    assert json.loads((results[2].record / "run.json").read_text())["recovery"]["rpo_s"] == 22.0


def test_the_history_is_the_records_and_the_audit_chain_stays_intact(rehearsed):
    records, results = rehearsed
    report = audit.verify(records)
    assert report.intact, report.problems  # nothing added to the records folder beside the runs
    found = history(records, "labvg/ext4vol", "tar")
    assert [(h.record, h.rto_s, h.rpo_s) for h in found] == [
        (r.record.name, r.run["recovery"]["rto_s"], r.run["recovery"]["rpo_s"]) for r in results]
    assert [h.rto_s for h in history(records, "labvg/ext4vol", "tar", before=results[2].record.name)] == [10.0, 12.0]
    assert history(records, "labvg/ext4vol", "dar") == [], "another engine's rehearsals are not this one's"


def test_only_the_slower_than_usual_rehearsal_is_flagged_in_its_notebook(rehearsed):
    records, results = rehearsed
    assert [verdict_of(r) for r in results] == [False, False, True]
    notebook = json.loads((results[2].record / "dr-rehearsal.ipynb").read_text())
    outputs = [o for cell in notebook["cells"] for o in cell.get("outputs", [])]
    assert any("image/png" in o.get("data", {}) for o in outputs), "the trend is plotted in the notebook"
    text = json.dumps(outputs)
    assert "SLOWER THAN USUAL" in text and "the median of the 2 earlier rehearsals is 11.0 s" in text
    page = (results[2].record / "dr-rehearsal.html").read_text()
    assert "data:image/png;base64," in page and "SLOWER THAN USUAL" in page


DROP = object()


def chained_copy(records, tmp_path):
    """The rehearsed records folder, copied: its chain intact, free to be added to or edited."""
    copy = tmp_path / "records"
    shutil.copytree(records, copy)
    return copy


def add_record(records, source, name: str, change: dict) -> None:
    """A copy of the record `source` as `name`, its run.json changed (a key changed to DROP is
    left out), chained in the audit log as the runner chains a run: the chain stays intact, so
    only the filters can leave it out."""
    shutil.copytree(source, records / name)
    run = {**json.loads((source / "run.json").read_text()), **change, "record": name}
    run = {key: value for key, value in run.items() if value is not DROP}
    (records / name / "run.json").write_text(json.dumps(run))
    audit.append(records, name, run)


def test_failed_other_runbooks_and_other_volumes_records_are_not_history(rehearsed, tmp_path):
    records, results = rehearsed
    copy = chained_copy(records, tmp_path)
    other_volume = {**results[0].run["recovery"], "origin": "labvg/other"}
    for name, change in (("failed", {"outcome": "failed"}), ("backup", {"runbook": "backup"}),
                         ("none", {"recovery": DROP}), ("other", {"recovery": other_volume})):
        add_record(copy, results[0].record, f"20991231T000000Z-{name}", change)
    assert audit.verify(copy).intact, audit.verify(copy).problems
    assert [h.rto_s for h in history(copy, "labvg/ext4vol", "tar")] == [10.0, 12.0, 14.5]


def test_a_record_the_audit_chain_does_not_vouch_for_is_not_history(rehearsed, tmp_path):
    records, results = rehearsed
    copy = chained_copy(records, tmp_path)
    edited = copy / results[0].record.name / "run.json"
    run = json.loads(edited.read_text())
    run["recovery"]["rto_s"] = 1.0  # a faster rehearsal than the one that ran
    edited.write_text(json.dumps(run))
    unchained = copy / "20991231T000000Z-unchained"  # a folder no line of the log names
    shutil.copytree(results[1].record, unchained)
    assert [h.rto_s for h in history(copy, "labvg/ext4vol", "tar")] == [12.0, 14.5]
    assert not audit.verify(copy).intact


def earlier(*rto: float) -> list[Rehearsal]:
    return [Rehearsal(f"2026113{i}T010000Z-dr-rehearsal-aaaa", f"2026-11-3{i}T01:00:00+00:00", s, s + 5)
            for i, s in enumerate(rto)]


@pytest.mark.parametrize("previous, rto, median, slow", [
    ((), 50.0, None, False),  # the first: nothing to compare with
    ((10.0,), 12.0, 10.0, False),  # exactly 20% slower: not more than 20%
    ((10.0,), 12.01, 10.0, True),
    ((10.0, 30.0), 24.0, 20.0, False),  # an even count: the middle two's mean
    ((10.0, 30.0), 24.5, 20.0, True),
    ((9.0, 10.0, 60.0), 12.5, 10.0, True),  # one slow outlier does not move the median
    ((10.0, 11.0, 12.0), 5.0, 11.0, False),  # faster is never flagged
])
def test_judge_flags_more_than_20_percent_over_the_earlier_median(previous, rto, median, slow):
    verdict = judge(earlier(*previous), rto)
    assert (verdict.previous_median_s, verdict.slow, verdict.compared_with) == (median, slow, len(previous))
    assert ("SLOWER THAN USUAL" in verdict.summary()) is slow


def test_recovery_of_a_record_without_a_rehearsal_report_is_none(tmp_path):
    assert rehearsals.recovery_of(tmp_path) is None
