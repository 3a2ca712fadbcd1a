"""The lab's bad-input paths, which need no guest."""

from __future__ import annotations

import json
import socket

import pytest

from lvmkit import cli, lab
from lvmkit.core.errors import LabError
from lvmkit.core.host import Host
from lvmkit.lab import vm
from lvmkit.lab.paths import LabPaths


@pytest.fixture
def paths(tmp_path, monkeypatch):
    monkeypatch.setenv("LVMKIT_LAB_DIR", str(tmp_path / "lab"))
    return LabPaths.default()


def test_down_with_no_lab_up_says_there_is_nothing_to_take_down(paths):
    with pytest.raises(LabError, match="no lab is up"):
        lab.down(Host(), paths)


def test_up_as_non_root_refuses_before_doing_anything(paths, monkeypatch):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    with pytest.raises(LabError, match="must run as root"):
        lab.up(Host(), paths)
    assert not paths.root.exists()


def test_check_port_free_with_taken_port_names_the_port_and_the_way_out():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LabError, match=rf"port {port} on 127.0.0.1 is taken.*--port"):
            vm.check_port_free(port)


def test_connect_with_dead_guest_says_no_lab_is_up(paths):
    paths.run.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({"kind": "vm", "started": "2026-11-26T00:00:00+00:00",
                                            "port": 2222, "pid": 999_999_999}))
    with pytest.raises(LabError, match="no lab is up"):
        lab.connect(Host(), paths)


def test_lab_status_with_dead_guest_explains_and_exits_1(paths, capsys):
    paths.run.mkdir(parents=True)
    paths.state_file.write_text(json.dumps({"kind": "vm", "started": "2026-11-26T00:00:00+00:00",
                                            "port": 2222, "pid": 999_999_999}))
    assert cli.main(["--journal", "/dev/null", "lab", "status"]) == 1
    assert "is gone (QEMU pid 999999999 is not running)" in capsys.readouterr().out


def test_cli_with_unparseable_host_exits_2_with_message(capsys):
    assert cli.main(["--journal", "/dev/null", "--host", "ssh://bad host", "status"]) == 2
    assert "cannot parse host 'ssh://bad host'" in capsys.readouterr().err


def test_is_gone_with_running_process_is_false_and_with_exited_one_true():
    import subprocess
    child = subprocess.Popen(["sleep", "5"])
    assert not vm.is_gone(child.pid)
    child.kill()
    child.wait()
    assert vm.is_gone(child.pid)
