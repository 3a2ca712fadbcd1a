"""Change-managed runs: a plan approved by its sha256, and refused when it changed since.

`lvmkit runbook plan` computes a runbook's plan from lvmkit's own Plan objects (the exact
commands, nothing changed) and keeps it under RECORDS/plans/<sha256>.json with what it
was computed from: the runbook's text, the host, the parameters and the run id (the
names of the snapshot, the mount point and the archive set derive from it). A change
ticket approves that sha256. `run --approve SHA` computes the plan again, with the same
run id, and refuses to start when anything differs, saying what; the notebook checks it
once more in its plan cell, right before it executes. One approval is one execution: the
run id's names are taken once the run has made them.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from lvmkit.core.errors import LvmkitError, UsageError
from lvmkit.core.host import utc_now
from lvmkit.core.plan import Conditional, Plan, Step

PLANS = "plans"  # under the records directory
_SHA256 = re.compile(r"[0-9a-f]{64}")


class PlanNotApproved(LvmkitError):
    """The plan computed now is not the one approved."""

    def __init__(self, sha256: str, differences: list[str]):
        self.differences = list(differences)
        lines = [f"refusing to run: the plan differs from the approved plan {sha256} "
                 f"(the system or the request changed since the approval); what differs:"]
        lines += [f"  {line}" for line in differences]
        lines.append("compute a new plan with `lvmkit runbook plan` and have it approved")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class PlanRecord:
    runbook: str
    runbook_sha256: str
    host: str
    parameters: dict
    run_id: str
    sha256: str
    plan: dict  # Plan.as_dict()
    rendered: str
    preflight: list
    created: str

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> PlanRecord:
        try:
            data = json.loads(text)
            record = cls(**data)
        except (ValueError, TypeError) as error:
            raise UsageError(f"{where} is not a plan lvmkit wrote: {error}") from None
        if record.sha256 != plan_sha256(record.plan):
            raise PlanNotApproved(record.sha256, [f"{where} was edited: its steps hash to {plan_sha256(record.plan)}"])
        return record


def new_record(runbook: str, runbook_sha256: str, host: str, parameters: dict, run_id: str,
               plan: Plan, preflight: list) -> PlanRecord:
    return PlanRecord(runbook, runbook_sha256, host, parameters, run_id, plan.sha256, plan.as_dict(),
                      plan.render(), preflight, utc_now().isoformat())


def plan_sha256(plan_dict: dict) -> str:
    """Plan.sha256 of a plan kept as its as_dict(): lvmkit's own hash, recomputed."""
    return as_plan(plan_dict).sha256


def as_plan(plan_dict: dict) -> Plan:
    """A plan's steps and commands back from its as_dict() (to hash and show, not to run)."""
    try:
        steps = [Step(s["title"], s["commands"], undo_commands=s["undo"],
                      conditional=[Conditional(c["when"], c["argv"]) for c in s.get("conditional", [])])
                 for s in plan_dict["steps"]]
        return Plan(plan_dict["title"], steps)
    except (KeyError, TypeError) as error:
        raise UsageError(f"not a plan: {error}") from None


def save(records: Path, record: PlanRecord) -> Path:
    directory = records / PLANS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{record.sha256}.json"
    path.write_text(record.to_json(), encoding="utf-8")
    return path


def load(path: Path) -> PlanRecord:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read the approved plan {path}: {error.strerror}") from None
    return PlanRecord.from_json(text, str(path))


def load_approved(records: Path, sha256: str) -> tuple[PlanRecord, Path]:
    if not _SHA256.fullmatch(sha256 or ""):
        raise UsageError(f"--approve takes the plan's full sha256 (64 hex digits), not {sha256!r}")
    path = records / PLANS / f"{sha256}.json"
    if not path.is_file():
        raise UsageError(f"no plan {sha256} in {records / PLANS}: compute it there first with "
                         f"`lvmkit runbook plan NAME -p ... --records {records}`")
    return load(path), path


def differences(approved: PlanRecord, *, plan: Plan, runbook: str | None = None,
                runbook_sha256: str | None = None, host: str | None = None,
                parameters: dict | None = None) -> list[str]:
    """What differs between the approved plan record and the current state, in words."""
    found = []
    if runbook is not None and runbook != approved.runbook:
        found.append(f"runbook: approved {approved.runbook}, now {runbook}")
    if runbook_sha256 is not None and runbook_sha256 != approved.runbook_sha256:
        found.append(f"the runbook's text changed since the approval (sha256 {approved.runbook_sha256} "
                     f"approved, {runbook_sha256} now)")
    if host is not None and host != approved.host:
        found.append(f"host: approved {approved.host}, now {host}")
    if parameters is not None and parameters != approved.parameters:
        for name in sorted(set(parameters) | set(approved.parameters)):
            before, after = approved.parameters.get(name), parameters.get(name)
            if before != after:
                found.append(f"parameter {name}: approved {before!r}, now {after!r}")
    if plan.sha256 != approved.sha256:
        found.append(f"plan sha256: approved {approved.sha256}, now {plan.sha256}")
        diff = difflib.unified_diff(plan_lines(approved.plan), plan_lines(plan.as_dict()),
                                    "approved", "now", lineterm="", n=1)
        found += list(diff)
    return found


def require_same(approved: PlanRecord, **current) -> None:
    found = differences(approved, **current)
    if found:
        raise PlanNotApproved(approved.sha256, found)


def plan_lines(plan_dict: dict) -> list[str]:
    """The plan as Plan.render() shows it, without the first line (which carries the hash)."""
    return [f"plan: {plan_dict['title']}", *as_plan(plan_dict).render().splitlines()[1:]]
