"""The Jupyter kernel that runs a runbook: this very Python, whatever kernelspecs exist.

Notebooks name the kernel `python3`. Looking that name up would find whichever kernelspec
comes first in Jupyter's path (a user's ~/.local one may point at another Python without
lvmkit). The kernel manager here answers every lookup with the interpreter running lvmkit,
so a runbook runs with the lvmkit that started it, on a machine where only
`scripts/bootstrap` ran.
"""

from __future__ import annotations

import os
import signal
import sys

from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from traitlets import default

KERNEL_NAME = "python3"


class ThisPythonSpecs(KernelSpecManager):
    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name=f"Python {sys.version_info.major}.{sys.version_info.minor} (lvmkit)",
            language="python",
            interrupt_mode="signal",
            env={"PYTHONUNBUFFERED": "1"},
        )


class ThisPythonKernelManager(AsyncKernelManager):
    @default("kernel_spec_manager")
    def _this_python_specs(self) -> KernelSpecManager:
        return ThisPythonSpecs(data_dir=self.data_dir)

    def interrupt(self, signum: int = signal.SIGINT) -> bool:
        """Send `signum` to the kernel's process group (it runs in a session of its own, so a
        terminal's Ctrl-C does not reach it); False when no kernel runs."""
        process = getattr(self.provisioner, "process", None) if self.provisioner else None
        if process is None or process.poll() is not None:
            return False
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            return False
        return True


def new_kernel_manager(runtime_dir: str) -> ThisPythonKernelManager:
    """A kernel manager whose kernel talks over sockets in `runtime_dir` (a private directory)."""
    # ipc: the kernel's sockets are files in a directory only this user can open, not TCP
    # ports on loopback that any local process could reach.
    return ThisPythonKernelManager(kernel_name=KERNEL_NAME, transport="ipc", ip=f"{runtime_dir}/kernel")
