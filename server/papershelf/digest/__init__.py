"""The daily digest: new papers from the user's feeds, kept as candidates beside the library (never in it until
saved), embedded in the background, ranked each day by a model of this researcher (ranking.py), rated 👍/👎.

Flow: feeds.fetch → DigestService._store_fetch (de-duplicated against the library and each other, one
transaction per feed) → the embedding worker fills candidate vectors after library papers → DigestService.day()
ranks.

The wing: this module (DigestService), `feeds.py` (fetching and reading feeds), `ranking.py` (the
personal model), `mail.py` (the Atom feed and the email) and `schedule.py` (when the daily fetch is due).
"""

from __future__ import annotations

import hmac
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from .. import clean, ids
from ..models import ClosePaper, DigestItem, DigestSettings, DigestWhy, FeedbackRow, FeedInfo, FeedReport, Paper, Record
from ..models import Digest as DigestPage
from ..store import content_hash, embed_text, new_paper_id, now
from . import feeds, ranking

if TYPE_CHECKING:  # (annotations only: see where it is imported)
    import httpx

log = logging.getLogger("papershelf.digest")
PRUNE_DAYS = 30  # unsaved candidates older than this go (settings: digest_prune_days)
BACKGROUND = 300  # earlier candidates the model sees as negatives
RECENT_DAYS = 30.0  # a paper saved this many days ago counts e^-1 extra as a positive


def today() -> date:
    """The local date (the digest's day)."""
    return datetime.now().date()


class DigestError(ValueError):
    """A digest request that cannot be done; the message says why."""


