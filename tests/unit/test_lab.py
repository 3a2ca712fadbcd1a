"""The lab's bad-input paths, which need no guest."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lvmkit import cli, lab
from lvmkit.core.errors import CommandError, HostUnreachable, LabError
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


def test_lab_paths_with_shared_cache_variable_take_the_kernel_from_there(paths, monkeypatch, tmp_path):
    assert paths.cache == tmp_path / "lab" / "cache"
    monkeypatch.setenv("LVMKIT_LAB_CACHE", str(tmp_path / "other-lab" / "cache"))
    shared = LabPaths.default()
    assert shared.cache == tmp_path / "other-lab" / "cache"
    assert shared.ssh == tmp_path / "lab" / "ssh", "only the kernel and initramfs are shared"


def test_kernel_command_line_carries_the_lab_directory_and_the_checkout(paths, tmp_path):
    words = vm.kernel_command_line(paths, Path("/tmp/lvmkit")).split()
    assert f"lvmkit.labdir={paths.root}" in words
    assert "lvmkit.checkout=/tmp/lvmkit" in words


@pytest.mark.parametrize("checkout", ["/tmp/my clone", "/tmp/tab\there", "/tmp/it's", "/tmp/glob*",
                                      "/tmp/a,b", "relative/clone"])
def test_up_from_checkout_the_guest_cannot_be_told_refuses_before_doing_anything(paths, monkeypatch, checkout):
    monkeypatch.setattr("lvmkit.lab.CHECKOUT", Path(checkout))
    monkeypatch.setattr("lvmkit.lab.has_device_mapper", lambda: False)
    with pytest.raises(LabError, match=r"this checkout of lvmkit, .* cannot be given to the lab guest.*"
                                       r"clone the repository to such a path"):
        lab.up(Host(), paths)
    assert not paths.root.exists()


def test_up_with_lab_directory_the_guest_cannot_be_told_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("LVMKIT_LAB_DIR", str(tmp_path / "my lab"))
    monkeypatch.setattr("lvmkit.lab.has_device_mapper", lambda: False)
    with pytest.raises(LabError, match=r"the lab directory, .*' '.*set LVMKIT_LAB_DIR"):
        lab.up(Host(), LabPaths.default())
    assert not (tmp_path / "my lab").exists()


@pytest.mark.parametrize("variable", ["LVMKIT_LAB_PROVISION_TIMEOUT", "LVMKIT_LAB_BOOT_TIMEOUT"])
@pytest.mark.parametrize("value", ["fast", "30", "-5", ""])
def test_up_with_a_time_limit_that_is_no_time_limit_names_the_variable(paths, monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr("lvmkit.lab.has_device_mapper", lambda: True)
    with pytest.raises(LabError, match=rf"{variable}=.* give whole seconds, 60 or more"):
        lab.up(Host(), paths)
    assert not paths.root.exists()


def test_provisioning_that_runs_out_of_time_says_which_variable_raises_the_limit(paths, monkeypatch):
    monkeypatch.setenv("LVMKIT_LAB_PROVISION_TIMEOUT", "60")
    monkeypatch.setattr("lvmkit.lab.has_device_mapper", lambda: True)
    ran = []

    def run(argv, **kwargs):
        ran.append(kwargs["timeout"])
        raise CommandError("local", argv, 124, "lvmkit: timed out after 60 s")

    monkeypatch.setattr(Host, "run", lambda self, argv, **kwargs: run(argv, **kwargs))
    with pytest.raises(LabError, match="did not finish within 60 s; .* set LVMKIT_LAB_PROVISION_TIMEOUT"):
        lab.up(Host(), paths)
    assert ran == [60]


def test_kernel_command_line_too_long_for_the_kernel_is_refused(tmp_path):
    deep = LabPaths(Path("/" + "d" * 2100))
    with pytest.raises(LabError, match="over the kernel's 2047"):
        vm.kernel_command_line(deep, Path("/tmp/lvmkit"))


def test_the_persistent_disk_is_attached_only_when_its_file_exists(tmp_path):
    from lvmkit.lab.vm import persistent_disk_options

    paths = LabPaths(tmp_path)
    assert persistent_disk_options(paths) == []
    paths.persistent_disk.write_bytes(b"")
    assert persistent_disk_options(paths) == [
        "-drive", f"file={tmp_path}/persistent.img,format=raw,if=virtio,cache=writeback"]


@pytest.fixture
def half_booted(paths):
    """A lab whose `lab up` was killed while QEMU booted: QEMU's pidfile, no lab.json. A
    process named as QEMU and carrying its -pidfile argument stands in for it."""
    paths.run.mkdir(parents=True)
    stand_in = subprocess.Popen(["bash", "-c", 'exec -a qemu-system-x86_64 "$@"', "bash",
                                 sys.executable, "-c", "import time; time.sleep(60)", "-pidfile", str(paths.pidfile)])
    paths.pidfile.write_text(f"{stand_in.pid}\n")
    deadline = time.monotonic() + 10
    while not vm.is_running(stand_in.pid, paths.pidfile):  # until bash has exec'd
        assert time.monotonic() < deadline, "the stand-in did not start"
        time.sleep(0.02)
    yield stand_in
    stand_in.kill()
    stand_in.wait()


def test_down_with_a_half_booted_lab_stops_its_qemu_and_removes_its_run_files(paths, half_booted):
    state = lab.down(Host(), paths)
    assert state.pid == half_booted.pid
    assert half_booted.wait(timeout=10) is not None, "QEMU is stopped"
    assert not paths.run.exists()


def test_up_with_a_half_booted_lab_refuses_and_names_lab_down(paths, half_booted):
    with pytest.raises(LabError, match=rf"QEMU \(pid {half_booted.pid}\).*`lvmkit lab down`"):
        lab.up(Host(), paths, use_vm=True)
    assert half_booted.poll() is None and paths.pidfile.exists(), "the booting lab is left alone"


def test_a_pidfile_naming_another_labs_qemu_is_not_this_labs(paths, half_booted, tmp_path):
    assert not vm.is_running(half_booted.pid, tmp_path / "other-lab" / "run" / "qemu.pid")
    assert vm.is_running(half_booted.pid) and vm.is_running(half_booted.pid, paths.pidfile)


class _SilentGuest:
    """A guest whose SSH never answers."""
    port = 2222

    def run(self, argv, **kwargs):
        raise HostUnreachable("ssh: connect to host 127.0.0.1 port 2222: Connection refused")


def test_a_guest_that_does_not_answer_in_time_names_the_variable_and_an_empty_console(paths, half_booted):
    paths.console_log.write_text("")
    with pytest.raises(LabError, match=r"within 0 s .* set LVMKIT_LAB_BOOT_TIMEOUT .*\n\(nothing yet: .* kernel boots quietly"):
        vm._wait_for_ssh(_SilentGuest(), paths, half_booted.pid, timeout_s=0)


def test_a_guest_that_does_not_answer_in_time_shows_the_end_of_its_console(paths, half_booted):
    paths.console_log.write_text("".join(f"line {n}\n" for n in range(30)))
    with pytest.raises(LabError) as raised:
        vm._wait_for_ssh(_SilentGuest(), paths, half_booted.pid, timeout_s=0)
    assert str(raised.value).endswith("its console said:\n" + "\n".join(f"line {n}" for n in range(10, 30)))
