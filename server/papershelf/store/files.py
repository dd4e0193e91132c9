"""The files' tables, owned here: where each paper's files are (`files`: a PDF linked where the user keeps it, or
our copy under `<home>/files/`), and the files that failed to read (`unreadable_files`, by their bytes).

A paper's files are written with the paper (Store.merge_records) and read with it (Store.files_of); what the PDF
wing and the faces ask of them besides goes through these functions.
"""

from __future__ import annotations

from datetime import timezone

from ..models import PaperFile, UnreadableFile
from . import now  # (the package imports this module once it is defined)


class FileTables:
    """Files and unreadable files of one Store."""

    def __init__(self, store):
        self.store = store

    def file_by_hash(self, sha256: str) -> tuple[str, str, bool, str] | None:
        """(paper id, its title, kept?, path) of the file with these bytes, if the library has it."""
        return self.store._cur().execute("SELECT f.paper_id, p.title, f.kept, f.path FROM files f JOIN papers p "
                                   "ON p.id = f.paper_id WHERE f.sha256 = ?", [sha256]).fetchone()

    def kept_files_outside(self, folder: str) -> list[tuple[str, str, str]]:
        """(id, path, sha256) of our kept copies whose rows name a place outside `folder` (a restored or moved
        home: files.rehome)."""
        return self.store._cur().execute("SELECT id, path, sha256 FROM files WHERE kept AND NOT starts_with(path, ?)",
                                   [folder]).fetchall()

    def move_files(self, moves: list[tuple[str, str]]) -> None:
        """Point files at where they are now: (new path, file id) pairs."""
        if moves:
            with self.store._write_lock:
                self.store._cur().executemany("UPDATE files SET path = ? WHERE id = ?", moves)

    # -- files that could not be read (a reader's failure is remembered by the bytes: pdf/readers.py) ---------
    def remember_unreadable(self, sha256: str, name: str, reason: str) -> None:
        """Remember that the file with these bytes failed to read, and why (counting the attempts)."""
        with self.store._write_lock:
            self.store._cur().execute(
                "INSERT INTO unreadable_files (sha256, name, reason, failed_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sha256) DO UPDATE SET name = excluded.name, reason = excluded.reason, "
                "failed_at = excluded.failed_at, attempts = unreadable_files.attempts + 1",
                [sha256, name, reason, now()])

    def unreadable(self, sha256s: list[str]) -> dict[str, UnreadableFile]:
        """The remembered failures among these hashes."""
        if not sha256s:
            return {}
        rows = self.store._cur().execute("SELECT sha256, name, reason, failed_at, attempts FROM unreadable_files "
                                   "WHERE sha256 IN (SELECT unnest(?))", [list(sha256s)]).fetchall()
        return {r[0]: UnreadableFile(r[0], r[1], r[2], r[3].replace(tzinfo=timezone.utc), r[4]) for r in rows}

    def unreadable_files(self) -> list[UnreadableFile]:
        """Every remembered failure, newest first."""
        rows = self.store._cur().execute("SELECT sha256, name, reason, failed_at, attempts FROM unreadable_files "
                                   "ORDER BY failed_at DESC, sha256").fetchall()
        return [UnreadableFile(r[0], r[1], r[2], r[3].replace(tzinfo=timezone.utc), r[4]) for r in rows]

    def forget_unreadable(self, sha256s: list[str] | None = None) -> int:
        """Forget these failures (all of them when None), so the files are read again; how many were forgotten."""
        with self.store._write_lock:
            c = self.store._cur()
            where, params = ("", []) if sha256s is None else (" WHERE sha256 IN (SELECT unnest(?))", [list(sha256s)])
            n = c.execute(f"SELECT count(*) FROM unreadable_files{where}", params).fetchone()[0]
            c.execute(f"DELETE FROM unreadable_files{where}", params)
            return n

    def file(self, fid: str) -> PaperFile | None:
        """One file by its id (what the API serves: never a path from a request)."""
        row = self.store._cur().execute("SELECT id, paper_id FROM files WHERE id = ?", [fid]).fetchone()
        if row is None:
            return None
        return next((f for f in self.store.files_of([row[1]]).get(row[1], []) if f.id == fid), None)
