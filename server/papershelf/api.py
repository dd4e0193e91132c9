"""The localhost API (Litestar): the extension, the library page and the user's scripts talk to this.

Every web page the user opens can send requests to localhost, so the Guard middleware answers only
requests for our own Host names (DNS rebinding) that carry the pairing token (except the health ping), CORS
allows only the extension's origin, and bodies and query strings are size-limited.
Handlers that touch DuckDB or the model are sync and run in worker threads, off the event loop.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote
from typing import Annotated, Any, Literal

import msgspec
import numpy as np
from litestar import Controller, Litestar, Request, Response, delete, get, patch, post
from litestar.config.cors import CORSConfig
from litestar.datastructures import State, UploadFile
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.middleware import ASGIMiddleware
from litestar.openapi import OpenAPIConfig, ResponseSpec
from litestar.openapi.spec import (Components, OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody,
                                   Schema, SecurityScheme)
from litestar.params import Parameter
from litestar.response import ServerSentEvent, Stream
from litestar.static_files import create_static_files_router
from litestar.types import ASGIApp, Receive, Scope, Send

from . import __version__, clean, ids, mail
from .export import EXTENSIONS as EXPORT_EXTENSIONS
from .export import FORMATS as EXPORT_FORMATS
from .export import export
from .library import Library, NotFound, sample_path
from .digest import DigestError
from .feeds import FeedError
from .mail import MailError
from .models import Digest as DigestPage
from .models import (DigestSettings, Facets, FeedbackRow, FeedInfo, FeedReport, Filters, ImportReport, Paper, PaperQuery, Record, RelatedHit,
                     SearchHit, Stats)
from .pairing import EXTENSION_ORIGIN_REGEX

log = logging.getLogger("papershelf.api")

MAX_BODY = 1 << 20  # 1 MiB for ordinary JSON bodies
MAX_IMPORT_BODY = 256 << 20  # uploads of whole libraries
MAX_QUERY_STRING = 4096
MAX_PAGE = 200
MAX_BATCH = 200
MAX_K = 100
WEB_DIR = Path(__file__).parent / "web"


# -- request and response shapes --------------------------------------------------------------------------
class Health(msgspec.Struct):
    name: str
    version: str
    ready: bool


class PaperIn(msgspec.Struct, forbid_unknown_fields=True):
    """A paper to save, as a page or a script describes it."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    abstract: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    authors: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=2000)] = []
    year: Annotated[int, msgspec.Meta(ge=1000, le=2200)] | None = None
    venue: Annotated[str, msgspec.Meta(max_length=1000)] = ""
    url: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    identifiers: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=100)] = []
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=200)] = []


class PaperPatch(msgspec.Struct, forbid_unknown_fields=True):
    """The user's own fields of a paper."""

    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=200)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=100_000)] | None = None


class SaveResult(msgspec.Struct):
    paper: Paper
    added: bool


class PaperPage(msgspec.Struct):
    total: int
    offset: int
    limit: int
    papers: list[Paper]


class Lookup(msgspec.Struct):
    """Is this page's paper in the library, and what in the library is related to it."""

    found: bool
    paper: Paper | None
    related: list[RelatedHit]
    library_size: int


class MapCluster(msgspec.Struct):
    id: int
    label: str  # its most distinctive words
    size: int
    x: float  # where its label goes
    y: float


class MapPoints(msgspec.Struct):
    """Every embedded paper as a point: `ids` in order, and `x`, `y` (float32) and `cluster` (int16) as base64
    little-endian arrays of the same length: one compact answer for 100,000 points."""

    count: int
    method: str  # "pacmap" or "pca" (the first map, or a very large library)
    laid_out: int  # points the layout placed; the rest were placed among their nearest neighbours since
    ids: list[str]
    x: bytes
    y: bytes
    cluster: bytes
    clusters: list[MapCluster]
    tags: dict[str, list[int]]  # each tag: the positions (in ids) of its papers, to colour the map by tag
    not_embedded: int  # papers in the library not drawn yet (no vector)


MAX_BULK = 100_000


class BulkIn(msgspec.Struct, forbid_unknown_fields=True):
    """Many papers at once: these ids, or every paper a filter finds (as /api/papers takes it)."""

    action: Literal["tag", "untag", "trash", "restore"]
    ids: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=MAX_BULK)] = []
    query: PaperQuery | None = None
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)] = []


class BulkOut(msgspec.Struct):
    changed: int
    ids: list[str]  # the papers that changed (a tag already there, or a paper already in the trash, is no change)


class MapOverlay(msgspec.Struct):
    """A digest day's new papers, where they would sit on the map (`x`, `y`: base64 float32, as /api/map)."""

    day: str | None
    ids: list[str]
    titles: list[str]
    links: list[str]
    x: bytes
    y: bytes


