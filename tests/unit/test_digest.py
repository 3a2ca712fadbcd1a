import base64
import hashlib
import json
import random
from dataclasses import replace

import pytest

from lvmkit.archive.digest import (
    DIGEST_SCRIPT,
    FORMAT_VERSION,
    PART_SEPARATOR,
    ContentDigest,
    DigestEntry,
    DigestError,
    DigestFormatError,
    compare,
    compute_digest,
    digest_commands,
    parse_digest,
)
from lvmkit.core.errors import CommandError, LvmkitError, UsageError

from .conftest import FIXTURES

RECORDED = json.loads((FIXTURES / "digest" / "odd-tree.json").read_text())
ROOT = RECORDED["root"]

# The tree tests/fixtures/record_digest.py builds: path bytes -> (type, mode, uid, content or
# symlink target). Written out independently of the recorder's script.
ODD_TREE = {
    b".": ("directory", 0o755, 0, None),
    b" two  spaces ": ("regular", 0o644, 0, b"spaces\n"),
    b"-dash": ("regular", 0o644, 0, b"dash\n"),
    b"back\\slash": ("regular", 0o644, 0, b"backslash\n"),
    b"caf\xe9": ("regular", 0o644, 0, b"latin-1\n"),
    b"char-null": ("char_device", 0o644, 0, None),
    b"dangling": ("symlink", 0o777, 0, b"no such\ntarget \xff"),
    b"dir-\xff": ("directory", 0o755, 0, None),
    b"dir-\xff/inner \xfe": ("regular", 0o644, 0, b"nested\n"),
    b"empty": ("regular", 0o644, 0, b""),
    b"fifo": ("fifo", 0o644, 0, None),
    b"hello.txt": ("regular", 0o644, 0, b"hello\n"),
    b"link-a": ("regular", 0o644, 0, b"linked\n"),
    b"link-b": ("regular", 0o644, 0, b"linked\n"),
    b"new\nline": ("regular", 0o644, 0, b"newline\n"),
    b"owned": ("regular", 0o644, 1234, b"owned\n"),
    b"secret": ("regular", 0o600, 0, b"secret\n"),
    b"setgid-dir": ("directory", 0o2755, 0, None),
    b"setuid": ("regular", 0o4755, 0, b"#!/bin/sh\n"),
    b"sticky": ("directory", 0o1777, 0, None),
    b"sticky/link-c": ("regular", 0o644, 0, b"linked\n"),
    b"symlink": ("symlink", 0o777, 0, b"hello.txt"),
    b"tab\there": ("regular", 0o644, 0, b"tab\n"),
}


HASHES = {"sha256": lambda data: hashlib.sha256(data).hexdigest(),
          "blake2b": lambda data: hashlib.blake2b(data).hexdigest()}  # b2sum's default: BLAKE2b-512


def recorded(name: str) -> str:
    return (FIXTURES / "digest" / name).read_text()


def recorded_parts(algorithm: str = "sha256") -> tuple[str, str]:
    """The listing and the hashes of the recorded odd tree: the command's two parts."""
    listing, separator, hashes = recorded(f"odd-tree-{algorithm}.out").partition(PART_SEPARATOR)
    assert separator
    return listing, hashes


def digest_of_odd_tree(scripted_host, algorithm: str) -> ContentDigest:
    (argv,) = digest_commands(ROOT, algorithm=algorithm, jobs=RECORDED["jobs"], batch=RECORDED["batch"])
    scripted_host.expect(argv, stdout=recorded(f"odd-tree-{algorithm}.out"))
    return compute_digest(scripted_host, ROOT, algorithm=algorithm, jobs=RECORDED["jobs"], batch=RECORDED["batch"])


@pytest.fixture(params=["sha256", "blake2b"])
def odd_digest(scripted_host, request):
    return digest_of_odd_tree(scripted_host, request.param)


@pytest.fixture
def sha256_odd_digest(scripted_host):
    return digest_of_odd_tree(scripted_host, "sha256")


def entry(path, kind="regular", mode=0o644, uid=0, gid=0, content=b"x", target=None, link_group=None,
          algorithm="blake2b"):
    regular = kind == "regular"
    return DigestEntry(
        path, kind, mode, uid, gid,
        size=len(content) if regular else None,
        hash=HASHES[algorithm](content) if regular else None,
        target=target, link_group=link_group,
    )


