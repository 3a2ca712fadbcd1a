"""The content digest: every file of a mounted tree, its metadata and the hash of its content.

A digest makes restore verification independent of the backup engine: a restore is correct
when the digest of the restored tree equals the one recorded from the snapshot.

The tree lives on a target host that may be remote, so the digest is one command run there
through a Host (bash, GNU findutils and coreutils only), whose output Python parses; it
prints two parts:

1. a listing: `find -xdev -printf` with every field NUL-terminated;
2. the hashes: `find -xdev -type f -print0 | split -n r/JOBS --filter 'xargs -0 -n BATCH b2sum -z'`.

The content hash is BLAKE2b-512 (`b2sum -z`, coreutils) since format version 2, which names
it in "algorithm"; version 1 digests (no "algorithm") hold sha256 and stay readable, and a
restore recomputes with the algorithm of the archived digest. Why b2sum, measured
(docs/performance.md, table 1d): on 256 MiB of small files it took 0.39x sha256sum's time
on this machine's CPU and 0.72x in the emulated lab; `openssl dgst -sha256` was about as
fast natively (SHA instructions) but 1.6x sha256sum in the lab (its start-up), and its
names are newline-escaped without escaping backslashes; b3sum replaces non-UTF-8 bytes of
names with U+FFFD and was slower than sha256sum on small files in the lab. b2sum is in
coreutils on every target and its `-z` output is NUL-safe for any name.

File names are bytes. Host.run decodes stdout as text with errors="replace", which would
turn every non-UTF-8 byte into U+FFFD, so both parts go through `base64` and Python decodes
the bytes itself. A path is kept as a str decoded the way Python decodes
file names (UTF-8 with surrogateescape, PEP 383): b"caf\\xe9" becomes "caf\\udce9", and
`DigestEntry.path_bytes` gives the exact bytes back. The JSON form is pure ASCII, so such a
byte appears there as the escape "\\udce9"; Python's json reads it back exactly.

Hard links: every path is an entry of its own, with its own sha256. A path whose inode is
shared by other paths of the tree also carries `link_group`: the smallest (bytewise) path of
that group. The marker names paths, not inode numbers, so two trees compare equal exactly
when they link the same paths together; a restore that breaks hard links apart shows up as
a changed `link_group`.

Not recorded: times, extended attributes, ACLs, file capabilities, the device numbers of
device nodes, directory sizes (they differ between filesystems).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import Host
from lvmkit.core.scripts import packaged_script

FORMAT = "lvmkit-content-digest"
FORMAT_VERSION = 2  # 2: "algorithm" names the content hash, entries hold it as "hash"
# algorithm -> (the coreutils tool that writes `HEX  NAME\0` records with -z, hex digits)
ALGORITHMS = {"sha256": ("sha256sum", 64), "blake2b": ("b2sum", 128)}
DEFAULT_ALGORITHM = "blake2b"
LEGACY_ALGORITHM = "sha256"  # version 1 digests: no "algorithm" field, sha256 per entry
DEFAULT_JOBS = 2  # the lab guest and many small VMs have 2 CPUs
# Files per hashing process: each exec costs ~37 ms in the emulated lab; measured on
# 17,000 files (256 MiB), 64 per process took 13.2 s, 1024 took 4.1 s (one worker, warm cache).
DEFAULT_BATCH = 1024
DIGEST_TOOLS = ("bash", "find", "split", "xargs", "base64", "mktemp")  # and the algorithm's tool

# find's -printf type letters (%y); any other (door, unknown) is refused.
TYPES = {
    "f": "regular", "d": "directory", "l": "symlink", "p": "fifo", "s": "socket",
    "c": "char_device", "b": "block_device",
}
FIELDS = ("type", "mode", "uid", "gid", "size", "hash", "target", "link_group")

# type, permission bits incl. setuid/setgid/sticky (octal), uid, gid, size, device, inode,
# link count, path relative to the starting point ("" for the root), symlink target ("" if
# none). A name cannot hold a NUL byte, so NUL after every field cannot be ambiguous.
LISTING_FIELDS = 10
LISTING_SCRIPT = r"""set -o pipefail
# base64: names are bytes, and the Host decodes stdout as text
find "$1" -xdev -printf '%y\0%m\0%U\0%G\0%s\0%D\0%i\0%n\0%P\0%l\0' | base64 || exit
"""

HASH_SCRIPT = packaged_script(__package__, "digest_hash.sh")  # parallel hashing without xargs -P: see its header
# Both in one command (one round trip): the listing, a line "@" (never in base64), the hashes.
PART_SEPARATOR = "@\n"
DIGEST_SCRIPT = LISTING_SCRIPT + "echo @\n" + HASH_SCRIPT

_MODE = re.compile(r"[0-7]{4}")


class DigestError(LvmkitError):
    """The digest commands gave output that could not be understood, or the tree changed."""


class DigestFormatError(LvmkitError):
    """A digest document is malformed or in a format version this lvmkit does not read."""


# --- data ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestEntry:
    path: str  # relative to the root, "." for the root itself; surrogateescape for non-UTF-8
    type: str  # one of TYPES' values
    mode: int  # permission bits with setuid/setgid/sticky (07777)
    uid: int
    gid: int
    size: int | None = None  # regular files only
    hash: str | None = None  # regular files only: hex, of the digest's algorithm
    target: str | None = None  # symlinks only
    link_group: str | None = None  # the smallest path hard-linked with this one, if any

    @property
    def path_bytes(self) -> bytes:
        return _encode(self.path)


@dataclass(frozen=True)
class ContentDigest:
    """Entries in canonical order (by path bytes, the root first), whatever order they came in."""

    entries: tuple[DigestEntry, ...]
    algorithm: str = DEFAULT_ALGORITHM  # of every entry's hash

    def __post_init__(self) -> None:
        _tool(self.algorithm)
        ordered = tuple(sorted(self.entries, key=_order))
        for before, after in zip(ordered, ordered[1:], strict=False):
            if before.path == after.path:
                raise DigestError(f"the digest lists {_shown(before.path)} twice")
        object.__setattr__(self, "entries", ordered)

    @property
    def file_count(self) -> int:
        """Regular files (each hard-linked path counts)."""
        return sum(1 for e in self.entries if e.type == "regular")

    @property
    def total_bytes(self) -> int:
        """Content bytes of the regular files (each hard-linked path counts)."""
        return sum(e.size for e in self.entries if e.type == "regular")

    @property
    def sha256(self) -> str:
        """The hash of the canonical JSON: equal digests have equal hashes."""
        return hashlib.sha256(self.to_json().encode("ascii")).hexdigest()

    def to_json(self) -> str:
        """Canonical JSON: pure ASCII, keys in a fixed order, one entry per line, sorted by path.

        A sha256 digest is written in format version 1, byte for byte as lvmkit wrote it
        before version 2: a version 1 digest read back hashes as the manifest recorded it.
        """
        legacy = self.algorithm == LEGACY_ALGORITHM
        hash_key = "sha256" if legacy else "hash"
        lines = [_dumps(_entry_to_json(e, hash_key)) for e in self.entries]
        body = "[\n" + ",\n".join(lines) + "\n]" if lines else "[]"
        head = '"version":1' if legacy else f'"version":{FORMAT_VERSION},"algorithm":{_dumps(self.algorithm)}'
        return f'{{"format":{_dumps(FORMAT)},{head},"entries":{body}}}\n'

    @classmethod
    def from_json(cls, text: str) -> ContentDigest:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise DigestFormatError(f"a content digest must be JSON: {error}") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise DigestFormatError(f'not a content digest: expected a JSON object with "format": "{FORMAT}"')
        version = document.get("version")
        if type(version) is not int or version < 1:
            raise DigestFormatError(f"content digest with unknown format version {version!r}")
        if version > FORMAT_VERSION:
            raise DigestFormatError(
                f"content digest in format version {version}, written by a newer lvmkit; this "
                f"lvmkit reads versions up to {FORMAT_VERSION}: upgrade lvmkit to read it"
            )
        algorithm = document.get("algorithm", LEGACY_ALGORITHM if version == 1 else None)
        if version == 1 and "algorithm" in document:
            raise DigestFormatError('content digest in format version 1 with an "algorithm": version 1 is sha256 only')
        if algorithm not in ALGORITHMS:
            raise DigestFormatError(f"content digest with unknown algorithm {algorithm!r}; "
                                    f"this lvmkit knows {', '.join(ALGORITHMS)}")
        entries = document.get("entries")
        if not isinstance(entries, list):
            raise DigestFormatError('content digest without an "entries" list')
        hash_key = "sha256" if version == 1 else "hash"
        try:
            return cls(tuple(_entry_from_json(raw, index, hash_key, ALGORITHMS[algorithm][1])
                             for index, raw in enumerate(entries)), algorithm)
        except DigestError as error:
            raise DigestFormatError(str(error)) from None


# --- computing -----------------------------------------------------------------------------

def digest_tools(algorithm: str = DEFAULT_ALGORITHM) -> list[str]:
    """The tools compute_digest needs on the target."""
    return [*DIGEST_TOOLS, _tool(algorithm)]


def digest_commands(root: str, *, algorithm: str = DEFAULT_ALGORITHM, jobs: int = DEFAULT_JOBS,
                    batch: int = DEFAULT_BATCH) -> list[list[str]]:
    """The argv lists compute_digest runs, in order (one); none changes state."""
    root = _checked_root(root)
    tool = _tool(algorithm)
    if jobs < 1 or batch < 1:
        raise UsageError(f"jobs and batch must be at least 1 (got jobs={jobs}, batch={batch})")
    return [["bash", "-c", DIGEST_SCRIPT, "bash", root, str(jobs), str(batch), tool]]


def compute_digest(host: Host, root: str, *, algorithm: str = DEFAULT_ALGORITHM, jobs: int = DEFAULT_JOBS,
                   batch: int = DEFAULT_BATCH) -> ContentDigest:
    """The digest of the filesystem tree at `root` on `host`, not crossing into other mounts."""
    (argv,) = digest_commands(root, algorithm=algorithm, jobs=jobs, batch=batch)
    listing, separator, hashes = host.run(argv).stdout.partition(PART_SEPARATOR)
    if not separator:
        raise DigestError(f"the digest of {root}: output without its two parts (listing, hashes)")
    return parse_digest(_checked_root(root), listing, hashes, algorithm)


def parse_digest(root: str, listing_output: str, hash_output: str, algorithm: str = LEGACY_ALGORITHM) -> ContentDigest:
    """Build the digest from the base64 listing and hashes (`algorithm`'s tool's output)."""
    records = parse_listing(listing_output)
    hashes = parse_hashes(root, hash_output, algorithm)
    listed = {r["path"] for r in records if r["type"] == "regular"}
    if listed != set(hashes):
        changed = sorted(listed ^ set(hashes), key=_encode)
        raise DigestError(
            f"the tree under {root} changed while it was digested ({len(changed)} regular files "
            f"listed but not hashed or hashed but not listed, e.g. {_shown(changed[0])}); "
            f"digest a snapshot or a tree nothing writes to"
        )
    groups: dict[tuple[str, str], list[str]] = {}
    for r in records:
        if r["type"] != "directory" and r["links"] > 1:
            groups.setdefault(r["inode"], []).append(r["path"])
    link_group = {path: min(paths, key=_encode) for paths in groups.values() if len(paths) > 1 for path in paths}
    entries = [
        DigestEntry(
            path=r["path"], type=r["type"], mode=r["mode"], uid=r["uid"], gid=r["gid"],
            size=r["size"] if r["type"] == "regular" else None,
            hash=hashes.get(r["path"]) if r["type"] == "regular" else None,
            target=r["target"] if r["type"] == "symlink" else None,
            link_group=link_group.get(r["path"]),
        )
        for r in records
    ]
    digest = ContentDigest(tuple(entries), algorithm)
    if not digest.entries or digest.entries[0].path != "." or digest.entries[0].type != "directory":
        raise DigestError(f"{root} is not a directory: a content digest starts at a directory")
    return digest


def parse_listing(output: str) -> list[dict]:
    """The records of the listing command (find -printf, through base64)."""
    fields = _unbase64(output, "find -printf (the listing)").split(b"\0")
    if fields[-1] != b"" or (len(fields) - 1) % LISTING_FIELDS:
        raise DigestError(
            f"find -printf (the listing): {len(fields) - 1} NUL-terminated fields, "
            f"not a whole number of {LISTING_FIELDS}-field records"
        )
    records = []
    for start in range(0, len(fields) - 1, LISTING_FIELDS):
        kind, mode, uid, gid, size, device, inode, links, path, target = fields[start:start + LISTING_FIELDS]
        where = f"find -printf (the listing), record {start // LISTING_FIELDS + 1}"
        if kind.decode("ascii", "replace") not in TYPES:
            raise DigestError(f"{where}: file type {kind!r} is not one lvmkit digests ({', '.join(TYPES)})")
        records.append({
            "type": TYPES[kind.decode("ascii")],
            "mode": _number(mode, 8, where),
            "uid": _number(uid, 10, where),
            "gid": _number(gid, 10, where),
            "size": _number(size, 10, where),
            "inode": (device.decode("ascii", "replace"), inode.decode("ascii", "replace")),
            "links": _number(links, 10, where),
            "path": _decode(path) if path else ".",
            "target": _decode(target),
        })
    return records


def parse_hashes(root: str, output: str, algorithm: str = LEGACY_ALGORITHM) -> dict[str, str]:
    """Path relative to root -> hex hash, from `algorithm`'s tool (-z, through base64)."""
    tool = f"{_tool(algorithm)} -z (the hashes)"
    record_shape = re.compile(rb"([0-9a-f]{%d}) [ *](.*)" % ALGORITHMS[algorithm][1], re.DOTALL)
    prefix = _encode(root) if root.endswith("/") else _encode(root) + b"/"
    records = _unbase64(output, tool).split(b"\0")
    if records[-1] != b"":
        raise DigestError(f"{tool}: output does not end with a NUL")
    hashes = {}
    for record in records[:-1]:
        match = record_shape.fullmatch(record)
        if not match or not match[2].startswith(prefix):
            raise DigestError(f"{tool}: cannot parse record {record[:200]!r} under {root}")
        hashes[_decode(match[2][len(prefix):])] = match[1].decode("ascii")
    return hashes


