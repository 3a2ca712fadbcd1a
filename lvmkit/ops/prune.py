"""`lvmkit prune DIR --keep-...`: remove the archive sets a retention policy no longer keeps.

Per origin: the policy is applied to the sets of each volume (or each group of volumes)
separately; sets of an origin not asked for, hidden directories (a `.NAME.partial` of a
running backup) and anything that is not an lvmkit archive set are never touched.

Two guards beyond the policy (see docs/retention.md):
- the newest set whose verification passed (`verification.json`, written by `lvmkit verify`)
  is always kept, whatever the rules say: the last proved backup is never removed;
- a set whose verification failed is left out of the rules (it must not take the place of
  a good set in a period) and kept for inspection, unless `prune_failed` is asked.

Removal is atomic per set: rename it to `.NAME.pruning` in the same directory (a set is
then either whole under its name or gone from every listing), then `rm -rf` the hidden
name. Each removal is a step of a Plan, so a prune can be shown, hashed and journaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from lvmkit.archive.engines import get_engine
from lvmkit.archive.manifest import GroupManifest, Manifest
from lvmkit.core.host import Host
from lvmkit.core.paths import target_path
from lvmkit.core.plan import Plan, Step, StepRecord, default_log, execute
from lvmkit.ops.listing import ListedSet, list_sets
from lvmkit.ops.retention import Candidate, Decision, Policy, apply_policy

NEWEST_VERIFIED = "newest verified set (never removed)"
FAILED_KEPT = "verification failed: kept for inspection (--prune-failed removes it)"
FAILED_REMOVED = "verification failed (--prune-failed)"


@dataclass(frozen=True)
class SetFacts:
    """What retention needs of an archive set: read from its manifest in one place."""

    origin: str  # "vg/lv", or "group:vg/a+vg/b" for a consistency group's set
    started: datetime
    name: str


def set_facts(manifest: Manifest | GroupManifest) -> SetFacts | None:
    """None when the manifest's time cannot be read."""
    try:
        if isinstance(manifest, GroupManifest):
            members = sorted(f"{m.vg}/{m.lv}" for m in manifest.members)
            # A group's instant is the start of its freeze window: when the snapshots were taken.
            started = datetime.fromtimestamp(manifest.freeze_window.start_epoch, timezone.utc)
            return SetFacts("group:" + "+".join(members), started, manifest.name)
        started = datetime.fromisoformat(manifest.started)
        return SetFacts(f"{manifest.origin.vg}/{manifest.origin.lv}", started, manifest.name)
    except (OverflowError, OSError, ValueError):  # a time no clock can hold, or not a time at all
        return None


def origin_key(origin: str | None = None, group: list[str] | None = None) -> str:
    """The origin key of a job's sets: its volume, or its group."""
    return "group:" + "+".join(sorted(group)) if group else str(origin)


@dataclass(frozen=True)
class PruneItem:
    path: str
    origin: str
    started: datetime
    keep: bool
    reasons: tuple[str, ...]
    verification: str  # "passed", "failed" or "none"
    # A repository engine's set: its snapshot is forgotten before the set is removed, and
    # the repository then compacted (restic forget ID + prune, borg delete + compact).
    forget: tuple[str, ...] = ()
    compact: tuple[str, ...] = ()

    def as_dict(self) -> dict:
        return {"path": self.path, "origin": self.origin, "started": self.started.isoformat(),
                "keep": self.keep, "reasons": list(self.reasons), "verification": self.verification}


@dataclass
class PruneDecision:
    directory: str
    policy: Policy
    items: list[PruneItem]
    ignored: list[str]  # paths that are not lvmkit archive sets, or of other origins

    @property
    def removed(self) -> list[PruneItem]:
        return [item for item in self.items if not item.keep]

    def as_dict(self) -> dict:
        return {"directory": self.directory, "policy": self.policy.as_dict(),
                "sets": [item.as_dict() for item in self.items], "ignored": self.ignored}

    def summary(self) -> str:
        """One line: what a prune removed and kept (render() lists every set with its rule)."""
        kept = len(self.items) - len(self.removed)
        return (f"pruned {self.directory} ({self.policy.describe()}): removed {len(self.removed)}, "
                f"kept {kept} of {len(self.items)} archive sets" + (f", {len(self.ignored)} other entries left alone"
                                                                     if self.ignored else ""))

    def render(self) -> str:
        lines = [f"prune {self.directory}: {self.policy.describe()}, per origin"]
        for item in self.items:
            verdict = "keep  " if item.keep else "REMOVE"
            lines.append(f"  {verdict} {item.path}  {item.started.isoformat()}  {item.origin}  "
                         f"{', '.join(item.reasons) or 'kept by no rule'}")
        lines += [f"  ignore {path}  (not an lvmkit archive set of the origins pruned)" for path in self.ignored]
        lines.append(f"{len(self.removed)} of {len(self.items)} archive sets to remove")
        return "\n".join(lines)


