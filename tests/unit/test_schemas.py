"""The published schemas (docs/schemas/) accept what lvmkit writes and refuse, with the field
named, what it would not write; lvmkit's own decoders and the schemas agree."""

from __future__ import annotations

import json

import pytest

from lvmkit.archive.digest import ContentDigest, DigestEntry, DigestFormatError
from lvmkit.archive.manifest import ManifestError, from_json
from lvmkit.core import schemas

from .conftest import FIXTURES

RECORDED = sorted((FIXTURES / "manifest").glob("*.json"))


def test_every_schema_is_a_valid_draft_2020_12_schema():
    from jsonschema import Draft202012Validator

    for path in sorted(schemas.SCHEMAS.glob("*.json")):
        Draft202012Validator.check_schema(json.loads(path.read_text()))


@pytest.mark.parametrize("path", RECORDED, ids=lambda p: p.name)
def test_manifests_written_in_the_lab_satisfy_the_schema(path):
    assert schemas.problems(json.loads(path.read_text()), "manifest.json") == []


@pytest.mark.parametrize("change, field", [
    (lambda m: m["checksums"].update({"../../etc/passwd": "0" * 64}), "checksums"),
    (lambda m: m.update(archive_sha256="not a hash"), "archive_sha256"),
    (lambda m: m["origin"].update(size_bytes=-1), "origin.size_bytes"),
    (lambda m: m["engine"].update(archive="../filesystem.tar.zst"), "engine.archive"),
])
def test_a_hostile_manifest_that_the_types_accept_is_refused_naming_the_field(change, field):
    manifest = json.loads((FIXTURES / "manifest" / "single-tar-thick.json").read_text())
    change(manifest)
    with pytest.raises(ManifestError, match=rf"/set/manifest.json: manifest field {field}[:.]"):
        from_json(json.dumps(manifest), "/set/manifest.json")


def test_a_group_manifest_with_ended_satisfies_the_schema_and_a_malformed_ended_is_refused():
    group = json.loads((FIXTURES / "manifest" / "group.json").read_text())
    ended = json.loads((FIXTURES / "manifest" / "single-tar-thick.json").read_text())["ended"]
    assert schemas.problems({**group, "ended": ended}, "manifest.json") == []
    with pytest.raises(ManifestError, match=r"/set/manifest.json: manifest field ended[:.]"):
        from_json(json.dumps({**group, "ended": "yesterday"}), "/set/manifest.json")


def entry(**changes) -> dict:
    good = {"path": "a", "type": "regular", "mode": "0644", "uid": 0, "gid": 0, "size": 1, "hash": "ab" * 64,
            "target": None, "link_group": None}
    return {**good, **changes}


def digest_text(*entries: dict) -> str:
    return json.dumps({"format": "lvmkit-content-digest", "version": 2, "algorithm": "blake2b", "entries": list(entries)})


def test_a_digest_lvmkit_writes_satisfies_the_schema():
    written = ContentDigest((DigestEntry(path=".", type="directory", mode=0o755, uid=0, gid=0),
                             DigestEntry(path="a", type="regular", mode=0o600, uid=1, gid=1, size=1, hash="cd" * 64),
                             DigestEntry(path="l", type="symlink", mode=0o777, uid=0, gid=0, target="a")))
    assert schemas.problems(json.loads(written.to_json()), "digest.json", "blake2b") == []


@pytest.mark.parametrize("bad", [entry(mode="999"), entry(hash="ab"), entry(type="door"), entry(uid=-1),
                                 {k: v for k, v in entry().items() if k != "size"}])
def test_the_digest_decoder_and_the_schema_refuse_the_same_entries(bad):
    assert schemas.problems(json.loads(digest_text(bad)), "digest.json", "blake2b")
    with pytest.raises(DigestFormatError):
        ContentDigest.from_json(digest_text(bad))
