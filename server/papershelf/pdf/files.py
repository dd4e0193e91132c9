"""The PDF files papershelf keeps: their hashes, and the copies under `<home>/files/`.

`papershelf import` links a PDF where it is; what arrives as bytes (the inbox, a drop on the library page,
the extension's save) is copied here first, so that cleaning out Downloads loses nothing. A file is named by
its hash, so the same PDF saved twice is one file.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import msgspec

from ..models import FileRef, Record


def sha256_of(path: Path) -> tuple[str, int]:
    """(sha256, size) of a file, read in 1 MB pieces (a 200 MB file is never in memory twice)."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


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
    for fid, path, sha in store.file_tables.kept_files_outside(str(folder) + os.sep):
        here = kept_path(folder, sha, Path(path).name)
        if here.is_file():
            fixed.append((str(here), fid))
    store.file_tables.move_files(fixed)
    return len(fixed)


def with_file(rec: Record, path: Path, sha256: str, size: int, kept: bool = False) -> Record:
    """The record with its file attached."""
    return msgspec.structs.replace(rec, files=[FileRef(path=str(path), sha256=sha256, size=size, kept=kept)])
