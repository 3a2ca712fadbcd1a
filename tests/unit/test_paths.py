"""core/paths.py: a path that reaches a command is absolute, normalised, and safe."""

from __future__ import annotations

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.core.paths import target_path


@pytest.mark.parametrize("value", ["/backups", "/", "/srv/lvmkit-lab/share/backups/labvg-ext4vol-x", "/a b/c"])
def test_target_path_with_absolute_normal_path_returns_it(value):
    assert target_path(value, "--dest") == value


@pytest.mark.parametrize("value, says", [
    ("-delete", "begins with '-'"),
    ("--", "begins with '-'"),
    ("backups", "relative"),
    ("./backups", "relative"),
    ("/backups/../etc", "'..'"),
    ("/backups/", "not normalised: give '/backups'"),
    ("/backups//x", "not normalised: give '/backups/x'"),
    ("/backups/./x", "not normalised"),
    ("//backups", "not normalised: give '/backups'"),
    ("/back\nups", "line break"),
    ("", "a path is needed"),
])
def test_target_path_with_unsafe_path_names_it_and_what_to_give(value, says):
    with pytest.raises(UsageError) as error:
        target_path(value, "--dest")
    assert "--dest" in str(error.value) and says in str(error.value)
