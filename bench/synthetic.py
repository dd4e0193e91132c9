"""Libraries of any size for the performance benchmarks, from what the repository ships (no data folder needed).

Texts: a title of 8 and an abstract of 150 words drawn from the words of the sample's 289 real abstracts (the
seed that ships in the package, read by tests/corpus.py), so word frequencies are real ones. Vectors: unit vectors around 3,000 topic centres, so a
paper's nearest neighbours sit at cosine 0.5-0.6 as MiniLM's do in a real library (embedding 100,000 abstracts
would take two hours on these machines; the ranking code does not care where vectors come from).
Libraries are built once and kept in bench/.cache/lib-N (delete the folder to build again).
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
CACHE = Path(__file__).resolve().parent / ".cache"

from papershelf.library import Library  # noqa: E402
from papershelf.models import Record  # noqa: E402


def vocabulary() -> list[str]:
    """The words of the shipped sample's abstracts, with repeats (drawing from it keeps Zipf's law)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus import words

    return words()


def records(n: int, vocab: list[str], seed: int = 0, start: int = 0) -> list[tuple[str, Record]]:
    """n plain records: a title, a 150-word abstract, an author, a year and an arXiv id each."""
    rng = random.Random(seed * 1_000_003 + n)
    return [(str(i), Record(title=" ".join(rng.choices(vocab, k=8)) + f" {i}",
                            abstract=" ".join(rng.choices(vocab, k=150)), authors=["A. Writer"], year=2000 + i % 25,
                            identifiers=[f"arxiv:{2101 + i // 100000:04d}.{i % 100000:05d}"]))
            for i in range(start, start + n)]


def vectors(n: int, dim: int = 384, seed: int = 0, topics: int = 3000) -> np.ndarray:
    """n unit vectors scattered around `topics` centres (float32)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((topics, dim), dtype=np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for a in range(0, n, 100_000):  # in blocks: 1M x 384 temporaries would double the memory
        b = min(n, a + 100_000)
        block = centres[rng.integers(0, topics, b - a)] * 0.9 + rng.standard_normal((b - a, dim), dtype=np.float32)
        out[a:b] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def library(n: int) -> Path:
    """The home of an n-paper library with vectors and a saved index (built the first time, then reused)."""
    home = CACHE / f"lib-{n}"
    if (home / "ready").exists():
        return home
    shutil.rmtree(home, ignore_errors=True)
    t = time.perf_counter()
    print(f"building a {n:,}-paper library in {home} (once) ...", file=sys.stderr)
    lib = Library(home)
    lib.import_items(iter(records(n, vocabulary())))
    pending = lib.store.pending(lib.model_id, limit=n)
    lib.store.put_vectors(lib.model_id, [(pid, h, v) for (pid, _, h), v in zip(pending, vectors(n, seed=n))])
    lib.index.snapshot()
    lib.close()  # saves the index
    (home / "ready").write_text("")
    print(f"built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return home


def rss_mb() -> float:
    """This process's resident memory now (MB)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (nearest rank)."""
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
