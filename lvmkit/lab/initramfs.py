"""A tiny initramfs for the lab guest: busybox, the few modules it needs, and its init."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from importlib import resources
from pathlib import Path

from lvmkit.core.errors import LabError
from lvmkit.core.host import Host
from lvmkit.lab.kernel import GuestKernel

# What the guest needs: 9p and overlay for its root, virtio-net for SSH, device-mapper
# targets for snapshots and thin pools, loop devices for the volume group, its filesystems.
# crc32c_generic comes before xfs: libcrc32c fails to load otherwise.
GUEST_MODULES = (
    "virtio_pci", "virtio_blk", "9pnet_virtio", "9p", "overlay", "virtio_net",
    "dm_mod", "dm_snapshot", "dm_thin_pool", "dm_zero", "loop",
    "ext4", "crc32c_generic", "xfs",
)
BUSYBOX = Path("/bin/busybox")


def ensure_initramfs(host: Host, kernel: GuestKernel, cache: Path) -> Path:
    """Build (once per kernel and init script) the guest's initramfs, an uncompressed cpio."""
    init_script = resources.files("lvmkit.lab").joinpath("guest-init.sh").read_bytes()
    image = cache / f"initramfs-{kernel.version}-{_short_hash(init_script)}.cpio"
    if image.exists():
        return image
    host.require_tools(["busybox", "cpio", "modprobe"])
    with tempfile.TemporaryDirectory(dir=cache) as staging:
        tree = Path(staging)
        for directory in ("bin", "dev", "proc", "sys", "tmp"):
            (tree / directory).mkdir()
        shutil.copy2(BUSYBOX, tree / "bin" / "busybox")
        (tree / "init").write_bytes(init_script)
        (tree / "init").chmod(0o755)
        load_order = [_copy_module(path, kernel, tree) for path in module_load_order(host, kernel)]
        (tree / "modules.load").write_text("\n".join(load_order) + "\n")
        members = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
        host.run(
            # -H newc: the only cpio format the kernel unpacks; --null: names end in NUL
            ["env", f"--chdir={tree}", "cpio", "--create", "--format=newc", "--null", "--quiet",
             f"--file={image}.partial"],
            input="\0".join(members) + "\0",
            changes=True,
        )
        Path(f"{image}.partial").rename(image)
    return image


def module_load_order(host: Host, kernel: GuestKernel) -> list[Path]:
    """Every .ko the guest needs, dependencies first, each once."""
    order: list[Path] = []
    for module in GUEST_MODULES:
        shown = host.run(
            ["modprobe", "--dirname", str(kernel.root), "--set-version", kernel.version,
             "--show-depends", module]
        ).stdout
        for line in shown.splitlines():
            words = line.split()
            if words[:1] == ["builtin"]:
                continue
            if words[:1] != ["insmod"] or len(words) < 2:
                raise LabError(f"unexpected line from modprobe --show-depends {module}: {line!r}")
            path = Path(words[1])
            if path not in order:
                order.append(path)
    return order


def _copy_module(path: Path, kernel: GuestKernel, tree: Path) -> str:
    inside = Path("/lib/modules") / kernel.version / path.relative_to(kernel.modules)
    (tree / inside.relative_to("/")).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(path, tree / inside.relative_to("/"))
    return str(inside)


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]
