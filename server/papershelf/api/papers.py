"""The papers themselves: list (with filters), facets, save, one paper, tags and notes, trash and restore, bulk edits."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter

from ..clean import LIMITS
from ..library import Library
from ..models import CitationKey, Facets, Paper, PaperQuery, Record
from ..store import IdentifierTaken
from .guard import paper_ref
from .shapes import FILTERS, MAX_BULK, MAX_PAGE


class PaperIn(msgspec.Struct, forbid_unknown_fields=True):
    """A paper to save, as a page or a script describes it."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS["title"])]
    abstract: Annotated[str, msgspec.Meta(max_length=LIMITS["abstract"])] = ""
    authors: Annotated[list[Annotated[str, msgspec.Meta(max_length=LIMITS["author"])]],
                       msgspec.Meta(max_length=LIMITS["authors"])] = []
    year: Annotated[int, msgspec.Meta(ge=1000, le=2200)] | None = None
    venue: Annotated[str, msgspec.Meta(max_length=LIMITS["venue"])] = ""
    url: Annotated[str, msgspec.Meta(max_length=LIMITS["url"])] = ""
    identifiers: Annotated[list[Annotated[str, msgspec.Meta(max_length=LIMITS["identifier"])]],
                           msgspec.Meta(max_length=LIMITS["identifiers"])] = []
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=LIMITS["tag"])]],
                    msgspec.Meta(max_length=LIMITS["tags"])] = []


class PaperPatch(msgspec.Struct, forbid_unknown_fields=True):
    """What to change of a paper: its tags and notes, or any field of its metadata, by the paper's own field names
    (a field left out stays as it is). An edited field becomes the user's: no import, sync, PDF read or registry
    overwrites it; `release` gives fields back to the sources. `identifiers` is the whole list as it should be
    (one left out is taken away)."""

    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=200)] | None = None
    notes: Annotated[str, msgspec.Meta(max_length=100_000)] | None = None
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=LIMITS["title"])] | msgspec.UnsetType = msgspec.UNSET
    authors: Annotated[list[Annotated[str, msgspec.Meta(max_length=LIMITS["author"])]],
                       msgspec.Meta(max_length=LIMITS["authors"])] | msgspec.UnsetType = msgspec.UNSET
    year: Annotated[int, msgspec.Meta(ge=1000, le=2200)] | None | msgspec.UnsetType = msgspec.UNSET
    venue: Annotated[str, msgspec.Meta(max_length=LIMITS["venue"])] | msgspec.UnsetType = msgspec.UNSET
    entry_type: Annotated[str, msgspec.Meta(max_length=30)] | msgspec.UnsetType = msgspec.UNSET
    abstract: Annotated[str, msgspec.Meta(max_length=LIMITS["abstract"])] | msgspec.UnsetType = msgspec.UNSET
    url: Annotated[str, msgspec.Meta(max_length=LIMITS["url"])] | msgspec.UnsetType = msgspec.UNSET
    identifiers: Annotated[list[Annotated[str, msgspec.Meta(max_length=LIMITS["identifier"])]],
                           msgspec.Meta(max_length=LIMITS["identifiers"])] | msgspec.UnsetType = msgspec.UNSET
    release: list[Literal["title", "authors", "year", "venue", "entry_type", "abstract", "url", "identifiers"]] = []

    def fields(self) -> dict:
        """The metadata fields given (identifiers apart)."""
        return {f: getattr(self, f) for f in ("title", "authors", "year", "venue", "entry_type", "abstract", "url")
                if getattr(self, f) is not msgspec.UNSET}


class SaveResult(msgspec.Struct):
    paper: Paper
    added: bool


class PaperPage(msgspec.Struct):
    total: int
    offset: int
    limit: int
    papers: list[Paper]


class BulkIn(msgspec.Struct, forbid_unknown_fields=True):
    """Many papers at once: these ids, or every paper a filter finds (as /api/papers takes it)."""

    action: Literal["tag", "untag", "trash", "restore"]
    ids: Annotated[list[Annotated[str, msgspec.Meta(max_length=500)]], msgspec.Meta(max_length=MAX_BULK)] = []
    query: PaperQuery | None = None
    tags: Annotated[list[Annotated[str, msgspec.Meta(max_length=200)]], msgspec.Meta(max_length=50)] = []


class BulkOut(msgspec.Struct):
    changed: int
    ids: list[str]  # the papers that changed (a tag already there, or a paper already in the trash, is no change)


