"""An archive set is complete and closed: its SHA256SUMS lists exactly its content files,
and the manifest agrees with every line.

`sha256sum --check SHA256SUMS` checks only the lines SHA256SUMS holds: a SHA256SUMS cut down
to the manifest's line passes it whatever the archive holds. So, before the bytes are
checked, the set's file list is compared with SHA256SUMS and SHA256SUMS with the manifest:

- SHA256SUMS names only files inside the set: no absolute name, no `.` or `..` part, and a
  `/` only inside a directory the set may hold (rsync's `tree/`, a group's member sets);
- the manifest's `checksums` are exactly SHA256SUMS's lines besides manifest.json's own,
  with the same hashes; `archive_sha256` and the digest's sha256 are those lines' hashes;
- besides the listed files, only SHA256SUMS itself, its signature and verification.json
  (written by `lvmkit verify` after the fact, never read as evidence) may exist; any other
  file, a link, or a listed file that is missing makes the set damaged.

Every problem is named (file and what is wrong), so a refusal says what changed.
"""

from __future__ import annotations

from lvmkit.archive.archive_set import MANIFEST, SUMS, is_temporary_of, parse_sums, read_file
from lvmkit.archive.engines import get_engine
from lvmkit.archive.manifest import GroupManifest, Manifest
from lvmkit.core.host import Host

SIGNATURE = f"{SUMS}.sig"  # ssh-keygen -Y sign of SHA256SUMS (lvmkit.archive.signature)
VERIFICATION = "verification.json"  # written by verify beside the set's files; not evidence
TREE = "tree"  # the rsync engine's archive: a directory of files, each with its own line
# Still refused (the set is closed), but named for what it is and how it goes (ops.cleanup_temporaries).
_LEFT_BY_VERIFY = (f": {VERIFICATION}'s temporary, left by an interrupted `lvmkit verify`; "
                   "`lvmkit cleanup --dest` with the directory of the set removes it")
_UNESCAPE = {"\\\\": "\\", "\\n": "\n", "\\r": "\r"}


def listing_argv(archive_set: str) -> list[str]:
    # find takes no `--`: the set's path is absolute (checked by its caller), so never an
    # expression. One entry per NUL: its type (f, d, l, ...) and its path inside the set.
    return ["find", archive_set, "-mindepth", "1", "-printf", "%y %P\\0"]


def read_listing(host: Host, archive_set: str) -> dict[str, str]:
    """{path inside the set: find's type letter} of everything in the set."""
    out = host.run(listing_argv(archive_set)).stdout
    return {entry[2:]: entry[0] for entry in out.split("\0") if entry}


def read_sums(host: Host, archive_set: str) -> dict[str, str]:
    """{name as sha256sum wrote it: sha256} of the set's SHA256SUMS (the manifest's checksums
    keep the same escapes)."""
    return parse_sums(read_file(host, f"{archive_set.rstrip('/')}/{SUMS}"))


def _unescaped(name: str) -> str:
    """sha256sum writes a name holding \\ or a line break escaped (its line starts with \\)."""
    out, i = [], 0
    while i < len(name):
        pair = name[i:i + 2]
        if pair in _UNESCAPE:
            out.append(_UNESCAPE[pair])
            i += 2
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def problems(manifest: Manifest | GroupManifest, sums: dict[str, str], listing: dict[str, str]) -> list[str]:
    """What makes the set incomplete, open, or not the one its manifest describes; [] if nothing."""
    if isinstance(manifest, GroupManifest):
        directories, optional, found = _group_rules(manifest, sums)
    else:
        directories, optional, found = _single_rules(manifest, sums)
    return found + _closed(sums, listing, directories, optional)