class DigestService:
    """Feeds, candidates, feedback and the day's ranking, over one Library."""

    def __init__(self, store, index, events, embedder, model_id: str, wake: Callable[[], None],
                 save: Callable[..., tuple[Paper, bool]], http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout: float | httpx.Timeout = feeds.TIMEOUT):
        self.store, self.index, self.events = store, index, events
        self.tables = store.digest_tables  # feeds, candidates, feedback: their owner
        self.embedder, self.model_id = embedder, model_id  # the background's embedder, for candidates' vectors
        self.wake = wake  # the embedding worker: new candidates wait for vectors
        self.save_record = save  # Library.save: a candidate saved goes in as any saved paper does
        self.http = http
        self.sleep = sleep  # between retries (tests pass one that only records)
        self.timeout = timeout
        self._fetch_lock = threading.Lock()
        self._ratings = 0  # bumped by every 👍/👎: part of the ranking cache's key
        self._ranked: tuple | None = None  # (key, (method, note, scores)) of the last ranking

    def _client(self) -> httpx.Client:
        if self.http is None:
            import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

            self.http = httpx.Client()
        return self.http

    # -- feeds ----------------------------------------------------------------------------------------
    def feeds(self) -> list[FeedInfo]:
        """Every feed, with how its last fetch went."""
        return self.tables.feeds()

    def add_feed(self, source: str) -> tuple[FeedInfo, FeedReport]:
        """Add a feed after fetching it once: a source that is not a feed of papers is refused, with why."""
        feed = feeds.resolve(source)
        if any(f.source == feed.source for f in self.feeds()):
            raise DigestError(f"{feed.source} is already a feed")
        got = feeds.fetch(feed, self._client(), sleep=self.sleep, timeout=self.timeout)  # FeedError: not added
        if not got.records:
            raise feeds.FeedError(f"{feed.url} is a feed but holds no papers today; add it again when it has some")
        self.tables.add_feed(feed.source, feed.url, now())
        report = self._store_fetch(feed, got)
        return next(f for f in self.feeds() if f.source == feed.source), report

    def remove_feed(self, source: str) -> bool:
        """Stop fetching a feed (its candidates stay until pruned)."""
        key = source.strip()
        try:
            key = feeds.resolve(source).source
        except feeds.FeedError:
            pass
        return self.tables.remove_feed(key)

    # -- fetching -------------------------------------------------------------------------------------
    def fetch_all(self) -> list[FeedReport]:
        """Fetch every feed now; one that fails says why and never stops the others."""
        with self._fetch_lock:
            reports = []
            for f in self.feeds():
                feed = feeds.Feed(f.source, f.url)
                etag, modified = self.tables.validators(f.source)
                try:
                    got = feeds.fetch(feed, self._client(), etag=etag, last_modified=modified, sleep=self.sleep,
                                      timeout=self.timeout)
                except feeds.FeedError as e:
                    self._record_error(f.source, str(e))
                    reports.append(FeedReport(source=f.source, error=str(e)))
                    continue
                except Exception as e:  # a bug in reading one feed must not stop the others
                    log.exception("fetching %s failed", f.source)
                    self._record_error(f.source, f"{type(e).__name__}: {e}")
                    reports.append(FeedReport(source=f.source, error=f"{type(e).__name__}: {e}"))
                    continue
                reports.append(self._store_fetch(feed, got))
            self.prune()
            self.events.publish("digest", change="fetch", new=sum(r.new for r in reports))
            return reports

    def last_fetch(self) -> datetime | None:
        """When a fetch last ran (any feed, success or not)."""
        return self.tables.last_fetch()

    def _record_error(self, source: str, error: str) -> None:
        self.tables.record_error(source, error, now())

    def _store_fetch(self, feed: feeds.Feed, got: feeds.Fetched) -> FeedReport:
        """A whole fetch in one transaction: its candidates and the feed's state (nothing half-stored)."""
        counts = self.tables.store_fetch(feed.source, list(zip(got.records, got.announce)), today(), now(), got.etag,
                                         got.last_modified, got.not_modified, new_paper_id)
        self.wake()  # new candidates want vectors now, not at the worker's next idle check (up to 5 s later)
        return FeedReport(source=feed.source, not_modified=got.not_modified, **counts)

    def prune(self, days: int | None = None) -> int:
        """Drop unsaved candidates older than the set age (their 👍/👎 stay in the feedback table)."""
        days = days if days is not None else int(self.store.get_setting("digest_prune_days") or PRUNE_DAYS)
        return self.tables.prune(today() - timedelta(days=days))

    # -- embedding ------------------------------------------------------------------------------------
    def pending(self) -> int:
        """Candidates still waiting for a vector of the current model."""
        return self.tables.pending(self.model_id)

    def embed_batch(self, size: int) -> int:
        """Embed one batch of candidates (called by the library's worker once no library paper waits)."""
        rows = self.tables.to_embed(self.model_id, size)
        if not rows:
            return 0
        vecs = self.embedder.embed([embed_text(t, a) for _, t, a, _ in rows])
        self.tables.put_vectors(self.model_id, [(cid, h, v) for (cid, _, _, h), v in zip(rows, vecs)])
        self.events.publish("digest", change="embedded", embedded=len(rows), pending=self.pending())
        return len(rows)

    # -- the day's ranking ----------------------------------------------------------------------------
    def days(self) -> list[str]:
        """Days that have a digest, newest first."""
        return self.tables.days()

    def _vec(self, blob, model_id) -> np.ndarray | None:
        return np.frombuffer(blob, dtype=np.float32) if blob is not None and model_id == self.model_id else None

    def day(self, day: str | None = None, limit: int | None = None, tag: str | None = None) -> DigestPage:
        """A day's candidates ranked for this researcher (the newest day by default; `tag`: for that tag's papers)."""
        days = self.days()
        if day is None:
            day = days[0] if days else None
        if day is None:
            return DigestPage(day=None, method="none", note="no feeds fetched yet: add one with "
                              "`papershelf feeds add arxiv:cs.LG`", items=[], total=0, pending=0, days=[])
        try:
            the_day = date.fromisoformat(day)
        except ValueError as e:
            raise DigestError(f"{day!r} is not a date (YYYY-MM-DD)") from e
        rows = self.tables.of_day(the_day)
        ratings = self.tables.ratings([r[0] for r in rows])
        embedded = {r[0] for r in rows if self._vec(r[12], r[11]) is not None}
        fresh = [r for r in rows if r[10] is None and r[0] in embedded]
        waiting = [r for r in rows if r[10] is None and r[0] not in embedded]
        have = [r for r in rows if r[10] is not None]
        s = self.index.snapshot()
        method, note = "none", ""
        scores: dict[str, float] = {}
        if fresh:
            # Retraining costs up to half a second: the same day, tag, library view and ratings rank the same way.
            key = (str(the_day), tag, s.version, int(s.has_vec.sum()), self._ratings, tuple(r[0] for r in fresh))
            if self._ranked and self._ranked[0] == key:
                method, note, scores = self._ranked[1]
            else:
                cand = np.stack([self._vec(r[12], r[11]) for r in fresh])
                got = ranking.rank(cand, self._examples(s, the_day, tag, exclude={r[0] for r in rows}))
                method, note = got.method, got.note
                scores = {r[0]: float(v) for r, v in zip(fresh, got.scores)}
                self._ranked = (key, (method, note, scores))
        if waiting:
            note = (note + "; " if note else "") + f"{len(waiting)} papers still being embedded are listed last"
        ordered = sorted(fresh, key=lambda r: -scores[r[0]]) + waiting + have
        if limit is not None:
            ordered = ordered[:limit]
        items = [self._item(s, r, scores.get(r[0], 0.0), ratings.get(r[0])) for r in ordered]
        return DigestPage(day=str(the_day), method=method, note=note, items=items, total=len(rows),
                          pending=len(waiting), days=days)

    def embedded_candidates(self, day: str) -> tuple[list[tuple[str, str, str]], np.ndarray]:
        """A day's candidates not in the library that have a vector: (id, title, link) each, and the vectors."""
        rows = self.tables.unsaved_with_vectors(date.fromisoformat(day))
        kept = [(r, v) for r in rows if (v := self._vec(r[4], r[5])) is not None]
        return ([(r[0], r[1], ids.paper_link(r[3], r[2])) for r, _ in kept],
                np.stack([v for _, v in kept]) if kept else np.zeros((0, 0), dtype=np.float32))

    def _examples(self, s, the_day: date, tag: str | None, exclude: set[str]) -> ranking.Examples:
        """Positives: the library (recent saves weigh more; with `tag`, that tag's papers) and 👍; negatives: 👎
        and a background sample of earlier days' candidates."""
        rows = np.flatnonzero(s.has_vec)
        if tag:
            rows = np.array([r for r in rows if tag in s.tags[r]], dtype=np.int64)
            if not len(rows):
                raise DigestError(f"no embedded library paper has the tag {tag!r}")
        added = self.store.added_dates()
        t = now()
        age = np.array([(t - added.get(s.ids[r], t)).total_seconds() / 86400 for r in rows], dtype=np.float32)
        weights = 1 + np.exp(-age / RECENT_DAYS)
        fb = self.tables.feedback_vectors()
        liked = [self._vec(v, m) for r, v, m in fb if r > 0 and self._vec(v, m) is not None]
        disliked = [self._vec(v, m) for r, v, m in fb if r < 0 and self._vec(v, m) is not None]
        older = self.tables.earlier_unsaved(the_day, self.model_id)
        older = [o for o in older if o[0] not in exclude]
        random.Random(str(the_day)).shuffle(older)
        background = [self._vec(v, m) for _, v, m in older[:BACKGROUND]]
        dim = s.matrix.shape[1] if s.matrix.ndim == 2 and s.matrix.shape[1] else 384
        stack = lambda vs: np.stack(vs) if vs else np.zeros((0, dim), dtype=np.float32)  # noqa: E731
        return ranking.Examples.of(s.matrix[rows] if len(rows) else np.zeros((0, dim), dtype=np.float32),
                                   stack(liked), stack(disliked), stack(background), library_weights=weights)

    def _item(self, s, r, score: float, rating: int | None) -> DigestItem:
        cid, title, abstract, authors, year, url, refs, feed, announce, _, paper_id, model_id, blob = r
        why = DigestWhy(papers=[], terms=[])
        v = self._vec(blob, model_id)
        if v is not None and s.has_vec.any() and s.matrix.shape[1] == len(v):
            sims = np.where(s.has_vec, s.matrix @ v, -np.inf)
            top = [int(i) for i in np.argsort(-sims)[:3] if np.isfinite(sims[i])]
            why.papers = [ClosePaper(id=s.ids[i], title=s.briefs[i].title, score=round(float(sims[i]), 4))
                          for i in top]
            if top:
                why.terms = self.index.why(s, embed_text(title, abstract), top[0], n=4)
        return DigestItem(id=cid, title=title, authors=list(authors), year=year, url=url, identifiers=list(refs),
                          feed=feed, announce=announce, abstract=abstract, score=round(score, 4), why=why,
                          in_library=paper_id is not None, library_id=paper_id,
                          feedback={1: "up", -1: "down"}.get(rating))

    def counts(self) -> dict[str, int]:
        """For the library's stats: candidates waiting, feeds, feeds whose last fetch failed."""
        n, failing = self.tables.feed_counts()
        return {"candidates": self.tables.waiting(), "feeds": n, "feeds_failing": failing}

    # -- what the user does -----------------------------------------------------------------------------
    def _candidate(self, cid: str):
        r = self.tables.candidate(cid)
        if r is None:
            raise KeyError(cid)
        return r

    def rate(self, cid: str, rating: str | None) -> None:
        """👍 ("up"), 👎 ("down") or neither (None): kept forever, with the text and vector it was given on."""
        r = self._candidate(cid)
        self.tables.rate(r, None if rating is None else {"up": 1, "down": -1}[rating], now())
        self._ratings += 1
        self.events.publish("digest", change="rate", id=cid, rating=rating)

    def feedback(self) -> list[FeedbackRow]:
        """Every 👍/👎 ever given."""
        rows = self.tables.feedback_rows()
        return [FeedbackRow(candidate_id=a, title=b, identifiers=list(c), rating="up" if d > 0 else "down",
                            rated_at=e) for a, b, c, d, e in rows]

    def adopt(self, rec: Record) -> tuple[str | None, np.ndarray | None]:
        """The candidate a record (saved from a page) is, and its vector when the texts are the same."""
        cleaned, pairs, _ = clean.record(rec)
        refs = [ids.format_identifier(s_, v) for s_, v in pairs]
        if not refs:
            return None, None
        hit = self.tables.by_identifiers(refs)
        if hit is None:
            return None, None
        r = self._candidate(hit)
        same = content_hash(cleaned.title, cleaned.abstract) == content_hash(r[1], r[2])
        return hit, (self._vec(r[12], r[11]) if same else None)

    def mark_saved(self, cid: str, paper_id: str) -> None:
        """A candidate is in the library now (saved here or from its page)."""
        self.tables.mark_saved(cid, paper_id)
        self.events.publish("digest", change="save", id=cid, paper=paper_id)

    def save(self, cid: str) -> Paper:
        """Move a candidate into the library with its vector (no second embedding)."""
        r = self._candidate(cid)
        if r[10] is not None:
            p = self.store.get(r[10])
            if p is not None:
                return p
        rec = Record(title=r[1], abstract=r[2], authors=list(r[3]), year=r[4], url=r[5], identifiers=list(r[6]),
                     source=f"digest:{r[7]}")
        paper, _ = self.save_record(rec, vector=self._vec(r[12], r[11]))
        self.mark_saved(cid, paper.id)
        return paper

    # -- settings -------------------------------------------------------------------------------------
    def settings(self) -> DigestSettings:
        """The fetch time and the age at which unsaved candidates are pruned."""
        return DigestSettings(at=self.store.get_setting("digest_at") or "07:00",
                              prune_days=int(self.store.get_setting("digest_prune_days") or PRUNE_DAYS))

    def set_settings(self, at: str | None = None, prune_days: int | None = None) -> DigestSettings:
        """Change them (a time that is not HH:MM, or an age under a day, is refused)."""
        from .schedule import parse_at

        if at is not None:
            try:
                self.store.set_setting("digest_at", parse_at(at).strftime("%H:%M"))
            except ValueError as e:
                raise DigestError(str(e)) from e
        if prune_days is not None:
            if prune_days < 1:
                raise DigestError("prune_days must be at least 1")
            self.store.set_setting("digest_prune_days", str(prune_days))
        return self.settings()

    # -- the Atom feed's own token: it reads the digest and nothing else ------------------------------
    def new_feed_token(self) -> str:
        """Make (or replace) the token of the digest's Atom feed."""
        token = secrets.token_urlsafe(24)
        self.store.set_setting("digest_feed_token", token)
        return token

    def revoke_feed_token(self) -> None:
        """No feed reader can read the digest any more."""
        self.store.set_setting("digest_feed_token", "")

    def check_feed_token(self, given: str) -> bool:
        """The token a feed reader sent is the current one."""
        token = self.store.get_setting("digest_feed_token") or ""
        return bool(token) and hmac.compare_digest(given.encode(), token.encode())

    def find(self, ref: str) -> str:
        """A candidate id from its id or any identifier."""
        if self.tables.exists(ref):
            return ref
        for s_, v in ids.parse_identifier(ref):
            hit = self.tables.by_identifiers([ids.format_identifier(s_, v)])
            if hit:
                return hit
        raise KeyError(ref)

