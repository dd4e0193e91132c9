"""Passages of the library's PDFs: every page, found by words, a quoted phrase, or meaning."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.params import Parameter

from ..library import Library
from ..models import PassageHit
from .shapes import MAX_K


class PassageQuery(msgspec.Struct, forbid_unknown_fields=True):
    """A passage query in a body: for a query longer than a URL holds (a pasted paragraph)."""

    q: Annotated[str, msgspec.Meta(min_length=1, max_length=10_000)]
    k: Annotated[int, msgspec.Meta(ge=1, le=MAX_K)] = 10
    paper: Annotated[str, msgspec.Meta(max_length=500)] | None = None
    per_paper: Annotated[int, msgspec.Meta(ge=0, le=MAX_K)] = 1


class PassageController(Controller):
    path = "/api/passages"
    tags = ["lookup"]

    @get(sync_to_thread=True, summary="Passages of the library's PDFs for a query (words, a \"quoted phrase\", or a "
                                      "question), best first, one per paper unless `per_paper` asks for more; "
                                      "`paper`: inside that paper's PDFs only. `file` is the PDF's path and `page` "
                                      "its 1-based page; `file_id` serves it (/api/files/{file_id}/link)")
    def passages(self, lib: Library, q: Annotated[str, Parameter(min_length=1, max_length=2000)],
                 k: Annotated[int, Parameter(ge=1, le=MAX_K)] = 10,
                 paper: Annotated[str | None, Parameter(max_length=500)] = None,
                 per_paper: Annotated[int, Parameter(ge=0, le=MAX_K)] = 1) -> list[PassageHit]:
        return lib.passages(q, k=k, paper=paper, per_paper=per_paper)

    @post(sync_to_thread=True, status_code=200, summary="The same, the query in a JSON body (up to 10,000 characters: "
                                                       "a URL holds 4,096 bytes)")
    def passages_for(self, lib: Library, data: PassageQuery) -> list[PassageHit]:
        return lib.passages(data.q, k=data.k, paper=data.paper, per_paper=data.per_paper)
