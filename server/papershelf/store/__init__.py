"""The library in DuckDB, the single source of truth: papers, their identifiers, and their vectors.

One Store per process. Reads use a cursor per thread; every write goes through one lock, so there is a
single writer and readers never see "database is locked". Each write is one transaction: a crash leaves
either all of a batch or none of it.

The wing owns every table: this module (the connection, transactions, papers, their identifiers and vectors,
followed sources and settings), `files.py` (where papers' files are, the ones that failed to read), `digest.py`
(the digest's feeds, candidates and feedback), `passages.py` (the files' full text: passages, their vectors,
reference lists), `registry.py` (what registries answered, when completion is on) and `migrations.py` (the schema, numbered). Nothing outside store/ writes SQL or touches a private name here.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import msgspec
import numpy as np

from .. import clean, ids
from ..clean import clean_tags
from ..models import (Count, Facets, FileRef, ImportFailure, ImportMerge, ImportWarning, Paper, PaperFile, PaperQuery,
                      Record, SourceItem)
from .migrations import MIGRATIONS

_PAPER_COLUMNS = ("id, title, abstract, authors, year, venue, url, tags, notes, source, added_at, updated_at, "
                  "deleted_at, entry_type, edited")
# The fields of a paper the user may edit (Store.edit); an edited one is theirs (papers.edited).
EDITABLE = ("title", "authors", "year", "venue", "entry_type", "abstract", "url", "identifiers")
_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"
# Identifier schemes that name exactly one paper: two different values mean two different papers, even if
# the titles agree. DOIs are not here: a preprint and its published version have different DOIs.
_UNIQUE_SCHEMES = ("arxiv", "s2", "openalex", "corpusid")


class StoreError(Exception):
    """A problem with the library file that a user must see (locked, corrupt, newer than this version)."""


def now() -> datetime:
    """UTC now without tzinfo, as stored."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


@contextlib.contextmanager
def transaction(c):
    """All of the block's writes on this cursor, or none of them."""
    c.execute("BEGIN")
    try:
        yield c
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise


def new_paper_id() -> str:
    """A short random library id that is easy to read and type."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(10))


def embed_text(title: str, abstract: str) -> str:
    """The text a paper's vector is made of."""
    return f"{title.strip()}. {abstract.strip()}".strip() if abstract.strip() else title.strip()


def file_id(sha256: str) -> str:
    """A file's id: its content's hash, shortened (the same bytes are the same file wherever they are)."""
    return sha256[:24]


def content_hash(title: str, abstract: str) -> str:
    """Hash of the embedded text: a vector is reused while this stays the same."""
    return hashlib.sha256(embed_text(title, abstract).encode()).hexdigest()


_MERGED_COLUMNS = "title, abstract, authors, year, venue, url, tags, deleted_at, entry_type, edited"


def _entry_type(current: str, rec: Record) -> str:
    """What a paper is, as the richer of two sources says: a known type beats none, and a source's word beats
    `misc` (a registry or a .bib that says article), but a layout's guess never replaces one."""
    if not rec.entry_type or (current and (current != "misc" or rec.guessed)):
        return current
    return rec.entry_type


def _merged(row: tuple, rec: Record) -> dict | None:
    """A paper's fields (a _MERGED_COLUMNS row) merged with a record's: the richest of each field, the union of
    tags, the user's edited fields as they are; None when nothing changes (and the paper is not in the trash)."""
    title, abstract, authors, year, venue, url, tags, deleted_at, entry_type, edited = row
    new = dict(
        title=title or rec.title,
        abstract=(abstract or rec.abstract) if rec.guessed else
        rec.abstract if len(rec.abstract) > len(abstract) else abstract,
        authors=(list(authors) or rec.authors) if rec.guessed else
        rec.authors if len(rec.authors) > len(authors) else list(authors),
        year=year if year is not None else rec.year,
        venue=venue or rec.venue,
        url=url or rec.url,
        tags=list(tags) + [t for t in rec.tags if t not in tags],
        entry_type=_entry_type(entry_type, rec),
    )
    old = dict(title=title, abstract=abstract, authors=list(authors), year=year, venue=venue, url=url,
               tags=list(tags), entry_type=entry_type)
    for field in edited or ():
        if field in old:
            new[field] = old[field]
    return None if new == old and deleted_at is None else new


class IdentifierTaken(ValueError):
    """An identifier the user gave a paper is another paper's: the two are one paper (merge them), or it is wrong."""

    def __init__(self, ref: str, owner: str):
        super().__init__(f"{ref} is already paper {owner}'s: if the two are one paper, merge them")
        self.ref, self.owner = ref, owner


ENTRY_TYPE = re.compile(r"^[a-z]{1,30}$")


def _edited_values(current: Paper, fields: dict) -> dict:
    """The user's new field values, cleaned as an import would clean them; ValueError where one would be dropped
    (the user is told, never silently corrected)."""
    rec = Record(title=fields.get("title", current.title), abstract=fields.get("abstract", current.abstract),
                 authors=fields.get("authors", current.authors), year=fields.get("year", current.year),
                 venue=fields.get("venue", current.venue), url=fields.get("url", current.url))
    cleaned, _, warnings = clean.record(rec)
    for w in warnings:
        if w.field in fields or (w.field == "author" and "authors" in fields):
            raise ValueError(f"{w.field}: {w.reason.removesuffix(': dropped')} ({w.value!r})")
    if "title" in fields and not cleaned.title:
        raise ValueError("title: a paper needs a title")
    out = {f: getattr(cleaned, f) for f in ("title", "abstract", "authors", "year", "venue", "url") if f in fields}
    if "year" in fields and fields["year"] is not None and cleaned.year is None:
        raise ValueError(f"year: not a year ({fields['year']!r})")
    if "entry_type" in fields:
        kind = (fields["entry_type"] or "").strip().lower()
        if kind and not ENTRY_TYPE.match(kind):
            raise ValueError(f"entry_type: a BibTeX entry type is a word (article, inproceedings...), not {kind!r}")
        out["entry_type"] = kind
    return out


def _edited_identifiers(refs: list[str]) -> list[str]:
    """The identifiers a user gave, normalised; ValueError for one that is not `scheme:value` of a known scheme."""
    out: list[str] = []
    for ref in refs:
        pair = ids.split_identifier(ref)
        if pair is None or pair[0] == "id":
            raise ValueError(f"identifiers: {ref!r} is not an identifier papershelf knows (doi:..., arxiv:..., "
                             f"pmid:...)")
        if (ref := ids.format_identifier(*pair)) not in out:
            out.append(ref)
    return out


CLOSE_TITLES = 0.93  # Jaro-Winkler similarity of normalised titles: a preprint's and its published version's


def _why_apart(a: Paper, b: Paper, similarity: float | None) -> str:
    """Why two papers may be one, and why the automatic merge left them apart."""
    if similarity is not None:
        why = f"nearly the same title ({similarity:.2f})"
        if any(i.startswith("arxiv:") for i in a.identifiers) != any(i.startswith("arxiv:") for i in b.identifiers):
            why += "; one is an arXiv preprint"
        return why
    reasons = []
    fa, fb = (ids.author_key(p.authors[0]) if p.authors else "" for p in (a, b))
    if fa and fb and fa != fb:
        reasons.append(f"another first author ({a.authors[0]}; {b.authors[0]})")
    if a.year and b.year and abs(a.year - b.year) > 2:
        reasons.append(f"years {a.year} and {b.year}")
    sa = {i.split(":", 1)[0]: i for i in a.identifiers}
    clash = [f"{sa[i.split(':', 1)[0]]} and {i}" for i in b.identifiers if i.split(":", 1)[0] in sa and sa[i.split(":", 1)[0]] != i]
    if clash:
        reasons.append("different identifiers (" + "; ".join(clash[:2]) + ")")
    return "the same title, but " + ", ".join(reasons) if reasons else "the same title"


QUEUED_TEXT = 4 << 20  # text queued for one bulk insert: DuckDB copies it a few times while inserting


def _title_counts(norm: str) -> bool:
    """A normalised title long enough to be evidence that two records are one paper (see _find_matches)."""
    return len(norm) >= 12 and len(norm.split()) >= 2


