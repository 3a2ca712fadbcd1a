"""A set is complete and closed: its file list, SHA256SUMS and manifest agree, or verify and
restore refuse it naming what changed.

The sets are real directories (tests/unit/archive_sets.py makes them) checked by the real
tools (find, sha256sum) on this machine; their manifests are the ones real backups wrote in
the lab (tests/fixtures/manifest/), with the checksums of the files written here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from lvmkit.archive.closure import SIGNATURE, VERIFICATION, problems, read_listing, read_sums
from lvmkit.archive.manifest import GroupManifest, from_json
from lvmkit.core.host import Host

from .archive_sets import checked, failure, make_set, recorded_manifest, write_sums


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tar_set(tmp_path):
    return make_set(tmp_path / "labvg-x-1", {"filesystem.tar.zst": b"the archive\n", "digest.json": b"{}\n"})


def test_a_set_as_written_passes(tar_set):
    checks = checked(tar_set)
    assert checks.passed, checks.render()
    assert [c.name for c in checks.checks] == ["archive set root's alone", "manifest readable", "signature",
                                               "file list complete and closed", "checksums match"]


def test_an_archive_replaced_and_sums_cut_to_the_manifest_line_is_refused(tar_set):
    # The attack that passed `lvmkit verify`: another tar in place, SHA256SUMS only the manifest's line.
    (tar_set / "filesystem.tar.zst").write_bytes(b"another tar\n")
    write_sums(tar_set, ["manifest.json"])
    checks = checked(tar_set)
    assert not checks.passed
    assert "SHA256SUMS does not list filesystem.tar.zst, which the manifest's checksums record" in failure(checks)
    assert "an unexpected file filesystem.tar.zst is in the set" in failure(checks)


def test_an_archive_and_sums_rewritten_together_disagree_with_the_manifest(tar_set):
    (tar_set / "filesystem.tar.zst").write_bytes(b"forged\n")
    write_sums(tar_set, ["digest.json", "filesystem.tar.zst", "manifest.json"])
    assert "SHA256SUMS and the manifest disagree on filesystem.tar.zst" in failure(checked(tar_set))


def test_a_file_added_to_a_set_is_named(tar_set):
    (tar_set / "payload.sh").write_text("echo hi\n")
    assert "an unexpected file payload.sh is in the set (not in SHA256SUMS)" in failure(checked(tar_set))


def test_a_temporary_left_by_an_interrupted_verify_still_fails_the_set_and_names_the_cleanup(tar_set):
    made = subprocess.run(["mktemp", "--", f"{tar_set}/{VERIFICATION}.XXXXXX"], check=True, capture_output=True,
                          text=True).stdout.strip()  # as verify's write leaves it when killed before its rename
    name = Path(made).name
    assert failure(checked(tar_set)) == (f"the archive set was changed: an unexpected file {name} is in the set "
                                         f"(not in SHA256SUMS): {VERIFICATION}'s temporary, left by an interrupted "
                                         "`lvmkit verify`; `lvmkit cleanup --dest` with the directory of the set "
                                         "removes it")
    Path(made).rename(tar_set / f"{VERIFICATION}.tmp")  # not mktemp's name: refused as any other file
    assert failure(checked(tar_set)) == ("the archive set was changed: an unexpected file "
                                         f"{VERIFICATION}.tmp is in the set (not in SHA256SUMS)")


def test_a_listed_file_that_is_missing_is_named(tar_set):
    (tar_set / "digest.json").unlink()
    assert "digest.json is missing" in failure(checked(tar_set))


def test_a_name_outside_the_set_in_sums_is_refused(tar_set, tmp_path):
    (tmp_path / "outside").write_text("x\n")
    sums = (tar_set / "SHA256SUMS").read_text() + f"{_sha(b'x' + bytes([10]))}  ../outside\n"
    (tar_set / "SHA256SUMS").write_text(sums)
    assert "SHA256SUMS names ../outside, which is not a file inside the set" in failure(checked(tar_set))


def test_verification_and_signature_files_may_exist_but_not_as_links(tar_set, tmp_path):
    (tar_set / VERIFICATION).write_text('{"passed": true}\n')
    (tar_set / SIGNATURE).write_text("not checked without a trust file\n")
    assert checked(tar_set).passed
    (tar_set / VERIFICATION).unlink()
    os.symlink(tmp_path / "elsewhere", tar_set / VERIFICATION)
    # refused before the closure is read: the set's own ownership check follows no link
    assert f"holds symlinks ({VERIFICATION})" in failure(checked(tar_set))


def test_a_manifest_whose_archive_sha256_was_not_rewritten_is_refused(tar_set):
    manifest = from_json((tar_set / "manifest.json").read_text(), "m")
    (tar_set / "manifest.json").write_text(dataclasses.replace(manifest, archive_sha256="0" * 64).to_json())
    write_sums(tar_set, ["digest.json", "filesystem.tar.zst", "manifest.json"])
    assert "archive_sha256 is not the checksum it records for filesystem.tar.zst" in failure(checked(tar_set))


def test_an_rsync_tree_is_closed_too(tmp_path):
    files = {"tree/etc/hosts": b"127.0.0.1\n", "tree/odd\nname": b"y", "digest.json": b"{}\n"}
    base = recorded_manifest("single-tar-thick.json")
    tree = tmp_path / "rsync-set"
    make_set(tree, files)
    manifest = from_json((tree / "manifest.json").read_text(), "m")
    engine = dataclasses.replace(base.engine, name="rsync", archive="tree", options={})
    (tree / "manifest.json").write_text(dataclasses.replace(manifest, engine=engine, archive_sha256=None).to_json())
    write_sums(tree, [*sorted(files), "manifest.json"])
    assert checked(tree).passed, checked(tree).render()
    (tree / "tree" / "etc" / "planted").write_text("x\n")
    assert "an unexpected file tree/etc/planted is in the set" in failure(checked(tree))


def test_a_group_set_is_closed_and_agrees_with_its_member_lines(tmp_path):
    group = recorded_manifest("group.json")
    assert isinstance(group, GroupManifest)
    directory = tmp_path / "group-set"
    directory.mkdir()
    members = []
    for member in group.members:
        make_set(directory / member.archive_set, {"filesystem.fsa": member.lv.encode(), "digest.json": b"{}\n"},
                 base="group-member-fsarchiver.json")
        members.append(dataclasses.replace(member, archive_sha256=_sha(member.lv.encode()), digest_sha256=_sha(b"{}\n")))
    (directory / "manifest.json").write_text(dataclasses.replace(group, members=tuple(members)).to_json())
    names = sorted(str(p.relative_to(directory)) for p in directory.glob("*/*"))
    write_sums(directory, [*names, "manifest.json"])
    assert checked(directory).passed, checked(directory).render()

    first = members[0].archive_set
    (directory / first / "filesystem.fsa").write_bytes(b"forged")
    write_sums(directory / first, ["digest.json", "filesystem.fsa", "manifest.json"])
    write_sums(directory, [*names, "manifest.json"])
    assert f"SHA256SUMS and the manifest disagree on {first}/filesystem.fsa" in failure(checked(directory))
    (directory / "stray").mkdir()
    assert "an unexpected directory stray is in the set" in failure(checked(directory))


def test_problems_reads_sums_with_escaped_names_as_on_disk(tmp_path):
    directory = make_set(tmp_path / "s", {"filesystem.tar.zst": b"a", "digest.json": b"{}\n"})
    (directory / "back\\slash").write_text("x")
    host = Host()
    listing, sums = read_listing(host, str(directory)), read_sums(host, str(directory))
    manifest = from_json((directory / "manifest.json").read_text(), "m")
    assert problems(manifest, sums, listing) == ["an unexpected file back\\slash is in the set (not in SHA256SUMS)"]


def test_the_restores_proof_refuses_a_digest_changed_since_the_preflight(scripted_host):
    from types import SimpleNamespace

    from lvmkit.archive.archive_set import ArchiveError
    from lvmkit.archive.digest import ContentDigest
    from lvmkit.ops import restore as restore_module

    manifest = recorded_manifest("single-tar-thick.json")  # records the digest 8822794c...
    swapped = ContentDigest(entries=()).to_json()  # another digest.json, put there after the checks
    scripted_host.expect(["cat", "--", "/backups/set/digest.json"], stdout=swapped)
    run = SimpleNamespace(request=SimpleNamespace(archive="/backups/set", identity=None), manifest=manifest, mountpoint="/run/x")
    with pytest.raises(ArchiveError, match="digest.json changed since the preflight"):
        restore_module._prove(scripted_host, run)
