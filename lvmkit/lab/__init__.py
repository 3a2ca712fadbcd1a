"""The lab: real LVM on loop-backed volume groups, wherever this machine allows it.

On a host whose kernel has device-mapper, the lab is a loop-backed volume group on the
host itself. On a host without it, the lab is a QEMU guest under software emulation
(see `vm.py`) with the same volume group inside. Both are built by `vagrant/provision.sh`
of this checkout, which the guest sees at the same path wherever the checkout lives.
The design, and the measured behaviour the code relies on, are in docs/lab.md.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from lvmkit.core.errors import CommandError, LabError
from lvmkit.core.host import Host, utc_now
from lvmkit.lab import vm
from lvmkit.lab.paths import LabPaths

CHECKOUT = Path(__file__).resolve().parents[2]  # the repository this lvmkit runs from
PROVISION_SCRIPT = CHECKOUT / "vagrant" / "provision.sh"
LAB_VG = "labvg"
# Building the volume group takes about 40 s in a quiet lab; on a machine running several
# emulated guests it took over 900 s. The variable raises the limit there.
PROVISION_TIMEOUT_VARIABLE = "LVMKIT_LAB_PROVISION_TIMEOUT"
PROVISION_TIMEOUT_S = 900


@dataclass(frozen=True)
class LabState:
    kind: str  # "vm": the emulated guest; "local": loop devices on this host
    started: str
    port: int | None = None
    pid: int | None = None


def has_device_mapper() -> bool:
    # /dev/mapper/control can exist (lvm2's packaging creates it) while the kernel lacks
    # the driver; the kernel's list of misc devices tells the truth.
    try:
        return any(line.split()[1:] == ["device-mapper"] for line in Path("/proc/misc").read_text().splitlines())
    except OSError:
        return False


def read_state(paths: LabPaths) -> LabState | None:
    try:
        return LabState(**json.loads(paths.state_file.read_text()))
    except FileNotFoundError:
        return None


def is_up(state: LabState | None) -> bool:
    if state is None:
        return False
    return state.kind == "local" or (state.pid is not None and vm.is_running(state.pid))


def up(local: Host, paths: LabPaths, *, port: int | None = None, use_vm: bool | None = None) -> LabState:
    """Bring the lab up and build its volume group; refuse when one is up already."""
    if os.geteuid() != 0:
        raise LabError("`lvmkit lab up` must run as root: it creates loop devices, volume groups and "
                       f"files under {paths.root}; run it with sudo")
    state = read_state(paths)
    if is_up(state):
        where = f"QEMU pid {state.pid}, SSH on 127.0.0.1:{state.port}" if state.kind == "vm" else "on this host"
        raise LabError(f"a lab is up already ({where}, since {state.started}); use it, or `lvmkit lab down` first")
    booting = _half_booted(paths) if state is None else None
    if booting is not None:
        raise LabError(f"a lab's QEMU (pid {booting}) runs without a finished `lvmkit lab up`: another "
                       "`lab up` is still booting it, or was killed before it finished; wait for it, or "
                       "stop it with `lvmkit lab down`")
    if state is not None:  # a lab that died without `lab down`
        _forget(paths)
    _require_provision_script()
    boot_timeout = time_limit(vm.BOOT_TIMEOUT_VARIABLE, vm.BOOT_TIMEOUT_S)
    timeout = time_limit(PROVISION_TIMEOUT_VARIABLE, PROVISION_TIMEOUT_S)
    if use_vm is None:
        use_vm = not has_device_mapper()
    if not use_vm:
        state = LabState(kind="local", started=utc_now().isoformat())
        _provision(local, paths, timeout)
    else:
        if port is None:
            port = vm.free_port()
        else:
            vm.check_port_free(port)
        pid = vm.boot(local, paths, port, CHECKOUT, boot_timeout)
        state = LabState(kind="vm", started=utc_now().isoformat(), port=port, pid=pid)
        try:
            _provision(vm.guest_host(paths, port, local), paths, timeout)
        except BaseException:
            vm.stop(pid)
            _forget(paths)
            raise
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.state_file.write_text(json.dumps(asdict(state), indent=2) + "\n")
    return state


def time_limit(variable: str, default_s: int) -> int:
    """A limit in seconds from the environment: the lab's defaults suit a quiet machine."""
    raw = os.environ.get(variable, str(default_s))
    if not raw.isdigit() or int(raw) < 60:
        raise LabError(f"{variable}={raw!r} is not a time limit: give whole seconds, 60 or more "
                       f"(default {default_s})")
    return int(raw)


def _provision(host: Host, paths: LabPaths, timeout: int) -> None:
    try:
        host.run(_provision_argv(paths, []), changes=True, timeout=timeout)
    except CommandError as error:
        if error.returncode != 124:  # timeout(1)'s code, which Host.run gives a command it stopped
            raise
        raise LabError(f"building the lab's volume group did not finish within {timeout} s; on a loaded "
                       f"machine set {PROVISION_TIMEOUT_VARIABLE} to a larger number of seconds") from error


def down(local: Host, paths: LabPaths) -> LabState:
    """Stop the lab and remove every trace of it (guest, loop devices, run files)."""
    state = read_state(paths)
    if state is None:
        booting = _half_booted(paths)
        if booting is None:
            raise LabError(f"no lab is up (no {paths.state_file}); nothing to take down")
        started = datetime.fromtimestamp(paths.pidfile.stat().st_mtime, timezone.utc).isoformat()
        vm.stop(booting)
        _forget(paths)
        return LabState(kind="vm", started=started, pid=booting)
    if state.kind == "local":
        local.run(_provision_argv(paths, ["--destroy"]), changes=True, timeout=300)
    else:
        host = vm.guest_host(paths, state.port, local)
        if state.pid is not None:
            vm.stop(state.pid)
        host.close()
    _forget(paths)
    return state


def connect(local: Host, paths: LabPaths | None = None) -> Host:
    """A Host that runs commands in the running lab."""
    paths = paths or LabPaths.default()
    state = read_state(paths)
    if not is_up(state):
        raise LabError("no lab is up: start one with `lvmkit lab up`")
    if state.kind == "local":
        return local
    return vm.guest_host(paths, state.port, local)


def _provision_argv(paths: LabPaths, arguments: list[str]) -> list[str]:
    return ["env", f"LVMKIT_LOOP_DIR={paths.loops}", f"LVMKIT_LAB_VG={LAB_VG}",
            "bash", str(PROVISION_SCRIPT), *arguments]


def _require_provision_script() -> None:
    if not PROVISION_SCRIPT.exists():
        raise LabError(
            f"{PROVISION_SCRIPT} is missing: the lab is built by the repository's "
            f"vagrant/provision.sh; run lvmkit from a clone of the repository (pip install -e .)"
        )


def _half_booted(paths: LabPaths) -> int | None:
    """The pid of this lab's QEMU when it runs without a state file: its `lab up` is still
    booting or provisioning it, or was killed first (SIGKILL; a caller's timeout, as
    Python's subprocess.run kills its child on Ctrl-C). lab.json is written only once the
    lab is ready, so `lab down` would otherwise leave that QEMU running."""
    try:
        pid = int(paths.pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if vm.is_running(pid, paths.pidfile) else None


def _forget(paths: LabPaths) -> None:
    shutil.rmtree(paths.run, ignore_errors=True)
    if paths.share.exists():
        shutil.rmtree(paths.share, ignore_errors=True)