def small_digest(*extra):
    return ContentDigest((
        entry(".", "directory", 0o755),
        entry("a.txt", content=b"alpha"),
        entry("dir", "directory", 0o755),
        entry("dir/b", content=b"beta"),
        entry("link", "symlink", 0o777, target="a.txt"),
        *extra,
    ))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def listing_record(path: bytes, kind=b"f", mode=b"644", size=b"1", inode=b"1", links=b"1", target=b"") -> bytes:
    return b"\0".join([kind, mode, b"0", b"0", size, b"2049", inode, links, path, target]) + b"\0"


# --- commands ------------------------------------------------------------------------------

def test_digest_commands_are_one_constant_script_that_takes_root_and_tool_as_parameters():
    root = "/mnt/it's a $(dangerous) name"
    (argv,) = digest_commands(root, jobs=3, batch=16)
    assert argv == ["bash", "-c", DIGEST_SCRIPT, "bash", root, "3", "16", "b2sum"]
    assert digest_commands(root, algorithm="sha256")[0][-1] == "sha256sum"
    assert DIGEST_SCRIPT.startswith("set -o pipefail\n")
    assert "-xdev" in DIGEST_SCRIPT and root not in DIGEST_SCRIPT


def test_digest_commands_with_an_unknown_algorithm_refuse_it():
    with pytest.raises(UsageError, match="unknown content hash 'md5'"):
        digest_commands("/srv", algorithm="md5")


def test_digest_commands_with_trailing_slash_use_the_root_without_it():
    assert digest_commands("/srv/data//")[0][4] == "/srv/data"
    assert digest_commands("/")[0][4] == "/"


@pytest.mark.parametrize("root", ["", "srv/data", "-delete", "/srv/\0x"])
def test_digest_commands_with_a_relative_or_odd_root_refuse_it(root):
    with pytest.raises(UsageError, match="absolute path"):
        digest_commands(root)


def test_digest_commands_with_no_parallelism_refuse_it():
    with pytest.raises(UsageError, match="at least 1"):
        digest_commands("/srv", jobs=0)


# --- the recorded odd tree -----------------------------------------------------------------

def test_compute_digest_with_recorded_odd_tree_decodes_every_name_exactly(odd_digest):
    assert [e.path_bytes for e in odd_digest.entries] == sorted(ODD_TREE, key=lambda p: b"" if p == b"." else p)
    for e in odd_digest.entries:
        kind, mode, uid, data = ODD_TREE[e.path_bytes]
        assert (e.type, e.mode, e.uid, e.gid) == (kind, mode, uid, uid), e.path
        if kind == "regular":
            assert (e.size, e.hash) == (len(data), HASHES[odd_digest.algorithm](data)), e.path
        else:
            assert (e.size, e.hash) == (None, None), e.path
        assert e.target == (data.decode("utf-8", "surrogateescape") if kind == "symlink" else None)


def test_compute_digest_with_non_utf8_names_keeps_them_as_surrogate_escapes(odd_digest):
    paths = {e.path for e in odd_digest.entries}
    assert "caf\udce9" in paths and "dir-\udcff/inner \udcfe" in paths
    assert "\ufffd" not in "".join(paths)  # nothing replaced on the way
    assert '"caf\\udce9"' in odd_digest.to_json()


def test_compute_digest_with_hard_links_marks_each_path_with_its_group(odd_digest):
    groups = {e.path: e.link_group for e in odd_digest.entries if e.link_group}
    assert groups == {"link-a": "link-a", "link-b": "link-a", "sticky/link-c": "link-a"}


def test_compute_digest_with_recorded_odd_tree_counts_regular_files_and_bytes(odd_digest):
    regular = [data for kind, _, _, data in ODD_TREE.values() if kind == "regular"]
    assert odd_digest.file_count == len(regular) == 15
    assert odd_digest.total_bytes == sum(len(data) for data in regular)


def test_compute_digest_with_missing_root_raises_the_command_error(scripted_host):
    root = "/var/tmp/dig_rec/missing"
    scripted_host.expect(digest_commands(root)[0], returncode=1, stderr=recorded("missing-root.stderr"))
    with pytest.raises(CommandError, match="No such file or directory"):
        compute_digest(scripted_host, root)


