"""What the resources share: limits, the library dependency, the paper filters of the query string, error
bodies, and the helper that streams a blocking generator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import Parameter

from ..digest import DigestService
from ..library import Library
from ..models import Filters, PaperQuery
from ..sources import Sources

MAX_PAGE = 200
MAX_BATCH = 200
MAX_K = 100
MAX_BULK = 100_000


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


def provide_library(state: State) -> Library:
    """The one Library of this server."""
    return state.library


def provide_digest(state: State) -> DigestService:
    """The digest the Library wires: its controllers get it, not the whole Library."""
    return state.library.digest


def provide_sources(state: State) -> Sources:
    """The followed sources the Library wires."""
    return state.library.sources


def filters_from(year_min: int | None, year_max: int | None, tag: list[str] | None, exclude: list[str] | None
             ) -> Filters:
    return Filters(year_min=year_min, year_max=year_max, tags=tag or [], exclude=exclude or [])


def resolve_exclude(lib: Library, refs: list[str]) -> list[str]:
    """Library ids for references to exclude (unknown ones are ignored)."""
    return [pid for r in refs if (pid := lib.find(r))]


def paper_query(tag: Annotated[list[Annotated[str, Parameter(max_length=200)]] | None, Parameter(max_length=20)] = None,
                year: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                year_min: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                year_max: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                venue: Annotated[str | None, Parameter(max_length=1000)] = None,
                source: Annotated[str | None, Parameter(max_length=200)] = None,
                no_abstract: bool = False, not_embedded: bool = False, pdf: bool | None = None,
                q: Annotated[str | None, Parameter(max_length=500)] = None,
                trashed: bool = False) -> PaperQuery:
    """The filters /api/papers, /api/facets and /api/export share, from the query string: every `tag`, a year
    (or a range), venue, source, no abstract, not embedded yet, has a PDF (pdf=true) or none (pdf=false), `q`
    in the title or authors, the trash."""
    return PaperQuery(text=q or "", tags=tag or [], year_min=year if year is not None else year_min,
                      year_max=year if year is not None else year_max, venue=venue or "", source=source or "",
                      no_abstract=no_abstract, not_embedded=not_embedded, trashed=trashed, pdf=pdf)


FILTERS = {"filters": Provide(paper_query, sync_to_thread=False)}


def bad_request(_: Request, exc: Exception) -> Response:
    """A feed, digest or email request that cannot be done: 400 with the reason."""
    return Response({"status_code": 400, "detail": str(exc)}, status_code=400)


async def threaded(chunks) -> AsyncIterator[str]:
    """Drain a blocking generator (DuckDB reads) in a worker thread, chunk by chunk."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        yield chunk
