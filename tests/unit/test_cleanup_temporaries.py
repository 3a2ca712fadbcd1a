"""verify's temporary files left in published sets: only mktemp's exact names, only where verify
writes, from the listing real find printed for a staged destination
(tests/fixtures/record_temporaries.py: its names are mktemp's own, so they are read from it)."""

from __future__ import annotations

import pytest

from lvmkit.archive.archive_set import is_temporary_of
from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import Host
from lvmkit.ops.cleanup_temporaries import StaleTemporary, find_temporaries, temporaries_argv
from tests.fixtures.record_temporaries import GROUP, LOOSE, MEMBER, PARTIAL, RSYNC, SET

DEST = "/var/tmp/tmp_rec_dest"


def listed(fixture_text, kind: str, directory: str) -> list[str]:
    """The paths (inside DEST) the recorded listing gives as `kind` in `directory`."""
    entries = [entry.split(" ", 1) for entry in fixture_text("cleanup/temporaries.out").split("\0")[:-1]]
    return [path for k, path in entries if k == kind and path.rpartition("/")[0] == directory]


@pytest.mark.parametrize(("file_name", "matches"), [
    ("verification.json.vHUepm", True), ("verification.json.0aZ9zA", True),
    ("verification.json.ab-12c", False), ("verification.json.abc12", False), ("verification.json.abc1234", False),
    ("verification.jsonXabc123", False), ("xverification.json.abc123", False), ("verification.json", False),
    ("manifest.json.abc123", False), ("verification.json.abc12\n", False),
])
def test_is_temporary_of_matches_mktemps_exact_name_only(file_name, matches):
    assert is_temporary_of(file_name, "verification.json") is matches


def test_find_temporaries_takes_old_ones_in_sets_and_member_sets_and_flags_a_recent_one(scripted_host, fixture_text):
    scripted_host.expect(temporaries_argv(DEST), stdout=fixture_text("cleanup/temporaries.out"))
    found = find_temporaries(scripted_host, DEST + "/")
    in_set = [p for p in listed(fixture_text, "old", SET) if not p.endswith(".ab-12c")]
    in_member = listed(fixture_text, "old", f"{GROUP}/{MEMBER}")
    (recent,) = listed(fixture_text, "new", SET)
    assert len(in_set) == 1 and len(in_member) == 1
    assert found == sorted([StaleTemporary(f"{DEST}/{in_set[0]}", False), StaleTemporary(f"{DEST}/{in_member[0]}", False),
                            StaleTemporary(f"{DEST}/{recent}", True)], key=lambda t: t.path)


def test_find_temporaries_never_takes_archived_files_partial_sets_loose_files_or_lookalikes(scripted_host,
                                                                                             fixture_text):
    scripted_host.expect(temporaries_argv(DEST), stdout=fixture_text("cleanup/temporaries.out"))
    found = {t.path for t in find_temporaries(scripted_host, DEST)}
    # each is in the recording, as old as a stale one: left out by where it is or by its name
    for directory in (f"{RSYNC}/tree", PARTIAL, LOOSE):
        (path,) = listed(fixture_text, "old", directory)
        assert f"{DEST}/{path}" not in found, path
    assert f"{DEST}/{SET}/verification.json.ab-12c" not in found
    assert "Lnk123" not in fixture_text("cleanup/temporaries.out"), "find -type f: a symbolic link is never listed"


def test_find_temporaries_in_a_destination_without_any_finds_nothing(scripted_host, fixture_text):
    scripted_host.expect(temporaries_argv(DEST), stdout=fixture_text("cleanup/temporaries-none.out"))
    assert find_temporaries(scripted_host, DEST) == []


@pytest.mark.parametrize("stdout", ["old a/verification.json.abc123", "mystery a/b\0", "old \0"])
def test_find_temporaries_with_garbled_output_names_the_destination(scripted_host, stdout):
    scripted_host.expect(temporaries_argv(DEST), stdout=stdout)
    with pytest.raises(LvmkitError, match=f"verify's temporary files in {DEST} on scripted gave garbled output"):
        find_temporaries(scripted_host, DEST)


def test_temporaries_listing_run_here_lists_regular_files_of_the_name_and_manifests(tmp_path):
    """The same argv, run by this machine's find (as the recording ran it in the lab)."""
    (tmp_path / "set" / "tree").mkdir(parents=True)
    for name in ("set/manifest.json", "set/verification.json.Ab12Cd", "set/tree/verification.json.Ab12Cd",
                 "set/verification.json.x", "top.json"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "set" / "verification.json.Lnk123").symlink_to("manifest.json")
    listing = sorted(Host().run(temporaries_argv(str(tmp_path))).stdout.split("\0"))
    assert listing == ["", "manifest set/manifest.json", "new set/tree/verification.json.Ab12Cd",
                       "new set/verification.json.Ab12Cd"]
