"""The backup engines by name; `get_engine` is the way in for everything else."""

from __future__ import annotations

from lvmkit.archive.engines.base import Engine, EngineOption
from lvmkit.archive.engines.borg import BorgEngine
from lvmkit.archive.engines.dar import DarEngine
from lvmkit.archive.engines.dd import DdEngine
from lvmkit.archive.engines.fsarchiver import FsarchiverEngine
from lvmkit.archive.engines.partclone import PartcloneEngine
from lvmkit.archive.engines.restic import ResticEngine
from lvmkit.archive.engines.rsync import RsyncEngine
from lvmkit.archive.engines.tar import TarEngine
from lvmkit.core.errors import UsageError

# fsarchiver first: the seed's tool and the default.
ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        FsarchiverEngine(), TarEngine(), DarEngine(), RsyncEngine(), DdEngine(), PartcloneEngine(),
        ResticEngine(), BorgEngine(),  # repositories: the set holds their report (engines.repository)
    )
}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}") from None


__all__ = ["ENGINES", "Engine", "EngineOption", "get_engine"]
