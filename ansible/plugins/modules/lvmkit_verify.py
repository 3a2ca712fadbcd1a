#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: lvmkit_verify
short_description: Verify an archive set on a host with lvmkit
description:
  - Runs C(lvmkit verify --json) on the controller against one target; with O(deep) lvmkit restores the set into
    a scratch volume, compares its content digest, and removes the scratch volume.
  - In check mode the deep restore is left out (it creates a volume); the other checks only read.
version_added: 0.1.0
author: lvmkit maintainers (@lvmkit)
extends_documentation_fragment:
  - lvmkit.fleet.target
options:
  archive:
    description: The archive set's path on the target.
    type: str
    required: true
  deep:
    description: Also restore into a scratch volume and compare the content.
    type: bool
    default: false
  scratch_vg:
    description: The volume group for the scratch volume (default the origin's; in a fleet, the host's own).
    type: str
attributes:
  check_mode:
    support: partial
    description: Can run in check mode and return what the checks found.
    details: "Runs the checks that only read; a deep verification (which creates a scratch volume) is not done."
"""

EXAMPLES = r"""
- name: Verify the newest set
  lvmkit.fleet.lvmkit_verify:
    host: "ssh://root@{{ ansible_host }}"
    archive: "{{ backup.archive_set }}"
    deep: true
"""

RETURN = r"""
passed:
  description: Whether every check passed.
  type: bool
  returned: always
verification:
  description: lvmkit's verification result (every check with its outcome).
  type: dict
  returned: always
duration_s:
  description: Seconds the lvmkit command took.
  type: float
  returned: always
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvmkit.fleet.plugins.module_utils.lvmkit_cli import fail, read_json, run_lvmkit, target_spec


def main():
    module = AnsibleModule(
        argument_spec=target_spec(archive=dict(type="str", required=True), deep=dict(type="bool", default=False),
                                  scratch_vg=dict(type="str")),
        supports_check_mode=True,
    )
    p = module.params
    arguments = ["verify", p["archive"], "--json"]
    if p["deep"] and not module.check_mode:
        arguments.append("--deep")
        if p["scratch_vg"]:
            arguments += ["--scratch-vg", p["scratch_vg"]]
    call = run_lvmkit(module, arguments)
    if not call.stdout.strip():  # lvmkit refused before checking (bad path, unreachable host)
        fail(module, call)
    answer = read_json(module, call)
    result = dict(changed=False, passed=bool(answer.get("passed")), verification=answer, duration_s=call.duration_s)
    if call.rc != 0:
        module.fail_json(msg="verification of {0} failed".format(p["archive"]), rc=call.rc, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
