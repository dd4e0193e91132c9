"""Papers' files: PDFs read in worker processes, and the copies papershelf keeps under `<home>/files/`.

`papershelf import` links a PDF where it is; what arrives as bytes (the inbox, a drop on the library page,
the extension's save) is copied here first, so that cleaning out Downloads loses nothing. A file is named by
its hash, so the same PDF saved twice is one file.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from .importers import pdf
from .models import FileRef, Record

SMALL_BATCH = 3  # fewer PDFs than this are read in the calling process: starting workers costs more


def sha256_of(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file, read in 1 MB pieces (a 200 MB file is never in memory twice)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _read_one(path: str) -> tuple[str, Record | str]:
    """(path, record or reason): what a worker does for one PDF."""
    return path, pdf.record_of(Path(path), Path(path).name)


def _lower_priority() -> None:
    """In each worker: yield the CPU to the server's own threads (a lookup waits on no PDF)."""
    try:
        os.nice(10)
    except OSError:
        pass


def _read_bytes(data: bytes, name: str) -> Record | str:
    return pdf.record_of(data, name)


class PdfReaders:
    """A pool of worker processes that read PDFs, started on first use and kept (spawned, never forked: the
    server's threads and DuckDB's are not safe to fork)."""

    def __init__(self, workers: int | None = None):
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> concurrent.futures.ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_lower_priority)
            return self._pool

    def read_files(self, paths: Iterable[Path], in_workers: bool = False) -> Iterator[tuple[str, Record | str]]:
        """(path, record or reason) for each PDF, in order. A few PDFs are read here unless
        `in_workers` (the server: its own process never reads a PDF)."""
        paths = [str(p) for p in paths]
        if len(paths) < SMALL_BATCH and not in_workers:
            yield from map(_read_one, paths)
            return
        done = 0
        try:
            for item in self._get().map(_read_one, paths, chunksize=4):
                done += 1
                yield item
        except concurrent.futures.process.BrokenProcessPool:
            # A worker died (PDFium crashed on a file): read the rest here, one by one, so the folder imports.
            self.close()
            yield from map(_read_one, paths[done:])

    def read_bytes(self, data: bytes, name: str) -> Record | str:
        """A PDF's record from its bytes, read in a worker."""
        try:
            return self._get().submit(_read_bytes, data, name).result()
        except concurrent.futures.process.BrokenProcessPool:
            self.close()
            return f"{name}: reading the PDF crashed its reader"

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None


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
    with store._write_lock:
        c = store._cur()
        fixed = []
        for fid, path, sha in c.execute("SELECT id, path, sha256 FROM files WHERE kept AND NOT starts_with(path, ?)",
                                        [str(folder) + os.sep]).fetchall():
            here = kept_path(folder, sha, Path(path).name)
            if here.is_file():
                fixed.append((str(here), fid))
        if fixed:
            c.executemany("UPDATE files SET path = ? WHERE id = ?", fixed)
    return len(fixed)


def with_file(rec: Record, path: Path, sha256: str, size: int, kept: bool = False) -> Record:
    """The record with its file attached."""
    return msgspec.structs.replace(rec, files=[FileRef(path=str(path), sha256=sha256, size=size, kept=kept)])
