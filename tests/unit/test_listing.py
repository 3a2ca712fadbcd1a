"""`lvmkit list` with damaged sets among good ones: each damaged one is listed as damaged,
with the reason, and the rest are listed as usual (the manifests were written in the lab)."""

from __future__ import annotations

import json

from lvmkit.ops.listing import list_sets, render

from .conftest import FIXTURES

GOOD = (FIXTURES / "manifest" / "single-tar-thick.json").read_text()


def expect_set(host, path: str, manifest: str, verification: str | None) -> None:
    host.expect(["cat", "--", f"{path}/manifest.json"], stdout=manifest)
    if verification is None:
        host.expect(["cat", "--", f"{path}/verification.json"], returncode=1, stderr="cat: No such file or directory\n")
    else:
        host.expect(["cat", "--", f"{path}/verification.json"], stdout=verification)


def test_damaged_sets_are_listed_as_damaged_with_the_reason(scripted_host):
    no_engine = json.loads(GOOD)
    del no_engine["engine"]
    scripted_host.expect(["find", "/backups", "-mindepth", "2", "-maxdepth", "2", "-name", "manifest.json",
                          "-printf", "%h\\0"], stdout="/backups/good\0/backups/badv\0/backups/listv\0/backups/noengine\0")
    expect_set(scripted_host, "/backups/good", GOOD, '{"passed": true, "deep": false, "finished": "2026-11-30T01:00:00"}')
    expect_set(scripted_host, "/backups/badv", GOOD, "{not json")
    expect_set(scripted_host, "/backups/listv", GOOD, "[1, 2]")
    scripted_host.expect(["cat", "--", "/backups/noengine/manifest.json"], stdout=json.dumps(no_engine))
    rows = {line.split()[0]: line for line in render(list_sets(scripted_host, "/backups")).splitlines()[1:]}
    assert "passed" in rows["/backups/good"] and "damaged" not in rows["/backups/good"]
    assert "damaged: /backups/badv/verification.json is not JSON" in rows["/backups/badv"]
    assert "damaged: /backups/listv/verification.json has no passed: true or false" in rows["/backups/listv"]
    assert "damaged: " in rows["/backups/noengine"] and "engine is missing" in rows["/backups/noengine"]