class DuplicatePair(msgspec.Struct):
    """Two papers that may be one, side by side, and why the automatic merge left them apart."""

    a: Paper
    b: Paper
    why: str


class MergeIn(msgspec.Struct, forbid_unknown_fields=True):
    keep: Annotated[str, msgspec.Meta(max_length=500)]
    gone: Annotated[str, msgspec.Meta(max_length=500)]


class MergeOut(msgspec.Struct):
    merge: str  # its id: POST /api/duplicates/undo takes it
    paper: Paper  # the paper kept, with what the other brought


class UndoIn(msgspec.Struct, forbid_unknown_fields=True):
    merge: Annotated[str, msgspec.Meta(max_length=100)]


class UndoOut(msgspec.Struct):
    kept: Paper
    restored: Paper


class PageFound(msgspec.Struct):
    """The first line of a streamed page lookup: the page's paper in the library, or not, and the server's time
    for it."""

    found: bool
    paper: Paper | None
    library_size: int
    took_ms: float


class PageRelated(msgspec.Struct):
    """The second line: what in the library is related to the page's paper, and the server's time for it."""

    related: list[RelatedHit]
    took_ms: float


class PageIn(msgspec.Struct, forbid_unknown_fields=True):
    """The paper on a page: found by its identifiers, URL or title; related by its title and abstract."""

    refs: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=100)] = []
    url: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    title: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    abstract: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    k: Annotated[int, msgspec.Meta(ge=0, le=MAX_K)] = 5


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


class RelatedIn(msgspec.Struct, forbid_unknown_fields=True):
    """A paper that is not (necessarily) in the library."""

    title: Annotated[str, msgspec.Meta(max_length=2000)] = ""
    abstract: Annotated[str, msgspec.Meta(max_length=50_000)] = ""
    k: Annotated[int, msgspec.Meta(ge=1, le=MAX_K)] = 10
    exclude: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=500)] = []
    year_min: int | None = None
    year_max: int | None = None
    tags: Annotated[list[str], msgspec.Meta(max_length=50)] = []


class ImportIn(msgspec.Struct, forbid_unknown_fields=True):
    """Text of a file in any format we read (detected from the content), as JSON."""

    content: str
    name: Annotated[str, msgspec.Meta(max_length=500)] = "upload"
    format: str | None = None


class StatsOut(msgspec.Struct):
    stats: Stats
    embedding: bool
    embedding_error: str | None


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str


# -- OpenAPI: what the generated schema cannot infer ------------------------------------------------------
@dataclass
class ExportOperation(Operation):
    """The export streams text in the requested format's own media type."""

    def __post_init__(self) -> None:
        ok = self.responses and self.responses.get("200")
        if ok is not None and not isinstance(ok, Reference):
            ok.content = {media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                          for media in EXPORT_FORMATS.values()}
            # CSL-JSON is JSON (an array of items); the others are text.
            ok.content[EXPORT_FORMATS["csljson"]] = OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT)))


@dataclass
class ImportOperation(Operation):
    """The import reads its body itself: files as multipart, or JSON."""

    def __post_init__(self) -> None:
        record = Schema(type=OpenAPIType.OBJECT, required=["title"],
                        properties={"title": Schema(type=OpenAPIType.STRING),
                                    "abstract": Schema(type=OpenAPIType.STRING)})
        self.request_body = RequestBody(required=True, content={
            "multipart/form-data": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING, format="binary"))),
            "application/json": OpenAPIMediaType(schema=Schema(one_of=[
                Schema(type=OpenAPIType.OBJECT, required=["content"],
                       properties={"content": Schema(type=OpenAPIType.STRING),
                                   "name": Schema(type=OpenAPIType.STRING),
                                   "format": Schema(one_of=[Schema(type=OpenAPIType.STRING),
                                                            Schema(type=OpenAPIType.NULL)])}),
                Schema(type=OpenAPIType.ARRAY, items=record)])),
        })


# -- security -----------------------------------------------------------------------------------------------
class Guard(ASGIMiddleware):
    """Host check, token check and query-string cap, in front of every route."""

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, token: str, port: int, allowed_hosts: list[str] | None = None):
        self.token = token.encode()
        hosts = allowed_hosts or ["127.0.0.1", "localhost", "[::1]"]
        self.hosts = {h.lower() for h in hosts} | {f"{h}:{port}".lower() for h in hosts}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            # Another name for 127.0.0.1 means DNS rebinding: a web page posing as us. Say nothing else.
            return await _reply(send, 421, "this server answers only to 127.0.0.1, localhost or [::1]")
        if len(scope.get("query_string", b"")) > MAX_QUERY_STRING:
            return await _reply(send, 414, f"query string longer than {MAX_QUERY_STRING} bytes")
        path = scope["path"]
        if path.startswith("/api/") and path != "/api/health" and scope["method"] != "OPTIONS":
            auth = headers.get(b"authorization", b"")
            given = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
            if not given and path == "/api/events":
                # EventSource cannot send headers: the event stream alone takes the token as a query parameter.
                from urllib.parse import parse_qs

                given = (parse_qs(scope.get("query_string", b"").decode()).get("token") or [""])[0].encode()
            if not hmac.compare_digest(given, self.token):
                return await _reply(send, 401, "missing or wrong token: send `Authorization: Bearer <token>` "
                                               "(`papershelf token` prints it)",
                                    extra=[(b"www-authenticate", b"Bearer")])
        started = time.perf_counter()

        async def send_timed(message: dict) -> None:
            # Server-Timing: how long the server took, so a client can tell it from the network and itself.
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", took)]}
            await send(message)

        await next_app(scope, receive, send_timed)


