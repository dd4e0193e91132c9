"""What registries (Crossref, DataCite, arXiv) answered for an identifier, owned here (`registry_answers`), and
the papers that still wait for one. Asked only when the user turned completion on (enrich/)."""

from __future__ import annotations

from datetime import datetime

from . import now  # (the package imports this module once it is defined)

# What makes a paper worth asking about: something a registry knows and the paper lacks.
LACKING = ("(p.venue = '' OR p.entry_type IN ('', 'misc') OR p.abstract = '' OR p.year IS NULL "
           "OR len(p.authors) = 0)")


class RegistryAnswers:
    """The registry answers of one Store, by identifier (`doi:…`, `arxiv:…`)."""

    def __init__(self, store):
        self.store = store

    def _cur(self):
        return self.store._cur()

    def to_ask(self, limit: int = 20) -> list[tuple[str, str]]:
        """(paper id, identifier) of live papers that lack a field and whose DOI or arXiv id no registry answered
        yet, the newest papers first (what the user is reading now)."""
        return self._cur().execute(
            "SELECT p.id, i.ref FROM papers p JOIN identifiers i ON i.paper_id = p.id "
            "LEFT JOIN registry_answers a ON a.ref = i.ref "
            f"WHERE p.deleted_at IS NULL AND a.ref IS NULL AND (i.ref LIKE 'doi:%' OR i.ref LIKE 'arxiv:%') AND {LACKING} "
            "ORDER BY p.added_at DESC, i.ref LIMIT ?", [limit]).fetchall()

    def count_to_ask(self) -> int:
        """How many papers wait for a registry's answer."""
        return self._cur().execute(
            "SELECT count(DISTINCT p.id) FROM papers p JOIN identifiers i ON i.paper_id = p.id "
            "LEFT JOIN registry_answers a ON a.ref = i.ref "
            f"WHERE p.deleted_at IS NULL AND a.ref IS NULL AND (i.ref LIKE 'doi:%' OR i.ref LIKE 'arxiv:%') AND {LACKING}"
        ).fetchone()[0]

    def put(self, ref: str, registry: str, record: str) -> None:
        """Keep an answer (`record`: a Record as JSON, '' when the registry does not know the identifier)."""
        with self.store._write_lock:
            self._cur().execute("INSERT INTO registry_answers VALUES (?, ?, ?, ?) ON CONFLICT (ref) DO UPDATE SET "
                                "registry = excluded.registry, record = excluded.record, asked_at = excluded.asked_at",
                                [ref, registry, record, now()])

    def get(self, ref: str) -> tuple[str, str, datetime] | None:
        """(registry, record JSON, when) for an identifier asked about, or None."""
        return self._cur().execute("SELECT registry, record, asked_at FROM registry_answers WHERE ref = ?",
                                   [ref]).fetchone()

    def counts(self) -> tuple[int, int]:
        """(answers kept, of which found)."""
        return self._cur().execute("SELECT count(*), count(*) FILTER (WHERE record <> '') FROM registry_answers"
                                   ).fetchone()
