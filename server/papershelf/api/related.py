"""Related papers (to a library paper, a text, or a paper not in the library) and search."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from .. import clean
from ..library import Library
from ..models import Filters, RelatedHit, SearchHit
from .shapes import MAX_K, filters_from, resolve_exclude


class RelatedIn(msgspec.Struct, forbid_unknown_fields=True):
    """A paper that is not (necessarily) in the library."""

    title: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    abstract: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    k: Annotated[int, msgspec.Meta(ge=1, le=MAX_K)] = 10
    exclude: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=500)] = []
    year_min: int | None = None
    year_max: int | None = None
    tags: Annotated[list[str], msgspec.Meta(max_length=50)] = []


class RelatedController(Controller):
    path = "/api/related"
    tags = ["lookup"]

    @get(sync_to_thread=True, summary="Related papers: to a library paper (id) or to a text")
    def related(self, lib: Library,
                id: Annotated[str | None, Parameter(max_length=500)] = None,
                text: Annotated[str | None, Parameter(max_length=2000)] = None,
                k: Annotated[int, Parameter(ge=1, le=MAX_K)] = 10,
                year_min: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                year_max: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                tag: Annotated[list[str] | None, Parameter(max_length=50)] = None,
                exclude: Annotated[list[str] | None, Parameter(max_length=100)] = None) -> list[RelatedHit]:
        if bool(id) == bool(text):
            raise ValidationException("give exactly one of id or text")
        f = filters_from(year_min, year_max, tag, resolve_exclude(lib, exclude or []))
        return lib.related(id, k=k, filters=f) if id else lib.related_text(text, k=k, filters=f)

    @post(sync_to_thread=True, status_code=200, summary="Related papers to a paper not in the library")
    def related_to_paper(self, lib: Library, data: RelatedIn) -> list[RelatedHit]:
        text = f"{clean.text(data.title)}. {clean.abstract(data.abstract)}".strip(". ")  # a page's markup is not its text
        if not text:
            raise ValidationException("give a title or an abstract")
        f = Filters(year_min=data.year_min, year_max=data.year_max, tags=data.tags,
                    exclude=resolve_exclude(lib, data.exclude))
        return lib.related_text(text, k=data.k, filters=f)


class SearchController(Controller):
    path = "/api/search"
    tags = ["lookup"]

    @get(sync_to_thread=True, summary="Hybrid keyword + semantic search over the library")
    def search(self, lib: Library, q: Annotated[str, Parameter(min_length=1, max_length=500)],
               k: Annotated[int, Parameter(ge=1, le=MAX_K)] = 20,
               year_min: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
               year_max: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
               tag: Annotated[list[str] | None, Parameter(max_length=50)] = None) -> list[SearchHit]:
        return lib.search(q, k=k, filters=filters_from(year_min, year_max, tag, None))