class EncodedSlashes:
    """A paper's identifier in /api/papers/{id} may hold a slash (a DOI). Clients send it percent-encoded
    (`doi:10.1038%2Fnature14539`, as encodeURIComponent does), but ASGI servers decode the path before any
    router sees it, and the slash would end the segment. This keeps an encoded slash encoded in those paths;
    the handlers decode their id (`_ref`)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and raw.startswith(b"/api/papers/") and b"%2f" in raw.lower():
            path = raw.decode("latin-1").replace("%2F", "%252F").replace("%2f", "%252F")
            scope = {**scope, "path": unquote(path)}
        await self.app(scope, receive, send)


def _ref(paper_id: str) -> str:
    """A paper reference from the path, its encoded slashes decoded (EncodedSlashes)."""
    return unquote(paper_id)


async def _reply(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})


# -- dependencies and helpers ---------------------------------------------------------------------------
def provide_library(state: State) -> Library:
    """The one Library of this server."""
    return state.library


def _filters(year_min: int | None, year_max: int | None, tag: list[str] | None, exclude: list[str] | None
             ) -> Filters:
    return Filters(year_min=year_min, year_max=year_max, tags=tag or [], exclude=exclude or [])


def _resolve_exclude(lib: Library, refs: list[str]) -> list[str]:
    """Library ids for references to exclude (unknown ones are ignored)."""
    return [pid for r in refs if (pid := lib.store.resolve(r))]


# -- controllers -------------------------------------------------------------------------------------------
class HealthController(Controller):
    path = "/api/health"
    tags = ["health"]

    @get(sync_to_thread=False, summary="Is the server up (no token needed)")
    def health(self, state: State) -> Health:
        return Health(name="papershelf", version=__version__, ready=state.library is not None)


def paper_query(tag: Annotated[list[Annotated[str, Parameter(max_length=200)]] | None, Parameter(max_length=20)] = None,
                year: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                year_min: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                year_max: Annotated[int | None, Parameter(ge=1000, le=2200)] = None,
                venue: Annotated[str | None, Parameter(max_length=1000)] = None,
                source: Annotated[str | None, Parameter(max_length=200)] = None,
                no_abstract: bool = False, not_embedded: bool = False,
                q: Annotated[str | None, Parameter(max_length=500)] = None,
                trashed: bool = False) -> PaperQuery:
    """The filters /api/papers, /api/facets and /api/export share, from the query string: every `tag`, a year
    (or a range), venue, source, no abstract, not embedded yet, `q` in the title or authors, the trash."""
    return PaperQuery(text=q or "", tags=tag or [], year_min=year if year is not None else year_min,
                      year_max=year if year is not None else year_max, venue=venue or "", source=source or "",
                      no_abstract=no_abstract, not_embedded=not_embedded, trashed=trashed)


FILTERS = {"filters": Provide(paper_query, sync_to_thread=False)}


class PaperController(Controller):
    path = "/api/papers"
    tags = ["papers"]

    @get(sync_to_thread=True, dependencies=FILTERS, summary="List papers, a page at a time (filters as /api/facets)")
    def list_papers(self, lib: Library, filters: PaperQuery,
                    offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
                    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
                    sort: Literal["added", "-added", "title", "-title", "year", "-year", "updated", "-updated"]
                    = "-added") -> PaperPage:
        total, papers = lib.store.list_papers(filters, offset=offset, limit=limit, sort=sort, model_id=lib.model_id)
        return PaperPage(total=total, offset=offset, limit=limit, papers=papers)

    @post("/bulk", sync_to_thread=True, status_code=200,
          summary="Tag, untag, trash or restore many papers: by ids, or every paper a filter finds")
    def bulk(self, lib: Library, data: BulkIn) -> BulkOut:
        if bool(data.ids) == (data.query is not None):
            raise ValidationException("give ids or a query, not both")
        if data.action in ("tag", "untag") and not data.tags:
            raise ValidationException("give the tags to add or take away")
        if data.ids:  # library ids in one query; any other identifier resolved on its own (404 if unknown)
            known = lib.store.known_ids(data.ids)
            pids = [i if i in known else lib.resolve(i) for i in data.ids]
        else:
            pids = lib.store.ids_matching(data.query, lib.model_id, MAX_BULK)
        changed = lib.bulk(pids, data.action, data.tags)
        return BulkOut(changed=len(changed), ids=changed)

    @post(sync_to_thread=True, summary="Save a paper (merges with one already in the library)", status_code=201)
    def save(self, lib: Library, data: PaperIn) -> SaveResult:
        rec = Record(title=data.title, abstract=data.abstract, authors=data.authors, year=data.year,
                     venue=data.venue, url=data.url, tags=data.tags, identifiers=data.identifiers, source="api")
        try:
            paper, added = lib.save(rec)
        except ValueError as e:
            raise ValidationException(str(e)) from e
        return SaveResult(paper=paper, added=added)

    @get("/{paper_id:str}", sync_to_thread=True,
         summary="One paper, by library id or any identifier (percent-encoded: a DOI's slash as %2F)")
    def get_paper(self, lib: Library, paper_id: str) -> Paper:
        return lib.get(_ref(paper_id))

    @patch("/{paper_id:str}", sync_to_thread=True, summary="Change a paper's tags or notes")
    def update(self, lib: Library, paper_id: str, data: PaperPatch) -> Paper:
        return lib.update(lib.resolve(_ref(paper_id)), tags=data.tags, notes=data.notes)

    @delete("/{paper_id:str}", sync_to_thread=True, summary="Move a paper to the trash (restorable)",
            status_code=200)
    def trash(self, lib: Library, paper_id: str) -> Paper:
        pid = lib.resolve(_ref(paper_id))
        if not lib.trash(pid):
            raise HTTPException(status_code=409, detail=f"{paper_id} is already in the trash")
        return lib.store.get(pid)

    @post("/{paper_id:str}/restore", sync_to_thread=True, summary="Bring a paper back from the trash",
          status_code=200)
    def restore(self, lib: Library, paper_id: str) -> Paper:
        pid = lib.resolve(_ref(paper_id))
        if not lib.restore(pid):
            raise HTTPException(status_code=409, detail=f"{paper_id} is not in the trash")
        return lib.store.get(pid)


def _find_page_paper(lib: Library, refs: list[str], title: str) -> Paper | None:
    """The library paper a page shows: by the first identifier or URL that resolves, else by title; never
    one in the trash (that is not "in your library")."""
    _need_page_ref(refs, title)
    pid = next((p for r in refs if (p := lib.store.resolve(r))), None)
    if pid is None and title:
        pid = lib.store.find_by_title(title)
    paper = lib.get(pid) if pid else None
    return paper if paper is not None and paper.deleted_at is None else None


def _need_page_ref(refs: list[str], title: str) -> None:
    if not refs and not title:
        raise ValidationException("give an identifier (ref, arxiv, doi), a url or a title")


def _page_parts(lib: Library, data: PageIn) -> Iterator[PageFound | PageRelated]:
    """A page's lookup in its two parts, each as soon as it is known: the paper (found or not), then what is
    related to it. A paper not in the library is related by its title and abstract, embedded once: saving it
    next reuses that vector (Library.related_page)."""
    started = time.perf_counter()
    title, abstract = clean.text(data.title), clean.abstract(data.abstract)  # a page's markup is not its text
    paper = _find_page_paper(lib, data.refs + ([data.url] if data.url else []), title)
    size = lib.store.count_live()
    yield PageFound(found=paper is not None, paper=paper, library_size=size,
                    took_ms=round((time.perf_counter() - started) * 1000, 1))
    started = time.perf_counter()
    if paper is not None:
        related = lib.related(paper.id, k=data.k) if data.k else []
    else:
        related = lib.related_page(title, abstract, k=data.k) if (data.k and size and (title or abstract)) else []
    yield PageRelated(related=related, took_ms=round((time.perf_counter() - started) * 1000, 1))


@dataclass
class LinesOperation(Operation):
    """A streamed page lookup: JSON lines, PageFound then PageRelated."""

    def __post_init__(self) -> None:
        ok = self.responses and self.responses.get("200")
        if ok is not None and not isinstance(ok, Reference):
            ok.content = {"application/x-ndjson": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))}




class FacetController(Controller):
    path = "/api/facets"
    tags = ["papers"]

    @get(sync_to_thread=True, dependencies=FILTERS,
         summary="How the papers a filter finds spread over tags, years, venues, sources")
    def facets(self, lib: Library, filters: PaperQuery) -> Facets:
        return lib.store.facets(filters, lib.model_id)


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
                      library_size=lib.store.count_live())

    @post(sync_to_thread=True, status_code=200,
          summary="A page's paper in one call: in the library or not, and what in the library is related to it")
    def lookup_page(self, lib: Library, data: PageIn) -> Lookup:
        """The paper on a page and its related papers, in one answer (see /api/lookup/stream for two parts)."""
        found, related = _page_parts(lib, data)
        return Lookup(found=found.found, paper=found.paper, related=related.related, library_size=found.library_size)

    @post("/stream", sync_to_thread=False, status_code=200, operation_class=LinesOperation,
          summary="The same in two JSON lines, each as soon as it is ready: the paper (found or not), then its "
                  "related papers (a page's badge need not wait for the related list's embedding)")
    def lookup_page_stream(self, lib: Library, data: PageIn) -> Stream:
        _need_page_ref(data.refs + ([data.url] if data.url else []), clean.text(data.title))  # a 400, not a cut stream
        lines = (msgspec.json.encode(part) + b"\n" for part in _page_parts(lib, data))
        return Stream(_threaded(lines), media_type="application/x-ndjson")

    @post("/batch", sync_to_thread=True, status_code=200, summary="Which of up to 200 identifiers are in the library")
    def batch(self, lib: Library, data: BatchIn) -> BatchOut:
        wanted: dict[str, list[str]] = {}
        for raw in data.ids:
            wanted[raw] = [ids.format_identifier(s, v) for s, v in ids.parse_identifier(raw)]
        found = lib.store.resolve_many(sorted({r for refs in wanted.values() for r in refs}))
        pids = sorted(set(found.values()))
        papers = lib.store.get_many(pids)
        out = {}
        for raw, refs in wanted.items():
            pid = next((found[r] for r in refs if r in found), None)
            if pid is None and data.titles.get(raw):
                pid = lib.store.find_by_title(data.titles[raw])
                if pid:
                    papers.update(lib.store.get_many([pid]))
            p = papers.get(pid) if pid else None
            if p is not None and p.deleted_at is None:
                out[raw] = BatchItem(found=True, id=p.id, title=p.title)
            else:
                out[raw] = BatchItem(found=False)
        return BatchOut(results=out)


class DuplicateController(Controller):
    path = "/api/duplicates"
    tags = ["papers"]

    @get(sync_to_thread=True, summary="Pairs that may be one paper, which the automatic merge was not sure of")
    def pairs(self, lib: Library, limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50) -> list[DuplicatePair]:
        return [DuplicatePair(a=a, b=b, why=why) for a, b, why in lib.store.duplicate_pairs(limit)]

    @post("/merge", sync_to_thread=True, status_code=200, summary="Merge one paper into the other (undoable)")
    def merge(self, lib: Library, data: MergeIn) -> MergeOut:
        keep, gone = lib.resolve(data.keep), lib.resolve(data.gone)
        if keep == gone:
            raise ValidationException("a paper cannot be merged into itself")
        mid = lib.merge(keep, gone)
        return MergeOut(merge=mid, paper=lib.store.get(keep))

    @post("/undo", sync_to_thread=True, status_code=200, summary="Undo a merge: both papers as they were")
    def undo(self, lib: Library, data: UndoIn) -> UndoOut:
        try:
            keep, gone = lib.undo_merge(data.merge)
        except KeyError:
            raise HTTPException(status_code=404, detail=f"no merge {data.merge}") from None
        except ValueError as e:
            raise HTTPException(status_code=409, detail=str(e)) from None
        return UndoOut(kept=lib.store.get(keep), restored=lib.store.get(gone))

    @post("/keep-both", sync_to_thread=True, status_code=200, summary="Two papers after all: not offered again")
    def keep_both(self, lib: Library, data: MergeIn) -> list[str]:
        a, b = lib.resolve(data.keep), lib.resolve(data.gone)
        lib.store.keep_apart(a, b)
        return sorted((a, b))


class MapController(Controller):
    path = "/api/map"
    tags = ["library"]

    @get(sync_to_thread=True, summary="The library as points in 2D, with clusters and their labels")
    def points(self, lib: Library) -> MapPoints:
        m = lib.map.current()
        s = lib.index.snapshot()
        live = int(s.alive[: s.n].sum())
        tagged: dict[str, list[int]] = {}
        for i, pid in enumerate(m.ids):
            r = s.row(pid)
            for t in s.tags[r] if r is not None else ():
                tagged.setdefault(t, []).append(i)
        return MapPoints(count=len(m.ids), method=m.method, laid_out=m.laid_out, ids=m.ids,
                         x=np.ascontiguousarray(m.xy[:, 0], dtype="<f4").tobytes(),
                         y=np.ascontiguousarray(m.xy[:, 1], dtype="<f4").tobytes(),
                         cluster=m.cluster.astype("<i2").tobytes(),
                         clusters=[MapCluster(id=c.id, label=c.label, size=c.size, x=c.x, y=c.y) for c in m.clusters],
                         tags=tagged, not_embedded=live - len(m.ids))


    @get("/digest", sync_to_thread=True, summary="Where a digest day's new papers land on the map")
    def digest_overlay(self, lib: Library, day: Annotated[str | None, Parameter(max_length=10)] = None) -> MapOverlay:
        days = lib.digest.days()
        day = day or (days[0] if days else None)
        if day is None:
            return MapOverlay(day=None, ids=[], titles=[], links=[], x=b"", y=b"")
        try:
            items, vectors = lib.digest.embedded_candidates(day)
        except ValueError:
            raise ValidationException(f"{day!r} is not a date (YYYY-MM-DD)") from None
        xy = lib.map.place_others(vectors) if items else np.zeros((0, 2), dtype=np.float32)
        return MapOverlay(day=day, ids=[i for i, _, _ in items], titles=[t for _, t, _ in items],
                          links=[u for _, _, u in items], x=np.ascontiguousarray(xy[:, 0], dtype="<f4").tobytes(),
                          y=np.ascontiguousarray(xy[:, 1], dtype="<f4").tobytes())


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
        f = _filters(year_min, year_max, tag, _resolve_exclude(lib, exclude or []))
        return lib.related(id, k=k, filters=f) if id else lib.related_text(text, k=k, filters=f)

    @post(sync_to_thread=True, status_code=200, summary="Related papers to a paper not in the library")
    def related_to_paper(self, lib: Library, data: RelatedIn) -> list[RelatedHit]:
        text = f"{clean.text(data.title)}. {clean.abstract(data.abstract)}".strip(". ")  # a page's markup is not its text
        if not text:
            raise ValidationException("give a title or an abstract")
        f = Filters(year_min=data.year_min, year_max=data.year_max, tags=data.tags,
                    exclude=_resolve_exclude(lib, data.exclude))
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
        return lib.search(q, k=k, filters=_filters(year_min, year_max, tag, None))


class LibraryController(Controller):
    path = "/api"
    tags = ["library"]

    @post("/import", status_code=200, request_max_body_size=MAX_IMPORT_BODY, operation_class=ImportOperation,
          summary="Import files: a multipart upload, or a JSON body",
          description="multipart/form-data: any number of file fields, each in any format we read (detected "
                      "from the content). application/json: either {content, name, format} with the text of a "
                      "file, or papers in our JSON format (a list of objects with title and abstract).")
    async def import_files(self, request: Request, lib: Library) -> ImportReport:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                form = await request.form()
            except (UnicodeDecodeError, ValueError) as e:
                # Litestar decodes non-file fields as UTF-8; binary data must come as a file field.
                raise ValidationException(f"unreadable multipart body ({type(e).__name__}): send files as file "
                                          "fields (with a filename)") from e
            files = [(v.filename or k, await v.read()) if isinstance(v, UploadFile) else (k, str(v).encode())
                     for k, v in form.multi_items()]
            if not files:
                raise ValidationException("the multipart body has no field")
        elif ctype.startswith("application/json"):
            body = await request.body()
            try:
                doc = msgspec.json.decode(body)
            except msgspec.DecodeError as e:
                raise ValidationException(f"the body is not valid JSON: {e}") from e
            if isinstance(doc, dict) and isinstance(doc.get("content"), str):
                try:
                    one = msgspec.convert(doc, ImportIn)
                except msgspec.ValidationError as e:
                    raise ValidationException(str(e)) from e
                files = [(one.name, one.content.encode(), one.format)]
            else:
                files = [("upload.json", body, "json")]
        else:
            raise HTTPException(status_code=415, detail="send multipart/form-data or application/json")
        report = ImportReport(source=", ".join(f[0] for f in files))
        errors = []
        for name, data, *fmt in files:
            one = await asyncio.to_thread(lib.import_bytes, data, name, fmt[0] if fmt else None)
            report.format = report.format or one.format
            report.extend(one)
            if one.error:
                errors.append(one.error)
        if len(errors) == len(files):
            # Nothing was readable: that is a bad request, not a report of zero papers.
            raise HTTPException(status_code=400, detail=" ".join(errors))
        return report

    @post("/import/sample", sync_to_thread=True, status_code=200,
          summary="Import the sample library that ships with papershelf (what `papershelf import --sample` does)")
    def import_sample(self, lib: Library) -> ImportReport:
        return lib.import_path(sample_path())

    @get("/export", sync_to_thread=False, operation_class=ExportOperation, dependencies=FILTERS,
         summary="The whole library as JSONL, BibTeX, CSL-JSON or RIS")
    def export_library(self, lib: Library, filters: PaperQuery,
                       format: Literal["jsonl", "bibtex", "csljson", "ris"] = "jsonl",
                       id: Annotated[list[Annotated[str, Parameter(max_length=500)]] | None, Parameter(max_length=1000)] = None
                       ) -> Stream:
        """The whole library; or these papers (id, repeated); or the papers a filter finds (as /api/papers)."""
        if id:
            pids = [lib.resolve(i) for i in id]
        elif filters != PaperQuery():
            pids = lib.store.ids_matching(filters, lib.model_id, MAX_BULK)
        else:
            pids = None
        chunks = export(lib.store.iter_papers(pids), format)
        return Stream(_threaded(chunks), media_type=EXPORT_FORMATS[format], headers={
            "content-disposition": f'attachment; filename="papershelf.{EXPORT_EXTENSIONS[format]}"'})

    @get("/stats", sync_to_thread=True, summary="Counts, embedding progress, model, database size")
    def stats(self, lib: Library) -> StatsOut:
        return StatsOut(stats=lib.stats(), embedding=lib.worker.busy, embedding_error=lib.worker.error)

    @get("/doctor", sync_to_thread=True, summary="Model files, checksums, database integrity, disk")
    def doctor(self, lib: Library) -> list[Check]:
        from .doctor import run_checks

        return [Check(name=n, ok=ok, detail=d) for n, ok, d in run_checks(lib)]

    @get("/events", sync_to_thread=False, summary="Server-sent events: import and embedding progress, changes")
    def events(self, lib: Library) -> ServerSentEvent:
        return ServerSentEvent(_event_stream(lib))


class FeedIn(msgspec.Struct, forbid_unknown_fields=True):
    """A feed to add: `arxiv:cs.LG`, `hf:daily` or an http(s) URL."""

    source: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]


class FeedAdded(msgspec.Struct):
    feed: FeedInfo
    fetched: FeedReport


class RateIn(msgspec.Struct, forbid_unknown_fields=True):
    """👍 ("up"), 👎 ("down"), or null to take a rating back."""

    rating: Literal["up", "down"] | None


class DigestSettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    at: Annotated[str, msgspec.Meta(max_length=5)] | None = None
    prune_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


class Rated(msgspec.Struct):
    id: str
    feedback: Literal["up", "down"] | None


class FeedToken(msgspec.Struct):
    """The digest's own read-only token and the Atom URL that carries it (for a feed reader)."""

    token: str
    url: str


