"""GET /api/health: is the server up (the one route that needs no token)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.datastructures import State

from .. import __version__


class Health(msgspec.Struct):
    name: str
    version: str
    ready: bool


class HealthController(Controller):
    path = "/api/health"
    tags = ["health"]

    @get(sync_to_thread=False, summary="Is the server up (no token needed)")
    def health(self, state: State) -> Health:
        return Health(name="papershelf", version=__version__, ready=state.library is not None)
