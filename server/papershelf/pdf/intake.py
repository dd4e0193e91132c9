"""The PDF wing's way in: PDFs given where they are, or as bytes, come out as (position, Record with its file) or
(position, the reason it gives none), ready for Library.import_items. Reading happens in the sandbox
(readers.py); what came as bytes is kept under `<home>/files/` (files.py)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..models import ImportFailure, Record
from . import files
from .readers import PdfReaders


class PdfIntake:
    """PDFs in, records with their files out (the store says which bytes the library has already)."""

    def __init__(self, store, readers: PdfReaders, files_dir: Path, staging: Path):
        self.files, self.readers = store.file_tables, readers  # (store/files.py)
        self.files_dir = files_dir  # our copies of PDFs that came as bytes
        self.staging = staging  # where bytes wait, as a file, for a reader

    def at_paths(self, paths: list[Path]) -> tuple[list[ImportFailure], list[tuple[str, Record]],
                                                    Iterator[tuple[str, Record | str]]]:
        """PDFs where they are (linked, not copied): (the files that cannot be read; the ones whose bytes the library
        has, as records that only say where the file is now, their paper deciding the rest; the others, read in the
        sandbox as the iterator is consumed). One that failed before is read again: an import is the user asking."""
        failed: list[ImportFailure] = []
        known: list[tuple[str, Record]] = []
        to_read: list[tuple[Path, str]] = []
        hashed: dict[str, tuple[str, int]] = {}  # path → (sha256, size), read once
        for path in paths:
            try:
                sha, size = hashed[str(path)] = files.sha256_of(path)
            except OSError as e:
                failed.append(ImportFailure(position=str(path), reason=f"cannot read: {e.strerror or e}"))
                continue
            owner = self.files.file_by_hash(sha)
            if owner is None:
                to_read.append((path, sha))
            else:  # the same bytes: its paper decides; only the place may have changed
                known.append((str(path), files.with_file(Record(title=owner[1], guessed=True), path, sha, size,
                                                         kept=owner[2] and str(path) == owner[3])))
        read = ((path, rec if isinstance(rec, str) else files.with_file(rec, Path(path), *hashed[path]))
                for path, rec in self.readers.read_files(to_read))
        return failed, known, read

    def holds(self, path: Path, sha256: str) -> bool:
        """Whether the file at `path` (a place a request names) has the bytes of this hash: only then is it linked
        there, so a request never makes papershelf adopt a file it was not given."""
        try:
            return path.is_absolute() and path.is_file() and files.sha256_of(path)[0] == sha256
        except OSError:
            return False

    def owner_of(self, sha256: str) -> str | None:
        """The paper that has a file with the bytes of this hash, still where it was (nothing to read), or None."""
        owner = self.files.file_by_hash(sha256)
        return owner[0] if owner is not None and Path(owner[3]).is_file() else None

    def kept(self, data: bytes, sha256: str, name: str) -> Record | str:
        """A PDF that came as bytes: read (from a staged file: a 300 MB PDF is never in memory twice, as it would be
        through the reader's pipe), then kept under `files_dir`; its record with the kept file, or the reason."""
        self.staging.mkdir(parents=True, exist_ok=True)
        fd, staged = tempfile.mkstemp(suffix=".pdf", dir=self.staging)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            [(_, rec)] = self.readers.read_files([(Path(staged), sha256)], names={staged: name})
        finally:
            os.unlink(staged)
        if isinstance(rec, str):
            return rec
        path = files.keep_copy(self.files_dir, data, sha256, name)
        return files.with_file(rec, path, sha256, len(data), kept=True)
