"""Is a page's paper in the library, and what is related to it: one call per page (streamed in two parts for
the panel), and which of a listing's papers are in the library."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import ValidationException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, Schema
from litestar.params import Parameter
from litestar.response import Stream

from .. import clean, ids
from ..library import Library
from ..models import Paper, RelatedHit
from .shapes import MAX_BATCH, MAX_K, threaded


class Lookup(msgspec.Struct):
    """Is this page's paper in the library, and what in the library is related to it."""

    found: bool
    paper: Paper | None
    related: list[RelatedHit]
    library_size: int


class PageFound(msgspec.Struct):
    """The first line of a streamed page lookup: the page's paper in the library, or not, and the server's time
    for it."""

    found: bool
    paper: Paper | None
    library_size: int
    took_ms: float


class PageRelated(msgspec.Struct):
    """A later line: what in the library is related to the page's paper, and the server's time for it. With
    `words_first`, a paper not in the library gets two: the page's words alone first (`final` false), then the
    ranking of its embedded text too, which replaces it."""

    related: list[RelatedHit]
    took_ms: float
    final: bool = True


class PageIn(msgspec.Struct, forbid_unknown_fields=True):
    """The paper on a page: found by its identifiers, URL or title; related by its title and abstract."""

    refs: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=100)] = []
    url: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    title: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    abstract: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    k: Annotated[int, msgspec.Meta(ge=0, le=MAX_K)] = 5
    # Streamed only: for a paper not in the library, a first related list from the page's words (milliseconds)
    # before the one that waits for its text's embedding (on a slow machine, a few hundred).
    words_first: bool = False
    # With words_first: that first list, and nothing after it (the panel asks again, without these two, once it
    # has drawn it: the embedding would take the CPU the page needs to draw on a one-core machine).
    words_only: bool = False


class BatchIn(msgspec.Struct, forbid_unknown_fields=True):
    ids: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=MAX_BATCH)]
    # Optional titles by the same keys: a paper in the library without that identifier is found by title.
    titles: Annotated[dict[str, Annotated[str, msgspec.Meta(max_length=1000)]], msgspec.Meta(max_length=MAX_BATCH)] = {}


class BatchItem(msgspec.Struct):
    found: bool
    id: str | None = None
    title: str | None = None


class BatchOut(msgspec.Struct):
    results: dict[str, BatchItem]


def _find_page_paper(lib: Library, refs: list[str], title: str) -> Paper | None:
    """The library paper a page shows: by the first identifier or URL that resolves, else by title; never
    one in the trash (that is not "in your library")."""
    _need_page_ref(refs, title)
    pid = next((p for r in refs if (p := lib.find(r))), None)
    if pid is None and title:
        pid = lib.find_by_title(title)
    paper = lib.get(pid) if pid else None
    return paper if paper is not None and paper.deleted_at is None else None


def _need_page_ref(refs: list[str], title: str) -> None:
    if not refs and not title:
        raise ValidationException("give an identifier (ref, arxiv, doi), a url or a title")


def _page_parts(lib: Library, data: PageIn) -> Iterator[list[PageFound | PageRelated]]:
    """A page's lookup in parts, each as soon as it is known, in groups sent together: the paper (found or not),
    then what is related to it. A paper not in the library is related by its title and abstract (on one core, by
    their first tokens), embedded once: saving it next reuses the whole text's vector (Library.related_page).

    With words_first (the panel's call) the page needs as few messages, and renders, as it can: a paper in the
    library comes with its related papers (its vector is stored: milliseconds); a paper not in the library with
    the list its words give, then the final list (not with words_only: the caller asks for it later)."""
    started = time.perf_counter()
    title, abstract = clean.text(data.title), clean.abstract(data.abstract)  # a page's markup is not its text
    paper = _find_page_paper(lib, data.refs + ([data.url] if data.url else []), title)
    size = lib.size()
    found = PageFound(found=paper is not None, paper=paper, library_size=size,
                      took_ms=round((time.perf_counter() - started) * 1000, 1))
    waiting = [found]  # what goes out with the next group
    if not data.words_first:
        yield waiting
        waiting = []
    started = time.perf_counter()
    if paper is not None:
        related = lib.related(paper.id, k=data.k) if data.k else []
    elif data.k and size and (title or abstract):
        if data.words_first and not lib.page_vector_known(title, abstract):
            words = lib.related_page(title, abstract, k=data.k, words_only=True)
            yield [*waiting, PageRelated(related=words, final=False, took_ms=round((time.perf_counter() - started) * 1000, 1))]
            if data.words_only:
                return
            waiting = []
            started = time.perf_counter()
        related = lib.related_page(title, abstract, k=data.k)
    else:
        related = []
    yield [*waiting, PageRelated(related=related, took_ms=round((time.perf_counter() - started) * 1000, 1))]


