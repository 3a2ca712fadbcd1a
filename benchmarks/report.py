"""docs/performance.md: the tables of one run, each with how it was measured."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Table:
    title: str
    method: str  # what was measured, how, how many runs: one paragraph of Markdown
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # what the figures say, one bullet each

    def add(self, *cells) -> None:
        if len(cells) != len(self.header):
            raise ValueError(f"{self.title}: a row of {len(cells)} cells under {len(self.header)} columns")
        self.rows.append([str(cell) for cell in cells])

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", self.method.strip(), "",
                 "| " + " | ".join(self.header) + " |",
                 "| " + " | ".join("---" for _ in self.header) + " |"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in self.rows]
        if self.findings:
            lines += [""] + [f"- {finding}" for finding in self.findings]
        return "\n".join(lines) + "\n"


def render(*, intro: str, machine: list[str], command: str, tables: list[Table], epilogue: str = "") -> str:
    parts = [
        "# Performance",
        "",
        intro.strip(),
        "",
        "Rerun it with:",
        "",
        "```sh",
        command,
        "```",
        "",
        "## The machine of this run",
        "",
        *[f"- {line}" for line in machine],
        "",
        *[table.markdown() for table in tables],
    ]
    if epilogue:
        parts += [epilogue.strip(), ""]
    return "\n".join(parts)