def _bad_request(_: Request, exc: Exception) -> Response:
    """A feed, digest or email request that cannot be done: 400 with the reason."""
    return Response({"status_code": 400, "detail": str(exc)}, status_code=400)


class FeedController(Controller):
    path = "/api/feeds"
    tags = ["digest"]

    @get(sync_to_thread=True, summary="The feeds the digest fetches, with their last success and last error")
    def list_feeds(self, lib: Library) -> list[FeedInfo]:
        return lib.digest.feeds()

    @post(sync_to_thread=True, status_code=201, summary="Add a feed (fetched once first: refused if it is not a "
                                                         "feed of papers)")
    def add_feed(self, lib: Library, data: FeedIn) -> FeedAdded:
        feed, report = lib.digest.add_feed(data.source)
        return FeedAdded(feed=feed, fetched=report)

    @delete(sync_to_thread=True, status_code=200, summary="Stop fetching a feed")
    def remove_feed(self, lib: Library, source: Annotated[str, Parameter(min_length=1, max_length=2000)]) -> list[FeedInfo]:
        if not lib.digest.remove_feed(source):
            raise HTTPException(status_code=404, detail=f"{source} is not a feed")
        return lib.digest.feeds()


class DigestController(Controller):
    path = "/api/digest"
    tags = ["digest"]

    @get(sync_to_thread=True, summary="A day's new papers, ranked for you, each with why")
    def digest(self, lib: Library, day: Annotated[str | None, Parameter(max_length=10)] = None,
               limit: Annotated[int | None, Parameter(ge=1, le=1000)] = None,
               tag: Annotated[str | None, Parameter(max_length=200)] = None) -> DigestPage:
        return lib.digest.day(day, limit=limit, tag=tag)

    @post("/fetch", sync_to_thread=True, status_code=200, summary="Fetch every feed now")
    def fetch(self, lib: Library) -> list[FeedReport]:
        return lib.digest.fetch_all()

    @post("/{item_id:str}/rate", sync_to_thread=True, status_code=200,
          summary="👍 or 👎 a digest item (the next ranking learns from it)")
    def rate(self, lib: Library, item_id: str, data: RateIn) -> Rated:
        cid = _candidate(lib, item_id)
        lib.digest.rate(cid, data.rating)
        return Rated(id=cid, feedback=data.rating)

    @post("/{item_id:str}/save", sync_to_thread=True, status_code=200,
          summary="Save a digest item into the library (with its vector)")
    def save(self, lib: Library, item_id: str) -> Paper:
        return lib.digest.save(_candidate(lib, item_id))

    @get("/settings", sync_to_thread=True, summary="When the digest is fetched each day, and when candidates go")
    def get_settings(self, lib: Library) -> DigestSettings:
        return lib.digest.settings()

    @patch("/settings", sync_to_thread=True, summary="Change the fetch time (HH:MM, local) or the pruning age (days)")
    def set_settings(self, lib: Library, data: DigestSettingsIn) -> DigestSettings:
        return lib.digest.set_settings(at=data.at, prune_days=data.prune_days)

    @get("/feedback", sync_to_thread=True, summary="Every 👍/👎 you gave, oldest first")
    def feedback(self, lib: Library) -> list[FeedbackRow]:
        return lib.digest.feedback()

    @post("/feed-token", sync_to_thread=True, status_code=200,
          summary="Make (or replace) the read-only token of the digest's Atom feed")
    def make_feed_token(self, request: Request, lib: Library) -> FeedToken:
        token = lib.digest.new_feed_token()
        return FeedToken(token=token, url=f"{request.base_url}".rstrip("/") + f"/digest.atom?key={token}")

    @delete("/feed-token", sync_to_thread=True, status_code=200, summary="Revoke the Atom feed's token")
    def revoke_feed_token(self, lib: Library) -> None:
        lib.digest.revoke_feed_token()

    @post("/send", sync_to_thread=True, status_code=200, summary="Email today's digest now (SMTP settings needed)")
    def send(self, request: Request, lib: Library) -> dict[str, str]:
        return {"sent_to": mail.send_digest(lib, page_url=str(request.base_url).rstrip("/"))}