def decide(host: Host, directory: str, policy: Policy, *, origins: set[str] | None = None,
           name_prefix: str | None = None, prune_failed: bool = False) -> PruneDecision:
    """Read every set in `directory` and decide; changes nothing."""
    target_path(directory, "directory")
    by_origin: dict[str, list[tuple[ListedSet, SetFacts]]] = {}
    ignored = []
    for listed in list_sets(host, directory):
        facts = set_facts(listed.manifest) if listed.manifest is not None else None
        hidden = listed.path.rsplit("/", 1)[-1].startswith(".")
        if (facts is None or hidden or (origins is not None and facts.origin not in origins)
                or (name_prefix and not facts.name.startswith(f"{name_prefix}-"))):
            ignored.append(listed.path)
            continue
        by_origin.setdefault(facts.origin, []).append((listed, facts))
    items = []
    for origin in sorted(by_origin):
        items += _decide_origin(origin, by_origin[origin], policy, prune_failed)
    return PruneDecision(directory, policy, items, sorted(ignored))


def _verification(listed: ListedSet) -> str:
    if listed.verification is None:
        return "none"
    return "passed" if listed.verification.get("passed") is True else "failed"


def _decide_origin(origin: str, sets: list[tuple[ListedSet, SetFacts]], policy: Policy,
                   prune_failed: bool) -> list[PruneItem]:
    outcome = {listed.path: _verification(listed) for listed, _ in sets}
    started = {listed.path: facts.started for listed, facts in sets}
    manifests = {listed.path: listed.manifest for listed, _ in sets}
    ruled = [Candidate(path, started[path]) for path in started if outcome[path] != "failed"]
    decisions: dict[str, Decision] = {d.key: d for d in apply_policy(ruled, policy)}
    verified = sorted((p for p in ruled if outcome[p.key] == "passed"), key=lambda c: c.time)
    newest_verified = verified[-1].key if verified else None
    items = []
    for path in sorted(started, key=lambda p: started[p], reverse=True):
        if outcome[path] == "failed":
            keep, reasons = not prune_failed, (FAILED_REMOVED if prune_failed else FAILED_KEPT,)
        else:
            keep, reasons = decisions[path].keep, decisions[path].reasons
            if path == newest_verified:
                keep, reasons = True, (*reasons, NEWEST_VERIFIED)
        items.append(PruneItem(path, origin, started[path], keep, reasons, outcome[path],
                               *repository_commands(manifests[path])))
    return items


def repository_commands(manifest: Manifest | GroupManifest) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """How to forget a repository set's snapshot and compact its repository; () for other sets."""
    if not isinstance(manifest, Manifest) or manifest.repository is None:
        return (), ()
    engine = get_engine(manifest.engine.name)
    options = manifest.engine.options
    return (tuple(engine.forget_argv(manifest.repository.id, options)), tuple(engine.compact_argv(options)))


def removal_argvs(path: str) -> list[list[str]]:
    directory, name = path.rsplit("/", 1)
    hidden = f"{directory}/.{name}.pruning"
    # -T: the hidden name is the new name of the directory, never a directory to move it into.
    return [["mv", "-T", "--", path, hidden], ["rm", "-rf", "--", hidden]]


def plan(decision: PruneDecision) -> Plan:
    steps = [Step(f"remove {item.path} ({item.origin}, {item.started.isoformat()}): "
                  f"{', '.join(item.reasons) or 'kept by no rule'}",
                  # the repository's snapshot first: a set is removed only once its data is let go
                  ([list(item.forget)] if item.forget else []) + removal_argvs(item.path))
             for item in decision.removed]
    compactions = list(dict.fromkeys(item.compact for item in decision.removed if item.compact))
    steps += [Step(f"give back the room of the forgotten snapshots in the repository ({argv[0]})", [list(argv)])
              for argv in compactions]
    return Plan(f"prune {decision.directory} ({decision.policy.describe()})", steps,
                facts={"kept": [item.path for item in decision.items if item.keep]})


def remove(host: Host, decision: PruneDecision, log=default_log) -> list[StepRecord]:
    """Remove what the decision removes, one set after another, each atomically."""
    return execute(plan(decision), host, log=log)
