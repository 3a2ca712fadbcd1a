"""vagrant/sandbox leaves nothing behind when it is interrupted while the VM boots.

The run that completes checks itself (the sandbox fails when a process is left in its
namespaces); this is the harder case: SIGTERM while libvirtd, dnsmasq and QEMU are running.
It runs outside the sandbox (scripts/test --lvm-host=vagrant runs it first), needs root,
and builds the box if it is not cached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

SANDBOX = Path(__file__).resolve().parents[2] / "vagrant" / "sandbox"


def processes_naming(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        if text in cmdline and proc.name != str(os.getpid()):
            found.append(f"{proc.name}: {cmdline}")
    return found


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
        assert any("libvirtd" in p for p in running) and any("dnsmasq" in p for p in running)
        namespaces = {_net_namespace(p.split(":")[0]) for p in running} - {_net_namespace("self"), None}
        assert namespaces, "the sandbox's processes run in a network namespace of their own"

        sandbox.send_signal(signal.SIGTERM)
        assert sandbox.wait(timeout=120) == 143
    finally:
        if sandbox.poll() is None:
            os.killpg(sandbox.pid, signal.SIGKILL)
            sandbox.wait()
    assert processes_naming(work) == []
    assert not Path(work).exists(), "the work directory (libvirt's state, the VM's disk) is removed"
    in_namespaces = [pid for pid in os.listdir("/proc") if pid.isdigit() and _net_namespace(pid) in namespaces]
    assert in_namespaces == [], "no process is left in the sandbox's network namespace"
    assert not Path("/run/libvirt").exists(), "the machine's /run never saw libvirtd's sockets"


def _net_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None
