"""Table 1d: the hash tools the proof could use, on the target and on this machine's own CPU.

Two jobs need a hash: the content digest hashes every file of the snapshot (many small
files: the cost of starting the tool and opening files counts), and the archive set's
checksums hash a few large files (the hash's speed per byte counts). Each tool is timed
on both jobs with warm caches, so that only the hashing is compared, the tools' order
turning each round.
"""

from __future__ import annotations

from typing import Callable

from .report import Table
from .stats import pair_ratios, sample

# How each tool hashes many files, the way the content digest calls it (batches of names
# from find, NUL-separated), and one large file, the way the checksums step does.
TOOLS = {
    "sha256sum": ["sha256sum", "-z"],
    "b2sum": ["b2sum", "-z"],
    "openssl sha256": ["openssl", "dgst", "-sha256", "-r"],
    "b3sum": ["b3sum"],
}
_MANY = 'find "$1" -type f -print0 | xargs -0 -r -n 1024 "${@:3}" -- >/dev/null'
_ONE = '"${@:3}" -- "$2" >/dev/null'


def many_files_argv(tool: str, tree: str) -> list[str]:
    return ["bash", "-c", _MANY, "bash", tree, "", *TOOLS[tool]]


def one_file_argv(tool: str, path: str) -> list[str]:
    return ["bash", "-c", _ONE, "bash", "", path, *TOOLS[tool]]


def measure(timer: Callable[[list[str]], float], tree: str, large_file: str, runs: int) -> dict:
    """{(job, tool): [seconds...]}, each tool's runs alternating with the others'."""
    times: dict[tuple[str, str], list[float]] = {}
    tools = list(TOOLS)
    for index in range(runs):
        shift = index % len(tools)
        for tool in tools[shift:] + tools[:shift]:
            times.setdefault(("many", tool), []).append(timer(many_files_argv(tool, tree)))
            times.setdefault(("one", tool), []).append(timer(one_file_argv(tool, large_file)))
    return times


def hashes_table(places: list[tuple[str, dict]], described: str, large: str, runs: int) -> Table:
    table = Table(
        "1d. Hash tools for the proof",
        f"Each tool hashing {described} the way the content digest runs it (`find -print0 | "
        f"xargs -0 -n 1024 TOOL`), and one large file ({large}) the way the checksums are made; warm "
        f"caches, {runs} runs of each, the tools' order turning each round; ratio per round against "
        f"coreutils' sha256sum (lvmkit's tool before). b3sum runs its default threads (one per CPU).",
        ["where", "job", "tool", "time: median (min-max)", "against sha256sum"],
    )
    for where, times in places:
        for job, label in (("many", "content digest (many files)"), ("one", "one large file")):
            reference = sample(times[(job, "sha256sum")])
            for tool in TOOLS:
                values = sample(times[(job, tool)])
                table.add(where, label, tool, values.seconds(),
                          "1" if tool == "sha256sum" else pair_ratios(values, reference).times())
    return table


def fastest(times: dict, job: str) -> str:
    """The tool of the lowest median for `job`."""
    return min(TOOLS, key=lambda tool: sample(times[(job, tool)]).median)
