"""Debian's own kernel for the lab guest, unpacked without installing it."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lvmkit.core.errors import LabError
from lvmkit.core.host import Host

META_PACKAGE = "linux-image-amd64"


@dataclass(frozen=True)
class GuestKernel:
    version: str  # e.g. 6.1.0-56-amd64
    root: Path  # the unpacked package: boot/ and lib/modules/VERSION/

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.version}"

    @property
    def modules(self) -> Path:
        return self.root / "lib" / "modules" / self.version


def ensure_kernel(host: Host, cache: Path) -> GuestKernel:
    """Download and unpack Debian's current kernel into `cache`, once."""
    for done in sorted(cache.glob("*/.complete")):
        kernel = GuestKernel(done.parent.name, done.parent)
        if kernel.vmlinuz.exists():
            return kernel
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as download:
        meta = _download(host, META_PACKAGE, Path(download))
        depends = host.run(["dpkg-deb", "--field", str(meta), "Depends"]).stdout
        match = re.search(r"linux-image-(\d[^\s,(]*)", depends)
        if not match:
            raise LabError(f"cannot tell the kernel package from {META_PACKAGE}'s Depends: {depends!r}")
        version = match.group(1)
        package = _download(host, f"linux-image-{version}", Path(download))
        root = cache / version
        host.run(["dpkg-deb", "--extract", str(package), str(root)], changes=True)
    # The package's postinst never ran, so the module index does not exist yet.
    host.run(["depmod", "--basedir", str(root), version], changes=True)
    (root / ".complete").touch()
    return GuestKernel(version, root)


def _download(host: Host, package: str, directory: Path) -> Path:
    # `apt-get download` writes into the working directory; run it through env's --chdir.
    host.run(["env", f"--chdir={directory}", "apt-get", "download", "--quiet", package], changes=True)
    found = sorted(directory.glob(f"{package}_*.deb"))
    if not found:
        raise LabError(f"apt-get download {package} produced no .deb in {directory}")
    return found[-1]
