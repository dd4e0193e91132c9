"""Where the benchmarks find CiteSeer: `--data DIR` (default bench/data/citeseer, ignored by git)."""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent / "data" / "citeseer"
HOME = Path(__file__).resolve().parent / ".cache" / "citeseer-home"  # the embedded library, kept between runs
FILES = ("corpus.jsonl", "edges.tsv")


def add_data_flag(ap: argparse.ArgumentParser) -> None:
    """The --data flag every benchmark takes, and --home, where the CiteSeer library is kept embedded."""
    ap.add_argument("--data", type=Path, default=DEFAULT,
                    help=f"folder holding CiteSeer's {' and '.join(FILES)} (default: {DEFAULT})")
    ap.add_argument("--home", type=Path, default=HOME, help=f"the embedded library's home (default: {HOME})")


def fixed_queries(rel: dict[str, set[str]], n: int) -> list[str]:
    """n papers that cite or are cited, the same in every run and every benchmark that asks for n."""
    return random.Random(0).sample(sorted(p for p in rel if rel[p]), n)


def data_dir(path: Path) -> Path:
    """The folder, or one line saying what to put there and exit 2 (never a traceback)."""
    missing = [f for f in FILES if not (path / f).is_file()]
    if missing:
        sys.exit(f"CiteSeer is not in {path} (missing {', '.join(missing)}): put corpus.jsonl "
                 "({paper_id, text} per line) and edges.tsv (citing<TAB>cited, header line) there, or give "
                 "--data DIR; the README's 'Benchmarks' section says where to get them.")
    return path


def corpus(path: Path) -> list[dict]:
    """The papers, as {paper_id, text, label}."""
    return [json.loads(line) for line in (path / "corpus.jsonl").read_text().splitlines() if line.strip()]


def edges(path: Path) -> list[tuple[str, str]]:
    """Citation links (citing, cited)."""
    return [tuple(line.split("\t")[:2]) for line in (path / "edges.tsv").read_text().splitlines()[1:] if line.strip()]


def load(path: Path) -> tuple[list[dict], dict[str, set[str]]]:
    """The papers and each paper's citation neighbours (links taken both ways, self-links and unknown ids out)."""
    from collections import defaultdict

    rows = corpus(path)
    known = {d["paper_id"] for d in rows}
    links: dict[str, set[str]] = defaultdict(set)
    for a, b in edges(path):
        if a in known and b in known and a != b:
            links[a].add(b)
            links[b].add(a)
    return rows, links


def record(d: dict):
    """A CiteSeer row → Record (its text is title and abstract run together; we cannot split them)."""
    from papershelf.models import Record

    words = d["text"].split()
    return Record(title=" ".join(words[:12]), abstract=" ".join(words[12:]), identifiers=[f"key:{d['paper_id']}"],
                  source="citeseer")


def embedded_library(rows: list[dict], home: Path):
    """CiteSeer imported and embedded through the product's own path into `home`; a second run reuses the
    vectors there (unchanged text is never embedded again), so only the first pays ~4 minutes."""
    import time

    from papershelf.library import Library

    lib = Library(home)
    t = time.time()
    report = lib.import_items(((f"line {i}", record(d)) for i, d in enumerate(rows, 1)), source="citeseer")
    n = lib.embed_all(progress=lambda d, tot: print(f"\rembedding {d}/{tot}", end="", file=sys.stderr))
    print(f"\nlibrary: {lib.stats().papers} papers ({len(report.added)} added now, {n} embedded now, "
          f"{time.time() - t:.1f} s)", file=sys.stderr)
    return lib