class _BatchMerge:
    """The merges of one transaction, in bulk. Identifier owners, titles and the fields of the papers the batch
    may touch are read once; a record that is a new paper is queued for one bulk insert, one that is a paper
    already there with nothing new costs nothing; any other (it meets another paper, several papers, or a
    queued one) flushes the queue and takes the one-at-a-time path (Store._merge_one), so each record still
    sees every record before it."""

    def __init__(self, store: "Store", c, source: str, items: list[tuple[Record, list[tuple[str, str]]]]):
        self.store, self.c, self.source = store, c, source
        refs = sorted({ids.format_identifier(s, v) for _, pairs in items for s, v in pairs})
        self.owner: dict[str, str] = dict(c.execute(
            "SELECT ref, paper_id FROM identifiers WHERE ref IN (SELECT unnest(?))", [refs]).fetchall()) if refs else {}
        norms = sorted({n for rec, _ in items if _title_counts(n := ids.normalize_title(rec.title))})
        self.titles: set[str] = {r[0] for r in c.execute(
            "SELECT DISTINCT title_norm FROM papers WHERE title_norm IN (SELECT unnest(?))", [norms]).fetchall()
        } if norms else set()
        self.fields: dict[str, tuple] = {}
        self._read_fields(sorted(set(self.owner.values())))
        self.queued: list[tuple] = []  # papers rows waiting for the bulk insert
        self.queued_refs: list[tuple[str, str]] = []
        self.queued_ids: set[str] = set()
        self.queued_bytes = 0
        self.folded: list[str] = []  # papers merged into another (gone from the library)

    def _read_fields(self, pids: list[str]) -> None:
        if pids:
            for r in self.c.execute(f"SELECT id, {_MERGED_COLUMNS} FROM papers WHERE id IN (SELECT unnest(?))",
                                    [pids]).fetchall():
                self.fields[r[0]] = r[1:]

    def merge(self, rec: Record, pairs: list[tuple[str, str]]) -> tuple[str, bool, bool]:
        """(paper id, added?, changed?) for one clean record, exactly as Store._merge_one would say."""
        if rec.files:
            return self._with_files(rec, pairs)
        refs = [ids.format_identifier(s, v) for s, v in pairs]
        owners = {self.owner[r] for r in refs if r in self.owner}
        norm = ids.normalize_title(rec.title)
        if not owners and not (_title_counts(norm) and norm in self.titles):
            return self._new(rec, refs, norm), True, False
        if len(owners) == 1 and all(r in self.owner for r in refs):
            pid = next(iter(owners))
            if pid not in self.queued_ids:
                if pid not in self.fields:
                    self._read_fields([pid])
                if pid in self.fields and _merged(self.fields[pid], rec) is None:
                    return pid, False, False  # already there, nothing new: no write at all
        return self._one_at_a_time(rec, pairs, refs, norm)

    def _new(self, rec: Record, refs: list[str], norm: str) -> str:
        pid, t = new_paper_id(), now()
        self.queued.append((pid, rec.title, norm, rec.abstract, rec.authors, rec.year, rec.venue, rec.url, rec.tags,
                            rec.source or self.source, content_hash(rec.title, rec.abstract), t, t, rec.entry_type))
        self.queued_refs += [(r, pid) for r in refs]
        self.queued_ids.add(pid)
        self.owner.update((r, pid) for r in refs)
        if _title_counts(norm):
            self.titles.add(norm)
        self.fields[pid] = (rec.title, rec.abstract, rec.authors, rec.year, rec.venue, rec.url, rec.tags, None,
                            rec.entry_type, [])
        self.queued_bytes += len(rec.abstract) + len(rec.title)
        if self.queued_bytes > QUEUED_TEXT:
            self.flush()
        return pid

    def _one_at_a_time(self, rec: Record, pairs: list[tuple[str, str]], refs: list[str], norm: str
                       ) -> tuple[str, bool, bool]:
        self.flush()
        pid, added, changed, folded = self.store._merge_one(self.c, rec, pairs, self.source)
        self.folded += folded
        gone = set(folded)
        if gone:
            self.owner = {r: (pid if p in gone else p) for r, p in self.owner.items()}
        for r in refs:
            self.owner.setdefault(r, pid)  # attached to this paper unless another already held it
        for p in (pid, *folded):
            self.fields.pop(p, None)
        if _title_counts(norm):
            self.titles.add(norm)
        return pid, added, changed

    def _with_files(self, rec: Record, pairs: list[tuple[str, str]]) -> tuple[str, bool, bool]:
        """A record with files: a file the library has already decides the paper (it moved, or it is read
        again); otherwise the usual rules do, and the files are attached to the paper they chose."""
        self.flush()
        refs = [ids.format_identifier(s, v) for s, v in pairs]
        owner = self.store._file_owner(self.c, rec.files)
        if owner:
            pid, added = owner, False
            changed = self.store._merge_fields(self.c, pid, rec) | self.store._add_identifiers(self.c, pid, pairs)
            for r in refs:
                self.owner.setdefault(r, pid)
            self.fields.pop(pid, None)
        else:
            pid, added, changed = self._one_at_a_time(rec, pairs, refs, ids.normalize_title(rec.title))
        changed |= self.store._attach_files(self.c, pid, rec.files)
        return pid, added, changed and not added

    def flush(self) -> None:
        """Insert the queued new papers and their identifiers, in two statements."""
        if self.queued:
            cols = list(zip(*self.queued))
            self.c.execute("INSERT INTO papers (id, title, title_norm, abstract, authors, year, venue, url, tags, "
                           "source, content_hash, added_at, updated_at, entry_type) SELECT " +
                           ", ".join(["unnest(?)"] * len(cols)), [list(col) for col in cols])
            self.store._unembedded.update(cols[0])
        if self.queued_refs:
            refs, pids = zip(*self.queued_refs)
            self.c.execute("INSERT INTO identifiers SELECT unnest(?), unnest(?)", [list(refs), list(pids)])
        if self.queued:
            keys: dict[str, list[str]] = {}
            for ref, pid in self.queued_refs:
                if ref.startswith("key:"):
                    keys.setdefault(pid, []).append(ref[4:])
            self.store.citation_keys.give(self.c, [(row[0], row[4], row[5], row[1], keys.get(row[0], []))
                                                   for row in self.queued])
        self.queued, self.queued_refs, self.queued_ids, self.queued_bytes = [], [], set(), 0