def test_parse_digest_with_hash_records_in_any_order_gives_the_same_digest(odd_digest):
    listing, hashes = recorded_parts(odd_digest.algorithm)
    records = base64.b64decode(hashes).split(b"\0")[:-1]
    random.Random(7).shuffle(records)
    shuffled = b64(b"\0".join(records) + b"\0")
    assert parse_digest(ROOT, listing, shuffled, odd_digest.algorithm) == odd_digest


def test_parse_digest_with_binary_mode_hash_records_accepts_them(odd_digest):
    listing, hashes = recorded_parts(odd_digest.algorithm)
    width = len(odd_digest.entries[1].hash or odd_digest.entries[2].hash)
    starred = b"\0".join(r[:width + 1] + b"*" + r[width + 2:] if r else r
                         for r in base64.b64decode(hashes).split(b"\0"))
    assert parse_digest(ROOT, listing, b64(starred), odd_digest.algorithm) == odd_digest


def test_parse_digest_with_hashes_of_another_algorithm_refuses_them():
    listing, sha256_hashes = recorded_parts("sha256")
    with pytest.raises(DigestError, match=r"b2sum -z \(the hashes\): cannot parse record"):
        parse_digest(ROOT, listing, sha256_hashes, "blake2b")


def test_compute_digest_with_output_missing_its_separator_refuses_it(scripted_host):
    (argv,) = digest_commands(ROOT)
    scripted_host.expect(argv, stdout=recorded_parts("blake2b")[0])
    with pytest.raises(DigestError, match="without its two parts"):
        compute_digest(scripted_host, ROOT)


def test_parse_digest_with_a_file_not_hashed_reports_the_tree_changed():
    listing, hashes = recorded_parts()
    fewer = b"\0".join(r for r in base64.b64decode(hashes).split(b"\0") if not r.endswith(b"/hello.txt"))
    with pytest.raises(DigestError, match=r'changed while it was digested.*"hello.txt"'):
        parse_digest(ROOT, listing, b64(fewer))


def test_parse_digest_with_output_that_is_not_base64_names_the_command():
    with pytest.raises(DigestError, match=r"find -printf \(the listing\): output is not the base64"):
        parse_digest(ROOT, "find: warning\n", recorded_parts()[1])


def test_parse_digest_with_a_truncated_listing_refuses_it():
    listing, hashes = recorded_parts()
    with pytest.raises(DigestError, match="not a whole number of 10-field records"):
        parse_digest(ROOT, b64(base64.b64decode(listing)[:-12]), hashes)


def test_parse_digest_with_a_hash_record_outside_the_root_refuses_it():
    outside = b64(b"0" * 64 + b"  /etc/passwd\0")
    with pytest.raises(DigestError, match="cannot parse record"):
        parse_digest("/srv", b64(listing_record(b"", kind=b"d", mode=b"755")), outside)


def test_parse_digest_with_a_root_that_is_not_a_directory_refuses_it():
    listing = b64(listing_record(b"", kind=b"l", mode=b"777", target=b"/elsewhere"))
    with pytest.raises(DigestError, match="is not a directory"):
        parse_digest("/srv/link", listing, "")


def test_parse_digest_with_an_unknown_file_type_refuses_it():
    listing = b64(listing_record(b"", kind=b"d", mode=b"755") + listing_record(b"door", kind=b"D"))
    with pytest.raises(DigestError, match="file type b'D'"):
        parse_digest("/srv", listing, "")


def test_parse_digest_with_root_slash_strips_only_the_slash():
    listing = b64(listing_record(b"", kind=b"d", mode=b"755") + listing_record(b"etc/x", size=b"0"))
    hashes = b64(hashlib.sha256(b"").hexdigest().encode() + b"  /etc/x\0")
    digest = parse_digest("/", listing, hashes)
    assert [e.path for e in digest.entries] == [".", "etc/x"]


# --- JSON ----------------------------------------------------------------------------------

def test_to_json_with_recorded_odd_tree_round_trips_exactly(odd_digest):
    text = odd_digest.to_json()
    assert text.isascii()
    again = ContentDigest.from_json(text)
    assert again == odd_digest
    assert again.to_json() == text and again.sha256 == odd_digest.sha256
    assert [e.path_bytes for e in again.entries] == [e.path_bytes for e in odd_digest.entries]


def test_to_json_is_one_document_with_format_version_and_algorithm():
    document = json.loads(small_digest().to_json())
    assert document["format"] == "lvmkit-content-digest"
    assert (document["version"], document["algorithm"]) == (FORMAT_VERSION, "blake2b") == (2, "blake2b")
    assert document["entries"][1] == {
        "path": "a.txt", "type": "regular", "mode": "0644", "uid": 0, "gid": 0, "size": 5,
        "hash": hashlib.blake2b(b"alpha").hexdigest(), "target": None, "link_group": None,
    }


