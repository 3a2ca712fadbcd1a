"""Application hooks, run for real on this machine (a hook runs the same way on any host)."""

from __future__ import annotations

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.ops.hooks import Hook, HookFailed


def test_parse_splits_like_a_shell_without_expanding():
    hook = Hook.parse("pre-snapshot", "/usr/bin/psql -c 'SELECT pg_backup_start($$x$$)'", 30)
    assert hook.argv == ("/usr/bin/psql", "-c", "SELECT pg_backup_start($$x$$)")
    assert hook.run_argv()[:3] == ["timeout", "--kill-after=5", "30"]


@pytest.mark.parametrize("text, message", [("", "is empty"), ("'unclosed", "cannot be split")])
def test_parse_with_bad_text_says_what_is_wrong(text, message):
    with pytest.raises(UsageError, match=message):
        Hook.parse("pre-snapshot", text, 30)


def test_run_with_hanging_hook_stops_it_at_the_timeout():
    with pytest.raises(HookFailed, match="`sleep 30` did not finish within 0.5 s and was stopped"):
        Hook.parse("pre-snapshot", "sleep 30", 0.5).run(Host())


def test_run_with_failing_hook_names_its_exit_code_and_stderr():
    with pytest.raises(HookFailed, match=r"failed with exit code 3: database busy"):
        Hook.parse("post-snapshot", "sh -c 'echo database busy >&2; exit 3'", 5).run(Host())


def test_check_with_missing_or_non_executable_program_fails(tmp_path):
    script = tmp_path / "hook.sh"
    script.write_text("#!/bin/sh\n")
    assert not Hook.parse("pre-snapshot", str(script), 5).check(Host()).passed
    script.chmod(0o755)
    assert Hook.parse("pre-snapshot", str(script), 5).check(Host()).passed
    missing = Hook.parse("pre-snapshot", "lvmkit-no-such-hook", 5).check(Host())
    assert not missing.passed and "give its full path" in missing.detail


def test_check_finds_a_program_that_is_also_a_shell_builtin():
    check = Hook.parse("pre-snapshot", "false", 5).check(Host())
    assert check.passed and check.detail.endswith("/false")