def _single_rules(manifest: Manifest, sums: dict[str, str]) -> tuple[set[str], set[str], list[str]]:
    found = []
    archive = get_engine(manifest.engine.name).archive_name
    digest = manifest.digest.file
    if manifest.encryption:  # the engine's stream through age (lvmkit.archive.encryption)
        archive, expected_digest = f"{archive}.age", "digest.json.age"
    else:
        expected_digest = "digest.json"
    if digest != expected_digest:
        found.append(f"the manifest names the digest {digest!r}, expected {expected_digest!r}")
    if manifest.engine.archive != archive:
        found.append(f"the manifest names the archive {manifest.engine.archive!r}, "
                     f"the {manifest.engine.name} engine writes {archive!r}")
    recorded = dict(manifest.checksums)
    listed = {name: digest for name, digest in sums.items() if name != MANIFEST}
    if MANIFEST not in sums:
        found.append(f"{SUMS} does not list {MANIFEST}")
    for name in sorted(set(listed) - set(recorded)):
        found.append(f"{SUMS} lists {_shown(name)}, which the manifest's checksums do not")
    for name in sorted(set(recorded) - set(listed)):
        found.append(f"{SUMS} does not list {_shown(name)}, which the manifest's checksums record")
    for name in sorted(set(recorded) & set(listed)):
        if recorded[name] != listed[name]:
            found.append(f"{SUMS} and the manifest disagree on {_shown(name)}")
    if archive == TREE:
        beside = {digest, *((manifest.layout.file, manifest.layout.vgcfgbackup) if manifest.layout else ())}
        stray = [name for name in recorded if name not in beside and not name.startswith(f"{TREE}/")]
        found += [f"the manifest's checksums name {_shown(name)}, not a file of {TREE}/" for name in stray[:3]]
    elif manifest.archive_sha256 is None or recorded.get(archive) != manifest.archive_sha256:
        found.append(f"the manifest's archive_sha256 is not the checksum it records for {archive}")
    # Encrypted, the manifest's digest sha256 is the clear digest's, checked once decrypted
    # (restore.read_digest); the ciphertext is checked by its checksum like any file.
    if not manifest.encryption and recorded.get(digest) != manifest.digest.sha256:
        found.append(f"the manifest's digest sha256 is not the checksum it records for {_shown(digest)}")
    return ({TREE} if archive == TREE else set()), {SIGNATURE, VERIFICATION}, found


def _group_rules(manifest: GroupManifest, sums: dict[str, str]) -> tuple[set[str], set[str], list[str]]:
    found = []
    archive = get_engine(manifest.engine.name).archive_name
    directories, optional = set(), {SIGNATURE, VERIFICATION}
    if MANIFEST not in sums:
        found.append(f"{SUMS} does not list {MANIFEST}")
    for member in manifest.members:
        name = member.archive_set
        if "/" in name or name in ("", ".", ".."):
            found.append(f"the manifest names the member set {_shown(name)}, not a directory of the set")
            continue
        directories |= {name, f"{name}/{TREE}"} if archive == TREE else {name}
        optional.add(f"{name}/{VERIFICATION}")
        for file, recorded in ((archive, member.archive_sha256), ("digest.json", member.digest_sha256)):
            if recorded is not None and sums.get(f"{name}/{file}") != recorded:
                found.append(f"{SUMS} and the manifest disagree on {_shown(f'{name}/{file}')}")
    return directories, optional, found


def _closed(escaped: dict[str, str], listing: dict[str, str], directories: set[str], optional: set[str]) -> list[str]:
    found = []
    sums = {_unescaped(name) for name in escaped}  # as the names are on disk
    for name in sorted(sums):
        parts = name.split("/")
        if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
            found.append(f"{SUMS} names {_shown(name)}, which is not a file inside the set")
        elif len(parts) > 1 and not _inside(name, directories):
            found.append(f"{SUMS} names {_shown(name)}, in a directory the set does not hold")
        elif listing.get(name) != "f":
            found.append(f"{_shown(name)} is missing" if name not in listing else
                         f"{_shown(name)} is not a regular file")
    for path, kind in sorted(listing.items()):
        if path in sums or path == SUMS:
            continue
        if kind == "d" and (path in directories or _under_tree(path, directories)):
            continue
        if kind != "f" and _under_tree(path, directories):
            continue  # rsync keeps links and special files; their content is proved by the digest
        if kind == "f" and path in optional:
            continue
        what = {"f": "file", "d": "directory", "l": "symbolic link"}.get(kind, "special file")
        found.append(f"an unexpected {what} {_shown(path)} is in the set (not in {SUMS})"
                     + (_LEFT_BY_VERIFY if kind == "f" and is_temporary_of(path.rpartition("/")[2], VERIFICATION)
                        else ""))
    if SUMS not in listing:
        found.append(f"{SUMS} is missing")
    return found


def _inside(name: str, directories: set[str]) -> bool:
    parent = name.rsplit("/", 1)[0]
    return parent in directories or _under_tree(parent, directories)


def _under_tree(path: str, directories: set[str]) -> bool:
    return any(path.startswith(f"{d}/") for d in directories if d == TREE or d.endswith(f"/{TREE}"))


def _shown(name: str) -> str:
    return repr(name)[:120] if not name.isprintable() or len(name) > 120 else name
