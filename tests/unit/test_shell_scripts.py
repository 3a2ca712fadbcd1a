"""The package's shell scripts: every .sh file passes shellcheck, and is loaded as it should be."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from lvmkit.archive import archive_set, digest
from lvmkit.core import batch, host
from lvmkit.core.scripts import DIRECTIVE, packaged_script
from lvmkit.lvm import lock
from lvmkit.ops import backup_preflight, cleanup, group, hooks
from lvmkit.runbooks import drill

PACKAGE = Path(__file__).resolve().parents[2] / "lvmkit"
SCRIPTS = sorted(PACKAGE.rglob("*.sh"))  # a new one is checked without being listed here


def test_package_has_its_scripts():
    names = {path.name for path in SCRIPTS}
    assert {"group_freeze.sh", "digest_hash.sh", "tethered.sh", "lock_create.sh", "guest-init.sh"} <= names


def test_every_script_in_the_package_passes_shellcheck(shellcheck):
    shellcheck(SCRIPTS)


@pytest.mark.parametrize("path", [p for p in SCRIPTS if p.name != "guest-init.sh"], ids=lambda p: p.name)
def test_script_names_its_shell_in_its_first_line(path):
    """guest-init.sh is the lab guest's /init and has a shebang; the others run as `sh -c` or `bash -c`."""
    assert path.read_text().startswith(f"{DIRECTIVE}sh\n") or path.read_text().startswith(f"{DIRECTIVE}bash\n")


def test_every_script_is_package_data():
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    assert "*.sh" in pyproject["tool"]["setuptools"]["package-data"]["*"]


def test_packaged_script_leaves_the_header_out():
    script = packaged_script("lvmkit.ops", "group_watchdog.sh")
    assert script.startswith("exec </dev/null >/dev/null 2>&1\n") and "shellcheck" not in script
    assert script == group._WATCHDOG


def test_packaged_script_without_directive_is_refused(tmp_path, monkeypatch):
    package = tmp_path / "scriptless"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "plain.sh").write_text('echo "$1"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="scriptless:plain.sh must begin with '# shellcheck shell=sh'"):
        packaged_script("scriptless", "plain.sh")


@pytest.mark.parametrize("script", [
    host._TETHERED, lock._CREATE, lock._LIST, lock._REMOVE_IF_SAME, digest.HASH_SCRIPT, backup_preflight._PROBE_DESTINATION,
    cleanup._LIST_PARTIALS, hooks._FIND_PROGRAM, group._FREEZE, group._WATCHDOG, batch.BATCH_SCRIPT,
    archive_set.SHA256_LINES, drill.FLOOD,
])
def test_loaded_scripts_are_commands_without_comments_first(script):
    assert script.strip() and not script.startswith("#") and script.endswith("\n")
