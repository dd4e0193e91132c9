"""The daily digest: its feeds, a day's ranked papers, ratings, saving, settings, the feed token and mail."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.exceptions import HTTPException
from litestar.params import Parameter

from ..digest import DigestService
from ..library import Library
from ..models import Digest as DigestPage
from ..models import DigestSettings, FeedbackRow, FeedInfo, FeedReport, Paper


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


class Rated(msgspec.Struct):
    id: str
    feedback: Literal["up", "down"] | None


class FeedToken(msgspec.Struct):
    """The digest's own read-only token and the Atom URL that carries it (for a feed reader)."""

    token: str
    url: str


class FeedController(Controller):
    path = "/api/feeds"
    tags = ["digest"]

    @get(sync_to_thread=True, summary="The feeds the digest fetches, with their last success and last error")
    def list_feeds(self, digest: DigestService) -> list[FeedInfo]:
        return digest.feeds()

    @post(sync_to_thread=True, status_code=201, summary="Add a feed (fetched once first: refused if it is not a "
                                                         "feed of papers)")
    def add_feed(self, digest: DigestService, data: FeedIn) -> FeedAdded:
        feed, report = digest.add_feed(data.source)
        return FeedAdded(feed=feed, fetched=report)

    @delete(sync_to_thread=True, status_code=200, summary="Stop fetching a feed")
    def remove_feed(self, digest: DigestService, source: Annotated[str, Parameter(min_length=1, max_length=2000)]) -> list[FeedInfo]:
        if not digest.remove_feed(source):
            raise HTTPException(status_code=404, detail=f"{source} is not a feed")
        return digest.feeds()


class DigestController(Controller):
    path = "/api/digest"
    tags = ["digest"]

    @get(sync_to_thread=True, summary="A day's new papers, ranked for you, each with why")
    def digest(self, digest: DigestService, day: Annotated[str | None, Parameter(max_length=10)] = None,
               limit: Annotated[int | None, Parameter(ge=1, le=1000)] = None,
               tag: Annotated[str | None, Parameter(max_length=200)] = None) -> DigestPage:
        return digest.day(day, limit=limit, tag=tag)

    @post("/fetch", sync_to_thread=True, status_code=200, summary="Fetch every feed now")
    def fetch(self, digest: DigestService) -> list[FeedReport]:
        return digest.fetch_all()

    @post("/{item_id:str}/rate", sync_to_thread=True, status_code=200,
          summary="👍 or 👎 a digest item (the next ranking learns from it)")
    def rate(self, digest: DigestService, item_id: str, data: RateIn) -> Rated:
        cid = _candidate(digest, item_id)
        digest.rate(cid, data.rating)
        return Rated(id=cid, feedback=data.rating)

    @post("/{item_id:str}/save", sync_to_thread=True, status_code=200,
          summary="Save a digest item into the library (with its vector)")
    def save(self, digest: DigestService, item_id: str) -> Paper:
        return digest.save(_candidate(digest, item_id))

    @get("/settings", sync_to_thread=True, summary="When the digest is fetched each day, and when candidates go")
    def get_settings(self, digest: DigestService) -> DigestSettings:
        return digest.settings()

    @patch("/settings", sync_to_thread=True, summary="Change the fetch time (HH:MM, local) or the pruning age (days)")
    def set_settings(self, digest: DigestService, data: DigestSettingsIn) -> DigestSettings:
        return digest.set_settings(at=data.at, prune_days=data.prune_days)

    @get("/feedback", sync_to_thread=True, summary="Every 👍/👎 you gave, oldest first")
    def feedback(self, digest: DigestService) -> list[FeedbackRow]:
        return digest.feedback()

    @post("/feed-token", sync_to_thread=True, status_code=200,
          summary="Make (or replace) the read-only token of the digest's Atom feed")
    def make_feed_token(self, request: Request, digest: DigestService) -> FeedToken:
        token = digest.new_feed_token()
        return FeedToken(token=token, url=f"{request.base_url}".rstrip("/") + f"/digest.atom?key={token}")

    @delete("/feed-token", sync_to_thread=True, status_code=200, summary="Revoke the Atom feed's token")
    def revoke_feed_token(self, digest: DigestService) -> None:
        digest.revoke_feed_token()

    @post("/send", sync_to_thread=True, status_code=200, summary="Email today's digest now (SMTP settings needed)")
    def send(self, request: Request, lib: Library) -> dict[str, str]:
        return {"sent_to": lib.send_digest(str(request.base_url).rstrip("/"))}


def _candidate(digest: DigestService, ref: str) -> str:
    try:
        return digest.find(ref)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no digest item {ref!r}") from None
