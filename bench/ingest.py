"""Writes: how fast papers get in, and how soon a save is visible to lookups, measured in one run.

For each library size: import of plain records before embedding (papers/s), the same file again (an unchanged
re-import), one save and the lookup that must find it (save-to-visible), a tag edit likewise, and opening the
library until it answers its first lookup (start-up). Records are built like bench/lookup.py's: real words
(CiteSeer) and random unit vectors, since embedding 100,000 abstracts would take two hours. The baseline is
raw fastembed throughput on 64 of the same texts, measured in this run (the end-to-end import is bounded by it).
Run: `make ingest-bench` (10k and 100k papers) or `bench/ingest.py --quick` (10k, under a minute).
"""

from __future__ import annotations

import argparse
import random
import resource
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


def records(n: int, vocab: list[str]) -> list[tuple[str, Record]]:
    """n plain records: a title, a 150-word abstract, an author, a year and an arXiv id each."""
    rng = random.Random(n)
    return [(str(i), Record(title=" ".join(rng.choices(vocab, k=8)) + f" {i}",
                            abstract=" ".join(rng.choices(vocab, k=150)), authors=["A. Writer"], year=2000 + i % 25,
                            identifiers=[f"arxiv:{2101 + i // 100000:04d}.{i % 100000:05d}"])) for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flag(ap)
    ap.add_argument("--quick", action="store_true", help="10,000 papers only (under a minute)")
    args = ap.parse_args()
    vocab = [w for d in corpus(data_dir(args.data))[:500] for w in d["text"].split() if w.isalpha()]
    sizes = [10_000] if args.quick else [10_000, 100_000]

    with tempfile.TemporaryDirectory() as d:
        lib = Library(Path(d) / "model")
        texts = [f"{r.title}. {r.abstract}" for _, r in records(64, vocab)]
        lib.embedder.embed(texts[:8])  # load the model outside the timing
        t = time.perf_counter()
        lib.embedder.embed(texts)
        raw = len(texts) / (time.perf_counter() - t)
        lib.close()
    print(f"raw fastembed throughput on these texts: {raw:.1f} papers/s (the ceiling of an end-to-end import)\n")
    print("| papers | import before embedding | vs raw fastembed | unchanged re-import | save → visible | "
          "tag edit → visible | start-up to first lookup | peak RSS |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        recs = records(n, vocab)
        with tempfile.TemporaryDirectory() as d:
            home = Path(d)
            lib = Library(home)
            t = time.perf_counter()
            lib.import_items(iter(recs))
            first = n / (time.perf_counter() - t)
            t = time.perf_counter()
            lib.import_items(iter(recs))
            again = n / (time.perf_counter() - t)
            vecs = np.random.default_rng(n).standard_normal((n, 384)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            lib.store.put_vectors(lib.model_id, [(pid, h, v) for (pid, _, h), v in
                                                 zip(lib.store.pending(lib.model_id, limit=n), vecs)])
            lib.index.invalidate()
            lib.related(lib.index.snapshot().ids[0], k=10)  # the index exists, as in a running server
            t = time.perf_counter()
            paper, _ = lib.save(Record(title="A freshly saved paper on sparse expert routing",
                                       abstract=" ".join(random.Random(1).choices(vocab, k=150))))
            assert lib.search("freshly saved paper sparse expert routing", k=3)[0].id == paper.id
            save_ms = (time.perf_counter() - t) * 1000
            t = time.perf_counter()
            lib.update(paper.id, tags=["bench"])
            assert lib.related(paper.id, k=1, filters=None) is not None
            tag_ms = (time.perf_counter() - t) * 1000
            lib.close()
            t = time.perf_counter()
            lib = Library(home)
            lib.related(paper.id, k=10)
            start = time.perf_counter() - t
            lib.close()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"| {n:,} | {first:,.0f} papers/s | {first / raw:,.0f}x | {again:,.0f} papers/s | {save_ms:,.0f} ms | "
              f"{tag_ms:,.0f} ms | {start:.1f} s | {rss:,.0f} MB |")


if __name__ == "__main__":
    main()
