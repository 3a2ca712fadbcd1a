# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options every lvmkit module shares: which host, through which lvmkit."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  host:
    description:
      - The target as lvmkit's C(--host) takes it, for example C(ssh://root@db1.example.org) or C(lab).
      - The module runs on the controller; lvmkit reaches the target over its own SSH door,
        so the target needs nothing but LVM and the engines.
    type: str
    required: true
  executable:
    description:
      - The lvmkit command on the controller (a name looked up in C(PATH), or an absolute path).
    type: str
    default: lvmkit
  journal:
    description:
      - The controller's command journal for this run (lvmkit's C(--journal)).
      - Defaults to lvmkit's own default.
    type: path
  ssh_config:
    description:
      - An ssh_config file through which C(ssh://) hosts are reached (C(ssh -F)); sets C(LVMKIT_SSH_CONFIG).
      - Lets an inventory name hosts by alias, with their keys and known hosts in one reviewed file.
    type: path
"""
