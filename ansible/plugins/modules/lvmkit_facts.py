#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_facts
short_description: What lvmkit sees on a host, limited to the host's volume group
description:
  - Reads C(lvmkit status --json --vg VG) on the controller against one target, and with O(dest)
    C(lvmkit list DEST --json), and returns them as the fact C(lvmkit).
  - Only the volume group O(vg) is reported (its volumes, snapshots, stale state and locks); in a fleet
    each inventory host owns one volume group. A missing volume group fails the task with lvmkit's message,
    which makes this module the host's preflight.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
extends_documentation_fragment:
  - lvmkit.fleet.target
options:
  vg:
    description: The volume group this inventory host owns.
    type: str
    required: true
  dest:
    description: A directory of archive sets on the target, for the newest verified set of each volume.
    type: str
attributes:
  check_mode:
    support: full
    description: "Reads only."
"""

EXAMPLES = r"""
- name: Read the host's LVM state
  lvmkit.fleet.lvmkit_facts:
    host: "ssh://root@{{ ansible_host }}"
    vg: vg0
    dest: /backups
"""

RETURN = r"""
ansible_facts:
  description: The fact C(lvmkit).
  returned: always
  type: dict
  contains:
    lvmkit:
      description: Volume group, volumes, snapshots, stale volumes, locks, and the newest verified set per volume.
      type: dict
      returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.lvmkit_cli import run_for_json, target_spec


def newest_verified(sets):
    """The newest archive set per origin whose last verification passed (lvmkit lists newest first)."""
    newest = {}
    for entry in sets:
        manifest = entry.get("manifest") or {}
        verification = entry.get("verification") or {}
        origin = manifest.get("origin")
        origin_name = "{0}/{1}".format(origin.get("vg"), origin.get("lv")) if isinstance(origin, dict) else origin
        if origin_name and verification.get("passed") and origin_name not in newest:
            newest[origin_name] = {"path": entry["path"], "started": manifest.get("started"),
                                   "verified": verification.get("finished"), "deep": bool(verification.get("deep"))}
    return newest


def main():
    module = AnsibleModule(
        argument_spec=target_spec(vg=dict(type="str", required=True), dest=dict(type="str")),
        supports_check_mode=True,
    )
    status, _ = run_for_json(module, ["status", "--json", "--vg", module.params["vg"]])
    volumes = status["volumes"]
    facts = dict(host=status["host"], vg=module.params["vg"], volume_groups=status["volume_groups"],
                 volumes=volumes, locks=status["locks"],
                 snapshots=[v for v in volumes if "snapshot" in v["kind"]],
                 stale=[v for v in volumes if v.get("stale")], newest_verified={}, archive_sets=0)
    if module.params["dest"]:
        sets, _ = run_for_json(module, ["list", module.params["dest"], "--json"])
        facts.update(newest_verified=newest_verified(sets), archive_sets=len(sets))
    module.exit_json(changed=False, ansible_facts=dict(lvmkit=facts))


if __name__ == "__main__":
    main()
