"""Related-paper quality on CiteSeer (3,186 real papers; relevant = the papers a query cites or is cited by).

Prints nDCG@10, Recall@10 and MAP over 500 fixed queries for a TF-IDF baseline computed here, BM25 alone,
dense alone, a few fusions, and what papershelf actually serves (Library.related). Run: `make quality`.

The library is built through the product's own import and embedding path in bench/.cache/citeseer-home;
a second run reuses its vectors (unchanged text is never re-embedded), so only the first run pays the
~4 minutes of embedding.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from citeseer import add_data_flag, data_dir, embedded_library, fixed_queries, load  # noqa: E402
from papershelf.search.index import fuse_rrf, stems, top_k  # noqa: E402

K = 10


def metrics(ranked: list[str], relevant: set[str]) -> tuple[float, float, float]:
    """nDCG@10, Recall@10 and average precision (over the ranking given, at most 100 deep)."""
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:K]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    recall = len(set(ranked[:K]) & relevant) / len(relevant)
    hits, ap = 0, 0.0
    for i, d in enumerate(ranked[:100]):
        if d in relevant:
            hits += 1
            ap += hits / (i + 1)
    return dcg / idcg, recall, ap / min(len(relevant), 100)


def tfidf_rankings(corpus, queries, sublinear: bool):
    """TF-IDF (raw or 1+log tf × smoothed idf, l2-normalised, cosine) on lower-cased words: the baselines.

    Sublinear tf is the stronger one (0.381 here; the data set's own notes quote 0.383): we compare against it."""
    import re

    docs = [Counter(re.findall(r"(?u)\b\w\w+\b", d["text"].lower())) for d in corpus]
    df = Counter(w for d in docs for w in d)
    n = len(docs)
    idf = {w: math.log((1 + n) / (1 + c)) + 1 for w, c in df.items()}
    vocab = {w: i for i, w in enumerate(df)}
    mat = np.zeros((n, len(vocab)), dtype=np.float32)
    for i, d in enumerate(docs):
        for w, c in d.items():
            mat[i, vocab[w]] = ((1 + math.log(c)) if sublinear else c) * idf[w]
    mat /= np.linalg.norm(mat, axis=1, keepdims=True) + 1e-12
    pos = {d["paper_id"]: i for i, d in enumerate(corpus)}
    out = {}
    for q in queries:
        s = mat @ mat[pos[q]]
        s[pos[q]] = -np.inf
        out[q] = [corpus[i]["paper_id"] for i in top_k(s, 100)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flag(ap)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--json", action="store_true", help="print the table as JSON")
    ap.add_argument("--all-queries", action="store_true",
                    help="also compare served and baseline with every linked paper as a query (~3 minutes)")
    args = ap.parse_args()

    corpus, rel = load(data_dir(args.data))
    candidates = sorted(p for p in rel if rel[p])
    queries = fixed_queries(rel, args.queries)

    lib = embedded_library(corpus, args.home)

    s = lib.index.snapshot()
    # CiteSeer holds ~51 papers twice under two ids; the library merges them, so one library paper can stand
    # for several CiteSeer ids. Rankings are expanded back to every id (as TF-IDF ranks both copies).
    key_of: dict[str, list[str]] = {}
    for pid, p in lib.store.get_many(s.ids).items():
        key_of[pid] = [i.split(":", 1)[1] for i in p.identifiers if i.startswith("key:")]
    row_of = {k: i for i, pid in enumerate(s.ids) for k in key_of[pid]}

    def expand(pids: list[str], query: str) -> list[str]:
        return [k for pid in pids for k in key_of[pid] if k != query]

    hub = s.hub

    def signal_rankings(kind: str) -> dict[str, list[str]]:
        """Rankings by one signal exactly as the index computes it."""
        out = {}
        for q in queries:
            r = row_of[q]
            if kind == "dense":
                scores = lib.index._dense(s, s.matrix[r])
            elif kind == "dense-hub":
                scores = lib.index._dense(s, s.matrix[r]) - hub / 2
            elif kind == "bm25":
                scores = lib.index._keyword(s, stems(s.texts[r]))
            elif kind == "bm25-sym":
                scores = lib.index._keyword(s, stems(s.texts[r]), symmetric=True)
            elif kind == "tfidf-pairs":
                scores = lib.index._tfidf(s, stems(s.texts[r]))
            else:
                scores = fuse_rrf(lib.index._dense(s, s.matrix[r]), lib.index._keyword(s, stems(s.texts[r])),
                                  depth=100)
            scores = scores.astype(np.float64)
            scores[r] = -np.inf
            out[q] = expand([s.ids[i] for i in top_k(scores, 100)], q)
        return out

    t = time.time()
    served = {}
    for q in queries:
        served[q] = expand([h.id for h in lib.related(f"key:{q}", k=100)], q)
    served_ms = (time.time() - t) / len(queries) * 1000

    systems = {
        "TF-IDF, raw tf": tfidf_rankings(corpus, queries, sublinear=False),
        "TF-IDF, sublinear tf (baseline)": tfidf_rankings(corpus, queries, sublinear=True),
        "BM25 (bm25s), paper's terms in others": signal_rankings("bm25"),
        "BM25 symmetric (both directions)": signal_rankings("bm25-sym"),
        "TF-IDF, stems and stem pairs (as served)": signal_rankings("tfidf-pairs"),
        "dense cosine (MiniLM int8)": signal_rankings("dense"),
        "dense cosine - hub/2 (CSLS)": signal_rankings("dense-hub"),
        "RRF of dense and BM25": signal_rankings("rrf"),
        "papershelf related (served)": served,
    }
    per_query = {name: np.array([metrics(rankings[q], rel[q]) for q in queries]) for name, rankings in systems.items()}
    rows = []
    for name, scores in per_query.items():
        m = scores.mean(axis=0)
        rows.append({"system": name, "ndcg@10": round(float(m[0]), 4), "recall@10": round(float(m[1]), 4),
                     "map": round(float(m[2]), 4)})
    base = rows[1]["ndcg@10"]
    # 500 queries leave room for chance: the standard error of the per-query difference says how much.
    diff = per_query["papershelf related (served)"][:, 0] - per_query["TF-IDF, sublinear tf (baseline)"][:, 0]
    extra = {"served_minus_baseline": round(float(diff.mean()), 4),
             "standard_error": round(float(diff.std(ddof=1) / math.sqrt(len(diff))), 4)}
    if args.all_queries:
        everyone = {q: expand([h.id for h in lib.related(f"key:{q}", k=100)], q) for q in candidates}
        everyone_base = tfidf_rankings(corpus, candidates, sublinear=True)
        extra["all_queries"] = {
            "queries": len(candidates),
            "served": round(float(np.mean([metrics(everyone[q], rel[q])[0] for q in candidates])), 4),
            "baseline": round(float(np.mean([metrics(everyone_base[q], rel[q])[0] for q in candidates])), 4)}
    if args.json:
        print(json.dumps({"queries": len(queries), "served_ms_per_query": round(served_ms, 2), "rows": rows,
                          **extra}))
    else:
        print(f"CiteSeer, {len(queries)} queries (seed 0), relevant = cited or citing papers\n")
        print("| system | nDCG@10 | vs sublinear TF-IDF | Recall@10 | MAP |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['system']} | {r['ndcg@10']:.4f} | {r['ndcg@10'] / base:.2f}x | {r['recall@10']:.4f} "
                  f"| {r['map']:.4f} |")
        print(f"\nserved - baseline: {extra['served_minus_baseline']:+.4f} nDCG@10, standard error "
              f"{extra['standard_error']:.4f} (paired over the {len(queries)} queries)")
        if "all_queries" in extra:
            a = extra["all_queries"]
            print(f"every linked paper as a query ({a['queries']:,}): served {a['served']:.4f}, "
                  f"baseline {a['baseline']:.4f} ({a['served'] / a['baseline']:.2f}x)")
        print(f"served related(): {served_ms:.1f} ms per query (k=100, including why-terms)")
    lib.close()


if __name__ == "__main__":
    main()
