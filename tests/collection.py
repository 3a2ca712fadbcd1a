"""The Ansible collection in ansible/, laid out as Ansible wants it, for the tests.

Ansible finds a collection only at .../ansible_collections/NAMESPACE/NAME; the repository
keeps it at ansible/. `install` puts it there with `ansible-galaxy collection install`
(which also proves it installs), `copy_tree` by copying (for ansible-test, which wants to
run inside the collection's own directory).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
COLLECTION = REPOSITORY / "ansible"
NAMESPACE, NAME = "lvmkit", "fleet"
BIN = Path(sys.executable).parent  # the venv's ansible-playbook, ansible-galaxy, ansible-test, lvmkit
# Ansible's commands get a stdin of their own: ansible-core refuses to start when the stdin it
# inherits is non-blocking ("Ansible requires blocking IO"), which a tool killed earlier in
# the session (ssh sets O_NONBLOCK on its stdin) can leave it.
NO_STDIN = subprocess.DEVNULL


def copy_tree(root: Path) -> Path:
    """Copy the collection to ROOT/ansible_collections/lvmkit/fleet and return that path."""
    target = root / "ansible_collections" / NAMESPACE / NAME
    shutil.copytree(COLLECTION, target, ignore=shutil.ignore_patterns("__pycache__", "tests"))
    return target


def install(root: Path) -> Path:
    """`ansible-galaxy collection install ansible/ -p ROOT`; returns ROOT (a collections path)."""
    subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--force", str(COLLECTION), "-p", str(root)],
                   check=True, capture_output=True, text=True, stdin=NO_STDIN, env=ansible_environment(root))
    return root


def ansible_environment(collections: Path, **extra: str) -> dict[str, str]:
    environment = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_NOCOLOR="1",
                       ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_RETRY_FILES_ENABLED="False",
                       PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    environment.update(extra)
    return environment


def run_module(collections: Path, module: str, arguments: dict, *, check_mode: bool = False) -> tuple[int, dict]:
    """Run one of the collection's modules as Ansible does (its arguments in a JSON file); (rc, result)."""
    source = collections / "ansible_collections" / NAMESPACE / NAME / "plugins" / "modules" / f"{module}.py"
    arguments = dict(arguments, _ansible_check_mode=check_mode)
    args_file = collections / f"{module}.args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments}))
    done = subprocess.run([sys.executable, str(source), str(args_file)], capture_output=True, text=True, stdin=NO_STDIN,
                          env=dict(os.environ, PYTHONPATH=str(collections), PATH=f"{BIN}:{os.environ.get('PATH', '')}"))
    return done.returncode, json.loads(done.stdout)