# A digest as lvmkit wrote it before format version 2 (format version 1, no "algorithm").
VERSION_1 = (
    '{"format":"lvmkit-content-digest","version":1,"entries":[\n'
    '{"path":".","type":"directory","mode":"0755","uid":0,"gid":0,"size":null,"sha256":null,'
    '"target":null,"link_group":null},\n'
    '{"path":"a.txt","type":"regular","mode":"0644","uid":0,"gid":0,"size":5,'
    '"sha256":"8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8","target":null,"link_group":null}\n'
    ']}\n'
)


def test_from_json_with_a_version_1_digest_reads_it_as_sha256_and_writes_it_back_byte_for_byte():
    digest = ContentDigest.from_json(VERSION_1)
    assert digest.algorithm == "sha256"
    assert digest.entries[1].hash == hashlib.sha256(b"alpha").hexdigest()
    assert digest.to_json() == VERSION_1
    assert digest.sha256 == hashlib.sha256(VERSION_1.encode()).hexdigest()  # what old manifests recorded


def test_compare_with_a_version_1_digest_and_a_sha256_recomputation_is_equal(sha256_odd_digest):
    old = ContentDigest.from_json(sha256_odd_digest.to_json())
    assert json.loads(sha256_odd_digest.to_json())["version"] == 1
    assert compare(old, sha256_odd_digest).equal


def test_compare_with_digests_of_two_algorithms_refuses_it():
    old = ContentDigest.from_json(VERSION_1)
    new = ContentDigest(tuple(entry(e.path, e.type, e.mode, content=b"alpha") for e in old.entries))
    with pytest.raises(DigestError, match="cannot compare a sha256 digest with a blake2b one"):
        compare(old, new)


def test_from_json_with_an_unknown_algorithm_refuses_it():
    document = json.loads(small_digest().to_json())
    document["algorithm"] = "md5"
    with pytest.raises(DigestFormatError, match="unknown algorithm 'md5'"):
        ContentDigest.from_json(json.dumps(document))


def test_from_json_with_version_1_and_an_algorithm_refuses_it():
    document = json.loads(VERSION_1)
    document["algorithm"] = "blake2b"
    with pytest.raises(DigestFormatError, match="version 1 is sha256 only"):
        ContentDigest.from_json(json.dumps(document))


def test_content_digest_with_entries_in_any_order_is_canonical(odd_digest):
    shuffled = list(odd_digest.entries)
    random.Random(3).shuffle(shuffled)
    again = ContentDigest(tuple(shuffled), odd_digest.algorithm)
    assert again.to_json() == odd_digest.to_json() and again.sha256 == odd_digest.sha256
    paths = [e.path_bytes for e in again.entries]
    assert paths[0] == b"." and paths[1:] == sorted(paths[1:])


def test_content_digest_with_a_path_twice_refuses_it():
    with pytest.raises(DigestError, match='"a.txt" twice'):
        small_digest(entry("a.txt"))


def test_sha256_is_the_hash_of_the_canonical_json():
    digest = small_digest()
    assert digest.sha256 == hashlib.sha256(digest.to_json().encode()).hexdigest()
    assert small_digest(entry("c")).sha256 != digest.sha256


@pytest.mark.parametrize("version", [3, 99])
def test_from_json_with_a_newer_format_version_refuses_it(version):
    document = json.loads(small_digest().to_json())
    document["version"] = version
    with pytest.raises(DigestFormatError, match=f"format version {version}.*newer lvmkit.*upgrade") as raised:
        ContentDigest.from_json(json.dumps(document))
    assert isinstance(raised.value, LvmkitError)


@pytest.mark.parametrize("version", [0, -1, "1", None, 1.0])
def test_from_json_with_an_unknown_format_version_refuses_it(version):
    document = json.loads(small_digest().to_json())
    document["version"] = version
    with pytest.raises(DigestFormatError, match="unknown format version"):
        ContentDigest.from_json(json.dumps(document))


