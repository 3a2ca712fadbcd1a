#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_fleet_report
short_description: Write the fleet report of a change, as Markdown and HTML
description:
  - Writes C(report.md), C(report.html) and C(results.json) into the change folder on the controller,
    with per host the outcome, duration, RPO, archive set, record and audit head (or plan hash), and totals.
  - When every result is a plan (a check run), it also writes C(approval-proposed.json), each host with its plan's
    sha256, to be reviewed, copied to the approval file, and given to the run.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
options:
  results:
    description: One dict per host (host, outcome, duration_s, rpo_s, archive_set, record, audit_head, plan_sha256, error).
    type: list
    elements: dict
    required: true
  directory:
    description: The change folder on the controller.
    type: path
    required: true
  title:
    description: The report's title.
    type: str
    default: lvmkit fleet report
  change:
    description: The change id.
    type: str
  details:
    description: More lines for the report's header (playbook, operator, approval file, ...).
    type: dict
    default: {}
attributes:
  check_mode:
    support: none
    description: "Writes its files in check mode too (set C(check_mode=false) on the task); they are the outcome of a check run."
"""

EXAMPLES = r"""
- name: Write the fleet report
  lvmkit.fleet.lvmkit_fleet_report:
    results: "{{ ansible_play_hosts_all | map('extract', hostvars, 'fleet_result') | list }}"
    directory: "/srv/changes/CHG-1"
    change: CHG-1
  check_mode: false
"""

RETURN = r"""
markdown:
  description: The Markdown report's path.
  type: str
  returned: always
html:
  description: The HTML report's path.
  type: str
  returned: always
approval:
  description: The proposed approval file's path, after a check run.
  type: str
  returned: when every host was planned
totals:
  description: Hosts, outcomes, host-seconds, the slowest host, the worst RPO.
  type: dict
  returned: always
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.fleet_report import approval, markdown, page, totals


def write_private(path, text):
    """Write `text` to `path`, mode 0600 (records and reports are not world-readable); True if it changed."""
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            if handle.read() == text:
                return False
    descriptor = os.open(path + ".new", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(path + ".new", path)
    return True


def main():
    module = AnsibleModule(
        argument_spec=dict(results=dict(type="list", elements="dict", required=True),
                           directory=dict(type="path", required=True),
                           title=dict(type="str", default="lvmkit fleet report"),
                           change=dict(type="str"), details=dict(type="dict", default={})),
        supports_check_mode=False,
    )
    p = module.params
    results = sorted(p["results"], key=lambda result: str(result.get("host")))
    os.makedirs(p["directory"], mode=0o700, exist_ok=True)
    meta = dict([("change", p["change"])] + sorted(p["details"].items()))
    paths = dict(markdown=os.path.join(p["directory"], "report.md"), html=os.path.join(p["directory"], "report.html"))
    changed = write_private(paths["markdown"], markdown(p["title"], meta, results))
    changed = write_private(paths["html"], page(p["title"], meta, results)) or changed
    changed = write_private(os.path.join(p["directory"], "results.json"),
                            json.dumps(results, indent=2, sort_keys=True) + "\n") or changed
    if results and all(result.get("outcome") == "planned" for result in results):
        paths["approval"] = os.path.join(p["directory"], "approval-proposed.json")
        changed = write_private(paths["approval"], json.dumps(approval(p["change"], results), indent=2,
                                                              sort_keys=True) + "\n") or changed
    module.exit_json(changed=changed, totals=totals(results), **paths)


if __name__ == "__main__":
    main()