@dataclass
class LinesOperation(Operation):
    """A streamed page lookup: JSON lines, PageFound then PageRelated (two of them with words_first)."""

    def __post_init__(self) -> None:
        ok = self.responses and self.responses.get("200")
        if ok is not None and not isinstance(ok, Reference):
            ok.content = {"application/x-ndjson": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}


class LookupController(Controller):
    path = "/api/lookup"
    tags = ["lookup"]

    @get(sync_to_thread=True, summary="Is this paper in the library, and its related papers (one call per page)")
    def lookup(self, lib: Library,
               url: Annotated[str | None, Parameter(max_length=2000)] = None,
               arxiv: Annotated[str | None, Parameter(max_length=100)] = None,
               doi: Annotated[str | None, Parameter(max_length=300)] = None,
               ref: Annotated[list[str] | None, Parameter(max_length=20)] = None,
               title: Annotated[str | None, Parameter(max_length=1000)] = None,
               k: Annotated[int, Parameter(ge=0, le=MAX_K)] = 5) -> Lookup:
        refs = ([f"arxiv:{arxiv}"] if arxiv else []) + ([f"doi:{doi}"] if doi else []) + (ref or [])
        paper = _find_page_paper(lib, refs + ([url] if url else []), title or "")
        related = lib.related(paper.id, k=k) if (paper and k) else []
        return Lookup(found=paper is not None, paper=paper, related=related,
                      library_size=lib.size())

    @post(sync_to_thread=True, status_code=200,
          summary="A page's paper in one call: in the library or not, and what in the library is related to it")
    def lookup_page(self, lib: Library, data: PageIn) -> Lookup:
        """The paper on a page and its related papers, in one answer (see /api/lookup/stream for two parts)."""
        (found,), (related,) = _page_parts(lib, msgspec.structs.replace(data, words_first=False, words_only=False))
        return Lookup(found=found.found, paper=found.paper, related=related.related, library_size=found.library_size)

    @post("/stream", sync_to_thread=False, status_code=200, operation_class=LinesOperation,
          summary="The same in JSON lines, each as soon as it is ready: the paper (found or not), then its "
                  "related papers (a page's badge need not wait for the related list's embedding); with words_first, "
                  "a paper not in the library gets a list from its words first")
    def lookup_page_stream(self, lib: Library, data: PageIn) -> Stream:
        _need_page_ref(data.refs + ([data.url] if data.url else []), clean.text(data.title))  # a 400, not a cut stream
        lines = (b"".join(msgspec.json.encode(part) + b"\n" for part in group) for group in _page_parts(lib, data))
        return Stream(threaded(lines), media_type="application/x-ndjson")

    @post("/batch", sync_to_thread=True, status_code=200, summary="Which of up to 200 identifiers are in the library")
    def batch(self, lib: Library, data: BatchIn) -> BatchOut:
        wanted: dict[str, list[str]] = {}
        for raw in data.ids:
            wanted[raw] = [ids.format_identifier(s, v) for s, v in ids.parse_identifier(raw)]
        found = lib.find_many(sorted({r for refs in wanted.values() for r in refs}))
        pids = sorted(set(found.values()))
        papers = lib.papers(pids)
        out = {}
        for raw, refs in wanted.items():
            pid = next((found[r] for r in refs if r in found), None)
            if pid is None and data.titles.get(raw):
                pid = lib.find_by_title(data.titles[raw])
                if pid:
                    papers.update(lib.papers([pid]))
            p = papers.get(pid) if pid else None
            if p is not None and p.deleted_at is None:
                out[raw] = BatchItem(found=True, id=p.id, title=p.title)
            else:
                out[raw] = BatchItem(found=False)
        return BatchOut(results=out)