@pytest.mark.parametrize("text, message", [
    ("not json", "must be JSON"),
    ("[]", "not a content digest"),
    ('{"format": "other", "version": 1, "entries": []}', "not a content digest"),
    ('{"format": "lvmkit-content-digest", "version": 1}', '"entries" list'),
])
def test_from_json_with_something_else_refuses_it(text, message):
    with pytest.raises(DigestFormatError, match=message):
        ContentDigest.from_json(text)


@pytest.mark.parametrize("key, value, message", [
    ("mode", "644", "four octal digits"),
    ("mode", 420, "four octal digits"),
    ("type", "door", "unknown type"),
    ("uid", -1, "non-negative"),
    ("size", None, "size is a byte count"),
    ("hash", "abc", "hash is 128 hex digits"),
    ("hash", hashlib.sha256(b"alpha").hexdigest(), "hash is 128 hex digits"),
    ("target", "x", "target is a string for symlinks"),
    ("path", "", "non-empty"),
])
def test_from_json_with_a_malformed_entry_refuses_it(key, value, message):
    document = json.loads(small_digest().to_json())
    document["entries"][1][key] = value
    with pytest.raises(DigestFormatError, match=f"entry 2.*{message}"):
        ContentDigest.from_json(json.dumps(document))


def test_from_json_with_a_missing_key_refuses_it():
    document = json.loads(small_digest().to_json())
    del document["entries"][0]["link_group"]
    with pytest.raises(DigestFormatError, match="entry 1: expected an object with exactly the keys"):
        ContentDigest.from_json(json.dumps(document))


# --- comparing -----------------------------------------------------------------------------

def test_compare_with_equal_digests_is_equal():
    comparison = compare(small_digest(), small_digest())
    assert comparison.equal
    assert (comparison.missing, comparison.extra, comparison.changed) == ((), (), ())
    assert comparison.summary() == "digests equal: 5 paths"


def test_compare_finds_missing_and_extra_paths():
    expected = small_digest(entry("gone"))
    actual = small_digest(entry("new\nfile"))
    comparison = compare(expected, actual)
    assert not comparison.equal
    assert comparison.missing == ("gone",)
    assert comparison.extra == ("new\nfile",)
    assert comparison.changed == ()


@pytest.mark.parametrize("changed, fields", [
    (entry("dir/b", content=b"beta", mode=0o600), ("mode",)),
    (entry("dir/b", content=b"beta", uid=1234), ("uid",)),
    (entry("dir/b", content=b"beta", uid=1234, gid=1234), ("uid", "gid")),
    (entry("dir/b", content=b"bete"), ("hash",)),
    (entry("dir/b", content=b"beta!"), ("size", "hash")),
    (entry("dir/b", content=b"beta", link_group="a.txt"), ("link_group",)),
    (entry("dir/b", "symlink", 0o777, target="a.txt"), ("type", "mode", "size", "hash", "target")),
])
def test_compare_finds_the_changed_fields_of_a_file(changed, fields):
    expected = small_digest()
    actual = ContentDigest(tuple(changed if e.path == "dir/b" else e for e in expected.entries))
    comparison = compare(expected, actual)
    assert (comparison.missing, comparison.extra) == ((), ())
    assert [(c.path, c.fields) for c in comparison.changed] == [("dir/b", fields)]
    assert comparison.changed[0].expected.path == comparison.changed[0].actual.path == "dir/b"


def test_compare_finds_a_changed_symlink_target():
    expected = small_digest()
    actual = ContentDigest(tuple(
        replace(e, target="dir/b") if e.path == "link" else e for e in expected.entries
    ))
    comparison = compare(expected, actual)
    assert [(c.path, c.fields) for c in comparison.changed] == [("link", ("target",))]
    assert 'changed "link": target "a.txt" -> "dir/b"' in comparison.summary()


def test_compare_summary_gives_counts_and_the_first_differences():
    expected = small_digest(*(entry(f"gone-{n}") for n in range(3)))
    actual = ContentDigest(tuple(
        replace(e, mode=0o4755) if e.path == "a.txt" else e
        for e in small_digest(entry("caf\udce9")).entries
    ))
    summary = compare(expected, actual).summary(limit=4)
    assert summary.splitlines() == [
        "digests differ: 3 missing, 1 extra, 1 changed (of 8 paths expected, 6 found)",
        '  missing "gone-0"',
        '  missing "gone-1"',
        '  missing "gone-2"',
        '  extra "caf\\udce9"',
        "  ... and 1 more",
    ]
    assert 'changed "a.txt": mode 0644 -> 4755' in compare(expected, actual).summary()
