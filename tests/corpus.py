"""Paper texts for the tests and benchmarks that need more papers than a fixture holds, made from the sample
that ships in the package (papershelf's own seed: 289 titles and abstracts), so that their words and word
frequencies are those of real abstracts. Each generated paper is a new title and an abstract of sentences drawn
from several sample abstracts; the same seed gives the same papers."""

from __future__ import annotations

import random
import re
import sys
from functools import lru_cache
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))

from papershelf import importers  # noqa: E402
from papershelf.library import sample_path  # noqa: E402


@lru_cache(maxsize=1)
def sample_papers() -> tuple[tuple[str, str], ...]:
    """The shipped sample's (title, abstract) pairs, as its importer reads them."""
    _, items = importers.parse_path(sample_path())
    return tuple((r.title, r.abstract) for _, r in items if not isinstance(r, str) and r.abstract)


@lru_cache(maxsize=1)
def _sentences() -> tuple[str, ...]:
    return tuple(s for _, a in sample_papers() for s in re.split(r"(?<=[.!?])\s+", a) if len(s.split()) >= 6)


@lru_cache(maxsize=1)
def _title_words() -> tuple[str, ...]:
    return tuple(w for t, _ in sample_papers() for w in t.replace(":", "").split())


def generated_papers(n: int, seed: int = 0) -> list[dict]:
    """n papers with distinct titles: {"id", "title", "abstract", "text"} (text: title and abstract)."""
    rng = random.Random(seed)
    sentences, words = _sentences(), _title_words()
    out, titles = [], set()
    while len(out) < n:
        title = " ".join(rng.choices(words, k=rng.randint(6, 11)))
        if title.lower() in titles:
            continue
        titles.add(title.lower())
        abstract = " ".join(rng.sample(sentences, rng.randint(3, 7)))
        out.append({"id": f"g{seed}-{len(out)}", "title": title, "abstract": abstract, "text": f"{title}. {abstract}"})
    return out


def words() -> list[str]:
    """Every word of the sample's abstracts, with repeats (drawing from it keeps Zipf's law)."""
    return [w for _, a in sample_papers() for w in a.split() if w.isalpha()]
