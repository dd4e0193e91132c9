"""Followed sources: Zotero, a file another tool rewrites, a folder; each mirrored into the library."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, delete, get, post
from litestar.exceptions import HTTPException
from litestar.params import Parameter

from ..models import SourceInfo, SyncReport
from ..sources import Sources

SourceId = Annotated[str, Parameter(min_length=1, max_length=100)]


class SourceIn(msgspec.Struct, forbid_unknown_fields=True):
    """A source to follow: `zotero` (found by itself) or Zotero's data folder, a .bib/CSL-JSON/RIS file, or a
    folder. Options (Zotero): automatic_tags, collections (as tags, by their path), notes; all true unless
    set false."""

    location: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    kind: Literal["zotero", "file", "folder"] | None = None
    options: dict[str, bool] = {}


class SourceAdded(msgspec.Struct):
    source: SourceInfo
    sync: SyncReport | None


class SyncIn(msgspec.Struct, forbid_unknown_fields=True):
    """confirm: apply a sync that was held because it removes more than a fifth of the source's papers;
    retry_failed: read again the files that failed before (else a sync skips them, and says so)."""

    confirm: bool = False
    retry_failed: bool = False


class SyncAllIn(msgspec.Struct, forbid_unknown_fields=True):
    """retry_failed: forget every file remembered as unreadable (GET /api/files/unreadable), and read again those
    in followed sources (else a sync skips them, and says so)."""

    retry_failed: bool = False


class Removed(msgspec.Struct):
    """The source is no longer followed; these papers went to the trash with it (only it held them)."""

    id: str
    trashed: list[str]


def _source(sources: Sources, sid: str) -> SourceInfo:
    try:
        return sources.get(sid)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no source {sid!r} (papershelf sources list)") from None


class SourceController(Controller):
    path = "/api/sources"
    tags = ["sources"]

    @get(sync_to_thread=True, summary="The followed sources, with their papers and how their last sync went")
    def list_sources(self, sources: Sources) -> list[SourceInfo]:
        return sources.list()

    @post(sync_to_thread=True, status_code=201, summary="Follow a source (then it is synced once, and after "
                                                         "every change while the server runs)")
    def add_source(self, sources: Sources, data: SourceIn) -> SourceAdded:
        info, report = sources.add(data.location, data.kind, data.options)
        return SourceAdded(source=sources.get(info.id), sync=report)

    @get("/{sid:str}", sync_to_thread=True, summary="One followed source")
    def get_source(self, sources: Sources, sid: SourceId) -> SourceInfo:
        return _source(sources, sid)

    @post("/{sid:str}/sync", sync_to_thread=True, status_code=200, summary="Sync a source now")
    def sync_source(self, sources: Sources, sid: SourceId, data: SyncIn | None = None) -> SyncReport:
        _source(sources, sid)
        data = data or SyncIn()
        return sources.sync(sid, confirm=data.confirm, retry_failed=data.retry_failed)

    @post("/sync", sync_to_thread=True, status_code=200, summary="Sync every source now")
    def sync_all(self, sources: Sources, data: SyncAllIn | None = None) -> list[SyncReport]:
        return sources.sync_all(retry_failed=bool(data and data.retry_failed))

    @delete("/{sid:str}", sync_to_thread=True, status_code=200,
            summary="Stop following a source; the papers only it held go to the trash unless keep_papers")
    def remove_source(self, sources: Sources, sid: SourceId, keep_papers: bool = False) -> Removed:
        _source(sources, sid)
        return Removed(id=sid, trashed=sources.remove(sid, keep_papers=keep_papers))
