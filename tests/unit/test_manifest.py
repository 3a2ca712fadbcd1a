"""The Manifest types: exact round trips of real manifests, and clear errors for bad ones.

The fixtures in tests/fixtures/manifest/ are manifest.json files written by real backups
in the lab (tests/fixtures/record_manifest.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest

from lvmkit.archive.archive_set import ArchiveError
from lvmkit.archive.manifest import (
    GROUP_KIND,
    MANIFEST_SCHEMA,
    Encryption,
    Extension,
    GroupManifest,
    HookRecord,
    Manifest,
    ManifestError,
    from_json,
    read_manifest,
)
from lvmkit.core.host import utc_now
from lvmkit.lvm.guard import BoundedReadings, GuardReading
from lvmkit.ops.backup_seal import manifest_of
from lvmkit.ops.listing import ListedSet, render

from .conftest import FIXTURES

RECORDED = sorted((FIXTURES / "manifest").glob("*.json"))
WHERE = "/backups/set/manifest.json"


def recorded(name: str) -> str:
    return (FIXTURES / "manifest" / name).read_text()


def damaged(name: str, change) -> str:
    data = json.loads(recorded(name))
    change(data)
    return json.dumps(data)


def test_recorded_manifests_are_there():
    assert {path.name for path in RECORDED} >= {"single-tar-thick.json", "single-fsarchiver-thin.json",
                                                 "group.json", "group-member-fsarchiver.json"}


@pytest.mark.parametrize("path", RECORDED, ids=lambda path: path.name)
def test_from_json_with_recorded_manifest_writes_back_byte_for_byte(path):
    text = path.read_text()
    assert from_json(text, str(path)).to_json() == text


def test_manifest_from_before_digest_format_2_reads_as_sha256():
    # lvmkit 0.1 wrote no "algorithm": its digests hold sha256, and restore must hash alike.
    legacy = damaged("single-tar-thick.json", lambda data: data["digest"].pop("algorithm"))
    assert from_json(recorded("single-tar-thick.json"), WHERE).digest.algorithm == "blake2b"
    assert from_json(legacy, WHERE).digest.algorithm == "sha256"


def test_from_json_with_archive_set_gives_nested_frozen_types():
    manifest = from_json(recorded("single-tar-thick.json"), WHERE)
    assert isinstance(manifest, Manifest)
    assert (manifest.origin.vg, manifest.origin.lv, manifest.origin.pool) == ("labvg", "mf_rec_thick", None)
    assert manifest.engine.name == "tar" and manifest.engine.options == {"threads": "2", "zstd_level": "3"}
    assert manifest.snapshot.tags == ("lvmkit", f"lvmkit-run-{manifest.run_id}")
    assert manifest.snapshot.peak_percent == 0.15 and manifest.bytes_read is None
    assert manifest.checksums["filesystem.tar.zst"] == manifest.archive_sha256
    with pytest.raises(AttributeError):
        manifest.name = "other"  # frozen


def test_from_json_with_thin_origin_has_no_snapshot_size():
    manifest = from_json(recorded("single-fsarchiver-thin.json"), WHERE)
    assert manifest.origin.thin and manifest.origin.pool == "pool"
    assert manifest.snapshot.thin and manifest.snapshot.size_bytes is None


def test_from_json_with_group_gives_group_manifest():
    manifest = from_json(recorded("group.json"), WHERE)
    assert isinstance(manifest, GroupManifest) and manifest.kind == GROUP_KIND
    assert [m.archive_set for m in manifest.members] == ["labvg-mf_rec_thick", "labvg-mf_rec_thick2"]
    assert manifest.freeze_window.frozen_devices == ("labvg-mf_rec_thick", "labvg-mf_rec_thick2")
    assert manifest.engine.name == "fsarchiver"


def test_group_manifest_sealed_before_it_recorded_ended_reads_and_writes_back_without_it():
    assert "ended" not in json.loads(recorded("group.json"))  # recorded in the lab before groups had it
    old = from_json(recorded("group.json"), WHERE)
    assert old.ended is None and "ended" not in old.to_dict()
    assert old.to_json() == recorded("group.json")


def test_group_manifest_with_ended_reads_back_equal_and_keeps_the_single_manifests_format():
    single = from_json(recorded("single-tar-thick.json"), WHERE)
    group = replace(from_json(recorded("group.json"), WHERE), ended=single.ended)
    text = group.to_json()
    assert json.loads(text)["ended"] == single.ended  # the same name and format as a single set's
    assert from_json(text, WHERE) == group and from_json(text, WHERE).to_json() == text


def test_to_json_with_extensions_and_hooks_reads_back_equal():
    single = from_json(recorded("single-tar-thick.json"), WHERE)
    grown = replace(single, bytes_read=123, snapshot=replace(single.snapshot, extensions=(
        Extension(at="2026-11-30T01:03:40+00:00", used_percent=61.5, from_bytes=8388608, to_bytes=12582912),)))
    group = from_json(recorded("group.json"), WHERE)
    hooked = replace(group, hooks=(HookRecord(role="pre-snapshot", argv=("/usr/local/bin/lock-db", "--wait"),
                                              timeout_s=60.0, started="2026-11-30T01:03:39+00:00",
                                              ended="2026-11-30T01:03:40+00:00"),))
    for manifest in (grown, hooked):
        assert from_json(manifest.to_json(), WHERE) == manifest


def test_backup_manifest_as_written_reads_back_equal():
    """The backup's own builder, given a run as execution leaves it (autoextended once)."""
    single = from_json(recorded("single-tar-thick.json"), WHERE)
    grown = {"at": "2026-11-30T01:03:40+00:00", "used_percent": 61.5, "from_bytes": 8388608, "to_bytes": 12582912}
    readings = BoundedReadings()
    for at, percent, size in (("01:03:38", 12.5, 8388608), ("01:03:40", 61.5, 8388608), ("01:03:42", 40.25, 12582912)):
        readings.offer(GuardReading(f"2026-11-30T{at}+00:00", percent, size))
    run = SimpleNamespace(
        engine=SimpleNamespace(name="tar", level="file", archive_name="filesystem.tar.zst"),
        snapshot=SimpleNamespace(name=single.snapshot.name, thin=False, size_bytes=8388608,
                                 tags=["lvmkit", "lvmkit-run-x"]),
        origin=SimpleNamespace(vg_name="labvg", name="mf_rec_thick", size=33554432, uuid=single.origin.uuid,
                               attr=SimpleNamespace(is_thin=False), pool_lv=None),
        guard=SimpleNamespace(snapshot_bytes=12582912, extensions=[grown], peak_percent=61.5, percent=40.25,
                              readings=readings),
        filesystem=SimpleNamespace(type="ext4", uuid=None, label=None),
        paths=SimpleNamespace(name=single.name), host="ssh://root@lab", run_id="20261130T010300Z-x1",
        engine_version="tar 1.34", engine_options={"threads": "2"}, started="2026-11-30T01:03:00+00:00",
        ended="2026-11-30T01:04:00+00:00", bytes_read=None,
        digest=single.digest, archive_name="filesystem.tar.zst", encryption=None,
    )
    written = manifest_of(run, dict(single.checksums), 300821)
    assert written.snapshot.extensions == (Extension(**grown),)
    assert [r.used_percent for r in written.snapshot.readings] == [12.5, 61.5, 40.25]
    assert written.archive_sha256 == single.checksums["filesystem.tar.zst"]
    assert from_json(written.to_json(), WHERE) == written
    assert "encryption" not in written.to_dict(), "a clear set's manifest is written as before"

    encrypted = manifest_of(
        SimpleNamespace(**{**vars(run), "archive_name": "filesystem.tar.zst.age",
                           "encryption": Encryption("age", "1.1.1", ("age1" + "q" * 58,))}),
        {"filesystem.tar.zst.age": "a" * 64}, 300821)
    assert encrypted.engine.archive == "filesystem.tar.zst.age" and encrypted.archive_sha256 == "a" * 64
    assert from_json(encrypted.to_json(), WHERE) == encrypted


