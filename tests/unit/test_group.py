"""Consistency groups: what can be checked without a lab."""

from __future__ import annotations

import os

import pytest

from lvmkit.core.errors import UsageError
from lvmkit.core.host import Host
from lvmkit.ops.group import _FREEZE, _version, parse_members


def test_parse_members_with_member_twice_names_it():
    with pytest.raises(UsageError, match="vg0/db is given twice"):
        parse_members("vg0/db,vg0/uploads,vg0/db")


def test_parse_members_with_bad_name_is_refused():
    with pytest.raises(UsageError, match="contains ';'"):
        parse_members("vg0/db;reboot")


def test_parse_members_keeps_order_and_allows_different_volume_groups():
    assert parse_members(" vg0/uploads , vg1/db ") == ("vg0/uploads", "vg1/db")


@pytest.mark.parametrize("text, version", [
    ("  LVM version:     2.03.16(2) (2022-05-18)", (2, 3, 16)), ("6.1.0-56-amd64", (6, 1, 0)), ("5.10", (5, 10)),
])
def test_version_reads_lvm_and_kernel_versions(text, version):
    assert _version(text) == version


@pytest.fixture
def fake_lvm(tmp_path, monkeypatch):
    """dmsetup and lvcreate that only write down how they were called."""
    log = tmp_path / "calls"
    for tool in ("dmsetup", "lvcreate"):
        script = tmp_path / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\ncase "$*" in *FAIL*) exit 5 ;; esac\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    return log


def freeze(tmp_path, *creates):
    argv = ["bash", "-c", _FREEZE, "bash", "0", str(tmp_path / "fired"), "vg-a", "vg-b", "--"]
    for create in creates:
        argv += [*create, "--next--"]
    return Host().run(argv[:-1], check=False)


def test_freeze_suspends_all_then_snapshots_each_then_resumes_all(tmp_path, fake_lvm):
    result = freeze(tmp_path, ["lvcreate", "-s", "-n", "a snap", "vg/a"], ["lvcreate", "-s", "-n", "b", "vg/b"])
    assert result.returncode == 0 and result.stdout.startswith("window ")
    assert fake_lvm.read_text().splitlines() == [
        "dmsetup suspend vg-a", "dmsetup suspend vg-b",
        "lvcreate -s -n a snap vg/a", "lvcreate -s -n b vg/b",
        "dmsetup resume vg-a", "dmsetup resume vg-b",
    ]


def test_freeze_with_failing_snapshot_still_resumes_every_member(tmp_path, fake_lvm):
    result = freeze(tmp_path, ["lvcreate", "-n", "FAIL", "vg/a"], ["lvcreate", "-n", "b", "vg/b"])
    assert result.returncode == 11
    calls = fake_lvm.read_text().splitlines()
    assert "lvcreate -n b vg/b" not in calls
    assert calls[-2:] == ["dmsetup resume vg-a", "dmsetup resume vg-b"]


def test_freeze_after_the_watchdog_fired_fails(tmp_path, fake_lvm):
    (tmp_path / "fired").touch()
    assert freeze(tmp_path, ["lvcreate", "vg/a"]).returncode == 12
