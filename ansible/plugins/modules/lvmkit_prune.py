#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_prune
short_description: Remove the archive sets a retention policy no longer keeps, on a host
description:
  - Runs C(lvmkit prune DIR --keep-... --json) on the controller against one target. lvmkit keeps, per origin,
    what restic's and borg's C(--keep-*) keep and never removes the newest verified set.
  - In check mode it runs with C(--dry-run), listing every set with keep or remove and the rule, nothing removed.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
extends_documentation_fragment:
  - lvmkit.fleet.target
options:
  dest:
    description: The directory of archive sets on the target.
    type: str
    required: true
  keep:
    description: The retention rules, each C(RULE=N), RULE one of last, hourly, daily, weekly, monthly, yearly.
    type: dict
    required: true
  prune_failed:
    description: Also remove sets whose verification failed.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: "Decides and returns what would be removed; removes nothing."
"""

EXAMPLES = r"""
- name: Keep two, and a week of dailies
  lvmkit.fleet.lvmkit_prune:
    host: "ssh://root@{{ ansible_host }}"
    dest: /backups
    keep:
      last: 2
      daily: 7
"""

RETURN = r"""
removed:
  description: The archive sets removed (in check mode, those that would be).
  type: list
  elements: str
  returned: always
kept:
  description: The archive sets kept.
  type: list
  elements: str
  returned: always
decision:
  description: lvmkit's decision, each set with its reasons, and the plan with its sha256.
  type: dict
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.lvmkit_cli import run_for_json, target_spec

RULES = ("last", "hourly", "daily", "weekly", "monthly", "yearly")


def main():
    module = AnsibleModule(
        argument_spec=target_spec(dest=dict(type="str", required=True), keep=dict(type="dict", required=True),
                                  prune_failed=dict(type="bool", default=False)),
        supports_check_mode=True,
    )
    p = module.params
    unknown = sorted(set(p["keep"]) - set(RULES))
    if unknown:
        module.fail_json(msg="keep: unknown rule(s) {0}; use {1}".format(", ".join(unknown), ", ".join(RULES)))
    arguments = ["prune", p["dest"], "--json"]
    for rule in RULES:
        if rule in p["keep"]:
            arguments += ["--keep-{0}".format(rule), str(p["keep"][rule])]
    if p["prune_failed"]:
        arguments.append("--prune-failed")
    if module.check_mode:
        arguments.append("--dry-run")
    decision, call = run_for_json(module, arguments)
    removed = [item["path"] for item in decision["sets"] if not item["keep"]]
    kept = [item["path"] for item in decision["sets"] if item["keep"]]
    module.exit_json(changed=bool(removed), removed=removed, kept=kept, decision=decision,
                     duration_s=call.duration_s)


if __name__ == "__main__":
    main()
