"""The manifest of an archive set (manifest.json), and of a consistency group's set.

One frozen type each, `Manifest` and `GroupManifest`, with nested frozen types where the
JSON nests. `from_json` reads either (by its "kind") and names the file and the field of
anything it cannot accept: invalid JSON, a missing or unknown field, a wrong type, a
schema newer than this lvmkit. `to_json` writes the format lvmkit always wrote (sorted
keys, two-space indent), so what is read writes back byte for byte.

Fields are declared in the order the backup builds them: `to_dict` keeps that order,
which is what `lvmkit backup --json` prints.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import MISSING, dataclass, fields, is_dataclass

from lvmkit.archive.archive_set import MANIFEST, ArchiveError, read_file
from lvmkit.archive.digest import LEGACY_ALGORITHM
from lvmkit.core import schemas
from lvmkit.core.host import Host
from lvmkit.lvm.guard import GuardReading

MANIFEST_SCHEMA = 1
ARCHIVE_SET_KIND = "lvmkit-archive-set"
GROUP_KIND = "lvmkit-group-archive-set"  # a consistency group's set: one member set per volume


class ManifestError(ArchiveError):
    """A manifest is damaged, hostile, or from a newer lvmkit."""


@dataclass(frozen=True)
class _Document:
    """What both kinds of manifest begin with, and how they are written: a dict in field
    order, and manifest.json's text."""

    schema: int
    kind: str
    name: str
    lvmkit_version: str
    host: str
    run_id: str

    def to_dict(self) -> dict:
        return _encode(self)

    def to_json(self) -> str:
        return json.dumps(_encode(self), indent=2, sort_keys=True) + "\n"


# --- an archive set's manifest -------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    vg: str
    lv: str
    size_bytes: int
    uuid: str
    thin: bool
    pool: str | None  # the thin pool of a thin origin


@dataclass(frozen=True)
class Filesystem:
    type: str
    uuid: str | None
    label: str | None
    size_bytes: int  # what a restore needs: the origin's size


@dataclass(frozen=True)
class Extension:
    """The snapshot grown by --autoextend while the engine read it."""

    at: str
    used_percent: float
    from_bytes: int
    to_bytes: int


@dataclass(frozen=True)
class Snapshot:
    name: str
    thin: bool
    size_bytes: int | None  # None: thin, it takes its room from the pool
    final_size_bytes: int | None
    extensions: tuple[Extension, ...]
    peak_percent: float | None  # None: never read (the guard had no reading)
    final_percent: float | None
    tags: tuple[str, ...]
    # The guard's readings, bounded (lvmkit/lvm/guard.py); sets before them, and a guard that
    # never read, have none.
    readings: tuple[GuardReading, ...] = ()


@dataclass(frozen=True)
class EngineRecord:
    name: str
    level: str  # "file" or "block"
    version: str
    options: dict[str, str]  # as resolved: every option with its value, defaults included
    archive: str  # the archive's name inside the set


@dataclass(frozen=True)
class DigestSummary:
    file: str
    sha256: str  # of the digest file itself
    files: int
    bytes: int
    # The content hash inside the digest file; manifests before digest format 2 lack it: sha256.
    algorithm: str = LEGACY_ALGORITHM


@dataclass(frozen=True)
class LayoutFiles:
    """The set's record of the layout its volume came from (lvmkit.lvm.layout), for a rebuild."""

    file: str  # layout.json
    vgcfgbackup: str  # `vgcfgbackup -f` of the volume group


@dataclass(frozen=True)
class Encryption:
    """How the archive and the digest were encrypted (`--encrypt-to`); absent: in the clear."""

    tool: str  # "age"
    version: str
    recipients: tuple[str, ...]  # public keys: which identities can decrypt the set


