"""The digest's tables, owned here: feeds (where new papers come from, how each fetch went), candidates (papers
the feeds brought, beside the library) with their identifiers, and feedback (every 👍/👎, kept forever).

The digest service (digest.py) decides what to fetch, rank and show; every row it reads or writes goes
through these functions.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np

from .. import clean, ids
from ..models import FeedInfo, Record
from . import content_hash, transaction  # (the package imports this module once these are defined)

# A candidate row as the digest reads it.
CANDIDATE_COLUMNS = ("id, title, abstract, authors, year, url, identifiers, feed, announce, day, paper_id, model_id, "
                     "vector")


class DigestTables:
    """Feeds, candidates and feedback of one Store."""

    def __init__(self, store):
        self.store = store

    def _cur(self):
        return self.store._cur()

    # -- feeds --------------------------------------------------------------------------------------------
    def feeds(self) -> list[FeedInfo]:
        """Every feed, with how its last fetch went."""
        rows = self._cur().execute(
            "SELECT source, url, added_at, last_fetch_at, last_success_at, last_error, last_error_at, last_count "
            "FROM feeds ORDER BY added_at, source").fetchall()
        return [FeedInfo(*r) for r in rows]

    def add_feed(self, source: str, url: str, t: datetime) -> None:
        with self.store._write_lock:
            self._cur().execute("INSERT INTO feeds (source, url, added_at) VALUES (?, ?, ?)", [source, url, t])

    def remove_feed(self, source: str) -> bool:
        """Whether there was such a feed."""
        with self.store._write_lock:
            c = self._cur()
            found = c.execute("SELECT count(*) FROM feeds WHERE source = ?", [source]).fetchone()[0]
            c.execute("DELETE FROM feeds WHERE source = ?", [source])
        return bool(found)

    def validators(self, source: str) -> tuple[str | None, str | None]:
        """The feed's last ETag and Last-Modified (a fetch sends them back)."""
        return self._cur().execute("SELECT etag, last_modified FROM feeds WHERE source = ?", [source]).fetchone()

    def last_fetch(self) -> datetime | None:
        """When a fetch last ran (any feed, success or not)."""
        return self._cur().execute("SELECT max(last_fetch_at) FROM feeds").fetchone()[0]

    def record_error(self, source: str, error: str, t: datetime) -> None:
        with self.store._write_lock:
            self._cur().execute("UPDATE feeds SET last_fetch_at = ?, last_error = ?, last_error_at = ? "
                                "WHERE source = ?", [t, error[:1000], t, source])

    def store_fetch(self, source: str, records: list[tuple[Record, str]], day: date, t: datetime,
                    etag: str | None, last_modified: str | None, not_modified: bool, new_id) -> dict[str, int]:
        """A whole fetch in one transaction: its candidates and the feed's state (nothing half-stored). Returns
        how many records were new, seen before, or already in the library."""
        counts = {"new": 0, "seen": 0, "in_library": 0}
        with self.store._write_lock:
            c = self._cur()
            with transaction(c):
                for rec, announce in records:
                    counts[self._add_candidate(c, rec, source, announce, day, t, new_id)] += 1
                c.execute("UPDATE feeds SET last_fetch_at = ?, last_success_at = ?, last_error = NULL, "
                          "etag = coalesce(?, etag), last_modified = coalesce(?, last_modified), "
                          "last_count = CASE WHEN ? THEN last_count ELSE ? END WHERE source = ?",
                          [t, t, etag, last_modified, not_modified, len(records), source])
        return counts

    def _add_candidate(self, c, rec: Record, feed: str, announce: str, day: date, t: datetime, new_id) -> str:
        """One fetched paper → a new candidate ("new"), one we have ("seen"), or a library paper ("in_library")."""
        rec, pairs, _ = clean.record(rec)
        if not rec.title:
            return "seen"
        refs = [ids.format_identifier(s, v) for s, v in pairs]
        if refs and c.execute("SELECT 1 FROM candidate_refs WHERE ref IN (SELECT unnest(?))", [refs]).fetchone():
            return "seen"
        paper_id = (self.store._find_matches(c, rec, pairs) or [None])[0]
        cid = new_id()
        c.execute("INSERT INTO candidates (id, title, abstract, authors, year, venue, url, identifiers, feed, "
                  "announce, day, fetched_at, content_hash, paper_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [cid, rec.title, rec.abstract, rec.authors, rec.year, rec.venue, rec.url, refs, feed, announce, day,
                   t, content_hash(rec.title, rec.abstract), paper_id])
        for ref in refs:
            c.execute("INSERT INTO candidate_refs VALUES (?, ?) ON CONFLICT DO NOTHING", [ref, cid])
        return "in_library" if paper_id else "new"

    def feed_counts(self) -> tuple[int, int]:
        """(feeds, those whose last fetch failed)."""
        return self._cur().execute(
            "SELECT count(*), count(*) FILTER (WHERE last_error IS NOT NULL) FROM feeds").fetchone()

    # -- candidates ---------------------------------------------------------------------------------------
    def prune(self, cutoff: date) -> int:
        """Drop unsaved candidates of days before `cutoff` (their 👍/👎 stay in feedback); how many."""
        with self.store._write_lock:
            c = self._cur()
            old = [r[0] for r in c.execute("SELECT id FROM candidates WHERE day < ? AND paper_id IS NULL",
                                           [cutoff]).fetchall()]
            if old:
                c.execute("DELETE FROM candidate_refs WHERE candidate_id IN (SELECT unnest(?))", [old])
                c.execute("DELETE FROM candidates WHERE id IN (SELECT unnest(?))", [old])
        return len(old)

    def pending(self, model_id: str) -> int:
        """Candidates still waiting for a vector of this model."""
        return self._cur().execute(
            "SELECT count(*) FROM candidates WHERE paper_id IS NULL AND (model_id IS NULL OR model_id <> ?)",
            [model_id]).fetchone()[0]

    def to_embed(self, model_id: str, size: int) -> list[tuple[str, str, str, str]]:
        """(id, title, abstract, content hash) of up to `size` candidates with no vector of this model, newest day
        first."""
        return self._cur().execute(
            "SELECT id, title, abstract, content_hash FROM candidates WHERE paper_id IS NULL AND "
            "(model_id IS NULL OR model_id <> ?) ORDER BY day DESC, fetched_at, id LIMIT ?", [model_id, size]).fetchall()

    def put_vectors(self, model_id: str, rows: list[tuple[str, str, np.ndarray]]) -> None:
        """Store (id, content hash, vector) for candidates whose text is still that one."""
        with self.store._write_lock:
            c = self._cur()
            for cid, h, v in rows:
                c.execute("UPDATE candidates SET model_id = ?, vector = ? WHERE id = ? AND content_hash = ?",
                          [model_id, np.asarray(v, dtype=np.float32).tobytes(), cid, h])

    def days(self) -> list[str]:
        """Days that have a digest, newest first."""
        rows = self._cur().execute("SELECT DISTINCT day FROM candidates ORDER BY day DESC").fetchall()
        return [str(r[0]) for r in rows]

    def of_day(self, day: date) -> list[tuple]:
        """A day's candidates (CANDIDATE_COLUMNS), in the order they were fetched."""
        return self._cur().execute(f"SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE day = ? ORDER BY fetched_at, id",
                                   [day]).fetchall()

    def unsaved_with_vectors(self, day: date) -> list[tuple]:
        """(id, title, url, identifiers, vector, model_id) of a day's candidates not in the library."""
        return self._cur().execute(
            "SELECT id, title, url, identifiers, vector, model_id FROM candidates WHERE day = ? AND paper_id IS NULL "
            "ORDER BY id", [day]).fetchall()

    def earlier_unsaved(self, day: date, model_id: str) -> list[tuple]:
        """(id, vector, model_id) of the unsaved candidates of earlier days with a vector of this model."""
        return self._cur().execute("SELECT id, vector, model_id FROM candidates WHERE day < ? AND paper_id IS NULL "
                                   "AND model_id = ?", [day, model_id]).fetchall()

    def waiting(self) -> int:
        """Candidates not in the library."""
        return self._cur().execute("SELECT count(*) FROM candidates WHERE paper_id IS NULL").fetchone()[0]

    def candidate(self, cid: str) -> tuple | None:
        """One candidate (CANDIDATE_COLUMNS), or None."""
        return self._cur().execute(f"SELECT {CANDIDATE_COLUMNS} FROM candidates WHERE id = ?", [cid]).fetchone()

    def by_identifiers(self, refs: list[str]) -> str | None:
        """The candidate that has any of these identifiers."""
        hit = self._cur().execute("SELECT candidate_id FROM candidate_refs WHERE ref IN (SELECT unnest(?)) LIMIT 1",
                                  [refs]).fetchone()
        return hit[0] if hit else None

    def exists(self, cid: str) -> bool:
        return self._cur().execute("SELECT 1 FROM candidates WHERE id = ?", [cid]).fetchone() is not None

    def mark_saved(self, cid: str, paper_id: str) -> None:
        """A candidate is in the library now."""
        with self.store._write_lock:
            self._cur().execute("UPDATE candidates SET paper_id = ? WHERE id = ?", [paper_id, cid])

    # -- feedback -----------------------------------------------------------------------------------------
    def ratings(self, cids: list[str]) -> dict[str, int]:
        """The 👍 (1) or 👎 (-1) given to these candidates."""
        if not cids:
            return {}
        return dict(self._cur().execute("SELECT candidate_id, rating FROM feedback WHERE candidate_id IN "
                                        "(SELECT unnest(?))", [cids]).fetchall())

    def rate(self, row: tuple, value: int | None, t: datetime) -> None:
        """Keep a 👍/👎 on a candidate (CANDIDATE_COLUMNS row) with its text and vector; None takes it back."""
        with self.store._write_lock:
            c = self._cur()
            if value is None:
                c.execute("DELETE FROM feedback WHERE candidate_id = ?", [row[0]])
            else:
                c.execute("INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (candidate_id) DO UPDATE "
                          "SET rating = excluded.rating, rated_at = excluded.rated_at",
                          [row[0], row[1], row[2], row[6], value, t, row[11], row[12]])

    def feedback_vectors(self) -> list[tuple[int, bytes | None, str | None]]:
        """(rating, vector, model_id) of every 👍/👎."""
        return self._cur().execute("SELECT rating, vector, model_id FROM feedback").fetchall()

    def feedback_rows(self) -> list[tuple]:
        """(candidate id, title, identifiers, rating, when) of every 👍/👎, oldest first."""
        return self._cur().execute("SELECT candidate_id, title, identifiers, rating, rated_at FROM feedback "
                                   "ORDER BY rated_at").fetchall()

