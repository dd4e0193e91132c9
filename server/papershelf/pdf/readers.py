"""The readers' pool: every PDF is read in the sandbox (sandbox.py), never in the calling process, so a hostile
file costs its worker, not the server. A file that fails is remembered by its bytes (store/files.py)
and not read again by a sync or at a start until the user asks (`papershelf sources sync --retry-failed`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from ..models import Record
from .sandbox import Limits, Sandbox, TaskFailed

log = logging.getLogger("papershelf.files")
RETRY_HINT = "papershelf sources sync --retry-failed reads it again"


def _load_reader() -> None:
    """In each new worker, before its limits: the PDF reader and PDFium (trusted code, loaded once)."""
    from . import record  # noqa: F401


def _record_of(path: str, name: str) -> Record | str:
    """What a worker does for one PDF: its record, or the reason it gives none."""
    from . import record

    return record.record_of(Path(path), name)


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
        failed_before = self.store.file_tables.unreadable([sha for _, sha in files])
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
                self.store.file_tables.remember_unreadable(sha_of[path], names.get(path, path), outcome)
            elif sha_of[path] in failed_before:  # read this time: nothing to remember
                self.store.file_tables.forget_unreadable([sha_of[path]])
            yield path, outcome

    def close(self) -> None:
        self.sandbox.close()