@dataclass(frozen=True)
class RepositoryRecord:
    """Where a repository engine (restic, borg) put the data, and what the backup added there."""

    tool: str  # "restic" or "borg"
    location: str  # the repository, as given to the tool
    id: str  # restic's snapshot id, borg's archive name: what restore, verify and prune name
    added_bytes: int  # restic's data_added, borg's deduplicated_size
    files: int
    bytes_processed: int
    archive_id: str | None = None  # borg's archive id
    # restic's parent: the earlier snapshot whose unchanged files were not read again (its full
    # id); absent: none (the origin's first backup here, borg, or a set from before parents)
    parent: str | None = None


@dataclass(frozen=True)
class Manifest(_Document):
    origin: Origin
    filesystem: Filesystem
    snapshot: Snapshot
    engine: EngineRecord
    started: str
    ended: str
    bytes_read: int | None  # None: the engine's reads could not be counted
    bytes_written: int
    digest: DigestSummary
    checksums: dict[str, str]  # file name in the set -> sha256
    archive_sha256: str | None
    layout: LayoutFiles | None = None  # sets before layouts: None
    encryption: Encryption | None = None  # written only when the set is encrypted
    # A repository engine's snapshot (docs/repositories.md); absent from other manifests.
    repository: RepositoryRecord | None = None


# --- a consistency group's manifest ----------------------------------------------------------


@dataclass(frozen=True)
class GroupMember:
    vg: str
    lv: str
    archive_set: str  # the member's own archive set, a directory inside the group's
    frozen: bool  # suspended in the window (mounted); not mounted members are not
    archive_sha256: str | None
    digest_sha256: str | None


@dataclass(frozen=True)
class FreezeWindow:
    frozen_s: float
    suspend_s: float
    frozen_devices: tuple[str, ...]
    start_epoch: float  # the target's clock
    end_epoch: float


@dataclass(frozen=True)
class HookRecord:
    role: str
    argv: tuple[str, ...]
    timeout_s: float
    started: str
    ended: str


@dataclass(frozen=True)
class GroupEngine:
    name: str  # each member's own manifest has the rest


@dataclass(frozen=True)
class GroupManifest(_Document):
    members: tuple[GroupMember, ...]
    volume_groups: tuple[str, ...]
    spans_volume_groups: bool
    freeze_window: FreezeWindow
    freeze_mechanism: str
    hooks: tuple[HookRecord, ...]
    engine: GroupEngine
    # When the set was sealed (UTC, ISO 8601), as a member's `ended`; None: sealed before
    # lvmkit recorded it in the group's manifest.
    ended: str | None = None


# --- reading ---------------------------------------------------------------------------------


def read_manifest(host: Host, archive_set: str) -> Manifest | GroupManifest:
    """The manifest of the archive set in the directory `archive_set` on `host`."""
    path = f"{archive_set.rstrip('/')}/{MANIFEST}"
    if host.run(["test", "-f", path], check=False).returncode != 0:
        raise ArchiveError(f"{archive_set} is not an lvmkit archive set on {host.name}: it has no {MANIFEST}")
    return from_json(read_file(host, path), path)


_KINDS = {ARCHIVE_SET_KIND: Manifest, GROUP_KIND: GroupManifest}


