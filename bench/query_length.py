"""Would the panel rank a page's related papers as well from the first N tokens of its text as from all 256 the
model reads? On one core the page's embedding is most of the final list's time (docs/benchmarks.md), and a
128-token one costs 38 ms against 100: there, the server ranks a page by its first 128 tokens
(library.PAGE_TOKENS), and this is what that costs.

CiteSeer, the 500 queries of quality.py, each ranked as a page not in the library would be (itself excluded,
Index.related with the query's text and vector), with the vector of its first N tokens or of all of them.
Prints nDCG@10 of both, their paired difference with its standard error, and the embedding time of each.
Run: `python bench/query_length.py --data DIR [--tokens 128]` (the library is bench/.cache/citeseer-home, as
quality.py builds it).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from citeseer import add_data_flag, data_dir, embedded_library, fixed_queries, load  # noqa: E402
from quality import metrics  # noqa: E402

from papershelf.search.embed import Embedder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flag(ap)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--tokens", type=int, default=128, help="the shorter query's length in tokens")
    args = ap.parse_args()

    corpus, rel = load(data_dir(args.data))
    queries = fixed_queries(rel, args.queries)  # quality.py's
    lib = embedded_library(corpus, args.home)
    s = lib.index.snapshot()
    key_of = {pid: [i.split(":", 1)[1] for i in p.identifiers if i.startswith("key:")]
              for pid, p in lib.store.get_many(s.ids).items()}
    row_of = {k: i for i, pid in enumerate(s.ids) for k in key_of[pid]}

    cache = args.home.parent / "query-length"
    full = Embedder(cache / "full", shipped=False)
    short = Embedder(cache / "short", shipped=False)
    # fastembed has no setting for a shorter text: the loaded model's tokenizer is told directly.
    short._load().model.tokenizer.enable_truncation(max_length=args.tokens)
    tokenizer = full._load().model.tokenizer
    ndcg: dict[str, list[float]] = {"full": [], "short": []}
    spent = {"full": 0.0, "short": 0.0}
    lengths = []
    for q in queries:
        row = row_of[q]
        text = s.texts[row]
        lengths.append(len(tokenizer.encode(text).ids))
        for name, embedder in (("full", full), ("short", short)):
            began = time.perf_counter()
            vector = embedder.embed([text])[0]
            spent[name] += time.perf_counter() - began
            _, ranked = lib.index.related(text, vector, k=100, exclude=[s.ids[row]])
            ndcg[name].append(metrics([k for r in ranked.rows for k in key_of[s.ids[r]] if k != q], rel[q])[0])
    lib.close()
    full_, short_ = np.array(ndcg["full"]), np.array(ndcg["short"])
    diff = short_ - full_
    n = len(diff)
    print(f"query texts: {int(np.median(lengths))} tokens at p50; {np.mean(np.array(lengths) > args.tokens):.0%} "
          f"longer than {args.tokens}, {np.mean(np.array(lengths) > 256):.0%} longer than 256")
    print(f"nDCG@10: all tokens {full_.mean():.4f}, first {args.tokens} {short_.mean():.4f}; paired difference "
          f"{diff.mean():+.4f} ± {diff.std(ddof=1) / math.sqrt(n):.4f} (standard error, {n} queries)")
    print(f"queries better / worse / unchanged with {args.tokens} tokens: {(diff > 0).sum()} / {(diff < 0).sum()} / "
          f"{(diff == 0).sum()}")
    print(f"embedding per query: all tokens {spent['full'] / n * 1000:.1f} ms, first {args.tokens} "
          f"{spent['short'] / n * 1000:.1f} ms ({full.threads} threads)")


if __name__ == "__main__":
    main()
