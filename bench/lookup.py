"""Lookup latency at 10k, 100k and 1M papers, against baselines measured in the same run.

At 10k and 100k papers (bench/synthetic.py's libraries): Library.related() and search() as the API runs them
(every signal, why-terms, briefs; search embeds its query with the real model), against numpy's exact float32
top-10 on the same matrix (dense only, no words) and DuckDB SQL (`array_cosine_similarity` top-10).
At 1M vectors: numpy exact against the compressed scan (papershelf/search/binary.py: sign bits, int8, an exact re-rank),
with its recall@10 against exact and the memory each needs.
Run: `make bench` (all of bench/, written to docs/benchmarks.md) or `bench/lookup.py [--quick]` (10k only).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from papershelf.library import Library  # noqa: E402
from papershelf.search import binary  # noqa: E402
from synthetic import library, percentile, rss_mb, vectors, vocabulary  # noqa: E402

QUERIES = 60


def timed(fn, queries) -> list[float]:
    """Milliseconds per call, one call per query (after one untimed call)."""
    fn(queries[0])
    out = []
    for q in queries:
        t = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t) * 1000)
    return out


def row(size: str, method: str, ms: list[float], base: float | None, note: str = "") -> str:
    p50 = percentile(ms, 50)
    ratio = f"{base / p50:.2g}x" if base else "baseline"
    return f"| {size} | {method} | {p50:.1f} ms | {percentile(ms, 99):.1f} ms | {ratio} | {note} |"


def library_sizes(sizes: list[int], points: dict, values: dict) -> list[str]:
    lines = []
    for n in sizes:
        home = library(n)
        t = time.perf_counter()
        lib = Library(home)
        s = lib.index.snapshot()
        load = time.perf_counter() - t
        rng = random.Random(0)
        ids = rng.sample([pid for i, pid in enumerate(s.ids[:s.n]) if s.alive[i]], QUERIES)
        words = [" ".join(rng.sample(s.texts[s.row(p)].split(), 3)) for p in ids]
        mat = s.matrix
        exact = timed(lambda pid: np.argpartition(-(mat @ mat[s.row(pid)]), 11)[:11], ids)
        related = timed(lambda pid: lib.related(pid, k=10), ids)
        lib.embedder.embed_one("load the model before timing")
        search = timed(lambda q: lib.search(q, k=10), words)
        rss = rss_mb()  # before the SQL baseline's copy of the vectors
        c = duckdb.connect()  # the SQL baseline: DuckDB's own array search over the same vectors
        # The SQL baseline needs the vectors as an array column: loaded once, outside the timing.
        c.execute("CREATE TEMP TABLE arr AS SELECT unnest(?) AS paper_id, unnest(?::FLOAT[384][]) AS v",
                  [s.ids[:s.n], mat.tolist()])
        sql = timed(lambda pid: c.execute(
            "SELECT paper_id FROM arr WHERE paper_id <> ? ORDER BY array_cosine_similarity(v, ?::FLOAT[384]) "
            "DESC LIMIT 10", [pid, mat[s.row(pid)].tolist()]).fetchall(), ids[:20])
        base = percentile(exact, 50)
        size = f"{n:,}"
        lines += [row(size, "numpy exact float32 top-10 (vectors only)", exact, None),
                  row(size, "DuckDB SQL top-10 (vectors only)", sql, base),
                  row(size, "**related()**: vectors, BM25 both ways, TF-IDF, hubness, why-terms", related, base),
                  row(size, "**search()**: embeds the query, BM25, RRF", search, base)]
        points.setdefault("numpy exact float32 (vectors only)", []).append((n, base))
        points.setdefault("DuckDB SQL (vectors only)", []).append((n, percentile(sql, 50)))
        points.setdefault("papershelf related()", []).append((n, percentile(related, 50)))
        points.setdefault("papershelf search()", []).append((n, percentile(search, 50)))
        lines.append(f"| {size} | (opening the library: {load:.2f} s; resident memory {rss:,.0f} MB) | | | | |")
        values.update(papers=n, related_p50=percentile(related, 50), related_p99=percentile(related, 99))
        lib.close()
    return lines


def million(n: int, points: dict, values: dict) -> list[str]:
    """numpy exact against the compressed scan (sign bits, int8, exact re-rank), vectors only."""
    mat = vectors(n, seed=1)
    rng = np.random.default_rng(0)
    queries = rng.choice(n, QUERIES, replace=False).tolist()
    exact_top = {q: set(np.argpartition(-(mat @ mat[q]), 11)[:11].tolist()) for q in queries}
    exact = timed(lambda q: np.argpartition(-(mat @ mat[q]), 11)[:11], queries)
    t = time.perf_counter()
    packed = binary.Compressed(mat)
    build = time.perf_counter() - t
    fast = timed(lambda q: binary.top(mat, packed, mat[q], 11), queries)
    recall = np.mean([len(exact_top[q] & set(binary.top(mat, packed, mat[q], 11)[0].tolist())) / 11
                      for q in queries])
    # The memory budget: the compressed copy in memory, the float32 rows re-ranked read from a mapped file.
    with tempfile.TemporaryDirectory() as d:
        np.save(Path(d) / "m.npy", mat)
        mapped = np.load(Path(d) / "m.npy", mmap_mode="r")
        mapped_ms = timed(lambda q: binary.top(mapped, packed, mat[q], 11), queries)
    base = percentile(exact, 50)
    size = f"{n:,} (vectors)"
    mb = packed.nbytes / 1e6
    values.update(vectors=n, speedup=base / percentile(fast, 50), recall=recall, codes_mb=mb,
                  mapped_speedup=base / percentile(mapped_ms, 50))
    if n not in dict(points.get("numpy exact float32 (vectors only)", [])):
        points.setdefault("numpy exact float32 (vectors only)", []).append((n, base))
    points.setdefault("compressed scan + exact re-rank (vectors only)", []).append((n, percentile(fast, 50)))
    how = (f"sign bits of all, int8 for the nearest {binary.FRACTION:.0%}, exact for the best {binary.RERANK:,}")
    return [row(size, f"numpy exact float32 top-10 ({mat.nbytes / 1e9:.2f} GB in memory)", exact, None),
            row(size, f"{how} ({mb:.0f} MB compressed + the float32 matrix in memory; built in {build:.1f} s)",
                fast, base, f"recall@10 {recall:.3f}"),
            row(size, f"the same, the float32 rows read from a mapped file ({mb:.0f} MB in memory)", mapped_ms,
                base, f"recall@10 {recall:.3f}")]


def run(quick: bool = False) -> dict:
    """The table (markdown lines) and the points to plot: {method: [(papers, p50 ms)]}."""
    points: dict = {}
    values: dict = {}
    vocabulary()  # fail early if the fixture is missing
    lines = ["| papers | method | p50 | p99 | baseline p50 / this p50 | |", "|---|---|---|---|---|---|"]
    lines += library_sizes([10_000] if quick else [10_000, 100_000], points, values)
    for n in [100_000] if quick else [100_000, 1_000_000]:
        lines += million(n, points, values)  # (values: the last, largest)
    return {"markdown": "\n".join(lines), "points": points, "values": values}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k papers and 100k vectors only (about a minute)")
    print(run(ap.parse_args().quick)["markdown"])


if __name__ == "__main__":
    main()