def test_to_dict_keeps_the_order_the_backup_builds():
    manifest = from_json(recorded("single-tar-thick.json"), WHERE)
    assert list(manifest.to_dict())[:7] == ["schema", "kind", "name", "lvmkit_version", "host", "run_id", "origin"]


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "manifest is not JSON"),
    ("[1, 2]", "manifest is a list, not a JSON object"),
    ('{"kind": "lvmkit-archive-set"}', "manifest has no schema version"),
    ('{"schema": true, "kind": "lvmkit-archive-set"}', "manifest has no schema version"),
    ('{"schema": 99}', "manifest schema 99 is newer than this lvmkit understands (1); use a newer lvmkit"),
    ('{"schema": 0}', "manifest schema 0 does not exist"),
    ('{"schema": 1}', "manifest field kind is missing"),
    ('{"schema": 1, "kind": "tarball"}', "manifest field kind is tarball, expected one of"),
    ('{"schema": 1, "kind": ["lvmkit-archive-set"]}', "manifest field kind is ['lvmkit-archive-set'], expected one of"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_from_json_with_bad_document_names_the_file(text, message):
    with pytest.raises(ManifestError, match=r"^/backups/set/manifest\.json: ") as raised:
        from_json(text, WHERE)
    assert message in str(raised.value)


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m.pop("engine"), "manifest field engine is missing"),
    (lambda m: m["snapshot"].pop("peak_percent"), "manifest field snapshot.peak_percent is missing"),
    (lambda m: m.update(bytes_written="300821"), "manifest field bytes_written is a string, expected an integer"),
    (lambda m: m.update(bytes_written=True), "manifest field bytes_written is a boolean, expected an integer"),
    (lambda m: m.update(bytes_written=None), "manifest field bytes_written is null, expected an integer"),
    (lambda m: m["origin"].update(thin="no"), "manifest field origin.thin is a string, expected true or false"),
    (lambda m: m["snapshot"].update(peak_percent="high"),
     "manifest field snapshot.peak_percent is a string, expected a number"),
    (lambda m: m["snapshot"].update(tags="lvmkit"), "manifest field snapshot.tags is a string, expected a list"),
    (lambda m: m["snapshot"]["tags"].append(7), "manifest field snapshot.tags[2] is an integer, expected a string"),
    (lambda m: m["snapshot"]["extensions"].append({"at": "x", "used_percent": 60, "from_bytes": 1}),
     "manifest field snapshot.extensions[0].to_bytes is missing"),
    (lambda m: m["engine"]["options"].update(threads=2),
     "manifest field engine.options.threads is an integer, expected a string"),
    (lambda m: m.update(origin=["labvg"]), "manifest field origin is a list, expected an object"),
    (lambda m: m.update(comment="mine"), "manifest field comment is not a field of schema 1"),
    (lambda m: m.update({"\x1b[2Jx" * 50: 1}), "manifest field '\\x1b[2Jx\\x1b[2Jx"),
])
def test_from_json_with_damaged_archive_set_manifest_names_file_and_field(change, message):
    with pytest.raises(ManifestError) as raised:
        from_json(damaged("single-tar-thick.json", change), WHERE)
    assert str(raised.value).startswith(f"{WHERE}: {message}")


