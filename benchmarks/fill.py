"""Fill a directory with benchmark data of a given shape and size; runs on the target.

Two shapes, the two ends the engines behave differently at:
  small-files  many files of 1 KiB to 64 KiB (log-uniform, ~20 KiB on average) in nested
               directories: the metadata-heavy end (a mail spool, a source tree, /etc)
  large-files  four files of equal size: the streaming end (database files, images)

Contents are half incompressible (random bytes) and half text-like words (zstd shrinks
them ~4x), so an archive is ~60% of the data: compression is exercised but does not
dominate. The layout and the text are reproducible from --seed; the random half is too.

Standard library only: it runs with the target's own python3.
"""

from __future__ import annotations

import argparse
import os
import random
from pathlib import Path

MIB = 1024 * 1024
CHUNK = 4096  # contents alternate between a random and a text chunk of this size
WORDS = 2000


def word_pool(rng: random.Random) -> bytes:
    """A few MiB of words separated by spaces and newlines, like log files or source."""
    vocabulary = ["".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(rng.randint(2, 10)))
                  for _ in range(WORDS)]
    lines = (" ".join(rng.choices(vocabulary, k=rng.randint(4, 14))) for _ in range(60000))
    return "\n".join(lines).encode()


def contents(rng: random.Random, pool: bytes, size: int) -> bytes:
    parts, made, text = [], 0, rng.random() < 0.5
    while made < size:
        n = min(CHUNK, size - made)
        if text:
            start = rng.randrange(len(pool) - n)
            parts.append(pool[start:start + n])
        else:
            parts.append(rng.randbytes(n))
        made += n
        text = not text
    return b"".join(parts)


def small_file_sizes(rng: random.Random, total: int):
    made = 0
    while made < total:
        size = min(int(2 ** rng.uniform(10, 16)), total - made)  # 1 KiB .. 64 KiB, log-uniform
        yield size
        made += size


def fill(root: Path, shape: str, mib: int, seed: int) -> tuple[int, int]:
    """Write the data; returns (files, bytes)."""
    rng = random.Random(seed)
    pool = word_pool(rng)
    total = mib * MIB
    if shape == "large-files":
        sizes = [total // 4] * 4
    elif shape == "small-files":
        sizes = list(small_file_sizes(rng, total))
    else:
        raise SystemExit(f"unknown shape {shape!r}: small-files or large-files")
    files = 0
    for index, size in enumerate(sizes):
        directory = root / f"d{index // 400:03d}" / f"e{index // 20 % 20:02d}" if shape == "small-files" else root
        directory.mkdir(parents=True, exist_ok=True)
        with open(directory / f"f{index:06d}.dat", "wb") as out:
            for start in range(0, size, 8 * MIB):  # large files are written in pieces: bounded memory
                out.write(contents(rng, pool, min(8 * MIB, size - start)))
        files += 1
    os.sync()
    return files, sum(sizes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--shape", required=True, choices=["small-files", "large-files"])
    parser.add_argument("--mib", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    files, written = fill(args.directory, args.shape, args.mib, args.seed)
    print(f"{files} {written}")


if __name__ == "__main__":
    main()
