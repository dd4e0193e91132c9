"""Health checks a user can run when something seems wrong: model files, checksums, database, disk."""

from __future__ import annotations

import shutil

from .embed import TOKENIZER_FILES, ModelError, sha256_file


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
    free = shutil.disk_usage(lib.home).free
    out.append(("disk", free > 500 << 20, f"{free / (1 << 30):.1f} GiB free in {lib.home}"))
    return out
