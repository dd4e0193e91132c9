"""The library's map: every embedded paper as a point, and where a digest day's new papers land."""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np
from litestar import Controller, get
from litestar.exceptions import ValidationException
from litestar.params import Parameter

from ..digest import DigestService
from ..library import Library


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


class MapOverlay(msgspec.Struct):
    """A digest day's new papers, where they would sit on the map (`x`, `y`: base64 float32, as /api/map)."""

    day: str | None
    ids: list[str]
    titles: list[str]
    links: list[str]
    x: bytes
    y: bytes


class MapController(Controller):
    path = "/api/map"
    tags = ["library"]

    @get(sync_to_thread=True, summary="The library as points in 2D, with clusters and their labels")
    def points(self, lib: Library) -> MapPoints:
        m, tagged, not_embedded = lib.map_points()
        return MapPoints(count=len(m.ids), method=m.method, laid_out=m.laid_out, ids=m.ids,
                         x=np.ascontiguousarray(m.xy[:, 0], dtype="<f4").tobytes(),
                         y=np.ascontiguousarray(m.xy[:, 1], dtype="<f4").tobytes(),
                         cluster=m.cluster.astype("<i2").tobytes(),
                         clusters=[MapCluster(id=c.id, label=c.label, size=c.size, x=c.x, y=c.y) for c in m.clusters],
                         tags=tagged, not_embedded=not_embedded)


    @get("/digest", sync_to_thread=True, summary="Where a digest day's new papers land on the map")
    def digest_overlay(self, lib: Library, digest: DigestService,
                       day: Annotated[str | None, Parameter(max_length=10)] = None) -> MapOverlay:
        days = digest.days()
        day = day or (days[0] if days else None)
        if day is None:
            return MapOverlay(day=None, ids=[], titles=[], links=[], x=b"", y=b"")
        try:
            items, vectors = digest.embedded_candidates(day)
        except ValueError:
            raise ValidationException(f"{day!r} is not a date (YYYY-MM-DD)") from None
        xy = lib.place_on_map(vectors)
        return MapOverlay(day=day, ids=[i for i, _, _ in items], titles=[t for _, t, _ in items],
                          links=[u for _, _, u in items], x=np.ascontiguousarray(xy[:, 0], dtype="<f4").tobytes(),
                          y=np.ascontiguousarray(xy[:, 1], dtype="<f4").tobytes())
