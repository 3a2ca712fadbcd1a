"""The emulated lab guest: QEMU under software emulation, reachable over SSH on loopback."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

from lvmkit.core.errors import HostUnreachable, LabError
from lvmkit.core.host import Host, SshHost
from lvmkit.lab.initramfs import ensure_initramfs
from lvmkit.lab.kernel import ensure_kernel
from lvmkit.lab.paths import LabPaths

GUEST_MEMORY_MIB = 4096
GUEST_CPUS = 2
# SSH answers about 20 s after QEMU starts on a quiet machine; every other emulated guest
# slows the boot down (a third guest on a 2-core CI machine took over 240 s). The variable
# raises the limit there.
BOOT_TIMEOUT_VARIABLE = "LVMKIT_LAB_BOOT_TIMEOUT"
BOOT_TIMEOUT_S = 240
HOST_KEY_ALIAS = "lvmkit-lab"
# The guest's init splits /proc/cmdline at whitespace, unquoted: a path it is given must
# be one word without quotes or glob characters; and no comma, which ends a value in
# QEMU's -virtfs option.
KERNEL_PARAMETER_PATH = re.compile(r"/[A-Za-z0-9._:@%+=~/-]*")
KERNEL_COMMAND_LINE_MAX = 2047  # x86's COMMAND_LINE_SIZE is 2048 bytes, NUL included
HOST_TOOLS = ["qemu-system-x86_64", "ssh", "ssh-keygen", "busybox", "cpio", "modprobe",
              "depmod", "apt-get", "dpkg-deb", "sshd"]


def boot(host: Host, paths: LabPaths, port: int, checkout: Path, timeout_s: int = BOOT_TIMEOUT_S) -> int:
    """Start the guest in the background; return QEMU's pid once SSH answers.

    `checkout` (this repository) appears read-only at the same path in the guest, wherever
    it is: the guest runs the repository's provisioning script and, in benchmarks, lvmkit.
    """
    command_line = kernel_command_line(paths, checkout)
    host.require_tools(HOST_TOOLS)
    kernel = ensure_kernel(host, paths.cache)
    initramfs = ensure_initramfs(host, kernel, paths.cache)
    _ensure_keys(host, paths)
    for directory in (paths.run, paths.share):
        directory.mkdir(parents=True, exist_ok=True)
    paths.run.chmod(0o700)
    argv = [
        "qemu-system-x86_64",
        # The host's /dev/kvm is a nested hypervisor under which Debian's kernel hangs.
        "-accel", "tcg",
        "-m", str(GUEST_MEMORY_MIB), "-smp", str(GUEST_CPUS),
        "-kernel", str(kernel.vmlinuz), "-initrd", str(initramfs),
        "-append", command_line,
        "-no-reboot",
        "-display", "none", "-monitor", "none",
        "-serial", f"file:{paths.console_log}",
        # multidevs=remap: without it inode numbers of different host filesystems collide
        # in the guest and its mounts land on the wrong directories.
        "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        "-virtfs", f"local,path={paths.share},mount_tag=labshare,security_model=none,multidevs=remap",
        "-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:22",
        "-device", "virtio-net-pci,netdev=n0",
        *persistent_disk_options(paths),
        "-pidfile", str(paths.pidfile),
        "-daemonize",
    ]
    host.run(argv, changes=True)
    pid = int(paths.pidfile.read_text().split()[0])
    try:
        _wait_for_ssh(guest_host(paths, port, host), paths, pid, timeout_s)
    except BaseException:
        stop(pid)
        raise
    return pid


def persistent_disk_options(paths: LabPaths) -> list[str]:
    """The lab's persistent disk, when its file exists: /dev/vda in the guest, and the one
    thing of a lab that outlives its QEMU (everything else is tmpfs). What the guest
    wrote to it survives a SIGKILL of QEMU exactly as a disk survives a power cut: QEMU
    hands each write to the host at once (cache=writeback: into the host's page cache,
    which lives on), while what the guest kernel still held in its own page cache is lost.
    docs/durability.md uses it to cut the power right after a set is published."""
    if not paths.persistent_disk.exists():
        return []
    return ["-drive", f"file={paths.persistent_disk},format=raw,if=virtio,cache=writeback"]


def kernel_command_line(paths: LabPaths, checkout: Path) -> str:
    """The guest kernel's command line; refuses paths the guest's init could not read from it."""
    words = [
        # panic=-1 with QEMU's -no-reboot: a guest that panics ends QEMU instead of looping.
        "console=ttyS0", "rdinit=/init", "panic=-1", "quiet",
        _path_parameter("labdir", paths.root, "the lab directory", "set LVMKIT_LAB_DIR to such a path"),
        _path_parameter("checkout", checkout, "this checkout of lvmkit", "clone the repository to such a path"),
    ]
    command_line = " ".join(words)
    if len(command_line) > KERNEL_COMMAND_LINE_MAX:
        raise LabError(f"the lab guest's kernel command line would be {len(command_line)} bytes, over the "
                       f"kernel's {KERNEL_COMMAND_LINE_MAX}: use shorter paths for LVMKIT_LAB_DIR and the "
                       f"checkout ({paths.root}, {checkout})")
    return command_line


def _path_parameter(name: str, path: Path, what: str, remedy: str) -> str:
    text = str(path)
    if not KERNEL_PARAMETER_PATH.fullmatch(text):
        odd = sorted({c for c in text if not KERNEL_PARAMETER_PATH.fullmatch(f"/{c}")})
        named = ", ".join(repr(c) for c in odd) if odd else "a relative path"
        raise LabError(f"{what}, {text!r}, cannot be given to the lab guest on its kernel command line "
                       f"({named}): it takes absolute paths of letters, digits and ._:@%+=~/- only; {remedy}")
    return f"lvmkit.{name}={text}"


def guest_host(paths: LabPaths, port: int, local: Host) -> SshHost:
    return SshHost(
        journal=local.journal,
        dry_run=local.dry_run,
        user="root",
        address="127.0.0.1",
        port=port,
        identity_file=paths.client_key,
        known_hosts_file=paths.known_hosts,
        host_key_alias=HOST_KEY_ALIAS,
        connect_timeout_s=15,
        control_dir=paths.run / "ssh-control",
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def check_port_free(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            raise LabError(
                f"port {port} on 127.0.0.1 is taken ({error.strerror}): choose another with "
                f"--port, or leave --port out and the lab picks a free one"
            ) from None


def is_running(pid: int, pidfile: Path | None = None) -> bool:
    """QEMU runs as `pid`; with `pidfile`, the QEMU that writes it (a lab's own, not a pid
    reused by another lab's QEMU)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"qemu-system" in cmdline and (pidfile is None or bytes(pidfile) in cmdline.split(b"\0"))


def is_gone(pid: int) -> bool:
    """The process has exited: no such pid, or a zombie waiting for its parent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def stop(pid: int, grace_s: float = 10.0) -> None:
    """End QEMU: the guest keeps nothing worth a clean shutdown (all of it is tmpfs)."""
    if not is_running(pid):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    # Wait for the exit itself: QEMU's command line vanishes a moment before it is gone.
    while not is_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not is_gone(pid):
        os.kill(pid, signal.SIGKILL)
        while not is_gone(pid):
            time.sleep(0.1)


def console_tail(paths: LabPaths, lines: int = 20) -> str:
    try:
        text = paths.console_log.read_text(errors="replace")
    except OSError:
        return "(no console log)"
    if not text.strip():
        return "(nothing yet: the guest's kernel boots quietly, and its init writes only errors and, last, that it is ready)"
    return "\n".join(text.splitlines()[-lines:])


def _wait_for_ssh(guest: SshHost, paths: LabPaths, pid: int, timeout_s: int) -> None:
    began = time.monotonic()
    while True:
        if not is_running(pid):
            raise LabError(f"the lab guest stopped while booting; its console said:\n{console_tail(paths)}")
        try:
            guest.run(["true"], timeout=60)
            return
        except HostUnreachable:
            pass
        waited = time.monotonic() - began
        if waited > timeout_s:
            raise LabError(
                f"the lab guest did not answer SSH on 127.0.0.1:{guest.port} within {timeout_s} s (about "
                f"20 s on a quiet machine; other emulated guests slow it down): on a loaded machine set "
                f"{BOOT_TIMEOUT_VARIABLE} to a larger number of seconds; its console said:\n{console_tail(paths)}"
            )
        time.sleep(1)


def _ensure_keys(host: Host, paths: LabPaths) -> None:
    paths.ssh.mkdir(parents=True, exist_ok=True)
    paths.ssh.chmod(0o700)
    for key in (paths.client_key, paths.host_key):
        if not key.exists():
            # -N "": no passphrase, the key only opens the throwaway lab guest
            host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "lvmkit-lab",
                      "-f", str(key)], changes=True)
    host_public = Path(f"{paths.host_key}.pub").read_text().split()
    # The guest answers on a different port each time: its key is known under an alias instead.
    paths.known_hosts.write_text(f"{HOST_KEY_ALIAS} {host_public[0]} {host_public[1]}\n")
    (paths.ssh / "authorized_keys").write_text(Path(f"{paths.client_key}.pub").read_text())
    paths.sshd_config.write_text(
        "\n".join([
            "Port 22",
            f"HostKey {paths.host_key}",
            f"AuthorizedKeysFile {paths.ssh / 'authorized_keys'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",  # no PAM stack in the guest: every module load costs seconds under emulation
            "StrictModes no",  # the key files come over 9p with the host's ownership
            "UseDNS no",
            "PrintMotd no",
            "PidFile /run/sshd.pid",
            "MaxSessions 64",  # one multiplexed connection carries many parallel commands
            "MaxStartups 64",
            "",
        ])
    )
