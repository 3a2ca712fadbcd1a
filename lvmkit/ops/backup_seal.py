"""A backup's records in its archive set: the layout it came from, then the seal.

The seal is what makes the set evidence: SHA256SUMS over the archive, the digest and the
layout, the manifest (what was read, how, and what the snapshot went through), its own
checksum line, and the signature of SHA256SUMS when a key is given.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import TYPE_CHECKING

from lvmkit import __version__
from lvmkit.archive import signature
from lvmkit.archive.archive_set import (
    LAYOUT,
    MANIFEST,
    SUMS,
    VGCFG,
    checksum_argv,
    parse_sums,
    read_file,
    write_file,
    write_file_argv,
)
from lvmkit.archive.closure import SIGNATURE
from lvmkit.archive.manifest import (
    ARCHIVE_SET_KIND,
    MANIFEST_SCHEMA,
    EngineRecord,
    Extension,
    Filesystem,
    LayoutFiles,
    Manifest,
    Origin,
    RepositoryRecord,
    Snapshot,
)
from lvmkit.core.host import Host, utc_now
from lvmkit.core.journal import BULKY
from lvmkit.core.runs import private

if TYPE_CHECKING:  # ops.backup imports this module
    from lvmkit.ops.backup import BackupRun


def layout_argvs(run: BackupRun) -> list[list[str]]:
    """What recording the layout writes: layout.json and LVM's own metadata backup."""
    return [write_file_argv(run.paths.in_partial(LAYOUT)), vgcfgbackup_argv(run.paths.in_partial(VGCFG), run.snapshot.vg)]


def record_layout(host: Host, run: BackupRun) -> None:
    write_file(host, run.paths.in_partial(LAYOUT), json.dumps(run.layout, indent=2, sort_keys=True) + "\n")
    host.run(vgcfgbackup_argv(run.paths.in_partial(VGCFG), run.snapshot.vg), changes=True)


def vgcfgbackup_argv(path: str, vg: str) -> list[str]:
    # private: the metadata names every volume and device; 0600 like the set's other files
    return private(["vgcfgbackup", "--file", path, vg])


def seal_argvs(run: BackupRun) -> list[list[str]]:
    """What sealing runs: the checksums, the manifest, SHA256SUMS and its signature."""
    paths = run.paths
    return [_sums_argv(run), write_file_argv(paths.in_partial(MANIFEST)), write_file_argv(paths.in_partial(SUMS)),
            *signing_argvs(run.request.sign_key, paths.in_partial(SIGNATURE))]


def seal(host: Host, run: BackupRun) -> None:
    paths, engine = run.paths, run.engine
    sums_text = host.run(_sums_argv(run), private=BULKY).stdout  # rsync: every file
    sums = parse_sums(sums_text)
    archive_bytes = int(host.run(["du", "-sb", "--", run.archive]).stdout.split()[0])
    run.ended = utc_now().isoformat()
    run.manifest = manifest_of(run, sums, archive_bytes)
    if engine.repository:  # what the repository stored is what this backup wrote
        report = engine.parse_report(read_file(host, run.archive))
        record = RepositoryRecord(tool=engine.tool, location=run.engine_options["repository"], **report,
                                  parent=run.parent_id)
        run.manifest = replace(run.manifest, repository=record, bytes_written=record.added_bytes)
    write_file(host, paths.in_partial(MANIFEST), run.manifest.to_json())
    manifest_sum = host.run(checksum_argv(paths.partial, [MANIFEST])).stdout
    write_file(host, paths.in_partial(SUMS), sums_text + manifest_sum)
    sign_sums(host, run.request.sign_key, sums_text + manifest_sum, paths.in_partial(SIGNATURE))


def _sums_argv(run: BackupRun) -> list[str]:
    return checksum_argv(run.paths.partial, sealed_members(run), tree=run.archive_name == "tree")


def sealed_members(run: BackupRun) -> list[str]:
    """The set's files its SHA256SUMS covers before the manifest's own line."""
    return [run.archive_name, run.digest_name, LAYOUT, VGCFG]


def signing_argvs(key: str | None, path: str) -> list[list[str]]:
    """What signing SHA256SUMS runs (ssh-keygen on the controller) and writes (its .sig in the set)."""
    return [] if key is None else [signature.sign_argv(key, signature.ARCHIVE_NAMESPACE), write_file_argv(path)]


def sign_sums(host: Host, key: str | None, sums: str, path: str) -> None:
    if key is not None:
        write_file(host, path, signature.sign(host, key, sums, signature.ARCHIVE_NAMESPACE))


def manifest_of(run: BackupRun, sums: dict[str, str], archive_bytes: int) -> Manifest:
    engine, snapshot, origin, guard = run.engine, run.snapshot, run.origin, run.guard
    return Manifest(
        schema=MANIFEST_SCHEMA,
        kind=ARCHIVE_SET_KIND,
        name=run.paths.name,
        lvmkit_version=__version__,
        host=run.host,
        run_id=run.run_id,
        origin=Origin(vg=origin.vg_name, lv=origin.name, size_bytes=origin.size, uuid=origin.uuid,
                      thin=origin.attr.is_thin, pool=origin.pool_lv),
        filesystem=Filesystem(type=run.filesystem.type, uuid=run.filesystem.uuid, label=run.filesystem.label,
                              size_bytes=origin.size),
        snapshot=Snapshot(name=snapshot.name, thin=snapshot.thin, size_bytes=snapshot.size_bytes,
                          final_size_bytes=guard.snapshot_bytes,
                          extensions=tuple(Extension(**grown) for grown in guard.extensions),
                          peak_percent=guard.peak_percent, final_percent=guard.percent, tags=tuple(snapshot.tags),
                          readings=tuple(guard.readings.values())),
        engine=EngineRecord(name=engine.name, level=engine.level, version=run.engine_version,
                            options=dict(run.engine_options), archive=run.archive_name),
        started=run.started,
        ended=run.ended,
        bytes_read=run.bytes_read,
        bytes_written=archive_bytes,
        digest=run.digest,
        checksums=dict(sums),
        archive_sha256=sums.get(run.archive_name),
        layout=LayoutFiles(file=LAYOUT, vgcfgbackup=VGCFG),
        encryption=run.encryption,
    )
