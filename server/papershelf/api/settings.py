"""The library's own settings: completing papers from their registries (off until the user turns it on)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, patch
from litestar.exceptions import ValidationException

from ..enrich import EnrichState
from ..library import Library


class EnrichIn(msgspec.Struct, forbid_unknown_fields=True):
    """Turn completion on or off; the contact address the registries may write to (sent with each request)."""

    on: bool | None = None
    contact: Annotated[str, msgspec.Meta(max_length=320)] | None = None


class SettingsController(Controller):
    path = "/api/settings"
    tags = ["settings"]

    @get("/enrich", sync_to_thread=True,
         summary="Completion from Crossref, DataCite and arXiv: on or off, contact, papers waiting, answers kept")
    def enrich(self, lib: Library) -> EnrichState:
        return lib.enrich.state()

    @patch("/enrich", sync_to_thread=True, summary="Turn completion on or off, or set the contact address it sends")
    def set_enrich(self, lib: Library, data: EnrichIn) -> EnrichState:
        try:
            lib.enrich.configure(on=data.on, contact=data.contact)
        except ValueError as e:
            raise ValidationException(str(e)) from e
        return lib.enrich.state()
