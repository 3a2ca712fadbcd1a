"""`lvmkit audit report`: the page of every recorded run, from records the real runner made.

The records come from `run_runbook` itself (papermill, a kernel of this Python, nbconvert,
audit.append), running the runner tests' small runbook (tests/unit/small_runbook.py) against
`local`: one run that succeeds, one that fails. Only the storage commands are missing; the
record is real.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import stat
from pathlib import Path
from urllib.parse import unquote

import nbformat
import pytest
from nbconvert import HTMLExporter

from lvmkit.cli import main
from lvmkit.core.errors import UsageError
from lvmkit.runbooks import audit
from lvmkit.runbooks.audit_report import write_report
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.params import validate
from lvmkit.runbooks.runner import RunRequest, run_runbook
from tests.outside_references import outside_references

ROW = re.compile(r"<tr id='([^']+)'( class='tampered')?>(.*?)</tr>", re.S)


@pytest.fixture(scope="module")
def records(books, tmp_path_factory):
    """A records folder with a run that succeeded and one that failed, as `runbook run` keeps them."""
    folder = tmp_path_factory.mktemp("site") / "records"
    book = find("small")
    for given in ({"change": "0012345"}, {"fail": "true"}):
        values = validate(book.name, book.parameters, given, as_text=True)
        run_runbook(RunRequest(book, values, "local", folder, "alice", change_id="CHG-7"), stream=io.StringIO())
    assert audit.verify(folder).intact
    return folder


def rows(page: str) -> dict[str, tuple[bool, str]]:
    """record -> (marked tampered, the row's HTML)."""
    return {record: (bool(tampered), cells) for record, tampered, cells in ROW.findall(page)}


def link(cells: str) -> str:
    return unquote(re.search(r"<a href='([^']+)'>", cells).group(1))


def copy_of(records: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "records"
    shutil.copytree(records, copy)
    return copy


def test_report_lists_every_run_with_its_fields_linked_to_its_notebook(records):
    out = records.parent / "report.html"
    report = write_report(records, out)
    page = out.read_text()
    assert report.intact
    found = rows(page)
    names = [p.name for p in sorted(records.iterdir()) if p.name not in audit.NOT_RECORDS]
    assert list(found) == names, "one row per record, in the chain's order"
    for name, (tampered, cells) in found.items():
        assert not tampered and "<td class='chain'>intact</td>" in cells
        assert ">alice<" in cells and ">CHG-7<" in cells and ">local<" in cells
        assert not link(cells).startswith("/"), "relative: the page and the records can be copied together"
        assert (out.parent / link(cells)).resolve() == records / name / "small.html"
    outcomes = [re.search(r"class='outcome-(\w+)'", cells).group(1) for _, cells in found.values()]
    assert outcomes == ["succeeded", "failed"]
    assert "Audit chain intact: 2 records" in page


def test_report_marks_a_record_with_one_byte_changed_as_tampered_and_only_that_one(records, tmp_path):
    copy = copy_of(records, tmp_path)
    first, second = [p for p in sorted(copy.iterdir()) if p.name not in audit.NOT_RECORDS]
    notebook = first / "small.ipynb"
    data = bytearray(notebook.read_bytes())
    data[len(data) // 2] ^= 0x01
    notebook.write_bytes(bytes(data))
    out = tmp_path / "report.html"
    code = main(["--journal", str(tmp_path / "journal.jsonl"), "audit", "report", str(copy), "--html", str(out)])
    found = rows(out.read_text())
    assert code == 1, "a tampered record fails the report as it fails verify"
    assert found[first.name][0] and f"record {first.name}: small.ipynb was edited" in found[first.name][1]
    assert not found[second.name][0]
    assert "AUDIT FAILED" in out.read_text()


def test_report_lists_a_folder_no_line_names_as_tampered(records, tmp_path):
    copy = copy_of(records, tmp_path)
    planted = copy / "20261130T000000Z-backup-ffff"
    shutil.copytree(next(p for p in sorted(copy.iterdir()) if p.name not in audit.NOT_RECORDS), planted)
    out = tmp_path / "report.html"
    write_report(copy, out)
    found = rows(out.read_text())
    assert len(found) == 3
    assert found[planted.name][0] and f"{planted.name} is not in {audit.AUDIT_LOG}: added" in found[planted.name][1]


def test_report_is_not_world_readable_and_replaces_a_planted_symlink_without_writing_through_it(records, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    out = tmp_path / "report.html"
    out.symlink_to(victim)
    old = os.umask(0o022)  # a umask that leaves new files world-readable: the page is 0600 all the same
    try:
        write_report(records, out)
    finally:
        os.umask(old)
    assert victim.read_text() == "keep me\n"
    assert not out.is_symlink() and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.html.")] == []


def test_report_inside_the_records_folder_is_refused_and_nothing_is_written(records):
    before = sorted(p.name for p in records.iterdir())
    with pytest.raises(UsageError, match="inside the records folder"):
        write_report(records, records / "report.html")
    assert sorted(p.name for p in records.iterdir()) == before
    assert audit.verify(records).intact


def test_report_of_a_folder_that_does_not_exist_names_it(tmp_path):
    with pytest.raises(UsageError, match=f"no records folder {tmp_path / 'nowhere'}"):
        write_report(tmp_path / "nowhere", tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_rendered_records_and_the_report_load_no_script_or_style_from_outside(records, tmp_path):
    out = tmp_path / "report.html"
    write_report(records, out)
    pages = [out, *sorted(records.glob("*/*.html"))]
    assert len(pages) == 3
    for page in pages:
        assert outside_references(page.read_text()) == [], page
    assert "<script" not in out.read_text(), "the report needs no JavaScript"


def test_nbconverts_own_lab_template_would_load_scripts_from_cdns(records):
    """The check above can fail: the template lvmkit replaced links require.js and MathJax."""
    notebook = next(records.glob("*/small.ipynb"))
    page, _ = HTMLExporter(template_name="lab").from_notebook_node(nbformat.read(notebook, as_version=4))
    assert any("cdnjs.cloudflare.com/ajax/libs/require.js" in found for found in outside_references(page))
