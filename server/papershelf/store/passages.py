"""The full text's tables, owned here: what reading every page of each file gave (`file_texts`), its passages and
their vectors (`passages`, `passage_vectors`) and its reference list (`file_references`), all by the sha256 of the
file's bytes. The files themselves are the `files` table's (store/files.py): a file that no paper has any more
takes its passages with it (forget_orphans)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..models import PassageRow, TextState
from . import now, transaction  # (the package imports this module once it is defined)


class PassageTables:
    """Passages, their vectors and reference lists of one Store's files."""

    def __init__(self, store):
        self.store = store

    def _cur(self):
        return self.store._cur()

    # -- reading ------------------------------------------------------------------------------------------
    def files_to_read(self, reader: int, limit: int = 8) -> list[tuple[str, str, str]]:
        """(sha256, path, file name) of live papers' files that no reading of this version (or later) has read."""
        rows = self._cur().execute(
            "SELECT f.sha256, f.path FROM files f JOIN papers p ON p.id = f.paper_id "
            "LEFT JOIN file_texts t ON t.sha256 = f.sha256 "
            "WHERE p.deleted_at IS NULL AND (t.sha256 IS NULL OR t.reader < ?) ORDER BY f.added_at, f.sha256 LIMIT ?",
            [reader, limit]).fetchall()
        return [(sha, path, path.rsplit("/", 1)[-1]) for sha, path in rows]

    def count_to_read(self, reader: int) -> int:
        """How many live papers' files wait to be read."""
        return self._cur().execute(
            "SELECT count(*) FROM files f JOIN papers p ON p.id = f.paper_id LEFT JOIN file_texts t "
            "ON t.sha256 = f.sha256 WHERE p.deleted_at IS NULL AND (t.sha256 IS NULL OR t.reader < ?)",
            [reader]).fetchone()[0]

    def put_text(self, sha256: str, reader: int, pages: int, passages: list[tuple[int, str, str, list[int]]],
                 references: list[tuple[int, str]], scanned: list[int], note: str = "") -> list[tuple[int, str]]:
        """A file's reading: its (page, section, text, page breaks) passages and (page, text) references replace what
        it had;
        the new passages' (id, text)."""
        with self.store._write_lock:
            c = self._cur()
            with transaction(c):
                self._delete(c, [sha256])
                ids = self._insert(c, sha256, passages)
                if references:
                    c.execute("INSERT INTO file_references SELECT ?, unnest(?), unnest(?), unnest(?)",
                              [sha256, list(range(len(references))), [p for p, _ in references],
                               [t for _, t in references]])
                c.execute("INSERT INTO file_texts VALUES (?, ?, ?, ?, '', ?, ?)",
                          [sha256, reader, pages, scanned, note, now()])
            rows = c.execute("SELECT id, text FROM passages WHERE id IN (SELECT unnest(?)) ORDER BY id",
                             [ids]).fetchall()
        return rows

    @staticmethod
    def _insert(c, sha256: str, passages: list[tuple[int, str, str, list[int]]]) -> list[int]:
        if not passages:
            return []
        pages, sections, texts, breaks = map(list, zip(*passages))
        return [r[0] for r in c.execute(
            "INSERT INTO passages (sha256, page, section, text, breaks) SELECT ?, unnest(?), unnest(?), unnest(?), "
            "unnest(?::INTEGER[][]) RETURNING id", [sha256, pages, sections, texts, breaks]).fetchall()]

    def add_ocr(self, sha256: str, passages: list[tuple[int, str, str, list[int]]], outcome: str
                ) -> list[tuple[int, str]]:
        """Passages that OCR read from a file's scanned pages, added to its others; `outcome` says what OCR did."""
        with self.store._write_lock:
            c = self._cur()
            with transaction(c):
                ids = self._insert(c, sha256, passages)
                c.execute("UPDATE file_texts SET ocr = ? WHERE sha256 = ?", [outcome, sha256])
            return c.execute("SELECT id, text FROM passages WHERE id IN (SELECT unnest(?)) ORDER BY id",
                             [ids]).fetchall()

    def files_to_ocr(self, limit: int = 4) -> list[tuple[str, str, list[int]]]:
        """(sha256, path, scanned pages) of live papers' files with pages OCR has not read yet."""
        return [(sha, path, list(pages)) for sha, path, pages in self._cur().execute(
            "SELECT t.sha256, f.path, t.scanned FROM file_texts t JOIN files f ON f.sha256 = t.sha256 "
            "JOIN papers p ON p.id = f.paper_id WHERE p.deleted_at IS NULL AND len(t.scanned) > 0 AND t.ocr = '' "
            "ORDER BY t.read_at LIMIT ?", [limit]).fetchall()]

    def forget_orphans(self) -> list[int]:
        """Drop the passages of files no paper has any more (a removed file, a purged paper); their ids."""
        with self.store._write_lock:
            c = self._cur()
            gone = [r[0] for r in c.execute("SELECT sha256 FROM file_texts WHERE sha256 NOT IN "
                                            "(SELECT sha256 FROM files)").fetchall()]
            if not gone:
                return []
            with transaction(c):
                ids = self._delete(c, gone)
            return ids

    @staticmethod
    def _delete(c, sha256s: list[str]) -> list[int]:
        ids = [r[0] for r in c.execute("SELECT id FROM passages WHERE sha256 IN (SELECT unnest(?))",
                                       [sha256s]).fetchall()]
        c.execute("DELETE FROM passage_vectors WHERE passage_id IN (SELECT id FROM passages WHERE sha256 IN "
                  "(SELECT unnest(?)))", [sha256s])
        for table in ("passages", "file_references", "file_texts"):
            c.execute(f"DELETE FROM {table} WHERE sha256 IN (SELECT unnest(?))", [sha256s])
        return ids

    # -- vectors ------------------------------------------------------------------------------------------
    def pending_vectors(self, model_id: str, limit: int) -> list[tuple[int, str]]:
        """(id, text) of passages with no vector of this model, in the order they were read."""
        return self._cur().execute(
            "SELECT p.id, p.text FROM passages p ANTI JOIN passage_vectors v ON v.passage_id = p.id "
            "AND v.model_id = ? ORDER BY p.id LIMIT ?", [model_id, limit]).fetchall()

    def count_pending_vectors(self, model_id: str) -> int:
        """How many passages wait for a vector of this model."""
        return self._cur().execute("SELECT count(*) FROM passages p ANTI JOIN passage_vectors v ON "
                                   "v.passage_id = p.id AND v.model_id = ?", [model_id]).fetchone()[0]

    def put_vectors(self, model_id: str, ids: list[int], vectors: np.ndarray) -> int:
        """Store passages' vectors (a passage deleted meanwhile is skipped); how many were stored."""
        if not ids:
            return 0
        blobs = [np.asarray(v, dtype=np.float32).tobytes() for v in vectors]
        with self.store._write_lock:
            c = self._cur()
            with transaction(c):
                c.execute("INSERT INTO passage_vectors SELECT x.id, ?, x.blob FROM (SELECT unnest(?) AS id, "
                          "unnest(?::BLOB[]) AS blob) x SEMI JOIN passages p ON p.id = x.id "
                          "ON CONFLICT DO UPDATE SET vector = excluded.vector", [model_id, ids, blobs])
        return len(ids)

    def forget_other_models(self, model_id: str) -> int:
        """Drop the vectors of other models (the library switched away from them: a passage's vector is 1.5 KB,
        and a switch back embeds them again); how many."""
        with self.store._write_lock:
            return len(self._cur().execute("DELETE FROM passage_vectors WHERE model_id <> ? RETURNING passage_id",
                                           [model_id]).fetchall())

    def vectors(self, model_id: str, batch: int = 20_000) -> Iterator[tuple[list[int], list[str], np.ndarray]]:
        """Every passage's vector of this model with its file, in batches: (ids, sha256s, float32 matrix)."""
        c = self._cur()
        c.execute("SELECT v.passage_id, p.sha256, v.vector FROM passage_vectors v JOIN passages p ON "
                  "p.id = v.passage_id WHERE v.model_id = ? ORDER BY v.passage_id", [model_id])
        while rows := c.fetchmany(batch):
            yield ([r[0] for r in rows], [r[1] for r in rows],
                   np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), -1))

    # -- what the index and the faces read ------------------------------------------------------------------
    def texts(self, batch: int = 20_000) -> Iterator[list[tuple[int, str, str]]]:
        """Every passage as (id, sha256, text), in batches (the keyword index is built from these)."""
        c = self._cur()
        c.execute("SELECT id, sha256, text FROM passages ORDER BY id")
        while rows := c.fetchmany(batch):
            yield rows

    def count(self) -> int:
        return self._cur().execute("SELECT count(*) FROM passages").fetchone()[0]

    def rows(self, ids: list[int]) -> dict[int, PassageRow]:
        """Passages by id with their live paper and file (a trashed paper's passages are not found)."""
        if not ids:
            return {}
        rows = self._cur().execute(
            "SELECT s.id, s.sha256, s.page, s.section, s.text, f.paper_id, p.title, f.id, f.path, s.breaks "
            "FROM passages s "
            "JOIN files f ON f.sha256 = s.sha256 JOIN papers p ON p.id = f.paper_id "
            "WHERE s.id IN (SELECT unnest(?)) AND p.deleted_at IS NULL", [list(ids)]).fetchall()
        return {r[0]: PassageRow(*r) for r in rows}

    def files_of(self, pids: list[str]) -> dict[str, list[str]]:
        """Paper id → the sha256s of its files that have passages."""
        out: dict[str, list[str]] = {}
        for pid, sha in self._cur().execute(
                "SELECT f.paper_id, f.sha256 FROM files f SEMI JOIN file_texts t ON t.sha256 = f.sha256 "
                "WHERE f.paper_id IN (SELECT unnest(?))", [list(pids)]).fetchall():
            out.setdefault(pid, []).append(sha)
        return out

    def references(self, sha256: str) -> list[tuple[int, str]]:
        """A file's reference list: (page, entry), in order."""
        return self._cur().execute("SELECT page, text FROM file_references WHERE sha256 = ? ORDER BY seq",
                                   [sha256]).fetchall()

    def state(self, model_id: str, reader: int) -> TextState:
        """The full text as a whole: files and pages read, passages, vectors waiting, pages that cannot be searched."""
        c = self._cur()
        files, pages, unsearchable = c.execute(
            "SELECT count(*), coalesce(sum(pages), 0), coalesce(sum(CASE WHEN ocr = 'read' THEN 0 "
            "ELSE len(scanned) END), 0) FROM file_texts t SEMI JOIN files f ON f.sha256 = t.sha256").fetchone()
        return TextState(files_read=files, pages_read=int(pages), passages=self.count(),
                         passages_waiting=self.count_pending_vectors(model_id),
                         files_waiting=self.count_to_read(reader), unsearchable_pages=int(unsearchable))

    def file_states(self, sha256s: list[str]) -> dict[str, tuple[int, list[int], str, str, int]]:
        """sha256 → (pages, scanned pages, what OCR did, the reading's note, passages)."""
        if not sha256s:
            return {}
        return {r[0]: (r[1], list(r[2]), r[3], r[4], r[5]) for r in self._cur().execute(
            "SELECT t.sha256, t.pages, t.scanned, t.ocr, t.note, (SELECT count(*) FROM passages s WHERE "
            "s.sha256 = t.sha256) FROM file_texts t WHERE t.sha256 IN (SELECT unnest(?))", [list(sha256s)]
        ).fetchall()}
