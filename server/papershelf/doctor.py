"""Health checks a user can run when something seems wrong: model files, checksums, database, disk."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import backup
from .fulltext import scan_note
from .search.embed import TOKENIZER_FILES, ModelError, sha256_file


def run_checks(lib) -> list[tuple[str, bool, str]]:
    """(name, ok, detail) for each check; never raises."""
    out: list[tuple[str, bool, str]] = []
    spec = lib.embedder.spec
    try:
        spec.verify()
        out.append(("model weights", True, f"{spec.onnx} sha256 {spec.sha256()[:16]}…"))
    except ModelError as e:
        out.append(("model weights", False, str(e)))
    for name in TOKENIZER_FILES:
        f = spec.files_dir / name
        out.append((f"model file {name}", f.exists(), f"sha256 {sha256_file(f)[:16]}…" if f.exists() else
                    f"missing: {f}"))
    try:
        vec = lib.embedder.embed_one("papershelf doctor check")
        out.append(("model loads offline", True, f"{len(vec)}-dimensional vectors, model id {lib.model_id}"))
    except ModelError as e:
        out.append(("model loads offline", False, str(e)))
    try:
        problems = lib.store.integrity()
        out.append(("database integrity", not problems,
                    "; ".join(problems) or f"schema {lib.store.schema_version()}, {lib.db_path}"))
    except Exception as e:  # a damaged file raises anything
        out.append(("database integrity", False, f"{type(e).__name__}: {e}"))
    s = lib.stats()
    out.append(("embeddings", s.pending == 0 or lib.worker.error is None,
                f"{s.embedded} of {s.papers} papers embedded, {s.pending} pending"
                + (f"; worker error: {lib.worker.error}" if lib.worker.error else "")))
    t = s.text
    out.append(("full text", not t.unsearchable_pages,
                f"{t.pages_read} pages of {t.files_read} PDFs read into {t.passages} passages"
                + (f", {t.files_waiting} files to read" if t.files_waiting else "")
                + (f", {t.passages_waiting} passages waiting for vectors" if t.passages_waiting else "")
                + (f"; {scan_note(t.unsearchable_pages)}" if t.unsearchable_pages else "")))
    first = lib.store.first_added()  # UTC
    since = first.replace(tzinfo=timezone.utc).astimezone().replace(tzinfo=None) if first else None
    out.append(backup_check(lib.home, datetime.now(), since))
    free = shutil.disk_usage(lib.home).free
    out.append(("disk", free > 500 << 20, f"{free / (1 << 30):.1f} GiB free in {lib.home}"))
    return out


def backup_check(home: Path, now: datetime, library_since: datetime | None = None) -> tuple[str, bool, str]:
    """Does the newest backup open, and is it recent (the server makes one a day)? A library younger than two
    days may have none yet."""
    info = backup.newest(home)
    if info is None:
        young = library_since is None or now - library_since < timedelta(days=2)
        return ("backup", young, f"no backup in {backup.folder(home)} yet: `papershelf backup` makes one "
                                 "(`papershelf serve` makes one a day)")
    try:
        backup.read(Path(info.path))
    except backup.BackupError as e:
        return ("backup", False, f"the newest backup does not open: {e}")
    fresh = now - backup.local(info.made_at) < timedelta(days=2)
    return ("backup", fresh, f"{info.name} opens, {info.papers} papers, {backup.age(info, now)}"
            + ("" if fresh else "; is the server running? `papershelf backup` makes one now"))
