"""Passages of the library's PDFs: every page, found by words, a quoted phrase, or meaning."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter

from ..library import Library
from ..models import PassageHit
from .shapes import MAX_K


class PassageController(Controller):
    path = "/api/passages"
    tags = ["lookup"]

    @get(sync_to_thread=True, summary="Passages of the library's PDFs for a query (words, a \"quoted phrase\", or a "
                                      "question), best first, one per paper unless `per_paper` asks for more; "
                                      "`paper`: inside that paper's PDFs only. `file` is the PDF's path and `page` "
                                      "its 1-based page; `file_id` serves it (/api/files/{file_id}/link)")
    def passages(self, lib: Library, q: Annotated[str, Parameter(min_length=1, max_length=10_000)],
                 k: Annotated[int, Parameter(ge=1, le=MAX_K)] = 10,
                 paper: Annotated[str | None, Parameter(max_length=500)] = None,
                 per_paper: Annotated[int, Parameter(ge=0, le=MAX_K)] = 1) -> list[PassageHit]:
        return lib.passages(q, k=k, paper=paper, per_paper=per_paper)
