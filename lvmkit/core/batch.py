"""Many read-only queries in one round trip: each part's argv, exit code, stdout and stderr.

In the emulated lab every command costs 0.2-0.5 s of round trip and process start, most of
a preflight's time. A batch sends the queries as one constant script whose positional
parameters carry each part's name, argv length and argv: parameters are data, never code.
Every part runs, whatever the others' exit codes, so each failure can still be reported as
its own named check.

The script frames its output line by line, so no output can break the framing: a header
`@@ NAME RC` per part, then every line of the part's stdout prefixed with "o " and of its
stderr with "e ". The parser accepts exactly the parts sent, in their order, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.core.errors import LvmkitError
from lvmkit.core.host import CommandResult, Host
from lvmkit.core.scripts import packaged_script

BATCH_SCRIPT = packaged_script(__package__, "batch.sh")  # many queries, one round trip: see its header


class BatchError(LvmkitError):
    """The batch's output is not the framing its script writes."""


@dataclass(frozen=True)
class Query:
    name: str  # a word: the part's key in the result
    argv: list[str]


def batch_argv(queries: list[Query]) -> list[str]:
    params: list[str] = []
    for query in queries:
        if not query.name.isidentifier() or not query.argv:
            raise ValueError(f"a batch part needs a word for a name and an argv: {query!r}")
        params += [query.name, str(len(query.argv)), *query.argv]
    return ["bash", "-c", BATCH_SCRIPT, "bash", *params]


def run_batch(host: Host, queries: list[Query]) -> dict[str, CommandResult]:
    """Run the queries on `host` in one command; {name: its result} (never raises for a part)."""
    result = host.run(batch_argv(queries))
    return parse_batch(result.stdout, queries)


def parse_batch(output: str, queries: list[Query]) -> dict[str, CommandResult]:
    results: dict[str, CommandResult] = {}
    expected = iter(queries)
    current: Query | None = None
    code, out, err = 0, [], []

    def close() -> None:
        if current is not None:
            results[current.name] = CommandResult(current.argv, code, _joined(out), _joined(err), 0.0)

    for number, line in enumerate(output.split("\n")[:-1] if output.endswith("\n") else output.split("\n"), 1):
        if line.startswith("@@ "):
            close()
            current = next(expected, None)
            name, _, rc = line[3:].partition(" ")
            if current is None or name != current.name or not rc.isdigit():
                want = current.name if current else "no more parts"
                raise BatchError(f"batch of queries: line {number} is {line[:80]!r}, expected the part {want}")
            code, out, err = int(rc), [], []
        elif current is not None and line.startswith("o "):
            out.append(line[2:])
        elif current is not None and line.startswith("e "):
            err.append(line[2:])
        else:
            raise BatchError(f"batch of queries: line {number} ({line[:80]!r}) is not in the batch's framing")
    close()
    missing = [q.name for q in queries if q.name not in results]
    if missing:
        raise BatchError(f"batch of queries: no output for {', '.join(missing)}; the batch ended early")
    return results


def _joined(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)