# --- comparing -----------------------------------------------------------------------------

@dataclass(frozen=True)
class EntryChange:
    path: str
    fields: tuple[str, ...]  # in FIELDS order
    expected: DigestEntry
    actual: DigestEntry


@dataclass(frozen=True)
class DigestComparison:
    missing: tuple[str, ...]  # in expected, not in actual
    extra: tuple[str, ...]  # in actual, not in expected
    changed: tuple[EntryChange, ...]
    expected_count: int = 0
    actual_count: int = 0

    @property
    def equal(self) -> bool:
        return not (self.missing or self.extra or self.changed)

    def summary(self, limit: int = 5) -> str:
        if self.equal:
            return f"digests equal: {self.expected_count} paths"
        lines = [
            f"digests differ: {len(self.missing)} missing, {len(self.extra)} extra, "
            f"{len(self.changed)} changed (of {self.expected_count} paths expected, {self.actual_count} found)"
        ]
        differences = (
            [f"missing {_shown(p)}" for p in self.missing]
            + [f"extra {_shown(p)}" for p in self.extra]
            + [f"changed {_shown(c.path)}: " + ", ".join(_change(c, f) for f in c.fields) for c in self.changed]
        )
        lines += [f"  {d}" for d in differences[:limit]]
        if len(differences) > limit:
            lines.append(f"  ... and {len(differences) - limit} more")
        return "\n".join(lines)


