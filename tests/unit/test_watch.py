"""Snapshot readings from the kernel's status lines, recorded in the lab."""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path

import pytest

from lvmkit.core.host import Host
from lvmkit.lvm.watch import dm_name, parse_status, read_snapshot


def test_parse_status_with_valid_snapshot_gives_usage_percent(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-rec_valid.txt"))
    assert reading.present and not reading.invalid
    assert reading.percent == round(100 * 24 / 16384, 2)


def test_parse_status_with_overflowed_snapshot_is_invalid(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-rec_overflowed.txt"))
    assert reading.invalid and reading.percent == 100.0


def test_parse_status_with_thin_pool_gives_data_usage(fixture_text):
    reading = parse_status(fixture_text("dmsetup/status-pool-tpool.txt"))
    assert not reading.invalid and reading.percent == round(100 * 877 / 8192, 2)


def test_read_snapshot_with_device_gone_reports_absent(lvm_script_host):
    reading = read_snapshot(lvm_script_host, "labvg", "gone")
    assert not reading.present and reading.invalid


def test_read_snapshot_with_thin_snapshot_reads_its_pool(lvm_script_host):
    assert read_snapshot(lvm_script_host, "labvg", "snap", thin_pool="pool").percent == 10.71


def test_read_snapshot_with_engine_pid_reads_its_bytes_in_the_same_command(lvm_script_host):
    reading = read_snapshot(lvm_script_host, "labvg", "rec_valid", engine_pid=4242)
    assert reading.percent == round(100 * 24 / 16384, 2)
    assert reading.bytes_read == 9000, "the largest count of the group: the reader, not the pipe behind it"


@pytest.fixture
def lvm_script_host(fixture_text):
    """A Host that runs the watch script itself, with dmsetup and pgrep replaced by recorded answers."""
    return FakeToolsHost(fixture_text)


class FakeToolsHost(Host):
    """Runs the real bash script of read_snapshot, on PATH tools that replay lab recordings."""

    def __init__(self, fixture_text):
        super().__init__()
        self.bin = Path(tempfile.mkdtemp())
        statuses = {"labvg-rec_valid": fixture_text("dmsetup/status-rec_valid.txt"),
                    "labvg-pool-tpool": fixture_text("dmsetup/status-pool-tpool.txt")}
        cases = "".join(f"  {name}) printf '%s' {shlex.quote(text)} ;;\n" for name, text in statuses.items())
        missing = shlex.quote(fixture_text("dmsetup/status-missing.stderr"))
        (self.bin / "dmsetup").write_text(f"#!/bin/sh\ncase \"$2\" in\n{cases}  *) printf '%s' {missing} >&2; exit 1 ;;\nesac\n")
        (self.bin / "pgrep").write_text("#!/bin/sh\n[ \"$2\" = 4242 ] && printf '4242\\n4243\\n'\n")
        (self.bin / "sed").write_text(
            "#!/bin/sh\ncase \"$3\" in */4242/io) echo 'rchar 9000' ;; */4243/io) echo 'rchar 8800' ;; esac\n")
        for tool in ("dmsetup", "pgrep", "sed"):
            (self.bin / tool).chmod(0o755)

    def environment(self):
        environment = super().environment()
        return {**environment, "PATH": f"{self.bin}:{environment['PATH']}"}


def test_dm_name_doubles_hyphens_inside_names():
    assert dm_name("vg-a", "lv-b") == "vg--a-lv--b"