def _candidate(lib: Library, ref: str) -> str:
    try:
        return lib.digest.find(ref)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no digest item {ref!r}") from None


class AtomController(Controller):
    """The digest as Atom, for any feed reader. Not under /api/: it takes its own read-only token (`key`), which
    opens this route and nothing else; the pairing token is not accepted here (it would leak into reader URLs)."""

    path = "/digest.atom"
    tags = ["digest"]

    @get(sync_to_thread=True, security=[], summary="The latest digest as an Atom feed (key: the digest's feed token)",
         responses={200: ResponseSpec(data_container=str, media_type="application/atom+xml",
                                      description="The digest, best first, as Atom"),
                    401: ResponseSpec(data_container=ErrorBody, description="Missing or wrong feed key")})
    def atom(self, lib: Library, key: str = "") -> Response:
        if len(key) > 200 or not lib.digest.check_feed_token(key):
            return Response({"status_code": 401, "detail": "missing or wrong feed key"}, status_code=401,
                            media_type="application/json")
        return Response(mail.atom(lib), media_type="application/atom+xml")


async def _threaded(chunks) -> AsyncIterator[str]:
    """Drain a blocking generator (DuckDB reads) in a worker thread, chunk by chunk."""
    done = object()
    while True:
        chunk = await asyncio.to_thread(next, chunks, done)
        if chunk is done:
            return
        yield chunk


