"""The postgresql-backup runbook's plan: a consistency group whose pre-snapshot hook is a CHECKPOINT.

Computed as `lvmkit runbook plan` computes it, from the runbook's declared defaults, over
the group workflow recorded in the lab; the hook's own checks (is the program there and
executable) run for real on this machine, as they would on any target.
"""

from __future__ import annotations

from dataclasses import dataclass

from lvmkit.core.host import Host
from lvmkit.ops import hooks
from lvmkit.runbooks import planning
from lvmkit.runbooks.catalog import find
from lvmkit.runbooks.params import validate
from tests.fixtures.record_workflows import DEST, RUN_IDS, VG
from tests.unit.replay import ReplayHost


@dataclass
class HookChecksHere(ReplayHost):
    """The recorded group workflow, with the hook's checks (not in that recording) run here."""

    def run(self, argv, **options):
        argv = list(argv)
        if argv[:3] == ["sh", "-c", hooks._FIND_PROGRAM] or argv[:2] == ["test", "-x"]:
            return Host().run(argv, check=False)
        return super().run(argv, **options)


def values(**given) -> dict:
    book = find("postgresql-backup")
    checked = validate(book.name, book.parameters, {"members": f"{VG}/pln_a,{VG}/pln_b", "dest": DEST,
                                                    "engine": "fsarchiver", **given})
    return {**checked, "name": "pln-group"}  # the set's name and engine the group workflow was recorded with


def plan_of(parameters: dict):
    host = HookChecksHere.of("group")
    the_plan, preflight = planning.compute("postgresql-backup", host, parameters, RUN_IDS["group"])
    return the_plan, preflight


def test_default_plan_asks_postgresql_for_a_checkpoint_before_the_freeze():
    the_plan, preflight = plan_of(values())
    assert preflight.passed, preflight.render()
    titles = [step.title for step in the_plan.steps]
    hook = next(i for i, title in enumerate(titles) if "pre-snapshot" in title)
    freeze = next(i for i, title in enumerate(titles) if title.startswith("freeze"))
    assert hook < freeze, titles
    rendered = the_plan.render()
    assert "runuser -u postgres -- psql -X -c CHECKPOINT" in rendered
    assert "post-snapshot" not in rendered, "PostgreSQL needs nothing undone after a CHECKPOINT"


def test_plan_without_the_hook_is_the_group_backup_plan_alone():
    with_hook, _ = plan_of(values())
    without, preflight = plan_of(values(pre_snapshot=""))
    assert preflight.passed
    assert len(without.steps) == len(with_hook.steps) - 1
    assert "CHECKPOINT" not in without.render()
