"""Papers' files: PDFs read in limited worker processes, and the copies papershelf keeps under `<home>/files/`.

`papershelf import` links a PDF where it is; what arrives as bytes (the inbox, a drop on the library page,
the extension's save) is copied here first, so that cleaning out Downloads loses nothing. A file is named by
its hash, so the same PDF saved twice is one file.

Every PDF is read in the sandbox (sandbox.py), never in the calling process: a hostile file costs its worker,
not the server. A file that fails is remembered by its bytes (Store.remember_unreadable) and not read again by
a sync or at a start until the user asks (`papershelf sources sync --retry-failed`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec

from .models import FileRef, Record
from .sandbox import Limits, Sandbox, TaskFailed

log = logging.getLogger("papershelf.files")
RETRY_HINT = "papershelf sources sync --retry-failed reads it again"


def sha256_of(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file, read in 1 MB pieces (a 200 MB file is never in memory twice)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _load_reader() -> None:
    """In each new worker, before its limits: the PDF reader and PDFium (trusted code, loaded once)."""
    from .importers import pdf  # noqa: F401


def _record_of(path: str, name: str) -> Record | str:
    """What a worker does for one PDF: its record, or the reason it gives none."""
    from .importers import pdf

    return pdf.record_of(Path(path), name)


class PdfReaders:
    """PDFs read in limited worker processes (started on first use and kept), with the files that failed
    remembered by their bytes in the store."""

    def __init__(self, store, workers: int | None = None, limits: Limits | None = None):
        self.store = store
        self.sandbox = Sandbox(workers, limits, warm=_load_reader)

    def read_files(self, files: list[tuple[Path, str]], retry: bool = True,
                   names: dict[str, str] | None = None) -> Iterator[tuple[str, Record | str]]:
        """(path, record or reason) for each (path, sha256), in order. A file that failed before is not read
        again unless `retry` (a user's own import asks; a sync or a start does not). `names`: a path's name to
        report, where it is not the file's own (bytes kept under a temporary name)."""
        names = names or {}
        failed_before = self.store.unreadable([sha for _, sha in files])
        to_read = []
        for path, sha in files:
            if sha in failed_before and not retry:
                before = failed_before[sha]
                yield str(path), f"{names.get(str(path), Path(path).name)}: not read, it failed before " \
                                 f"({before.reason.split(': ', 1)[-1]}); {RETRY_HINT}"
            else:
                to_read.append((str(path), sha))
        sha_of = dict(to_read)
        for (path, name), outcome in self.sandbox.map(_record_of, [(p, names.get(p, Path(p).name))
                                                                  for p, _ in to_read]):
            if isinstance(outcome, TaskFailed):
                outcome = f"{name}: {outcome}"
            if isinstance(outcome, str):
                log.warning("could not read %s: %s", names.get(path, path), outcome.split(": ", 1)[-1])
                self.store.remember_unreadable(sha_of[path], names.get(path, path), outcome)
            elif sha_of[path] in failed_before:  # read this time: nothing to remember
                self.store.forget_unreadable([sha_of[path]])
            yield path, outcome

    def close(self) -> None:
        self.sandbox.close()


def safe_name(name: str) -> str:
    """A file name that is safe on every file system, from one a browser or user gave."""
    stem = re.sub(r"[^\w.\-]+", "_", Path(name).name).strip("._")[:80] or "paper"
    return stem if stem.lower().endswith(".pdf") else f"{stem}.pdf"


def kept_path(folder: Path, sha256: str, name: str) -> Path:
    """Where our copy of a PDF with these bytes, named `name` (keep_copy's file name), lives under `folder`."""
    return folder / sha256[:2] / name


def keep_copy(folder: Path, data: bytes, sha256: str, name: str) -> Path:
    """Our own copy of a PDF, under `folder/<first two hex digits>/`; the same bytes are written once."""
    sub = kept_path(folder, sha256, "")
    sub.mkdir(parents=True, exist_ok=True)
    for existing in sub.glob(f"{sha256[:16]}-*"):
        return existing
    target = sub / f"{sha256[:16]}-{safe_name(name)}"
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def rehome(store, folder: Path) -> int:
    """Point the rows of our kept copies at `folder` when the home was restored or moved (their paths name the
    old one, which may still be there: a kept copy belongs to its home); return how many were fixed. Only rows
    outside `folder` are looked at: at every start, in a home that stayed where it was, none."""
    fixed = []
    for fid, path, sha in store.kept_files_outside(str(folder) + os.sep):
        here = kept_path(folder, sha, Path(path).name)
        if here.is_file():
            fixed.append((str(here), fid))
    store.move_files(fixed)
    return len(fixed)


def with_file(rec: Record, path: Path, sha256: str, size: int, kept: bool = False) -> Record:
    """The record with its file attached."""
    return msgspec.structs.replace(rec, files=[FileRef(path=str(path), sha256=sha256, size=size, kept=kept)])
