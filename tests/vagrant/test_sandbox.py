"""vagrant/sandbox leaves nothing behind when it is interrupted while the VM boots.

The run that completes checks itself (the sandbox fails when a process is left in its
namespaces); this is the harder case: SIGTERM while libvirtd, dnsmasq and QEMU are running.
It runs outside the sandbox (scripts/test --lvm-host=vagrant runs it first), needs root,
and builds the box if it is not cached.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "vagrant" / "sandbox"


def processes_naming(text: str) -> list[str]:
    return [f"{pid}: {_command(pid)}" for pid in os.listdir("/proc")
            if pid.isdigit() and pid != str(os.getpid()) and text in _command(pid)]


def work_dirs() -> set[Path]:
    return set(Path("/var/tmp").glob("lvmkit-vagrant.*"))


@pytest.mark.lvm
def test_sandbox_interrupted_while_the_vm_boots_leaves_no_process_namespace_or_file(tmp_path):
    assert "VAGRANT_DOTFILE_PATH" not in os.environ, "run this test outside vagrant/sandbox"
    before = work_dirs()
    log = (tmp_path / "sandbox.log").open("w")
    sandbox = subprocess.Popen([str(SANDBOX), "sleep", "3600"], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 1800  # a cold box build included
        work = None
        while time.monotonic() < deadline and sandbox.poll() is None:
            new = work_dirs() - before
            if new:
                work = str(next(iter(new)))
                if any("qemu-system-x86_64" in p for p in processes_naming(work)):
                    break
            time.sleep(2)
        running = processes_naming(work) if work else []
        assert any("qemu-system-x86_64" in p for p in running), (tmp_path / "sandbox.log").read_text()
        namespaces = {_net_namespace(p.split(":")[0]) for p in running} - {_net_namespace("self"), None}
        assert len(namespaces) == 1, "the sandbox's processes run in a network namespace of their own"
        inside = " ".join(_command(pid) for pid in _pids_in(namespaces))
        assert all(name in inside for name in ("libvirtd", "dnsmasq", "qemu-system-x86_64")), inside

        sandbox.send_signal(signal.SIGTERM)
        assert sandbox.wait(timeout=120) == 143
    finally:
        if sandbox.poll() is None:  # the test failed before the sandbox ended: end it anyway
            os.killpg(sandbox.pid, signal.SIGKILL)
            sandbox.wait()
            if work:
                shutil.rmtree(work, ignore_errors=True)
    time.sleep(1)  # the kernel reaps the namespace's last processes just after its first
    assert processes_naming(work) == []
    assert not Path(work).exists(), "the work directory (libvirt's state, the VM's disk) is removed"
    assert _pids_in(namespaces) == [], "no process is left in the sandbox's network namespace"
    assert not Path("/run/libvirt").exists(), "the machine's /run never saw libvirtd's sockets"


def _net_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _pids_in(namespaces: set) -> list[str]:
    return [pid for pid in os.listdir("/proc") if pid.isdigit() and _net_namespace(pid) in namespaces]


def _command(pid: str) -> str:
    try:  # a process may be gone meanwhile
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""
