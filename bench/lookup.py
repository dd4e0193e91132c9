"""Lookup latency: papershelf's related() against the obvious baseline, measured in the same run.

Baseline: exact top-10 by cosine in DuckDB SQL (`array_cosine_similarity` over FLOAT[384]) on the same
vectors. Served: Library.related() — the in-memory matrix, BM25, fusion and why-terms, as the API runs it.
Libraries of 1,000 and 10,000 papers with real words (CiteSeer) and random unit vectors (the ranking code
does not care where vectors come from, and embedding 10,000 abstracts would take 12 minutes).
Run: `make bench`. Prints medians and the ratio baseline / served.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from citeseer import add_data_flag, corpus, data_dir  # noqa: E402
from papershelf.library import Library  # noqa: E402
from papershelf.models import Record  # noqa: E402


def words(data: Path) -> list[str]:
    """Real words to build libraries from: those of CiteSeer's first 500 papers."""
    return [w for d in corpus(data)[:500] for w in d["text"].split() if w.isalpha()]


def build(n: int, home: Path, vocab: list[str]) -> Library:
    rng = random.Random(n)
    lib = Library(home)
    lib.import_items(((str(i), Record(title=" ".join(rng.choices(vocab, k=8)) + f" {i}",
                                      abstract=" ".join(rng.choices(vocab, k=150)))) for i in range(n)))
    vecs = np.random.default_rng(n).standard_normal((n, 384)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    rows = [(pid, h, v) for (pid, _, h), v in zip(lib.store.pending(lib.model_id, limit=n), vecs)]
    lib.store.put_vectors(lib.model_id, rows)
    lib.index.invalidate()
    lib.index.snapshot()
    return lib


def median_ms(fn, queries) -> float:
    times = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flag(ap)
    vocab = words(data_dir(ap.parse_args().data))
    print("| papers | DuckDB SQL top-10 (baseline) | papershelf related() | baseline / served |\n|---|---|---|---|")
    for n in (1_000, 10_000):
        with tempfile.TemporaryDirectory() as d:
            lib = build(n, Path(d), vocab)
            c = lib.store._cur()
            ids, mat = lib.store.vectors(lib.model_id)
            # The SQL baseline needs the vectors as an array column: loaded once, outside the timing.
            c.execute("CREATE TEMP TABLE arr (paper_id VARCHAR, v FLOAT[384])")
            c.executemany("INSERT INTO arr VALUES (?, ?)", [(pid, row.tolist()) for pid, row in zip(ids, mat)])
            queries = random.Random(0).sample(ids, 30)
            pos = {pid: i for i, pid in enumerate(ids)}

            def sql(pid):
                return c.execute("SELECT paper_id FROM arr WHERE paper_id <> ? ORDER BY "
                                 "array_cosine_similarity(v, ?::FLOAT[384]) DESC LIMIT 10",
                                 [pid, mat[pos[pid]].tolist()]).fetchall()

            def served(pid):
                return lib.related(pid, k=10)

            sql(queries[0]), served(queries[0])  # warm up
            base, ours = median_ms(sql, queries), median_ms(served, queries)
            print(f"| {n:,} | {base:.1f} ms | {ours:.1f} ms | {base / ours:.1f}x |")
            lib.close()


if __name__ == "__main__":
    main()
