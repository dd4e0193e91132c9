"""The digest as an Atom feed, under its own read-only token."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.openapi import ResponseSpec

from ..digest import DigestService, mail
from .shapes import ErrorBody


class AtomController(Controller):
    """The digest as Atom, for any feed reader. Not under /api/: it takes its own read-only token (`key`), which
    opens this route and nothing else; the pairing token is not accepted here (it would leak into reader URLs)."""

    path = "/digest.atom"
    tags = ["digest"]

    @get(sync_to_thread=True, security=[], summary="The latest digest as an Atom feed (key: the digest's feed token)",
         responses={200: ResponseSpec(data_container=str, media_type="application/atom+xml",
                                      description="The digest, best first, as Atom"),
                    401: ResponseSpec(data_container=ErrorBody, description="Missing or wrong feed key")})
    def atom(self, digest: DigestService, key: str = "") -> Response:
        if len(key) > 200 or not digest.check_feed_token(key):
            return Response({"status_code": 401, "detail": "missing or wrong feed key"}, status_code=401,
                            media_type="application/json")
        return Response(mail.atom(digest), media_type="application/atom+xml")
