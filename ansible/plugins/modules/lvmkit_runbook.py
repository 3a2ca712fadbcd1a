#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_runbook
short_description: Run an lvmkit runbook on a host and keep its record
description:
  - Runs C(lvmkit runbook run) on the controller against one target, with the runbook's parameters,
    the change id, the operator and an approved plan hash.
  - The executed notebook, its journal and C(run.json) become a record folder under O(records),
    chained into that folder's C(audit.log).
  - In check mode it runs C(lvmkit runbook plan) instead; the preflight runs and the exact plan is
    computed, nothing changes on the target, and the plan's sha256 is returned for approval.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
extends_documentation_fragment:
  - lvmkit.fleet.target
options:
  name:
    description: The runbook, as C(lvmkit runbook list) names it (for example C(backup) or C(dr-rehearsal)).
    type: str
    required: true
  parameters:
    description: The runbook's parameters (see C(lvmkit runbook params NAME)); lists and dicts are passed as JSON.
    type: dict
    default: {}
  records:
    description: The records directory on the controller for this host (one per host in a fleet change).
    type: path
    required: true
  change:
    description: The change ticket this run belongs to.
    type: str
  operator:
    description: Who runs it, for the record.
    type: str
  approve:
    description:
      - The approved plan's sha256. lvmkit computes the plan again and refuses to run when it differs.
    type: str
  approved_by:
    description: Who approved the plan, for the record.
    type: str
attributes:
  check_mode:
    support: full
    description: "Computes the plan (C(lvmkit runbook plan)); nothing changes on the target."
"""

EXAMPLES = r"""
- name: Back up a volume, as change CHG-1
  lvmkit.fleet.lvmkit_runbook:
    host: "ssh://root@{{ ansible_host }}"
    name: backup
    parameters:
      origin: vg0/www
      dest: /backups
    records: "/srv/changes/CHG-1/{{ inventory_hostname }}"
    change: CHG-1
"""

RETURN = r"""
outcome:
  description: The run's outcome (C(succeeded), C(failed), C(interrupted)), or C(planned) in check mode.
  type: str
  returned: always
record:
  description: The record folder of the run.
  type: str
  returned: when not in check mode
audit_head:
  description: The hash of the audit.log line that records this run (the chain's head after it).
  type: str
  returned: when not in check mode
audit_seq:
  description: That line's sequence number.
  type: int
  returned: when not in check mode
duration_s:
  description: How long the run took, as lvmkit measured it.
  type: float
  returned: always
archive_set:
  description: The archive set the run made (backup and dr-rehearsal).
  type: str
  returned: when the run made one
rpo_s:
  description: Recovery point of the rehearsal (age of the restored data when it was back), seconds.
  type: float
  returned: for dr-rehearsal
rto_s:
  description: Recovery time of the rehearsal, seconds.
  type: float
  returned: for dr-rehearsal
plan_sha256:
  description: The plan's sha256, to put in an approval file.
  type: str
  returned: in check mode
plan:
  description: The plan record lvmkit kept (steps, preflight, run id, parameters).
  type: dict
  returned: in check mode
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.lvmkit_cli import fail, read_json, run_lvmkit, target_spec


def parameter_arguments(parameters):
    arguments = []
    for key, value in sorted(parameters.items()):
        text = value if isinstance(value, str) else json.dumps(value)
        arguments += ["-p", key, text]
    return arguments


def read_record_file(record, name):
    path = os.path.join(record, name)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def run_result(record, dest=None):
    """What the fleet report needs from a record: outcome, duration, archive set, RPO, error."""
    run = read_record_file(record, "run.json") or {}
    manifest = read_record_file(record, "manifest.json") or {}
    rehearsal = read_record_file(record, "rehearsal.json") or {}
    error = run.get("error") or {}
    result = dict(duration_s=run.get("duration_s"), started=run.get("start"), ended=run.get("end"),
                  archive_set=rehearsal.get("archive"))
    if not result["archive_set"] and dest and manifest.get("name"):
        result["archive_set"] = dest.rstrip("/") + "/" + manifest["name"]
    if rehearsal:
        result.update(rpo_s=rehearsal.get("rpo_s"), rto_s=rehearsal.get("rto_s"))
    if manifest.get("started"):
        result["data_as_of"] = manifest["started"]
    if error:
        result["error"] = "{0}: {1}".format(error.get("ename"), error.get("evalue"))
    return result


def main():
    module = AnsibleModule(
        argument_spec=target_spec(
            name=dict(type="str", required=True),
            parameters=dict(type="dict", default={}),
            records=dict(type="path", required=True),
            change=dict(type="str"),
            operator=dict(type="str"),
            approve=dict(type="str"),
            approved_by=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    common = parameter_arguments(p["parameters"]) + ["--records", p["records"]]
    if module.check_mode:
        call = run_lvmkit(module, ["runbook", "plan", p["name"]] + common + ["--json"])
        if call.rc != 0:
            fail(module, call, outcome="refused")
        plan = read_json(module, call)
        module.exit_json(changed=True, outcome="planned", plan_sha256=plan["sha256"], plan=plan,
                         duration_s=call.duration_s)
    arguments = ["runbook", "run", p["name"]] + common
    for option, key in (("--change", "change"), ("--operator", "operator"), ("--approve", "approve"),
                        ("--approved-by", "approved_by")):
        if p[key]:
            arguments += [option, p[key]]
    call = run_lvmkit(module, arguments)
    if not call.stdout.strip():  # refused before a record was made (bad parameters, plan not approved)
        fail(module, call, outcome="refused")
    answer = read_json(module, call, last_line=True)
    result = dict(outcome=answer["outcome"], record=answer["record"], audit_head=answer["audit"]["head"],
                  audit_seq=answer["audit"]["seq"], **run_result(answer["record"], p["parameters"].get("dest")))
    if result["duration_s"] is None:
        result["duration_s"] = call.duration_s
    if call.rc != 0:
        module.fail_json(msg=result.get("error") or call.message(), changed=True, rc=call.rc, **result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
