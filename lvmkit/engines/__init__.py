"""The backup engines by name; `get_engine` is the way in for everything else."""

from __future__ import annotations

from ..errors import UsageError
from .base import Engine, EngineOption
from .dar import DarEngine
from .dd import DdEngine
from .fsarchiver import FsarchiverEngine
from .partclone import PartcloneEngine
from .rsync import RsyncEngine
from .tar import TarEngine

# fsarchiver first: the seed's tool and the default.
ENGINES: dict[str, Engine] = {
    engine.name: engine
    for engine in (
        FsarchiverEngine(), TarEngine(), DarEngine(), RsyncEngine(), DdEngine(), PartcloneEngine(),
    )
}


def get_engine(name: str) -> Engine:
    try:
        return ENGINES[name]
    except KeyError:
        raise UsageError(f"unknown engine {name!r}; known engines: {', '.join(ENGINES)}") from None


__all__ = ["ENGINES", "Engine", "EngineOption", "get_engine"]