def from_json(text: str, where: str) -> Manifest | GroupManifest:
    """The manifest in `text`, read from `where` (named in every error)."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise ManifestError(f"{where}: manifest is not JSON ({error}); the archive set is damaged") from None
    except RecursionError:  # nested deeper than any manifest: hostile, not just damaged
        raise ManifestError(f"{where}: manifest is nested too deeply to be one; it was not written by lvmkit") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{where}: manifest is {_json_type(data)}, not a JSON object; "
                            f"it was not written by lvmkit")
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise ManifestError(f"{where}: manifest has no schema version; it was not written by lvmkit")
    if schema > MANIFEST_SCHEMA:
        raise ManifestError(
            f"{where}: manifest schema {schema} is newer than this lvmkit understands "
            f"({MANIFEST_SCHEMA}); use a newer lvmkit to read it"
        )
    if schema < 1:
        raise ManifestError(f"{where}: manifest schema {schema} does not exist; the archive set is damaged")
    if "kind" not in data:
        raise ManifestError(f"{where}: manifest field kind is missing; it was not written by lvmkit")
    kind = data["kind"]
    if not isinstance(kind, str) or kind not in _KINDS:
        raise ManifestError(f"{where}: manifest field kind is {_shown(kind)}, expected one of "
                            f"{', '.join(map(repr, _KINDS))}; it was not written by lvmkit")
    manifest = _decode(_KINDS[kind], data, f"{where}: manifest field", "")
    found = schemas.problems(data, "manifest.json", "single" if kind == ARCHIVE_SET_KIND else "group")
    if found:  # the types hold, but not the published contract (a hash that is no hash, a path out of the set)
        raise ManifestError(f"{where}: manifest field {found[0]}; the archive set is damaged or was not written "
                            f"by lvmkit (docs/schemas/manifest.json)")
    return manifest


def _decode(hint, value, prefix: str, path: str):
    """`value` checked against the type `hint`, recursively; `path` names it in errors."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):  # X | None
        if value is None and type(None) in arguments:
            return None
        (inner,) = [a for a in arguments if a is not type(None)]
        return _decode(inner, value, prefix, path)
    if is_dataclass(hint):
        return _decode_object(hint, value, prefix, path)
    if origin is tuple:  # tuple[X, ...]: a JSON list
        _expect(isinstance(value, list), "a list", value, prefix, path)
        return tuple(_decode(arguments[0], item, prefix, f"{path}[{i}]") for i, item in enumerate(value))
    if origin is dict:  # dict[str, str]: a JSON object of strings
        _expect(isinstance(value, dict), "an object", value, prefix, path)
        return {key: _decode(arguments[1], item, prefix, f"{path}.{_shown(key)}") for key, item in value.items()}
    if hint is float:  # JSON has one number type: 30 is as good as 30.0, and is kept as written
        _expect(isinstance(value, (int, float)) and not isinstance(value, bool), "a number", value, prefix, path)
        return value
    _expect(isinstance(value, hint) and (hint is bool or not isinstance(value, bool)),
            _NAMES[hint], value, prefix, path)
    return value


def _decode_object(cls, value, prefix: str, path: str):
    _expect(isinstance(value, dict), "an object", value, prefix, path)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in fields(cls) if f.name in value or f.default is MISSING]  # defaults: added later
    where = f"{path}." if path else ""
    missing = [name for name in names if name not in value]
    if missing:
        raise ManifestError(f"{prefix} {where}{missing[0]!s} is missing; the archive set is damaged "
                            f"or was not written by lvmkit")
    unknown = sorted(set(value) - {f.name for f in fields(cls)})
    if unknown:
        raise ManifestError(f"{prefix} {where}{_shown(unknown[0])} is not a field of schema {MANIFEST_SCHEMA}; "
                            f"the archive set is damaged or was not written by lvmkit")
    return cls(**{name: _decode(hints[name], value[name], prefix, f"{where}{name}") for name in names})


_NAMES = {str: "a string", int: "an integer", bool: "true or false"}
_PLAIN = re.compile(r"[A-Za-z0-9_.+-]{1,80}")


def _shown(text) -> str:
    """A name from the manifest as an error shows it: as is if plain, else quoted and cut short
    (a hostile manifest could carry terminal escapes, or a name of a megabyte)."""
    return text if isinstance(text, str) and _PLAIN.fullmatch(text) else repr(text)[:80]


def _expect(ok: bool, wanted: str, value, prefix: str, path: str) -> None:
    if not ok:
        raise ManifestError(f"{prefix} {path} is {_json_type(value)}, expected {wanted}; "
                            f"the archive set is damaged or was not written by lvmkit")


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


# --- writing ---------------------------------------------------------------------------------


def _encode(value):
    if is_dataclass(value):
        # A field added later (it has a default) is left out while it holds its default: a
        # manifest written before it existed writes back as it was read (digest.algorithm
        # of old digests; repository, absent but for restic and borg).
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)
                if f.default is MISSING or getattr(value, f.name) != f.default}
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value