def compare(expected: ContentDigest, actual: ContentDigest) -> DigestComparison:
    if expected.algorithm != actual.algorithm:
        raise DigestError(f"cannot compare a {expected.algorithm} digest with a {actual.algorithm} one: "
                          f"compute the second with algorithm={expected.algorithm!r}")
    want = {e.path: e for e in expected.entries}
    have = {e.path: e for e in actual.entries}
    changed = []
    for entry in expected.entries:
        other = have.get(entry.path)
        if other is not None and other != entry:
            fields = tuple(f for f in FIELDS if getattr(entry, f) != getattr(other, f))
            changed.append(EntryChange(entry.path, fields, entry, other))
    return DigestComparison(
        missing=tuple(e.path for e in expected.entries if e.path not in have),
        extra=tuple(e.path for e in actual.entries if e.path not in want),
        changed=tuple(changed),
        expected_count=len(expected.entries),
        actual_count=len(actual.entries),
    )


# --- helpers -------------------------------------------------------------------------------

def _tool(algorithm: str) -> str:
    if algorithm not in ALGORITHMS:
        raise UsageError(f"unknown content hash {algorithm!r}: lvmkit knows {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algorithm][0]


def _checked_root(root: str) -> str:
    if not isinstance(root, str) or not root.startswith("/") or "\0" in root:
        # absolute: find would take a relative root beginning with "-" for an option
        raise UsageError(f"the root of a content digest must be an absolute path, not {root!r}")
    return root.rstrip("/") or "/"


def _encode(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _order(entry: DigestEntry) -> bytes:
    return b"" if entry.path == "." else _encode(entry.path)


def _dumps(value) -> str:
    # Keys keep the fixed order _entry_to_json gives them (path first, for people reading).
    # ensure_ascii: non-UTF-8 bytes (lone surrogates) become \udcXX escapes, never raw bytes.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


def _shown(path: str) -> str:
    return _dumps(path)  # as it appears in the JSON: quoted, newlines and odd bytes escaped


def _change(change: EntryChange, name: str) -> str:
    def value(entry):
        raw = getattr(entry, name)
        if raw is None:
            return "none"
        if name == "mode":
            return f"{raw:04o}"
        if name == "hash":
            return raw[:12] + "..."
        return _shown(raw) if isinstance(raw, str) and name != "type" else str(raw)

    return f"{name} {value(change.expected)} -> {value(change.actual)}"


def _unbase64(output: str, command: str) -> bytes:
    try:
        return base64.b64decode("".join(output.split()), validate=True)
    except (binascii.Error, ValueError) as error:
        raise DigestError(f"{command}: output is not the base64 expected: {error}") from None


def _number(raw: bytes, base: int, where: str) -> int:
    try:
        return int(raw.decode("ascii"), base)
    except (UnicodeDecodeError, ValueError):
        raise DigestError(f"{where}: expected a number, got {raw!r}") from None


def _entry_to_json(entry: DigestEntry, hash_key: str) -> dict:
    return {
        "path": entry.path, "type": entry.type, "mode": f"{entry.mode:04o}", "uid": entry.uid,
        "gid": entry.gid, "size": entry.size, hash_key: entry.hash, "target": entry.target,
        "link_group": entry.link_group,
    }


def _entry_from_json(raw, index: int, hash_key: str, hex_digits: int) -> DigestEntry:
    where = f"content digest entry {index + 1}"
    keys = {"path", "type", "mode", "uid", "gid", "size", hash_key, "target", "link_group"}
    if not isinstance(raw, dict) or set(raw) != keys:
        raise DigestFormatError(f"{where}: expected an object with exactly the keys {', '.join(sorted(keys))}")
    path, kind, mode = raw["path"], raw["type"], raw["mode"]
    if not isinstance(path, str) or not path:
        raise DigestFormatError(f"{where}: path must be a non-empty string")
    if kind not in TYPES.values():
        raise DigestFormatError(f"{where} ({_shown(path)}): unknown type {kind!r}")
    if not isinstance(mode, str) or not _MODE.fullmatch(mode):
        raise DigestFormatError(f"{where} ({_shown(path)}): mode must be four octal digits, not {mode!r}")
    for name in ("uid", "gid"):
        if type(raw[name]) is not int or raw[name] < 0:
            raise DigestFormatError(f"{where} ({_shown(path)}): {name} must be a non-negative integer")
    regular = kind == "regular"
    size, content_hash, target, link_group = raw["size"], raw[hash_key], raw["target"], raw["link_group"]
    hex_hash = isinstance(content_hash, str) and bool(re.fullmatch(f"[0-9a-f]{{{hex_digits}}}", content_hash))
    if regular != (type(size) is int and size >= 0) or (not regular and size is not None):
        raise DigestFormatError(f"{where} ({_shown(path)}): size is a byte count for regular files, null otherwise")
    if regular != hex_hash or (not regular and content_hash is not None):
        raise DigestFormatError(f"{where} ({_shown(path)}): {hash_key} is {hex_digits} hex digits for regular "
                                f"files, null otherwise")
    if (kind == "symlink") != isinstance(target, str) or (kind != "symlink" and target is not None):
        raise DigestFormatError(f"{where} ({_shown(path)}): target is a string for symlinks, null otherwise")
    if link_group is not None and not isinstance(link_group, str):
        raise DigestFormatError(f"{where} ({_shown(path)}): link_group must be a path or null")
    return DigestEntry(path, kind, int(mode, 8), raw["uid"], raw["gid"], size, content_hash, target, link_group)
