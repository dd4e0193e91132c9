"""The duplicates review: pairs the automatic merge left apart, merge with undo, or keep both."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter

from ..library import Library
from ..models import Paper
from .shapes import MAX_PAGE


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


class DuplicateController(Controller):
    path = "/api/duplicates"
    tags = ["papers"]

    @get(sync_to_thread=True, summary="Pairs that may be one paper, which the automatic merge was not sure of")
    def pairs(self, lib: Library, limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 50) -> list[DuplicatePair]:
        return [DuplicatePair(a=a, b=b, why=why) for a, b, why in lib.duplicate_pairs(limit)]

    @post("/merge", sync_to_thread=True, status_code=200, summary="Merge one paper into the other (undoable)")
    def merge(self, lib: Library, data: MergeIn) -> MergeOut:
        keep, gone = lib.resolve(data.keep), lib.resolve(data.gone)
        if keep == gone:
            raise ValidationException("a paper cannot be merged into itself")
        mid = lib.merge(keep, gone)
        return MergeOut(merge=mid, paper=lib.paper(keep))

    @post("/undo", sync_to_thread=True, status_code=200, summary="Undo a merge: both papers as they were")
    def undo(self, lib: Library, data: UndoIn) -> UndoOut:
        try:
            keep, gone = lib.undo_merge(data.merge)
        except KeyError:
            raise HTTPException(status_code=404, detail=f"no merge {data.merge}") from None
        except ValueError as e:
            raise HTTPException(status_code=409, detail=str(e)) from None
        return UndoOut(kept=lib.paper(keep), restored=lib.paper(gone))

    @post("/keep-both", sync_to_thread=True, status_code=200, summary="Two papers after all: not offered again")
    def keep_both(self, lib: Library, data: MergeIn) -> list[str]:
        a, b = lib.resolve(data.keep), lib.resolve(data.gone)
        lib.keep_apart(a, b)
        return sorted((a, b))
