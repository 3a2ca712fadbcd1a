#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_backup
short_description: Back up a logical volume (or a consistency group) of a host with lvmkit
description:
  - Runs C(lvmkit backup --json) on the controller against one target and returns the archive set and its manifest.
  - In check mode it runs C(lvmkit backup --dry-run --json), which runs every preflight check and the exact plan, nothing
    changed, and the plan's sha256.
  - For a backup that leaves a record (notebook, journal, audit chain), use M(lvmkit.fleet.lvmkit_runbook) with the
    C(backup) runbook.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
extends_documentation_fragment:
  - lvmkit.fleet.target
options:
  origin:
    description: The volume to back up, C(VG/LV). Give this or O(group).
    type: str
  group:
    description: Volumes to back up at one instant, each C(VG/LV).
    type: list
    elements: str
  dest:
    description: The directory on the target for the archive set.
    type: str
    required: true
  engine:
    description: The engine (C(fsarchiver), C(tar), C(dar), C(rsync), C(dd), C(partclone)).
    type: str
    default: fsarchiver
  snapshot_size:
    description: The snapshot's size for a thick origin (for example C(5G) or C(20%ORIGIN)).
    type: str
  engine_options:
    description: The engine's options, C(KEY=VALUE) each (for example C(zstd_level=3)).
    type: dict
    default: {}
  name:
    description: The archive set's name (default C(VG-LV-RUNID)).
    type: str
attributes:
  check_mode:
    support: full
    description: "Runs the preflight and computes the plan; nothing changes on the target."
"""

EXAMPLES = r"""
- name: Back up vg0/www
  lvmkit.fleet.lvmkit_backup:
    host: "ssh://root@{{ ansible_host }}"
    origin: vg0/www
    dest: /backups
    engine: tar
"""

RETURN = r"""
archive_set:
  description: The archive set's path on the target.
  type: str
  returned: when not in check mode
manifest:
  description: The archive set's manifest.
  type: dict
  returned: when not in check mode
duration_s:
  description: Seconds the lvmkit command took.
  type: float
  returned: always
plan_sha256:
  description: The plan's sha256.
  type: str
  returned: in check mode
plan:
  description: The plan (steps and their commands) and the preflight's checks.
  type: dict
  returned: in check mode
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.lvmkit_cli import run_for_json, target_spec


def backup_arguments(p):
    arguments = ["backup"]
    arguments += [p["origin"]] if p["origin"] else ["--group", ",".join(p["group"])]
    arguments += ["--dest", p["dest"], "--engine", p["engine"]]
    if p["snapshot_size"]:
        arguments += ["--snapshot-size", p["snapshot_size"]]
    if p["name"]:
        arguments += ["--name", p["name"]]
    for key, value in sorted(p["engine_options"].items()):
        arguments += ["--engine-option", "{0}={1}".format(key, value)]
    return arguments + ["--json"]


def main():
    module = AnsibleModule(
        argument_spec=target_spec(
            origin=dict(type="str"),
            group=dict(type="list", elements="str"),
            dest=dict(type="str", required=True),
            engine=dict(type="str", default="fsarchiver"),
            snapshot_size=dict(type="str"),
            engine_options=dict(type="dict", default={}),
            name=dict(type="str"),
        ),
        required_one_of=[("origin", "group")],
        mutually_exclusive=[("origin", "group")],
        supports_check_mode=True,
    )
    arguments = backup_arguments(module.params)
    if module.check_mode:
        arguments.append("--dry-run")
    answer, call = run_for_json(module, arguments)
    if module.check_mode:
        module.exit_json(changed=True, plan_sha256=answer["sha256"], plan=answer, duration_s=call.duration_s)
    archive_set = module.params["dest"].rstrip("/") + "/" + answer["name"]
    module.exit_json(changed=True, archive_set=archive_set, manifest=answer, duration_s=call.duration_s)


if __name__ == "__main__":
    main()
