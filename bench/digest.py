"""How good is the daily digest's ranking? CiteSeer with simulated researchers (citation links as truth).

A user is a seed paper with at least 4 links. Their library is the seed plus half of its 1- and 2-hop
neighbourhood; the day's candidates are the other half (relevant) plus 200 random papers farther away, and
200 more such papers are the background sample of earlier days. Ranked by: chronological order (the order a
feed lists them: random here), similarity to the closest library paper (max-sim), similarity to the library
centroid, and the personal model (papershelf.digest.ranking) — then after 1, 2 and 3 rounds of feedback: the user
rates the top 10 by the truth (relevant 👍, else 👎), the model retrains, and what is left is ranked again.
Prints nDCG@10 and precision@10 with the paired standard error of each method minus max-sim, and the time to
retrain and rank 1,000 candidates against a 10,000-paper library. Run: `make digest-bench`.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from citeseer import add_data_flag, data_dir, embedded_library, load  # noqa: E402
from papershelf.digest.ranking import Examples, centroid_similarity, max_similarity, rank  # noqa: E402

K = 10
ROUNDS = 3


def ndcg_p(order: list[int], relevant: set[int]) -> tuple[float, float]:
    """nDCG@10 and precision@10 of a ranking of candidate positions."""
    dcg = sum(1 / math.log2(i + 2) for i, c in enumerate(order[:K]) if c in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    return (dcg / idcg if idcg else 0.0), sum(c in relevant for c in order[:K]) / K


def users(adj: dict[str, set[str]], keys: list[str], n: int, rng: random.Random):
    """(library keys, relevant candidate keys, far candidate keys, background keys) per simulated user."""
    seeds = sorted(p for p in adj if len(adj[p]) >= 4)
    for seed in rng.sample(seeds, min(n, len(seeds))):
        hood = set(adj[seed])
        for m in list(adj[seed]):
            hood |= adj[m]
        hood.discard(seed)
        hood = sorted(hood)
        rng.shuffle(hood)
        half = len(hood) // 2
        far = [k for k in keys if k != seed and k not in hood]
        picked = rng.sample(far, 400)
        yield [seed, *hood[:half]], hood[half:], picked[:200], picked[200:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_flag(ap)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0, help="which simulated users (tune on another seed than 0)")
    args = ap.parse_args()
    rows, adj = load(data_dir(args.data))

    lib = embedded_library(rows, args.home)
    s = lib.index.snapshot()
    vec: dict[str, np.ndarray] = {}
    for pid, p in lib.store.get_many(s.ids).items():
        for ref in p.identifiers:
            if ref.startswith("key:"):
                vec[ref[4:]] = s.matrix[s.pos[pid]]
    lib.close()
    keys = sorted(vec)

    methods = ["chronological", "max-sim", "centroid", "max-sim + 👍", "personal model"]
    ndcg = {(m, r): [] for m in methods for r in range(ROUNDS + 1)}
    prec = {(m, r): [] for m in methods for r in range(ROUNDS + 1)}
    fallback = 0
    rng = random.Random(args.seed)
    for library, relevant, far, background in users(adj, keys, args.users, rng):
        cands = relevant + far
        cv = np.stack([vec[k] for k in cands])
        lv = np.stack([vec[k] for k in library])
        bv = np.stack([vec[k] for k in background])
        truth = set(range(len(relevant)))
        chrono = list(range(len(cands)))
        rng.shuffle(chrono)
        static = {"max-sim": max_similarity(cv, lv), "centroid": centroid_similarity(cv, lv)}
        liked: list[int] = []
        disliked: list[int] = []
        for r in range(ROUNDS + 1):
            left = [c for c in range(len(cands)) if c not in liked and c not in disliked]
            left_truth = truth & set(left)
            ex = Examples.of(lv, cv[liked], cv[disliked], bv)
            got = rank(cv[left], ex)
            fallback += r == 0 and got.method == "similarity"
            model = dict(zip(left, got.scores))
            plus = dict(zip(left, max_similarity(cv[left], np.vstack([lv, cv[liked]]))))
            orders = {
                "chronological": [c for c in chrono if c in model],
                "max-sim": sorted(left, key=lambda c: -static["max-sim"][c]),
                "centroid": sorted(left, key=lambda c: -static["centroid"][c]),
                "max-sim + 👍": sorted(left, key=lambda c: -plus[c]),
                "personal model": sorted(left, key=lambda c: -model[c]),
            }
            for m, order in orders.items():
                n, p = ndcg_p(order, left_truth)
                ndcg[m, r].append(n)
                prec[m, r].append(p)
            for c in orders["personal model"][:K]:  # the user rates the model's top 10
                (liked if c in truth else disliked).append(c)

    n_users = len(ndcg["max-sim", 0])
    print(f"{n_users} simulated users (median library {statistics.median(len(u[0]) for u in users(adj, keys, args.users, random.Random(args.seed)))} "
          f"papers; {fallback} under the model's minimum, ranked by similarity)\n")
    print("| method | " + " | ".join(f"round {r} nDCG@10 | P@10" for r in range(ROUNDS + 1)) + " |")
    print("|---" * (1 + 2 * (ROUNDS + 1)) + "|")
    for m in methods:
        cells = []
        for r in range(ROUNDS + 1):
            cells += [f"{np.mean(ndcg[m, r]):.4f}", f"{np.mean(prec[m, r]):.4f}"]
        print(f"| {m} | " + " | ".join(cells) + " |")
    print()
    for r in range(ROUNDS + 1):
        line = []
        for other in ("max-sim", "max-sim + 👍", "centroid"):
            diff = np.array(ndcg["personal model", r]) - np.array(ndcg[other, r])
            line.append(f"{np.mean(ndcg['personal model', r]) / np.mean(ndcg[other, r]):.3f}x {other} "
                        f"({diff.mean():+.4f} ± {diff.std(ddof=1) / math.sqrt(len(diff)):.4f})")
        print(f"round {r}: personal model = " + ", ".join(line))
    print("(nDCG@10 ratio, then the mean difference ± its paired standard error over the users)")

    # Speed: retrain and rank 1,000 candidates against a 10,000-paper library (real vectors, resampled).
    all_v = np.stack([vec[k] for k in keys])
    g = np.random.default_rng(0)

    def sample(n: int) -> np.ndarray:
        v = all_v[g.integers(0, len(all_v), n)] + g.normal(0, 0.02, (n, all_v.shape[1])).astype(np.float32)
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)

    big_lib, big_cands, big_bg = sample(10_000), sample(1_000), sample(1_000)
    times = []
    for _ in range(5):
        t = time.perf_counter()
        rank(big_cands, Examples.of(big_lib, big_cands[:10], big_cands[10:20], big_bg))
        times.append(time.perf_counter() - t)
    print(f"\nretrain + rank 1,000 candidates against a 10,000-paper library: median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}, 5 runs)")


if __name__ == "__main__":
    main()