class Store:
    """DuckDB-backed library: merge records in, read papers and vectors out."""

    def __init__(self, path: Path | str, before_migrating: Callable[[duckdb.DuckDBPyConnection], object] | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = duckdb.connect(str(self.path))
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                raise StoreError(
                    f"The library {self.path} is open in another process (is `papershelf serve` running?). "
                    f"Details: {e}") from e
            raise StoreError(f"Cannot open the library {self.path}: {e}") from e
        # DuckDB draws a progress bar on stdout for a query past 2 s: never in `--json` output, nor a server's log.
        self._conn.execute("SET enable_progress_bar = false")
        if os.name == "posix" and self.path.stat().st_mode & 0o077:
            os.chmod(self.path, 0o600)  # the user's papers, notes and feed key: theirs alone
        self._write_lock = threading.RLock()
        self._local = threading.local()
        # Papers written since the index last asked (take_changes): the index follows writes by id, so a save
        # costs it one paper, not a rebuild. In memory only: the index checks the whole store when it loads.
        self._changed: set[str] = set()
        self._changes_lock = threading.Lock()
        # Papers this process created and put no vector for since: the index reads no vector for them (a read
        # of the embeddings scans the table: 3-7 ms a save at 100,000 papers, for a vector that is not there).
        self._unembedded: set[str] = set()
        self.digest_tables = DigestTables(self)  # feeds, candidates, feedback (store/digest.py)
        self.file_tables = FileTables(self)  # where papers' files are, and the ones that failed (store/files.py)
        self.passage_tables = PassageTables(self)  # the files' full text: passages, vectors (store/passages.py)
        self.registry_answers = RegistryAnswers(self)  # what registries said of identifiers (store/registry.py)
        self.citation_keys = CitationKeys(self)  # each paper's citation key, given once (store/keys.py)
        if CITATION_KEYS_MIGRATION in self.migrate(before_migrating):
            self.citation_keys.give_missing()  # a library from before keys were kept: once, as it gets their table

    # -- plumbing -------------------------------------------------------------------------------------
    def _touch(self, pids) -> None:
        """Note papers whose row, identifiers or vector a write changed."""
        with self._changes_lock:
            self._changed.update(pids)

    def take_changes(self) -> set[str]:
        """Papers written since the last call (each at most once)."""
        with self._changes_lock:
            changed, self._changed = self._changed, set()
        return changed

    def _cur(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB cursors are not shared between threads)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._conn.cursor()
        return cur

    def close(self) -> None:
        """Close the database (checkpoints the write-ahead log)."""
        with self._write_lock:
            try:
                self._conn.execute("CHECKPOINT")
            except duckdb.Error:
                pass
            self._conn.close()

    def migrate(self, before: Callable[[duckdb.DuckDBPyConnection], object] | None = None) -> list[int]:
        """Apply the migrations this file has not had yet; return their numbers. `before` (a backup) is called
        first when a library that has some migrations is about to get more."""
        with self._write_lock:
            c = self._cur()
            c.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
                      "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
            done = {r[0] for r in c.execute("SELECT version FROM schema_migrations").fetchall()}
            known = {v for v, _, _ in MIGRATIONS}
            if done - known:
                raise StoreError(f"The library {self.path} was written by a newer papershelf "
                                 f"(schema {max(done)}); upgrade papershelf to open it.")
            if before is not None and done and known - done:
                before(self._conn)
            pending = [(version, name, sql) for version, name, sql in MIGRATIONS if version not in done]
            if not pending:
                return []
            # One transaction for all of them: a library is never left between two schemas, and a new one is
            # made in one commit (69 ms of CPU instead of 118 with a commit per migration).
            with transaction(c):
                for version, name, sql in pending:
                    c.execute(sql)
                    c.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, now()])
            return [version for version, _, _ in pending]

    def schema_version(self) -> int:
        """The newest migration applied."""
        return self._cur().execute("SELECT max(version) FROM schema_migrations").fetchone()[0] or 0

    def get_setting(self, key: str) -> str | None:
        """A stored setting."""
        r = self._cur().execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
        return r[0] if r else None

    def set_setting(self, key: str, value: str) -> None:
        """Store a setting."""
        with self._write_lock:
            self._cur().execute("INSERT INTO settings VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = "
                                "excluded.value", [key, value])

    # -- writes ---------------------------------------------------------------------------------------
    def merge_records(self, records: Iterable[tuple[str, Record]], source: str = "",
                      placed: list[tuple[str, str]] | None = None
                      ) -> tuple[list[str], list[ImportMerge], list[ImportFailure], list[ImportWarning]]:
        """Add or merge a batch of (position, record) in one transaction; return added, merged, failed, and
        warnings for fields dropped from records that were kept. Every record is cleaned first (clean.record).

        Records are merged in order, each seeing the ones before it, but in bulk (_BatchMerge): new papers and
        unchanged re-imports cost no query of their own; only a record that meets another paper takes the
        one-at-a-time path."""
        added: list[str] = []
        merged: list[ImportMerge] = []
        failed: list[ImportFailure] = []
        warnings: list[ImportWarning] = []
        ready: list[tuple[str, Record, list[tuple[str, str]], list]] = []
        for position, rec in records:
            try:
                rec, pairs, dropped = clean.record(rec)
                if not rec.title:
                    raise ValueError("record has no title")
            except (ValueError, TypeError) as e:
                failed.append(ImportFailure(position=position, reason=str(e)))
                continue
            ready.append((position, rec, pairs, dropped))
        batch = None
        with self._write_lock:
            c = self._cur()
            try:
                with transaction(c):
                    batch = _BatchMerge(self, c, source, [(rec, pairs) for _, rec, pairs, _ in ready])
                    for position, rec, pairs, dropped in ready:
                        try:
                            pid, was_added, changed = batch.merge(rec, pairs)
                        except (ValueError, TypeError, duckdb.ConversionException) as e:
                            failed.append(ImportFailure(position=position, reason=str(e)))
                            continue
                        if was_added:
                            added.append(pid)
                        else:
                            merged.append(ImportMerge(position=position, id=pid, changed=changed))
                        if placed is not None:
                            placed.append((position, pid))
                        warnings += [ImportWarning(position=position, id=pid, field=w.field, value=w.value,
                                                   reason=w.reason) for w in dropped]
                    batch.flush()
            finally:  # rolled back: the index finds them unchanged, which costs one read
                self._touch(added + [m.id for m in merged if m.changed] + (batch.folded if batch else []))
        return added, merged, failed, warnings

    def _find_matches(self, c, rec: Record, pairs: list[tuple[str, str]]) -> list[str]:
        """Library ids this record is the same paper as: by any identifier, else by title + author + year."""
        found: list[str] = []
        if pairs:
            refs = [ids.format_identifier(s, v) for s, v in pairs]
            rows = c.execute("SELECT i.paper_id FROM identifiers i JOIN papers p ON p.id = i.paper_id "
                             "WHERE i.ref IN (SELECT unnest(?)) ORDER BY p.added_at, p.id", [refs]).fetchall()
            for (pid,) in rows:
                if pid not in found:
                    found.append(pid)
        if found:
            return found
        norm = ids.normalize_title(rec.title)
        if not _title_counts(norm):
            return []  # "Introduction" or "Editorial" are not evidence of anything
        rows = c.execute("SELECT id, authors, year FROM papers WHERE title_norm = ? ORDER BY added_at, id",
                         [norm]).fetchall()
        first = ids.author_key(rec.authors[0]) if rec.authors else ""
        mine = {s: v for s, v in pairs if s in _UNIQUE_SCHEMES}
        for pid, authors, year in rows:
            theirs_first = ids.author_key(authors[0]) if authors else ""
            if first and theirs_first and first != theirs_first:
                continue
            if rec.year and year and abs(rec.year - year) > 2:
                continue  # a preprint and its published version are often a year or two apart, no more
            if mine:
                theirs = dict(c.execute("SELECT split_part(ref, ':', 1), substr(ref, strpos(ref, ':') + 1) "
                                        "FROM identifiers WHERE paper_id = ?", [pid]).fetchall())
                if any(s in theirs and theirs[s] != v for s, v in mine.items()):
                    continue
            found.append(pid)
        return found

    def _merge_one(self, c, rec: Record, pairs: list[tuple[str, str]], source: str
                   ) -> tuple[str, bool, bool, list[str]]:
        """Write one clean record: returns (paper id, added?, changed?, papers folded into it)."""
        matches = self._find_matches(c, rec, pairs)
        t = now()
        if not matches:
            pid = new_paper_id()
            c.execute(
                "INSERT INTO papers (id, title, title_norm, abstract, authors, year, venue, url, tags, notes, "
                "source, content_hash, added_at, updated_at, entry_type) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?)",
                [pid, rec.title, ids.normalize_title(rec.title), rec.abstract, rec.authors, rec.year, rec.venue,
                 rec.url, rec.tags, rec.source or source, content_hash(rec.title, rec.abstract), t, t, rec.entry_type])
            self._add_identifiers(c, pid, pairs)
            self.citation_keys.give(c, [(pid, rec.authors, rec.year, rec.title, [v for k, v in pairs if k == "key"])])
            self._unembedded.add(pid)
            return pid, True, False, []
        pid = matches[0]
        changed = False
        for other in matches[1:]:
            self._fold(c, other, pid)
            changed = True
        changed |= self._merge_fields(c, pid, rec)
        changed |= self._add_identifiers(c, pid, pairs)
        return pid, False, changed, matches[1:]

    def _add_identifiers(self, c, pid: str, pairs: list[tuple[str, str]]) -> bool:
        """Attach identifiers to a paper (not the ones the user took from it); return whether any was new."""
        new = False
        dropped = c.execute("SELECT dropped_ids FROM papers WHERE id = ?", [pid]).fetchone() if pairs else None
        for s, v in pairs:
            ref = ids.format_identifier(s, v)
            if dropped and ref in dropped[0]:
                continue
            r = c.execute("SELECT paper_id FROM identifiers WHERE ref = ?", [ref]).fetchone()
            if r is None:
                c.execute("INSERT INTO identifiers VALUES (?, ?)", [ref, pid])
                new = True
            elif r[0] != pid:
                # Only reachable when a match was refused above; the first owner keeps it.
                continue
        return new

    @staticmethod
    def _file_owner(c, files: list[FileRef]) -> str | None:
        """The paper that already has one of these files (by content), if any."""
        row = c.execute("SELECT paper_id FROM files WHERE sha256 IN (SELECT unnest(?)) ORDER BY added_at LIMIT 1",
                        [[f.sha256 for f in files]]).fetchone()
        return row[0] if row else None

    @staticmethod
    def _attach_files(c, pid: str, files: list[FileRef]) -> bool:
        """Give a paper its files; a file already known gets its new path (it moved). Changed anything?"""
        changed = False
        for f in files:
            row = c.execute("SELECT path, kept FROM files WHERE sha256 = ?", [f.sha256]).fetchone()
            kept = f.kept
            if row is None:
                c.execute("INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [file_id(f.sha256), pid, f.path, f.sha256, f.size, kept, now()])
                changed = True
            elif row[0] != f.path and not Path(row[0]).exists():
                # The file moved (or our copy was deleted): it is where it was seen last.
                c.execute("UPDATE files SET path = ?, kept = ? WHERE sha256 = ?", [f.path, kept, f.sha256])
                changed = True
        return changed

    def files_of(self, pids: list[str]) -> dict[str, list[PaperFile]]:
        """Each paper's files, oldest first, with whether each is still where it was."""
        if not pids:
            return {}
        out: dict[str, list[PaperFile]] = {}
        for fid, pid, path, sha, size, kept, added in self._cur().execute(
                "SELECT id, paper_id, path, sha256, size, kept, added_at FROM files "
                "WHERE paper_id IN (SELECT unnest(?)) ORDER BY added_at, id", [pids]).fetchall():
            out.setdefault(pid, []).append(PaperFile(
                id=fid, path=path, sha256=sha, size=size, kept=kept, missing=not os.path.isfile(path),
                added_at=added.replace(tzinfo=timezone.utc)))
        return out

    def _merge_fields(self, c, pid: str, rec: Record) -> bool:
        """Keep the richest of each field, the union of tags; restore a trashed paper. Return changed?"""
        row = c.execute(f"SELECT {_MERGED_COLUMNS} FROM papers WHERE id = ?", [pid]).fetchone()
        new = _merged(row, rec)
        if new is None:
            return False
        c.execute("UPDATE papers SET title = ?, title_norm = ?, abstract = ?, authors = ?, year = ?, venue = ?, "
                  "url = ?, tags = ?, entry_type = ?, content_hash = ?, updated_at = ?, deleted_at = NULL WHERE id = ?",
                  [new["title"], ids.normalize_title(new["title"]), new["abstract"], new["authors"], new["year"],
                   new["venue"], new["url"], new["tags"], new["entry_type"], content_hash(new["title"], new["abstract"]),
                   now(), pid])
        return True

    def _fold(self, c, other: str, into: str) -> None:
        """Merge paper `other` into `into`: its fields, tags, notes and identifiers; its id becomes an alias."""
        p = self._get(c, other)
        if p is None:
            return
        self._merge_fields(c, into, Record(title=p.title, abstract=p.abstract, authors=p.authors, year=p.year,
                                           venue=p.venue, url=p.url, tags=p.tags))
        if p.notes:
            c.execute("UPDATE papers SET notes = trim(notes || chr(10) || ?) WHERE id = ?", [p.notes, into])
        c.execute("UPDATE identifiers SET paper_id = ? WHERE paper_id = ?", [into, other])
        c.execute("UPDATE files SET paper_id = ? WHERE paper_id = ?", [into, other])
        c.execute("UPDATE source_items SET paper_id = ? WHERE paper_id = ?", [into, other])
        self.citation_keys.fold(c, other, into)
        c.execute("INSERT INTO identifiers VALUES (?, ?) ON CONFLICT (ref) DO UPDATE SET paper_id = excluded.paper_id",
                  [ids.format_identifier("id", other), into])
        c.execute("DELETE FROM embeddings WHERE paper_id = ?", [other])
        c.execute("DELETE FROM papers WHERE id = ?", [other])

    # -- followed sources ------------------------------------------------------------------------------
    def source_rows(self, sid: str | None = None) -> list[tuple]:
        """Every followed source (or one) as (id, kind, location, options, added_at, last_sync_at,
        last_success_at, last_error, last_report, held, its live papers), oldest first."""
        where, params = ("WHERE s.id = ?", [sid]) if sid is not None else ("", [])
        return self._cur().execute(
            "SELECT s.id, s.kind, s.location, s.options, s.added_at, s.last_sync_at, s.last_success_at, "
            "s.last_error, s.last_report, s.held, (SELECT count(*) FROM source_items i JOIN papers p "
            "ON p.id = i.paper_id WHERE i.source_id = s.id AND i.stamp <> '' AND p.deleted_at IS NULL) "
            f"FROM sources s {where} ORDER BY s.added_at, s.id", params).fetchall()

    def source_counts(self) -> tuple[int, int, int]:
        """(sources, those whose last sync failed, those held for confirmation)."""
        return self._cur().execute(
            "SELECT count(*), count(*) FILTER (WHERE last_error IS NOT NULL), count(*) FILTER (WHERE held IS NOT NULL) "
            "FROM sources").fetchone()

    def add_source(self, sid: str, kind: str, location: str, options: str) -> None:
        """Follow a source (options: JSON)."""
        with self._write_lock:
            self._cur().execute("INSERT INTO sources (id, kind, location, options, added_at) VALUES (?, ?, ?, ?, ?)",
                                [sid, kind, location, options, now()])

    def source_state(self, sid: str) -> bytes | None:
        """What a source remembered after its last applied sync (its own format), or None."""
        row = self._cur().execute("SELECT state FROM sources WHERE id = ?", [sid]).fetchone()
        return row[0] if row and row[0] else None

    def record_sync(self, sid: str, fields: dict) -> None:
        """How a sync went: the sources row's columns given (last_sync_at, last_report, held, last_error,
        last_success_at, state)."""
        allowed = {"last_sync_at", "last_report", "held", "last_error", "last_success_at", "state"}
        if not fields or set(fields) - allowed:
            raise ValueError(f"record_sync takes {sorted(allowed)}")
        with self._write_lock:
            self._cur().execute(f"UPDATE sources SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                                [*fields.values(), sid])

    def source_stamps(self, sid: str) -> dict[str, str]:
        """A followed source's keys and the stamps they had at its last sync."""
        return dict(self._cur().execute("SELECT key, stamp FROM source_items WHERE source_id = ? AND stamp <> ''",
                                        [sid]).fetchall())

    def mirror(self, sid: str, label: str, items: list[SourceItem], removed: list[str]
               ) -> tuple[list[str], list[str], list[str], list[str], list[ImportFailure]]:
        """Apply one sync of a followed source in one transaction: (added, merged, updated, trashed, failed).

        A key seen for the first time goes through the usual merge (so a paper the library has, from the user
        or another source, stays one paper). A key seen before is an edit: what the source gives replaces what
        it gave (its title, authors, …; the tags, notes and files it had given are taken back first), and
        nothing the user added is touched. A key gone from the source takes its paper to the trash if this
        source brought the paper in and nothing else holds it (another source, or the user, who saved or
        imported it too). A removed key stays as a tombstone (stamp ''), so that the same record coming back
        (restored from Zotero's trash) is its paper again, restored."""
        ready: list[tuple[SourceItem, Record, list[tuple[str, str]]]] = []
        failed: list[ImportFailure] = []
        for it in items:
            try:
                rec, pairs, _ = clean.record(it.record)
                if not rec.title:
                    raise ValueError("record has no title")
            except (ValueError, TypeError) as e:
                failed.append(ImportFailure(position=it.key, reason=str(e)))
                continue
            ready.append((it, rec, pairs))
        added: list[str] = []
        merged: list[str] = []
        updated: list[str] = []
        trashed: list[str] = []
        with self._write_lock:
            c = self._cur()
            try:
                with transaction(c):
                    keys = [it.key for it, _, _ in ready]
                    known = {r[0]: r[1:] for r in c.execute(
                        "SELECT s.key, s.paper_id, s.tags, s.notes, s.files FROM source_items s JOIN papers p "
                        "ON p.id = s.paper_id WHERE s.source_id = ? AND s.key IN (SELECT unnest(?))",
                        [sid, keys]).fetchall()} if keys else {}
                    fresh = [(rec, pairs) for it, rec, pairs in ready if it.key not in known]
                    batch = _BatchMerge(self, c, label, fresh)
                    notes_of_new: list[tuple[str, str]] = []
                    rows: list[tuple] = []  # (key, paper, stamp, created, tags, notes, files) of new keys
                    edits: list[tuple] = []  # (key, stamp, tags, notes, files) of keys seen before
                    for it, rec, pairs in ready:
                        given = (rec.tags, it.notes, [f.sha256 for f in rec.files])
                        if it.key in known:
                            batch.flush()
                            pid = known[it.key][0]
                            if self._replace_from_source(c, pid, rec, pairs, *known[it.key][1:], it.notes):
                                updated.append(pid)
                            edits.append((it.key, it.stamp, *given))
                            continue
                        try:
                            pid, was_added, _changed = batch.merge(rec, pairs)
                        except (ValueError, TypeError, duckdb.ConversionException) as e:
                            failed.append(ImportFailure(position=it.key, reason=str(e)))
                            continue
                        (added if was_added else merged).append(pid)
                        if it.notes:
                            notes_of_new.append((pid, it.notes))
                        rows.append((it.key, pid, it.stamp, was_added, *given))
                    batch.flush()
                    # In bulk: one statement each (a statement costs DuckDB milliseconds; 10,000 would be minutes).
                    if rows:
                        cols = [list(col) for col in zip(*rows)]
                        c.execute("INSERT INTO source_items SELECT ?, unnest(?), unnest(?), unnest(?), unnest(?), "
                                  "unnest(?::VARCHAR[][]), unnest(?), unnest(?::VARCHAR[][])", [sid, *cols])
                    if edits:
                        cols = [list(col) for col in zip(*edits)]
                        c.execute("UPDATE source_items s SET stamp = v.stamp, tags = v.tags, notes = v.notes, "
                                  "files = v.files FROM (SELECT unnest(?) AS key, unnest(?) AS stamp, "
                                  "unnest(?::VARCHAR[][]) AS tags, unnest(?) AS notes, unnest(?::VARCHAR[][]) AS files) v "
                                  "WHERE s.source_id = ? AND s.key = v.key", [*cols, sid])
                    for pid, text in notes_of_new:
                        c.execute("UPDATE papers SET notes = trim(notes || chr(10) || chr(10) || ?, chr(10) || ' '), "
                                  "updated_at = ? WHERE id = ? AND NOT contains(notes, ?)", [text, now(), pid, text])
                    if removed:  # kept as tombstones (stamp ''): a key may come back (restored from Zotero's trash)
                        gone = c.execute("UPDATE source_items SET stamp = '' WHERE source_id = ? AND stamp <> '' "
                                         "AND key IN (SELECT unnest(?)) RETURNING paper_id, created, files",
                                         [sid, list(removed)]).fetchall()
                        brought = sorted({pid for pid, created, _ in gone if created})
                        # The files a removed item gave are no longer where it had them (a PDF deleted, or its
                        # bytes changed: then it is a new item): unlinked, unless an item still gives them.
                        unlinked = sorted({sha for _, _, shas in gone for sha in shas or ()})
                        if unlinked:
                            c.execute("DELETE FROM files WHERE sha256 IN (SELECT unnest(?)) AND NOT kept AND sha256 "
                                      "NOT IN (SELECT unnest(files) FROM source_items WHERE stamp <> '')", [unlinked])
                        trashed += [r[0] for r in c.execute(
                            "UPDATE papers p SET deleted_at = ? WHERE p.id IN (SELECT unnest(?)) AND p.deleted_at IS NULL "
                            "AND NOT EXISTS (SELECT 1 FROM source_items o WHERE o.paper_id = p.id AND o.stamp <> '') "
                            "RETURNING p.id", [now(), brought]).fetchall()] if brought else []
            finally:
                self._touch(added + merged + updated + trashed)
        return added, merged, updated, trashed, failed

    def _replace_from_source(self, c, pid: str, rec: Record, pairs: list[tuple[str, str]], old_tags: list[str],
                             old_notes: str, old_files: list[str], notes: str) -> bool:
        """An edit in a source: its fields replace the paper's (an empty one keeps what the paper has), the tags
        and notes it had given are replaced by the ones it gives now, and files it no longer gives are
        unlinked (never deleted: they are the source's). The user's own tags and notes stay. Changed?"""
        title, abstract, authors, year, venue, url, tags, paper_notes, deleted, entry_type, edited = c.execute(
            "SELECT title, abstract, authors, year, venue, url, tags, notes, deleted_at, entry_type, edited "
            "FROM papers WHERE id = ?", [pid]).fetchone()
        new_tags = [t for t in tags if t not in old_tags or t in rec.tags] + [t for t in rec.tags if t not in tags]
        if old_notes and old_notes in paper_notes:
            new_notes = paper_notes.replace(old_notes, notes).strip()
        elif notes and notes not in paper_notes:
            new_notes = (paper_notes + "\n\n" + notes).strip()
        else:
            new_notes = paper_notes
        old = (title, abstract, list(authors), year, venue, url, list(tags), paper_notes, entry_type)
        if rec.guessed:  # read from a PDF's layout: it fills what the paper lacks, never replaces
            new = [title or rec.title, abstract or rec.abstract, list(authors) or rec.authors,
                   year if year is not None else rec.year, venue or rec.venue, url or rec.url, new_tags, new_notes,
                   entry_type or rec.entry_type]
        else:
            new = [rec.title or title, rec.abstract or abstract, rec.authors or list(authors),
                   rec.year if rec.year is not None else year, rec.venue or venue, rec.url or url, new_tags, new_notes,
                   rec.entry_type or entry_type]
        for i, field in enumerate(("title", "abstract", "authors", "year", "venue", "url")):
            if field in edited:  # the user's: the source's edit does not reach it
                new[i] = old[i]
        if "entry_type" in edited:
            new[8] = entry_type
        changed = False
        if tuple(new) != old or deleted is not None:
            c.execute("UPDATE papers SET title = ?, title_norm = ?, abstract = ?, authors = ?, year = ?, venue = ?, "
                      "url = ?, tags = ?, notes = ?, entry_type = ?, content_hash = ?, updated_at = ?, "
                      "deleted_at = NULL WHERE id = ?",
                      [new[0], ids.normalize_title(new[0]), *new[1:], content_hash(new[0], new[1]), now(), pid])
            changed = True
        changed |= self._add_identifiers(c, pid, pairs)
        gone = sorted(set(old_files) - {f.sha256 for f in rec.files})
        if gone:
            changed |= bool(c.execute("DELETE FROM files WHERE paper_id = ? AND sha256 IN (SELECT unnest(?)) "
                                      "AND NOT kept RETURNING id", [pid, gone]).fetchall())
        return self._attach_files(c, pid, rec.files) or changed

    def drop_source(self, sid: str, keep_papers: bool) -> list[str]:
        """Forget a followed source; unless keep_papers, the papers only it held go to the trash (their ids)."""
        with self._write_lock:
            c = self._cur()
            with transaction(c):
                trashed = [] if keep_papers else [r[0] for r in c.execute(
                    "UPDATE papers SET deleted_at = ? WHERE deleted_at IS NULL AND id IN ("
                    "SELECT paper_id FROM source_items s WHERE s.source_id = ? AND s.created AND s.stamp <> '' AND NOT EXISTS ("
                    "SELECT 1 FROM source_items o WHERE o.paper_id = s.paper_id AND o.source_id <> ? AND o.stamp <> '')) "
                    "RETURNING id",
                    [now(), sid, sid]).fetchall()]
                c.execute("DELETE FROM source_items WHERE source_id = ?", [sid])
                c.execute("DELETE FROM sources WHERE id = ?", [sid])
            self._touch(trashed)
            return trashed

    def user_holds(self, pids: list[str]) -> None:
        """The user saved or imported these papers themselves: a source that brought one in no longer decides
        alone that it goes (see mirror)."""
        if pids:
            with self._write_lock:
                self._cur().execute("UPDATE source_items SET created = false WHERE created AND "
                                    "paper_id IN (SELECT unnest(?))", [list(pids)])

    # -- the duplicates review ---------------------------------------------------------------------------------
    def duplicate_pairs(self, limit: int = 200) -> list[tuple[Paper, Paper, str]]:
        """Pairs of live papers the automatic merge left apart that may be one paper, with why: the same title
        (but another first author, years far apart or different identifiers), or titles nearly the same (a
        preprint and its published version). Pairs the user kept apart are not offered again."""
        c = self._cur()
        same = c.execute(
            "SELECT a.id, b.id FROM papers a JOIN papers b ON a.title_norm = b.title_norm AND a.id < b.id "
            "WHERE a.deleted_at IS NULL AND b.deleted_at IS NULL AND length(a.title_norm) >= 12 "
            "AND NOT EXISTS (SELECT 1 FROM distinct_pairs d WHERE d.a = a.id AND d.b = b.id) "
            "ORDER BY a.added_at DESC LIMIT ?", [limit]).fetchall()
        close = c.execute(
            "SELECT a.id, b.id, jaro_winkler_similarity(a.title_norm, b.title_norm) s FROM papers a JOIN papers b "
            "ON left(a.title_norm, 12) = left(b.title_norm, 12) AND a.id < b.id AND a.title_norm <> b.title_norm "
            "WHERE a.deleted_at IS NULL AND b.deleted_at IS NULL AND length(a.title_norm) >= 20 "
            "AND jaro_winkler_similarity(a.title_norm, b.title_norm) >= ? "
            "AND NOT EXISTS (SELECT 1 FROM distinct_pairs d WHERE d.a = a.id AND d.b = b.id) "
            "ORDER BY s DESC LIMIT ?", [CLOSE_TITLES, limit]).fetchall()
        papers = self.get_many(sorted({x for a, b, *_ in same + close for x in (a, b)}))
        out = []
        for a, b, *sim in same + close:
            pa, pb = papers.get(a), papers.get(b)
            if pa and pb:
                out.append((pa, pb, _why_apart(pa, pb, sim[0] if sim else None)))
        return out[:limit]

    def keep_apart(self, a: str, b: str) -> None:
        """The user says these are two papers: never offer the pair again."""
        a, b = sorted((a, b))
        with self._write_lock:
            self._cur().execute("INSERT INTO distinct_pairs VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [a, b, now()])

    def merge_pair(self, keep: str, gone: str) -> str:
        """Merge paper `gone` into `keep` (a duplicate the user confirmed), so that it can be undone; the
        merge's id. `gone`'s identifiers, tags, notes and richer fields go to `keep`; its id becomes an alias."""
        with self._write_lock:
            c = self._cur()
            with transaction(c):
                before = {"keep": self._row(c, "papers", "id", keep), "gone": self._row(c, "papers", "id", gone),
                          "gone_refs": [r[0] for r in c.execute("SELECT ref FROM identifiers WHERE paper_id = ?",
                                                                [gone]).fetchall()],
                          "gone_vectors": self._rows(c, "embeddings", "paper_id", gone),
                          "gone_files": [r[0] for r in c.execute("SELECT id FROM files WHERE paper_id = ?",
                                                                 [gone]).fetchall()],
                          "gone_sources": c.execute("SELECT source_id, key FROM source_items WHERE paper_id = ?",
                                                    [gone]).fetchall(),
                          "gone_keys": c.execute("SELECT key, is_primary FROM citation_keys WHERE paper_id = ?",
                                                 [gone]).fetchall()}
                if keep == gone or not before["keep"] or not before["gone"]:
                    raise KeyError(gone if before["keep"] else keep)
                self._fold(c, gone, keep)
                mid = new_paper_id()
                c.execute("INSERT INTO merges VALUES (?, ?, ?, ?, ?, NULL)",
                          [mid, keep, gone, msgspec.json.encode(before), now()])
            self._touch([keep, gone])
            return mid

    def undo_merge(self, mid: str) -> tuple[str, str]:
        """Put both papers back as they were before the merge: (kept id, merged id)."""
        with self._write_lock:
            c = self._cur()
            row = c.execute("SELECT keep_id, gone_id, before, undone_at FROM merges WHERE id = ?", [mid]).fetchone()
            if row is None:
                raise KeyError(mid)
            keep, gone, blob, undone = row
            if undone is not None:
                raise ValueError(f"merge {mid} was already undone")
            before = msgspec.json.decode(blob)
            with transaction(c):
                c.execute("DELETE FROM identifiers WHERE ref = ?", [ids.format_identifier("id", gone)])
                self._put_row(c, "papers", before["gone"])
                c.execute("UPDATE identifiers SET paper_id = ? WHERE ref IN (SELECT unnest(?))", [gone, before["gone_refs"]])
                c.execute("UPDATE files SET paper_id = ? WHERE id IN (SELECT unnest(?))",
                          [gone, before.get("gone_files", [])])
                for sid, key in before.get("gone_sources", []):
                    c.execute("UPDATE source_items SET paper_id = ? WHERE source_id = ? AND key = ?", [gone, sid, key])
                for v in before["gone_vectors"]:
                    self._put_row(c, "embeddings", {**v, "vector": base64.b64decode(v["vector"])})
                for key, primary in before.get("gone_keys", []):
                    c.execute("UPDATE citation_keys SET paper_id = ?, is_primary = ? WHERE key = ?", [gone, primary, key])
                if "gone_keys" not in before:  # merged before keys were kept: the paper back gets its own now
                    row = before["gone"]
                    self.citation_keys.give(c, [(gone, list(row["authors"]), row["year"], row["title"],
                                                 [r[4:] for r in before["gone_refs"] if r.startswith("key:")])])
                cols = [k for k in before["keep"] if k != "id"]
                c.execute(f"UPDATE papers SET {', '.join(f'{k} = ?' for k in cols)} WHERE id = ?",
                          [before["keep"][k] for k in cols] + [keep])
                c.execute("UPDATE merges SET undone_at = ? WHERE id = ?", [now(), mid])
            self._touch([keep, gone])
            return keep, gone

    @staticmethod
    def _rows(c, table: str, key: str, value: str) -> list[dict]:
        cur = c.execute(f"SELECT * FROM {table} WHERE {key} = ?", [value])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def _row(self, c, table: str, key: str, value: str) -> dict | None:
        rows = self._rows(c, table, key, value)
        return rows[0] if rows else None

    @staticmethod
    def _put_row(c, table: str, row: dict) -> None:
        c.execute(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values()))

    def update(self, pid: str, *, tags: list[str] | None = None, notes: str | None = None) -> Paper | None:
        """Set a paper's tags and/or notes (the user's own fields)."""
        with self._write_lock:
            c = self._cur()
            if self._get(c, pid) is None:
                return None
            if tags is not None:
                c.execute("UPDATE papers SET tags = ?, updated_at = ? WHERE id = ?", [clean_tags(tags), now(), pid])
            if notes is not None:
                c.execute("UPDATE papers SET notes = ?, updated_at = ? WHERE id = ?", [notes, now(), pid])
            self._touch([pid])
            return self._get(c, pid)

    def edit(self, pid: str, fields: dict, identifiers: list[str] | None = None, release: Iterable[str] = ()
             ) -> Paper | None:
        """The user's corrections of a paper's fields (EDITABLE): each field that changes becomes theirs, so no
        later import, sync, PDF read or registry overwrites it. `identifiers`: the whole list as the user wants it
        (one left out is taken away and not attached again by an import; one that is another paper's raises
        IdentifierTaken). `release`: fields given back to the sources (their values stay until a source gives
        another). Raises ValueError for a value papershelf would not store, naming the field."""
        unknown = (set(fields) | set(release)) - set(EDITABLE)
        if unknown:
            raise ValueError(f"cannot edit {', '.join(sorted(unknown))}; editable: {', '.join(EDITABLE)}")
        with self._write_lock:
            c = self._cur()
            current = self._get(c, pid)
            if current is None:
                return None
            values = _edited_values(current, fields)
            refs = _edited_identifiers(identifiers) if identifiers is not None else None
            with transaction(c):
                changed = [f for f, v in values.items() if getattr(current, f) != v]
                if refs is not None:
                    old = set(current.identifiers)
                    added, removed = [r for r in refs if r not in old], sorted(old - set(refs))
                    for ref in added:
                        row = c.execute("SELECT paper_id FROM identifiers WHERE ref = ?", [ref]).fetchone()
                        if row and row[0] != pid:
                            raise IdentifierTaken(ref, row[0])
                    if added or removed:
                        changed.append("identifiers")
                        c.execute("DELETE FROM identifiers WHERE paper_id = ? AND ref IN (SELECT unnest(?))",
                                  [pid, removed])
                        c.execute("INSERT INTO identifiers SELECT unnest(?), ? ON CONFLICT DO NOTHING", [added, pid])
                        c.execute("UPDATE papers SET dropped_ids = list_filter(list_distinct(list_concat(dropped_ids, "
                                  "?::VARCHAR[])), lambda r: NOT list_contains(?::VARCHAR[], r)) WHERE id = ?",
                                  [removed, added, pid])
                if "identifiers" in release:  # the sources' again: an identifier taken away may come back
                    c.execute("UPDATE papers SET dropped_ids = [] WHERE id = ?", [pid])
                v = {f: values.get(f, getattr(current, f)) for f in EDITABLE if f != "identifiers"}
                c.execute("UPDATE papers SET title = ?, title_norm = ?, abstract = ?, authors = ?, year = ?, "
                          "venue = ?, url = ?, entry_type = ?, content_hash = ?, updated_at = ?, "
                          "edited = list_filter(list_distinct(list_concat(edited, ?::VARCHAR[])), "
                          "lambda f: NOT list_contains(?::VARCHAR[], f)) WHERE id = ?",
                          [v["title"], ids.normalize_title(v["title"]), v["abstract"], v["authors"], v["year"],
                           v["venue"], v["url"], v["entry_type"], content_hash(v["title"], v["abstract"]),
                           now() if changed or release else current.updated_at.replace(tzinfo=None),
                           sorted(set(changed) - set(release)), list(release), pid])
            self._touch([pid])
            return self._get(c, pid)

    def complete(self, pid: str, rec: Record) -> list[str]:
        """Complete a paper from a registry's record: its entry type (over none or misc), its venue and authors as
        the registry has them, and its year and abstract where missing; never a field the user edited. The
        fields that changed."""
        with self._write_lock:
            c = self._cur()
            row = c.execute("SELECT title, abstract, authors, year, venue, entry_type, edited FROM papers "
                            "WHERE id = ? AND deleted_at IS NULL", [pid]).fetchone()
            if row is None:
                return []
            title, abstract, authors, year, venue, entry_type, edited = row
            new = {"abstract": abstract or rec.abstract, "authors": rec.authors or list(authors),
                   "year": year if year is not None else rec.year, "venue": rec.venue or venue,
                   "entry_type": rec.entry_type if rec.entry_type and entry_type in ("", "misc") else entry_type}
            old = {"abstract": abstract, "authors": list(authors), "year": year, "venue": venue,
                   "entry_type": entry_type}
            changed = [f for f in new if new[f] != old[f] and f not in edited]
            if not changed:
                return []
            v = {**old, **{f: new[f] for f in changed}}
            c.execute("UPDATE papers SET abstract = ?, authors = ?, year = ?, venue = ?, entry_type = ?, "
                      "content_hash = ?, updated_at = ? WHERE id = ?",
                      [v["abstract"], v["authors"], v["year"], v["venue"], v["entry_type"],
                       content_hash(title, v["abstract"]), now(), pid])
            self._touch([pid])
            return changed

    def bulk(self, pids: list[str], action: str, tags: list[str] = ()) -> list[str]:
        """Tag, untag, trash or restore many papers in one transaction; the ids it changed."""
        tags = clean_tags(list(tags))
        sql = {
            "tag": "UPDATE papers SET tags = list_distinct(list_concat(tags, ?::VARCHAR[])), updated_at = ? "
                   "WHERE id IN (SELECT unnest(?)) AND NOT list_has_all(tags, ?::VARCHAR[]) RETURNING id",
            "untag": "UPDATE papers SET tags = list_filter(tags, lambda t: NOT list_contains(?::VARCHAR[], t)), "
                     "updated_at = ? WHERE id IN (SELECT unnest(?)) AND list_has_any(tags, ?::VARCHAR[]) RETURNING id",
            "trash": "UPDATE papers SET deleted_at = ? WHERE id IN (SELECT unnest(?)) AND deleted_at IS NULL RETURNING id",
            "restore": "UPDATE papers SET deleted_at = NULL WHERE id IN (SELECT unnest(?)) AND deleted_at IS NOT NULL "
                       "RETURNING id",
        }[action]
        params = {"tag": [tags, now(), pids, tags], "untag": [tags, now(), pids, tags], "trash": [now(), pids],
                  "restore": [pids]}[action]
        if action in ("tag", "untag") and not tags:
            return []
        with self._write_lock:
            c = self._cur()
            with transaction(c):
                changed = [r[0] for r in c.execute(sql, params).fetchall()]
            self._touch(changed)
            return changed

    def ids_matching(self, query: PaperQuery, model_id: str, limit: int) -> list[str]:
        """The ids of the papers a query finds (at most `limit`), newest first."""
        w, params = self._where(query, model_id)
        return [r[0] for r in self._cur().execute(
            f"SELECT p.id FROM papers p WHERE {w} ORDER BY p.added_at DESC, p.id LIMIT ?", params + [limit]).fetchall()]

    def trash(self, pid: str) -> bool:
        """Move a paper to the trash (restorable); return whether it was there to move."""
        with self._write_lock:
            r = self._cur().execute("UPDATE papers SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL "
                                    "RETURNING id", [now(), pid]).fetchall()
            self._touch([pid])
            return bool(r)

    def restore(self, pid: str) -> bool:
        """Bring a paper back from the trash."""
        with self._write_lock:
            r = self._cur().execute("UPDATE papers SET deleted_at = NULL WHERE id = ? AND deleted_at IS NOT NULL "
                                    "RETURNING id", [pid]).fetchall()
            self._touch([pid])
            return bool(r)

    def put_vectors(self, model_id: str, rows: list[tuple[str, str, np.ndarray]]) -> int:
        """Store (paper id, content hash, vector) for a model; skip papers whose text changed meanwhile."""
        if not rows:
            return 0
        t = now()
        with self._write_lock:
            c = self._cur()
            with transaction(c):
                current = dict(c.execute("SELECT id, content_hash FROM papers WHERE id IN (SELECT unnest(?))",
                                         [[pid for pid, _, _ in rows]]).fetchall())
                # Deleted or edited while it was being embedded: the worker comes back to it.
                keep = [(pid, h, np.asarray(v, dtype=np.float32).tobytes()) for pid, h, v in rows
                        if current.get(pid) == h]
                if keep:
                    pids, hashes, blobs = map(list, zip(*keep))
                    self._unembedded.difference_update(pids)  # (before the write: never a vector it hides)
                    c.execute("INSERT INTO embeddings SELECT unnest(?), ?, unnest(?), unnest(?::BLOB[]), ? "
                              "ON CONFLICT (paper_id, model_id) DO UPDATE SET content_hash = excluded.content_hash, "
                              "vector = excluded.vector, embedded_at = excluded.embedded_at",
                              [pids, model_id, hashes, blobs, t])
            self._touch(pid for pid, _, _ in keep)
        return len(keep)

    # -- reads ----------------------------------------------------------------------------------------
    def _get(self, c, pid: str) -> Paper | None:
        """One paper by library id, trashed ones included."""
        row = c.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id = ?", [pid]).fetchone()
        if row is None:
            return None
        paper = self._paper(row, self._refs_of(c, [pid]).get(pid, []))
        paper.files = self.files_of([pid]).get(pid, [])
        return paper

    @staticmethod
    def _paper(row, refs: list[str]) -> Paper:
        """Row + identifiers → Paper."""
        (pid, title, abstract, authors, year, venue, url, tags, notes, source, added, updated, deleted, entry_type,
         edited) = row
        utc = timezone.utc  # stored as naive UTC; handed out as aware so every API answer is valid RFC 3339
        return Paper(id=pid, title=title, abstract=abstract, authors=list(authors), year=year, venue=venue,
                     url=url, tags=list(tags), notes=notes, source=source, identifiers=refs,
                     added_at=added.replace(tzinfo=utc), updated_at=updated.replace(tzinfo=utc),
                     deleted_at=deleted.replace(tzinfo=utc) if deleted else None, entry_type=entry_type,
                     edited=sorted(edited))

    def mirrored_by(self, pid: str) -> list[str]:
        """The kinds of followed sources that hold a paper ("zotero", "file"): where it is edited."""
        return [r[0] for r in self._cur().execute(
            "SELECT DISTINCT s.kind FROM source_items i JOIN sources s ON s.id = i.source_id "
            "WHERE i.paper_id = ? AND i.stamp <> '' ORDER BY 1", [pid]).fetchall()]

    def get(self, pid: str) -> Paper | None:
        """One paper by library id."""
        return self._get(self._cur(), pid)

    def get_many(self, pids: list[str]) -> dict[str, Paper]:
        """Papers by library id, in one query each for rows and identifiers."""
        if not pids:
            return {}
        c = self._cur()
        rows = c.execute(f"SELECT {_PAPER_COLUMNS} FROM papers WHERE id IN (SELECT unnest(?))", [pids]).fetchall()
        refs = self._refs_of(c, pids)
        files = self.files_of(pids)
        out = {r[0]: self._paper(r, refs.get(r[0], [])) for r in rows}
        for pid, fs in files.items():
            if pid in out:
                out[pid].files = fs
        return out

    def resolve(self, reference: str) -> str | None:
        """The library id any identifier, URL, key or id refers to, or None."""
        c = self._cur()
        ref = reference.strip()
        if not ref:
            return None
        url = ref.startswith(("https://", "http://"))
        if not url and c.execute("SELECT 1 FROM papers WHERE id = ?", [ref]).fetchone():
            return ref  # (a URL is never a library id: a page's lookup spares the query)
        pairs = ids.parse_identifier(ref)
        for s, v in pairs:
            if s == "id" and c.execute("SELECT 1 FROM papers WHERE id = ?", [v]).fetchone():
                return v  # `id:<library id>` names the paper itself
        refs = [ids.format_identifier(s, v) for s, v in pairs]
        if not refs:
            if url:
                # A URL that names no identifier (a proceedings PDF): the paper saved from that very URL.
                row = c.execute("SELECT id FROM papers WHERE url = ? ORDER BY deleted_at NULLS FIRST, added_at "
                                "LIMIT 1", [ref]).fetchone()
                return row[0] if row else None
            return None
        rows = dict(c.execute("SELECT ref, paper_id FROM identifiers WHERE ref IN (SELECT unnest(?))",
                              [refs]).fetchall())
        for r in refs:  # in the order parse_identifier ranks the readings
            # A citation key names the paper the library gave it to (or the user, or a merge) first.
            if r.startswith("key:") and (owner := self.citation_keys.owner(r[4:])):
                return owner
            if r in rows:
                return rows[r]
        return None

    def known_ids(self, pids: list[str]) -> set[str]:
        """Which of these are library ids (one query)."""
        return {r[0] for r in self._cur().execute("SELECT id FROM papers WHERE id IN (SELECT unnest(?))",
                                                  [pids]).fetchall()} if pids else set()

    def resolve_many(self, refs: list[str]) -> dict[str, str]:
        """`scheme:value` → library id for those that are in the library (one query)."""
        if not refs:
            return {}
        return dict(self._cur().execute("SELECT ref, paper_id FROM identifiers WHERE ref IN (SELECT unnest(?))",
                                        [refs]).fetchall())

    def find_by_title(self, title: str) -> str | None:
        """A live paper with this normalised title, if exactly one has it."""
        norm = ids.normalize_title(title)
        if len(norm) < 12:
            return None
        rows = self._cur().execute("SELECT id FROM papers WHERE title_norm = ? AND deleted_at IS NULL",
                                   [norm]).fetchall()
        return rows[0][0] if len(rows) == 1 else None

    def _where(self, query: PaperQuery, model_id: str) -> tuple[str, list]:
        """A query as SQL over `papers p`: the condition and its parameters."""
        where = ["p.deleted_at IS NOT NULL" if query.trashed else "p.deleted_at IS NULL"]
        params: list = []
        for tag in query.tags:
            where.append("list_contains(p.tags, ?)")
            params.append(tag)
        if query.year_min is not None:
            where.append("p.year >= ?")
            params.append(query.year_min)
        if query.year_max is not None:
            where.append("p.year <= ?")
            params.append(query.year_max)
        if query.venue:
            where.append("p.venue = ?")
            params.append(query.venue)
        if query.source:
            where.append("p.source = ?")
            params.append(query.source)
        if query.no_abstract:
            where.append("p.abstract = ''")
        if query.pdf is not None:
            where.append(("" if query.pdf else "NOT ") + "EXISTS (SELECT 1 FROM files f WHERE f.paper_id = p.id)")
        if query.not_embedded:
            where.append("NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.paper_id = p.id AND e.model_id = ? "
                         "AND e.content_hash = p.content_hash)")
            params.append(model_id)
        if query.text:
            where.append("(p.title ILIKE ? OR array_to_string(p.authors, ' ') ILIKE ?)")
            like = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            params += [like, like]
        return " AND ".join(where), params

    def list_papers(self, query: PaperQuery = PaperQuery(), *, offset: int = 0, limit: int = 50, sort: str = "-added",
                    model_id: str = "") -> tuple[int, list[Paper]]:
        """A page of the papers a query finds, with their total count."""
        order = {"added": "added_at", "-added": "added_at DESC", "title": "title_norm", "-title": "title_norm DESC",
                 "year": "year NULLS FIRST", "-year": "year DESC NULLS LAST", "updated": "updated_at",
                 "-updated": "updated_at DESC"}[sort]
        w, params = self._where(query, model_id)
        c = self._cur()
        total = c.execute(f"SELECT count(*) FROM papers p WHERE {w}", params).fetchone()[0]
        rows = c.execute(f"SELECT p.id FROM papers p WHERE {w} ORDER BY {order}, id LIMIT ? OFFSET ?",
                         params + [limit, offset]).fetchall()
        got = self.get_many([r[0] for r in rows])
        return total, [got[r[0]] for r in rows if r[0] in got]

    def facets(self, query: PaperQuery, model_id: str, top: int = 30) -> Facets:
        """How the papers a query finds spread over tags, years, venues and sources (the top ones of each)."""
        w, params = self._where(query, model_id)
        found = (f"WITH f AS (SELECT p.id, p.tags, p.year, p.venue, p.source, p.abstract = '' AS no_abstract, "
                 f"p.content_hash FROM papers p WHERE {w}) ")
        c = self._cur()
        # Three queries, not seven: each costs DuckDB about 2 ms however few papers it reads.
        total, no_abstract, with_pdf, not_embedded = c.execute(
            found + "SELECT count(*), count(*) FILTER (WHERE no_abstract), "
            "count(*) FILTER (WHERE EXISTS (SELECT 1 FROM files WHERE files.paper_id = f.id)), "
            "count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.paper_id = f.id "
            "AND e.model_id = ? AND e.content_hash = f.content_hash)) FROM f", params + [model_id]).fetchone()
        grouped: dict[str, list[tuple[object, int]]] = {"year": [], "venue": [], "source": []}
        for year, venue, source, by_year, by_venue, n in c.execute(
                found + "SELECT year, venue, source, GROUPING(year) = 0, GROUPING(venue) = 0, count(*) FROM f "
                "GROUP BY GROUPING SETS ((year), (venue), (source))", params).fetchall():
            key, value = ("year", year) if by_year else ("venue", venue) if by_venue else ("source", source)
            if value is not None and value != "":
                grouped[key].append((value, n))

        def counts(pairs) -> list[Count]:
            return [Count(value=str(v), count=n) for v, n in pairs]

        def top_of(key: str) -> list[Count]:
            """The most frequent values first (then by value), the first `top` of them."""
            return counts(sorted(grouped[key], key=lambda vn: (-vn[1], vn[0]))[:top])

        tags = c.execute(found + f"SELECT t, count(*) n FROM (SELECT unnest(tags) t FROM f) GROUP BY t "
                         f"ORDER BY n DESC, t LIMIT {top}", params).fetchall()
        return Facets(
            total=total, no_abstract=no_abstract, not_embedded=not_embedded, with_pdf=with_pdf,
            without_pdf=total - with_pdf, tags=counts(tags), years=counts(sorted(grouped["year"])),
            venues=top_of("venue"), sources=top_of("source"))

    def iter_papers(self, pids: list[str] | None = None, batch: int = 500) -> Iterator[Paper]:
        """Every live paper, oldest first (or these papers, in this order), in batches (for export)."""
        c = self._cur()
        ids_ = pids if pids is not None else [
            r[0] for r in c.execute("SELECT id FROM papers WHERE deleted_at IS NULL ORDER BY added_at, id").fetchall()]
        for i in range(0, len(ids_), batch):
            chunk = ids_[i:i + batch]
            got = self.get_many(chunk)
            for pid in chunk:
                if pid in got:
                    yield got[pid]

    def texts(self, pids: list[str] | None = None) -> list[tuple]:
        """(id, title, abstract, year, tags, authors, venue, url, content_hash) of every live paper (or of those
        of `pids` that are live), oldest first: with identifiers(), everything the in-memory index needs to
        answer a lookup without coming back here."""
        where, params = "deleted_at IS NULL", []
        if pids is not None:
            where += " AND id IN (SELECT unnest(?))"
            params.append(list(pids))
        return self._cur().execute(
            "SELECT id, title, abstract, year, tags, authors, venue, url, content_hash FROM papers WHERE " + where +
            " ORDER BY added_at, id", params).fetchall()

    def identifiers(self, pids: list[str] | None = None) -> dict[str, list[str]]:
        """Paper id → its identifiers (`scheme:value`, sorted), for every paper that has one (or those of pids)."""
        if pids is not None:
            return self._refs_of(self._cur(), pids)
        return dict(self._cur().execute(
            "SELECT paper_id, list(ref ORDER BY ref) FROM identifiers WHERE ref NOT LIKE 'id:%' GROUP BY paper_id"
        ).fetchall())

    @staticmethod
    def _refs_of(c, pids: list[str]) -> dict[str, list[str]]:
        """identifiers() of some papers. Filtered and sorted here, not in SQL: at 100,000 papers DuckDB tests
        `NOT LIKE` on every row before it looks at the paper id (4 ms a query, against 0.5)."""
        got: dict[str, list[str]] = {}
        for pid, ref in c.execute("SELECT paper_id, ref FROM identifiers WHERE paper_id IN (SELECT unnest(?))",
                                  [list(pids)]).fetchall():
            if not ref.startswith("id:"):  # (the aliases of papers merged into it: they resolve, never show)
                got.setdefault(pid, []).append(ref)
        return {pid: sorted(refs) for pid, refs in got.items()}

    def may_have_vectors(self, pids: list[str]) -> list[str]:
        """Those of pids that may have a stored vector: not the papers this process created and gave none."""
        return [pid for pid in pids if pid not in self._unembedded]

    def vector_hashes(self, model_id: str) -> dict[str, str]:
        """Paper id → the content hash its stored vector for this model is of."""
        return dict(self._cur().execute("SELECT paper_id, content_hash FROM embeddings WHERE model_id = ?",
                                        [model_id]).fetchall())

    def pending(self, model_id: str, limit: int = 32) -> list[tuple[str, str, str]]:
        """(id, text, hash) of live papers with no vector of their current text for this model."""
        rows = self._cur().execute(
            "SELECT p.id, p.title, p.abstract, p.content_hash FROM papers p LEFT JOIN embeddings e "
            "ON e.paper_id = p.id AND e.model_id = ? AND e.content_hash = p.content_hash "
            "WHERE e.paper_id IS NULL AND p.deleted_at IS NULL ORDER BY p.added_at, p.id LIMIT ?",
            [model_id, limit]).fetchall()
        return [(pid, embed_text(t, a), h) for pid, t, a, h in rows]

    def count_pending(self, model_id: str) -> int:
        """How many live papers still wait for a vector of this model."""
        return self._cur().execute(
            "SELECT count(*) FROM papers p LEFT JOIN embeddings e ON e.paper_id = p.id AND e.model_id = ? "
            "AND e.content_hash = p.content_hash WHERE e.paper_id IS NULL AND p.deleted_at IS NULL",
            [model_id]).fetchone()[0]

    def vectors(self, model_id: str, pids: list[str] | None = None) -> tuple[list[str], np.ndarray]:
        """Current vectors of live papers for a model (all, or those ids) as (ids, float32 matrix)."""
        c = self._cur()
        if pids is None:
            rows = c.execute("SELECT e.paper_id, e.vector FROM embeddings e JOIN papers p ON p.id = e.paper_id "
                             "AND p.content_hash = e.content_hash WHERE e.model_id = ? AND p.deleted_at IS NULL "
                             "ORDER BY p.added_at, p.id", [model_id]).fetchall()
        else:  # (two small reads: a join would read every paper of a big library to find a few: 7 ms against 4)
            live = {pid: (added, h) for pid, added, h in c.execute(
                "SELECT id, added_at, content_hash FROM papers WHERE deleted_at IS NULL AND id IN (SELECT unnest(?))",
                [list(pids)]).fetchall()}
            rows = [(pid, v) for _, pid, v in sorted(
                (live[pid][0], pid, v) for pid, h, v in c.execute(
                    "SELECT paper_id, content_hash, vector FROM embeddings WHERE model_id = ? "
                    "AND paper_id IN (SELECT unnest(?))", [model_id, list(pids)]).fetchall()
                if pid in live and live[pid][1] == h)]
        if not rows:
            return [], np.zeros((0, 0), dtype=np.float32)
        mat = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1).copy()
        return [r[0] for r in rows], mat

    def record_import(self, sha256: str, fmt: str, outcome: bytes) -> None:
        """Remember an imported file (see prior_import)."""
        with self._write_lock:
            self._cur().execute("INSERT INTO imports VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET "
                                "format = excluded.format, imported_at = excluded.imported_at, "
                                "outcome = excluded.outcome", [sha256, fmt, now(), outcome])

    def prior_import(self, sha256: str) -> tuple[str, datetime, bytes] | None:
        """(format, when, outcome) of the last import of the same bytes, or None (unchanged_since() says whether
        importing them again would change anything)."""
        return self._cur().execute("SELECT format, imported_at, outcome FROM imports WHERE sha256 = ?",
                                   [sha256]).fetchone()

    def unchanged_since(self, pids: list[str], t: datetime) -> bool:
        """Every one of these papers is in the library, out of the trash, and not written since t."""
        want = sorted(set(pids))
        if not want:
            return True
        c = self._cur()
        # No paper written or trashed since t at all: one aggregate says so. (The papers were all live at t, and
        # a paper merged away into another updates that one.) Else each of them is checked.
        last_write, last_trash = c.execute("SELECT max(updated_at), max(deleted_at) FROM papers").fetchone()
        if last_write is not None and last_write <= t and (last_trash is None or last_trash <= t):
            return True
        n = c.execute("SELECT count(*) FROM papers WHERE id IN (SELECT unnest(?)) AND deleted_at IS NULL "
                      "AND updated_at <= ?", [want, t]).fetchone()[0]
        return n == len(want)

    def added_dates(self) -> dict[str, datetime]:
        """When each paper in the library (not the trash) was added (naive UTC)."""
        return dict(self._cur().execute("SELECT id, added_at FROM papers WHERE deleted_at IS NULL").fetchall())

    def first_added(self) -> datetime | None:
        """When the oldest paper was added (naive UTC), or None for an empty library."""
        return self._cur().execute("SELECT min(added_at) FROM papers").fetchone()[0]

    def snapshot_connection(self) -> duckdb.DuckDBPyConnection:
        """The connection a backup copies the database through (a consistent snapshot while writes go on:
        backup.make). Nothing else queries through it."""
        return self._conn

    def count_live(self) -> int:
        """Papers in the library (not in the trash): one count, for answers that need no more."""
        return self._cur().execute("SELECT count(*) FROM papers WHERE deleted_at IS NULL").fetchone()[0]

    def counts(self, model_id: str) -> dict[str, int]:
        """Live papers, those with a current vector, and trashed ones."""
        c = self._cur()
        live, trashed = c.execute("SELECT count(*) FILTER (WHERE deleted_at IS NULL), "
                                  "count(*) FILTER (WHERE deleted_at IS NOT NULL) FROM papers").fetchone()
        pending = self.count_pending(model_id)
        return {"papers": live, "embedded": live - pending, "pending": pending, "trashed": trashed}

    def integrity(self) -> list[str]:
        """Problems found by consistency checks (empty when healthy)."""
        c = self._cur()
        problems = []
        n = c.execute("SELECT count(*) FROM identifiers i LEFT JOIN papers p ON p.id = i.paper_id "
                      "WHERE p.id IS NULL").fetchone()[0]
        if n:
            problems.append(f"{n} identifiers point at no paper")
        n = c.execute("SELECT count(*) FROM embeddings e LEFT JOIN papers p ON p.id = e.paper_id "
                      "WHERE p.id IS NULL").fetchone()[0]
        if n:
            problems.append(f"{n} vectors belong to no paper")
        n = c.execute("SELECT count(*) FROM papers WHERE title = ''").fetchone()[0]
        if n:
            problems.append(f"{n} papers have no title")
        return problems


# The tables' owners beside Store, in modules of their own (they use the helpers above).
from .digest import DigestTables  # noqa: E402
from .files import FileTables  # noqa: E402
from .keys import CITATION_KEYS_MIGRATION, CitationKeys  # noqa: E402
from .passages import PassageTables  # noqa: E402
from .registry import RegistryAnswers  # noqa: E402
