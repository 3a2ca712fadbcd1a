"""Preflight checks: each reported pass or fail, all of them before anything changes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from lvmkit.core.errors import Refused


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


class PreflightError(Refused):
    def __init__(self, checks: list[Check]):
        self.checks = checks
        failed = [c for c in checks if not c.passed]
        lines = [f"preflight failed ({len(failed)} of {len(checks)} checks); nothing was changed:"]
        lines += [f"  FAIL {c.name}: {c.detail}" for c in failed]
        super().__init__("\n".join(lines))


@dataclass
class Preflight:
    checks: list[Check] = field(default_factory=list)

    def add(self, check: Check) -> None:
        self.checks.append(check)

    def fail(self, name: str, detail: str) -> None:
        self.add(Check(name, False, detail))

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def raise_if_failed(self) -> None:
        if not self.passed:
            raise PreflightError(self.checks)

    def as_list(self) -> list[dict]:
        return [asdict(c) for c in self.checks]

    def render(self) -> str:
        return "\n".join(f"  {'PASS' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in self.checks)
