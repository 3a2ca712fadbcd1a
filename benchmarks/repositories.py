"""restic and borg through lvmkit, in the lab: backup and restore times, and what a second
backup of unchanged data adds to the repository against the first.

    python -m benchmarks.repositories [--runs N]     (a lab must be up)

Writes its table as the last section of docs/performance.md (`--write`), which the full
benchmark (benchmarks/run) keeps as it is.

Each run, per engine: a fresh repository on an ext4 scratch volume, two `lvmkit backup`s of
a volume of its own (whole runs: preflight, snapshot, digest, the tool, checks, manifest), and a
restore of the second onto a new volume, proved by the content digest. Times are lvmkit's
own (the manifest's start and end; the restore's duration); sizes are the tools' own
figures (restic's data_added, borg's deduplicated_size).
"""

from __future__ import annotations

import argparse
import statistics
from datetime import datetime, timezone
from pathlib import Path

from lvmkit import lab
from lvmkit.archive.archive_set import write_file
from lvmkit.core.host import Host
from lvmkit.core.sizes import human
from lvmkit.ops.backup import BackupRequest, backup
from lvmkit.ops.restore import RestoreRequest, restore

VG, ORIGIN, ORIGIN_MOUNT = "labvg", "bench_repo_origin", "/run/lvmkit-bench/repository-origin"
STORE, STORE_MOUNT = "bench_repo_store", "/run/lvmkit-bench/repositories"
# The origin's data: the system's time zone files (thousands of small files) and 16 MiB of
# random bytes (incompressible, so the repository's figure is the data's).
FILL = 'cp -a /usr/share/zoneinfo "$1/zoneinfo" && head -c 16777216 /dev/urandom > "$1/random.bin"'
RESTORED = "bench_repo_restored"
HEADING = "\n## Repository engines: restic and borg\n"
OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "performance.md"
METHOD = """
Measured by `python -m benchmarks.repositories --write` (not by benchmarks/run, which keeps
this section as it is). Per engine and run: a new repository on an ext4 volume in the lab,
two `lvmkit backup`s of a 128 MiB ext4 volume holding the system's time zone files and
16 MiB of random bytes, one after the other (the data unchanged in between),
then `lvmkit restore --to-new` of the second, proved by the content digest. Backup times are
whole lvmkit runs from the manifest (preflight to published set: snapshot, content digest,
the tool, the final check, checksums); the restore's is its plan's duration (volume, mkfs,
the tool, the digest comparison). *Second backup adds* is the tool's own figure for the
second backup (restic's `data_added`, borg's `deduplicated_size`) against the first's.
Caches are not dropped. {runs} run(s) per engine, median; on the emulated lab while {load}.
"""
INIT = {
    "restic": lambda repo, pw: ["restic", "init", "--repo", repo, "--password-file", pw],
    "borg": lambda repo, pw: ["env", f"BORG_PASSCOMMAND=cat -- {pw}", "borg", "init", "--encryption", "repokey", repo],
}


def seconds(manifest) -> float:
    return (datetime.fromisoformat(manifest.ended) - datetime.fromisoformat(manifest.started)).total_seconds()


def one_run(host: Host, engine: str) -> dict:
    repo, password, dest = f"{STORE_MOUNT}/{engine}", f"{STORE_MOUNT}/pass", f"{STORE_MOUNT}/sets-{engine}"
    host.run(["rm", "-rf", "--", repo, dest], changes=True)
    host.run(["mkdir", "-p", dest], changes=True)
    host.run(INIT[engine](repo, password), changes=True)
    options = {"repository": repo, "password_file": password}
    try:
        runs = [backup(host, BackupRequest(f"{VG}/{ORIGIN}", dest, engine, engine_options=options), log=lambda m: None)
                for _ in range(2)]
        restored = restore(host, RestoreRequest(runs[1].paths.final, to_new=f"{VG}/{RESTORED}"), log=lambda m: None)
        assert restored.comparison.equal, restored.comparison.summary()
        return {"backup_s": [seconds(r.manifest) for r in runs], "restore_s": restored.duration_s,
                "added": [r.manifest.repository.added_bytes for r in runs],
                "files": runs[0].manifest.digest.files, "bytes": runs[0].manifest.digest.bytes}
    finally:
        host.run(["lvremove", "--yes", f"{VG}/{RESTORED}"], changes=True, check=False)
        host.run(["rm", "-rf", "--", repo, dest], changes=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--engines", default="restic,borg")
    parser.add_argument("--write", action="store_true", help=f"replace the section in {OUTPUT}")
    args = parser.parse_args()
    host = lab.connect(Host())
    try:
        for volume, mountpoint in ((STORE, STORE_MOUNT), (ORIGIN, ORIGIN_MOUNT)):
            host.run(["lvcreate", "--quiet", "--yes", "-L", "128M", "-n", volume, VG], changes=True)
            host.run(["mkfs.ext4", "-q", f"/dev/{VG}/{volume}"], changes=True)
            host.run(["mkdir", "-p", mountpoint], changes=True)
            host.run(["mount", f"/dev/{VG}/{volume}", mountpoint], changes=True)
        host.run(["sh", "-c", FILL, "sh", ORIGIN_MOUNT], changes=True)
        write_file(host, f"{STORE_MOUNT}/pass", "benchmark password\n")
        rows = ["| engine | data | first backup | second backup (unchanged data) | restore | second backup adds |",
                "| --- | --- | --- | --- | --- | --- |"]
        for engine in args.engines.split(","):
            results = [one_run(host, engine) for _ in range(args.runs)]
            first = statistics.median(r["backup_s"][0] for r in results)
            second = statistics.median(r["backup_s"][1] for r in results)
            restored = statistics.median(r["restore_s"] for r in results)
            added = [statistics.median(r["added"][i] for r in results) for i in (0, 1)]
            rows.append(f"| {engine} | {results[0]['files']} files, {human(results[0]['bytes'])} | {first:.1f} s | "
                        f"{second:.1f} s | {restored:.1f} s | {human(added[1])} of the first's "
                        f"{human(added[0])} ({added[1] / added[0]:.2%}) |")
            print(rows[-1], flush=True)
    finally:
        for volume, mountpoint in ((STORE, STORE_MOUNT), (ORIGIN, ORIGIN_MOUNT)):
            host.run(["umount", mountpoint], changes=True, check=False)
            host.run(["lvremove", "--yes", f"{VG}/{volume}"], changes=True, check=False)
    load = open("/proc/loadavg").read().split()[0]
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = HEADING + METHOD.format(runs=args.runs, load=f"this machine's load was {load} ({when})") + \
        "\n" + "\n".join(rows) + "\n"
    print(section)
    if args.write:
        text = OUTPUT.read_text()
        start = text.find(HEADING)
        OUTPUT.write_text((text if start < 0 else text[:start]).rstrip("\n") + "\n" + section)


def kept_repository_section(output: Path) -> str:
    """This section of the page as it is: the full benchmark does not measure it."""
    text = output.read_text() if output.exists() else ""
    start = text.find(HEADING)
    return "" if start < 0 else text[start:]


if __name__ == "__main__":
    main()