@pytest.mark.parametrize(("change", "message"), [
    (lambda m: m["members"][1].pop("archive_set"), "manifest field members[1].archive_set is missing"),
    (lambda m: m.update(engine="fsarchiver"), "manifest field engine is a string, expected an object"),
    (lambda m: m["freeze_window"].update(frozen_s=None),
     "manifest field freeze_window.frozen_s is null, expected a number"),
])
def test_from_json_with_damaged_group_manifest_names_file_and_field(change, message):
    with pytest.raises(ManifestError) as raised:
        from_json(damaged("group.json", change), WHERE)
    assert str(raised.value).startswith(f"{WHERE}: {message}")


def test_from_json_with_integer_where_a_number_is_kept_as_written():
    text = damaged("single-tar-thick.json", lambda m: m["snapshot"].update(peak_percent=12))
    manifest = from_json(text, WHERE)
    assert manifest.snapshot.peak_percent == 12 and '"peak_percent": 12,' in manifest.to_json()


def test_manifest_error_is_an_archive_error():
    assert issubclass(ManifestError, ArchiveError)  # callers that catch ArchiveError keep working
    assert MANIFEST_SCHEMA == 1  # the format is unchanged: existing sets stay readable


def test_read_manifest_reads_the_set_and_names_the_file(scripted_host):
    path = "/backups/set/manifest.json"
    scripted_host.expect(["test", "-f", path])
    scripted_host.expect(["cat", "--", path], stdout="{")
    with pytest.raises(ManifestError, match=r"^/backups/set/manifest\.json: manifest is not JSON"):
        read_manifest(scripted_host, "/backups/set/")


def test_read_manifest_with_no_manifest_says_it_is_no_archive_set(scripted_host):
    scripted_host.expect(["test", "-f", "/backups/other/manifest.json"], returncode=1)
    with pytest.raises(ArchiveError, match="/backups/other is not an lvmkit archive set on scripted"):
        read_manifest(scripted_host, "/backups/other")


def test_render_with_group_set_lists_its_members():
    sets = [ListedSet("/b/group", from_json(recorded("group.json"), WHERE), None),
            ListedSet("/b/single", from_json(recorded("single-tar-thick.json"), WHERE), None)]
    lines = render(sets).splitlines()
    assert "group labvg/mf_rec_thick,labvg/mf_rec_thick2  fsarchiver" in lines[1]
    assert lines[1].split()[4:6] == ["?", "?"], "a group sealed before `ended`: no size, no age"
    assert lines[2].split()[1:4] == ["labvg/mf_rec_thick", "tar", "293.8"]


def test_render_and_order_of_a_group_set_use_its_ended():
    single = ListedSet("/b/single", from_json(recorded("single-tar-thick.json"), WHERE), None)
    three_days_ago = (utc_now() - timedelta(days=3, minutes=1)).isoformat()
    group = ListedSet("/b/group", replace(from_json(recorded("group.json"), WHERE), ended=three_days_ago), None)
    assert group.ended == three_days_ago
    newer = max(single.ended, three_days_ago)
    assert sorted([single, group], key=lambda s: s.ended, reverse=True)[0].ended == newer  # list_sets' order
    row = render([group]).splitlines()[1].split()
    assert row[0] == "/b/group" and row[4:6] == ["?", "3d"]