class PaperController(Controller):
    path = "/api/papers"
    tags = ["papers"]

    @get(sync_to_thread=True, dependencies=FILTERS, summary="List papers, a page at a time (filters as /api/facets)")
    def list_papers(self, lib: Library, filters: PaperQuery,
                    offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0,
                    limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50,
                    sort: Literal["added", "-added", "title", "-title", "year", "-year", "updated", "-updated"]
                    = "-added") -> PaperPage:
        total, papers = lib.list_papers(filters, offset=offset, limit=limit, sort=sort)
        return PaperPage(total=total, offset=offset, limit=limit, papers=papers)

    @post("/bulk", sync_to_thread=True, status_code=200,
          summary="Tag, untag, trash or restore many papers: by ids, or every paper a filter finds")
    def bulk(self, lib: Library, data: BulkIn) -> BulkOut:
        if bool(data.ids) == (data.query is not None):
            raise ValidationException("give ids or a query, not both")
        if data.action in ("tag", "untag") and not data.tags:
            raise ValidationException("give the tags to add or take away")
        if data.ids:  # library ids in one query; any other identifier resolved on its own (404 if unknown)
            known = lib.known_ids(data.ids)
            pids = [i if i in known else lib.resolve(i) for i in data.ids]
        else:
            pids = lib.ids_matching(data.query, MAX_BULK)
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
        return lib.get(paper_ref(paper_id))

    @patch("/{paper_id:str}", sync_to_thread=True,
           summary="Edit a paper: tags, notes, or any field of its metadata (edited fields become the user's)")
    def update(self, lib: Library, paper_id: str, data: PaperPatch) -> Paper:
        pid = lib.resolve(paper_ref(paper_id))
        fields, identifiers = data.fields(), None if data.identifiers is msgspec.UNSET else data.identifiers
        if fields or identifiers is not None or data.release:
            try:
                lib.edit(pid, fields, identifiers, data.release)
            except IdentifierTaken as e:
                raise HTTPException(status_code=409, detail=str(e)) from e
            except ValueError as e:
                raise ValidationException(str(e)) from e
        if data.tags is not None or data.notes is not None:
            lib.update(pid, tags=data.tags, notes=data.notes)
        return lib.get(pid)  # the paper as GET gives it (its sources, its files' text)

    @delete("/{paper_id:str}", sync_to_thread=True, summary="Move a paper to the trash (restorable)",
            status_code=200)
    def trash(self, lib: Library, paper_id: str) -> Paper:
        pid = lib.resolve(paper_ref(paper_id))
        if not lib.trash(pid):
            raise HTTPException(status_code=409, detail=f"{paper_id} is already in the trash")
        return lib.paper(pid)

    @post("/{paper_id:str}/restore", sync_to_thread=True, summary="Bring a paper back from the trash",
          status_code=200)
    def restore(self, lib: Library, paper_id: str) -> Paper:
        pid = lib.resolve(paper_ref(paper_id))
        if not lib.restore(pid):
            raise HTTPException(status_code=409, detail=f"{paper_id} is not in the trash")
        return lib.paper(pid)

    @get("/{paper_id:str}/key", sync_to_thread=True,
         summary="A paper's citation key (what \\cite{} uses: given once, kept through edits) and its aliases")
    def citation_key(self, lib: Library, paper_id: str) -> CitationKey:
        return lib.citation_key(paper_ref(paper_id))

    @put("/{paper_id:str}/key", sync_to_thread=True, status_code=200,
         summary="Set a paper's citation key: the one it had stays an alias, so an old \\cite{} still finds it")
    def set_citation_key(self, lib: Library, paper_id: str, data: KeyIn) -> CitationKey:
        try:
            return lib.set_citation_key(paper_ref(paper_id), data.key)
        except ValueError as e:  # not a key LaTeX accepts, or another paper's
            raise ValidationException(str(e)) from e


class KeyIn(msgspec.Struct, forbid_unknown_fields=True):
    """A citation key the user chose."""

    key: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class FacetController(Controller):
    path = "/api/facets"
    tags = ["papers"]

    @get(sync_to_thread=True, dependencies=FILTERS,
         summary="How the papers a filter finds spread over tags, years, venues, sources")
    def facets(self, lib: Library, filters: PaperQuery) -> Facets:
        return lib.facets(filters)