async def _event_stream(lib: Library) -> AsyncIterator[dict[str, Any]]:
    q = lib.events.subscribe()
    try:
        s = await asyncio.to_thread(lib.stats)
        yield {"event": "hello", "data": msgspec.json.encode(s).decode()}
        while True:
            try:
                ev = await asyncio.wait_for(q.get(), timeout=15)
            except asyncio.TimeoutError:
                yield {"comment": "keep-alive"}
                continue
            yield {"event": ev.type, "id": str(ev.seq), "data": json.dumps(ev.data)}
    finally:
        lib.events.unsubscribe(q)


def _not_found(_: Request, exc: NotFound) -> Response:
    return Response({"status_code": 404, "detail": f"no paper in the library for {exc.args[0]!r}"}, status_code=404)


def create_app(library: Library, token: str, port: int, allowed_hosts: list[str] | None = None,
               lifespan: list | None = None) -> Litestar:
    """The Litestar app around one Library."""
    web = create_static_files_router(path="/", directories=[WEB_DIR], html_mode=True, name="web",
                                     include_in_schema=False)
    return Litestar(
        route_handlers=[HealthController, PaperController, FacetController, LookupController, RelatedController,
                        SearchController, MapController, DuplicateController,
                        LibraryController, FeedController, DigestController, AtomController, web],
        dependencies={"lib": Provide(provide_library, sync_to_thread=False)},
        middleware=[Guard(token=token, port=port, allowed_hosts=allowed_hosts)],
        cors_config=CORSConfig(allow_origins=[], allow_origin_regex=EXTENSION_ORIGIN_REGEX,
                               allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
                               allow_headers=["authorization", "content-type"], max_age=600),
        exception_handlers={NotFound: _not_found, FeedError: _bad_request, DigestError: _bad_request,
                            MailError: _bad_request},
        request_max_body_size=MAX_BODY,
        state=State({"library": library}),
        lifespan=lifespan or [],
        openapi_config=OpenAPIConfig(
            title="papershelf", version=__version__,
            description="Local API of papershelf. Every route but /api/health needs `Authorization: Bearer "
                        "<token>` (`papershelf token` prints it).",
            security=[{"bearer": []}],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
        ),
        debug=False,
    )
