"""Table 1c: lvmkit's extra work against fsarchiver's, on this machine's own CPU.

The lab emulates its CPU in software, and not evenly: starting a process costs ~37 ms,
and sha256 runs without the SHA instructions real CPUs have. This table measures the same
work with no emulation and no LVM (this machine has no device-mapper): fsarchiver saving a
directory with the options of table 1, and lvmkit's content digest of that directory, run
by the same code as in a backup, through a local Host.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from lvmkit.archive.digest import compute_digest
from lvmkit.core.host import Host

from .fill import fill
from .hashes import measure
from .overhead import SEED_FSAOPTS
from .report import Table
from .stats import pair_ratios, sample

HASHES = {"sha256sum": ["sha256sum"], "md5sum": ["md5sum"], "openssl": ["openssl", "dgst", "-sha256"]}


def native_table(local: Host, mib: int, runs: int,
                 lab_parts: dict[str, float] | None) -> tuple[Table, tuple[float, float], dict]:
    """The table, the content digest's time as a fraction of fsarchiver's (now, and with
    sha256 as before), and table 1d's times of the hash tools on the same data and archive."""
    work = Path(tempfile.mkdtemp(prefix="lvmkit-bench-native-", dir="/var/tmp"))
    try:
        data, archive = work / "data", work / "data.fsa"
        files, _ = fill(data, "small-files", mib, seed=7)
        local.run(["sh", "-c", 'find "$1" -type f -exec cat {} + >/dev/null', "sh", str(data)])  # warm: CPU only
        times = {"fsarchiver": [], "digest": [], "digest_sha256": [], "sha256sum": [], "md5sum": [], "openssl": []}
        for _ in range(runs):
            archive.unlink(missing_ok=True)
            times["fsarchiver"].append(_timed(lambda: local.run(
                ["fsarchiver", *SEED_FSAOPTS.split(), "savedir", str(archive), str(data)], changes=True)))
            times["digest"].append(_timed(lambda: compute_digest(local, str(data))))
            times["digest_sha256"].append(_timed(lambda: compute_digest(local, str(data), algorithm="sha256")))
            for key, argv in HASHES.items():
                times[key].append(_timed(lambda argv=argv: local.run([*argv, str(archive)])))
        hash_times = measure(lambda argv: _timed(lambda: local.run(argv)), str(data), str(archive), runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    engine = sample(times["fsarchiver"])
    table = Table(
        "1c. The same work on this machine's own CPU",
        f"The lab's CPU is emulated in software, and unevenly: a process start costs ~37 ms and "
        f"sha256 runs without the SHA instructions of real CPUs. So the main parts of table 1 were "
        f"also run here, natively, on {mib} MiB of the same data ({files:,} files) in a directory "
        f"(no LVM: this machine has no device-mapper), with warm caches, so that only CPU work is "
        f"compared: fsarchiver `{SEED_FSAOPTS} savedir`, lvmkit's content digest (the same code as in "
        f"a backup: BLAKE2b by b2sum), and the archive's checksum: sha256 by coreutils' sha256sum "
        f"(lvmkit before, and now on CPUs without SHA instructions), by OpenSSL, which uses the CPU's "
        f"SHA instructions (lvmkit now, where the CPU has them), and md5 by the seed's script. "
        f"{runs} runs of each.",
        ["work", "runs", "time: median (min-max)", "against fsarchiver"],
    )
    labels = {"fsarchiver": "fsarchiver (the engine)", "digest": "content digest (lvmkit, BLAKE2b by b2sum)",
              "digest_sha256": "content digest with sha256sum (as lvmkit before)",
              "sha256sum": "sha256sum of the archive (lvmkit before; now without SHA instructions)",
              "md5sum": "md5sum of the archive (seed)",
              "openssl": "`openssl dgst -sha256` of the archive (lvmkit now, with SHA instructions)"}
    for key, label in labels.items():
        values = sample(times[key])
        table.add(label, values.n, values.seconds(), "1" if key == "fsarchiver" else pair_ratios(values, engine).times())
    digest_share = sample(times["digest"]).median / engine.median
    before_share = sample(times["digest_sha256"]).median / engine.median
    finding = f"Natively, the content digest costs {digest_share * 100:.0f}% of fsarchiver's time"
    if lab_parts:
        lab_share = lab_parts["content digest"] / lab_parts["engine"]
        finding += (f"; in the lab {lab_share * 100:.0f}% (table 1b, where the digest also does the one cold "
                    f"read of the data that fsarchiver then finds in the page cache)")
    table.findings.append(finding + ".")
    return table, (digest_share, before_share), hash_times


def _timed(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start
