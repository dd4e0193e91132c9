"""Full text: reading every page, embedding passages, and finding them, against baselines measured in the same run.

    bench/fulltext.py --data DIR [--queries bench/fulltext_queries.json] [--parts speed,quality,scale,meanwhile,backup]
                      [--scale 100000,1000000] [--copies 1000] [--library-size 100000] [--seconds 180]

DIR holds PDFs (../shared/pdfs). Printed, all measured in this run on this machine, one core where it says so:
  speed    reading every page of every PDF into keyword-searchable passages (pdf/pages.py, then the words indexed),
           against `pdftotext` (poppler) over the same pages; embedding passages, in passages a second; a worker's
           peak memory reading the longest PDF.
  quality  queries of three kinds over DIR, each with the file and page where its answer stands, against a page-level
           BM25 over pdftotext pages (bm25s, the same stemmer): phrases as a reader remembers them (made from the
           PDFs themselves: 8 words from a sentence of a body page, seeded), questions in other words and "which of
           my papers" topics (written by hand in --queries: our words, never the papers'). Right file and page first
           and in the top 5; topics' nDCG@10 over papers. Each figure with its paired difference to the baseline and
           that difference's standard error. Then the passage query's latency over DIR's library.
  scale    synthetic passages (words of the shipped sample, vectors around topic centres: bench/synthetic.py) at each
           --scale size: a hybrid query's p50/p95, memory per passage, how long a new PDF's passages take to be
           searchable by words; at 100k, Tantivy against extending postings.py (the choice search/passages.py makes).
  meanwhile  the badge's /api/lookup and the page panel's /api/lookup/stream on a --library-size library (bench/pdf.py's
           method), alone and while the server reads and embeds the passages of --copies PDFs (DIR's files, each
           copy made distinct), for --seconds: p50/p95/p99, and how far the reading and embedding got meanwhile.
  backup   a backup of a library with passages of 1,000 PDFs (synthetic, 60 passages each, with vectors), its size
           with and without them, and the time to restore it and answer a passage query.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import ROOT, percentile, vocabulary  # noqa: E402

sys.path.insert(0, str(ROOT / "server"))
from papershelf.pdf import pages as pdfpages  # noqa: E402
from papershelf.search.passages import PassageIndex, Query  # noqa: E402


def one_core() -> None:
    """This process and the threads it starts on one core (the readers' worker is one process too)."""
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass


def pdftotext_pages(path: Path) -> list[str]:
    """poppler's text of each page (form feeds part them)."""
    out = subprocess.run(["pdftotext", "-q", str(path), "-"], capture_output=True, check=False).stdout
    return out.decode("utf-8", errors="replace").split("\f")[:-1] or [""]


def mean_se(diffs: list[float]) -> str:
    """A paired difference's mean and standard error."""
    n = len(diffs)
    if n < 2:
        return "n/a"
    m = statistics.fmean(diffs)
    return f"{m:+.3f} ± {statistics.stdev(diffs) / math.sqrt(n):.3f}"


# -- speed --------------------------------------------------------------------------------------------------
def speed(files: list[Path]) -> None:
    one_core()
    ours, theirs, pages = 0.0, 0.0, 0
    tmp = Path(tempfile.mkdtemp())
    index = PassageIndex(tmp / "ix")
    n_passages = 0
    for f in files:
        t = time.perf_counter()
        got = pdfpages.read_full(str(f))
        index.add_texts(f.name, [(n_passages + i, p.text) for i, p in enumerate(got.passages)])
        ours += time.perf_counter() - t
        n_passages += len(got.passages)
        pages += got.pages
        t = time.perf_counter()
        subprocess.run(["pdftotext", "-q", str(f), "-"], capture_output=True, check=False)
        theirs += time.perf_counter() - t
    print(f"reading {len(files)} PDFs, {pages} pages, into {n_passages} keyword-searchable passages (one core):")
    print(f"  papershelf {ours:.2f} s ({1000 * ours / pages:.2f} ms a page); pdftotext {theirs:.2f} s "
          f"({1000 * theirs / pages:.2f} ms a page): {ours / theirs:.2f}x pdftotext")
    sys.path.insert(0, str(ROOT / "tests"))
    from fulltext_corpus import thesis

    (tmp / "thesis.pdf").write_bytes(thesis(1000, "The last chapter thanks the granite quarry.")[0])
    code = ("import resource, sys, time; from papershelf.pdf.pages import read_full; t = time.perf_counter(); "
            "r = read_full(sys.argv[1]); print(r.pages, len(r.passages), time.perf_counter() - t, "
            "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    for path in (max(files, key=lambda f: f.stat().st_size), max(files, key=lambda f: len(pdftotext_pages(f))),
                 tmp / "thesis.pdf"):
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONPATH=str(ROOT / "server")), check=True).stdout.split()
        print(f"  a reader's peak memory on {path.name} ({out[0]} pages, {out[1]} passages, read in "
              f"{float(out[2]):.1f} s): {int(out[3]) / 1024:.0f} MB (the process, Python and PDFium included)")
    from papershelf.search.embed import Embedder

    texts = [p.text for f in files[:4] for p in pdfpages.read_full(str(f)).passages][:256]
    emb = Embedder(cache_dir=tmp / "cache", threads=1)
    emb.embed(texts[:8])
    t = time.perf_counter()
    emb.embed(texts)
    dt = time.perf_counter() - t
    print(f"  embedding passages (one core): {len(texts) / dt:.1f} passages a second ({len(texts)} passages, "
          f"{statistics.fmean(len(x.split()) for x in texts):.0f} words each on average)")
    shutil.rmtree(tmp, ignore_errors=True)


# -- quality --------------------------------------------------------------------------------------------------
def body_phrases(files: list[Path], per_file: int, seed: int = 1) -> list[dict]:
    """Phrases as a reader remembers them: 8 consecutive words of a sentence on a body page (not the first page,
    not from the reference list on: papershelf keeps references apart, by design), with that page; a phrase that
    stands on more than one page of the folder is not one a reader could place, and is not asked."""
    rng = random.Random(seed)
    texts = {f: [re.sub(r"\s+", " ", t) for t in pdftotext_pages(f)] for f in files}
    everything = "\f".join(t for pages in texts.values() for t in pages)
    out = []
    for f in files:
        pages = texts[f]
        refs = next((i for i, t in enumerate(pages) if i and re.search(
            r"\b(References|REFERENCES|Bibliography|BIBLIOGRAPHY|Literature Cited|Referências)\b", t)), len(pages))
        body = list(range(1, max(2, refs)))
        rng.shuffle(body)
        found = 0
        for p in body:
            sentences = [s for s in re.split(r"(?<=[.!?])\s+", pages[p])
                         if 14 <= len(s.split()) <= 60 and re.fullmatch(r"[A-Za-z ,;:()'’-]+[.]", s)]
            if p >= refs or not sentences:
                continue
            words = rng.choice(sentences).split()
            start = rng.randrange(0, len(words) - 8)
            phrase = " ".join(words[start:start + 8]).strip(",;:.")
            if everything.count(phrase) != 1:
                continue
            out.append({"kind": "phrase", "query": f'"{phrase}"', "file": f.name, "pages": [p + 1]})
            found += 1
            if found >= per_file:
                break
    return out


def baseline(files: list[Path]):
    """A page-level BM25 over pdftotext pages (bm25s with PyStemmer's English): query → [(file, page)] best first."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("english")
    docs, where = [], []
    for f in files:
        for i, text in enumerate(pdftotext_pages(f)):
            docs.append(text)
            where.append((f.name, i + 1))
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)

    def search(q: str, k: int = 10) -> list[tuple[str, int]]:
        tokens = bm25s.tokenize([q.replace('"', " ")], stopwords="en", stemmer=stemmer, show_progress=False)
        if not tokens.vocab:
            return []
        ids, _ = retriever.retrieve(tokens, k=min(k, len(docs)), show_progress=False)
        return [where[i] for i in ids[0]]
    return search


def ndcg(ranked_files: list[str], relevant: set[str], k: int = 10) -> float:
    seen, gains = set(), []
    for f in ranked_files:
        if f not in seen:
            seen.add(f)
            gains.append(1.0 if f in relevant else 0.0)
    dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains[:k]))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal if ideal else 0.0


def quality(files: list[Path], queries_path: Path) -> None:
    from papershelf.library import Library

    written = json.loads(queries_path.read_text()) if queries_path.is_file() else []
    names = {f.name for f in files}
    written = [q for q in written if all(x in names for x in ([q["file"]] if "file" in q else q["files"]))]
    queries = body_phrases(files, per_file=2) + written
    home = Path(tempfile.mkdtemp()) / "home"
    lib = Library(home)
    t = time.perf_counter()
    lib.import_pdfs(files)
    lib.embed_all()
    state = lib.stats().text
    print(f"library: {len(files)} PDFs imported, read and embedded in {time.perf_counter() - t:.0f} s "
          f"({state.pages_read} pages, {state.passages} passages)")
    base = baseline(files)
    rows: dict[str, dict[str, list[float]]] = {}
    latencies = []
    for q in queries:
        t = time.perf_counter()
        hits = lib.passages(q["query"], k=10, per_paper=0 if q["kind"] != "topic" else 1)
        latencies.append(1000 * (time.perf_counter() - t))
        ours = [(Path(h.file).name, h.page) for h in hits]
        theirs = base(q["query"], 10)
        r = rows.setdefault(q["kind"], {})
        if q["kind"] == "topic":
            ours_files = [Path(h.file).name for h in lib.passages(q["query"], k=10)]
            r.setdefault("ndcg10", []).append(ndcg(ours_files, set(q["files"])))
            r.setdefault("ndcg10_base", []).append(ndcg([f for f, _ in theirs], set(q["files"])))
            continue
        want = {(q["file"], p) for p in q["pages"]}
        for name, got in (("", ours), ("_base", theirs)):
            r.setdefault("first" + name, []).append(float(bool(got[:1]) and got[0] in want))
            r.setdefault("top5" + name, []).append(float(any(g in want for g in got[:5])))
        if not (ours[:1] and ours[0] in want):
            r.setdefault("misses", []).append(f"{q['query'][:60]!r} want {sorted(want)} got {ours[:3]}")
    kinds = ", ".join(f"{k}: {len(v.get('first', v.get('ndcg10', [])))}" for k, v in rows.items())
    print(f"{len(queries)} queries ({kinds}), papershelf against page-level BM25 over pdftotext pages (paired "
          "difference ± its standard error):")
    everything_first, everything_base = [], []
    for kind, r in rows.items():
        for measure in ("first", "top5", "ndcg10"):
            if measure not in r:
                continue
            a, b = r[measure], r[measure + "_base"]
            print(f"  {kind:9} {measure:7} papershelf {statistics.fmean(a):.3f}  baseline {statistics.fmean(b):.3f}  "
                  f"difference {mean_se([x - y for x, y in zip(a, b)])}")
        if "first" in r:
            everything_first += r["first"]
            everything_base += r["first_base"]
    print(f"  all       first   papershelf {statistics.fmean(everything_first):.3f}  baseline "
          f"{statistics.fmean(everything_base):.3f}  difference "
          f"{mean_se([x - y for x, y in zip(everything_first, everything_base)])}")
    print(f"  passage query over {len(files)} PDFs: p50 {percentile(latencies, 50):.1f} ms, "
          f"p95 {percentile(latencies, 95):.1f} ms ({len(latencies)} queries)")
    for kind, r in rows.items():
        for m in r.get("misses", [])[:8]:
            print(f"  missed ({kind}): {m}")
    lib.close()
    shutil.rmtree(home.parent, ignore_errors=True)


# -- scale ----------------------------------------------------------------------------------------------------
def synthetic_passages(n: int, vocab: list[str], seed: int = 0):
    rng = random.Random(seed)
    for i in range(n):
        yield i, f"file{i // 60}", " ".join(rng.choices(vocab, k=200))


def batches(n: int, vocab: list[str], size: int = 50_000):
    batch = []
    for row in synthetic_passages(n, vocab):
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scale(sizes: list[int]) -> None:
    from synthetic import vectors

    one_core()
    vocab = vocabulary()
    rng = random.Random(5)
    for n in sizes:
        folder = Path(tempfile.mkdtemp())
        before = rss_mb()
        index = PassageIndex(folder / "ix")
        t = time.perf_counter()
        index.rebuild(batches(n, vocab))
        built = time.perf_counter() - t
        vecs = vectors(n)
        index.add_vectors(list(range(n)), [f"file{i // 60}" for i in range(n)], vecs)
        del vecs
        disk = sum(f.stat().st_size for f in (folder / "ix").rglob("*") if f.is_file())
        queries = [" ".join(rng.choices(vocab, k=rng.randint(2, 5))) for _ in range(200)]
        qvecs = vectors(200, seed=9)
        times = []
        for q, v in zip(queries, qvecs):
            t = time.perf_counter()
            index.search(q, v, limit=10)
            times.append(1000 * (time.perf_counter() - t))
        word_times = []
        for q in queries:
            t = time.perf_counter()
            index.by_words(Query.parse(q), 10)
            word_times.append(1000 * (time.perf_counter() - t))
        phrase_times = []
        for q in queries[:50]:
            t = time.perf_counter()
            index.search(f'"{q}"', qvecs[0], limit=10)
            phrase_times.append(1000 * (time.perf_counter() - t))
        # A new PDF's passages (60) searchable by words: indexed and committed.
        t = time.perf_counter()
        index.add_texts("new-file", [(n + i, " ".join(rng.choices(vocab, k=200)) + " zyxwvut") for i in range(60)])
        searchable = time.perf_counter() - t
        assert index.by_words(Query.parse("zyxwvut"), 5)
        print(f"{n:,} passages: words indexed in {built:.1f} s (one core), index on disk {disk / n:.0f} bytes a passage, "
              f"vectors in memory {index.matrix.nbytes / max(n, 1):.0f} bytes a passage (process peak +{rss_mb() - before:.0f} MB)")
        print(f"  hybrid query (words + meaning, fused): p50 {percentile(times, 50):.1f} ms, p95 {percentile(times, 95):.1f} ms;"
              f" with a quoted phrase: p95 {percentile(phrase_times, 95):.1f} ms; words alone (Tantivy's top 10): "
              f"p95 {percentile(word_times, 95):.1f} ms")
        print(f"  a new PDF's 60 passages searchable by words {searchable:.2f} s after they were read")
        if n == 100_000:
            engines([text for _, _, text in synthetic_passages(n, vocab)], queries)
        del index
        shutil.rmtree(folder, ignore_errors=True)


def engines(texts: list[str], queries: list[str]) -> None:
    """Tantivy against the keyword index papershelf has for papers (postings.py), at the same passages."""
    from papershelf.search.postings import Postings, count, stems

    t = time.perf_counter()
    p = Postings()
    p.append(count(texts), delta=False)
    built = time.perf_counter() - t
    times = []
    for q in queries:
        t = time.perf_counter()
        p.score(stems(q), len(texts), tfidf=False)
        times.append(1000 * (time.perf_counter() - t))
    print(f"  postings.py at the same passages: built in {built:.1f} s, a query p95 {percentile(times, 95):.1f} ms "
          "(and no positions: a phrase would be checked in each hit's text afterwards)")


# -- meanwhile ------------------------------------------------------------------------------------------------
def meanwhile(files: list[Path], copies: int, size: int, seconds: float) -> None:
    import threading

    import httpx
    from http_load import serve
    from pdf import folder_of, import_folder, latencies
    from synthetic import library

    base = library(size)
    with tempfile.TemporaryDirectory() as t:
        home = Path(t) / "home"
        shutil.copytree(base, home, ignore=shutil.ignore_patterns("server.json", "cache", "ready"))
        folder = folder_of(files, copies, Path(t) / "pdfs")
        proc, url, auth = serve(home)
        try:
            for label in ("alone", "while passages are embedded"):
                out: dict[str, list[float]] = {"lookup": [], "panel": []}
                stop = threading.Event()
                th = threading.Thread(target=latencies, args=(url, auth, stop, out))
                if label == "alone":
                    th.start()
                    time.sleep(min(seconds, 60))
                else:
                    took = import_folder(folder, home)  # the papers first (read, then their vectors)
                    with httpx.Client(base_url=url, headers=auth, timeout=60) as c:
                        t0 = time.perf_counter()
                        # then every page read (passages searchable by words), then their vectors: measured then
                        while (st := c.get("/api/stats").json()["stats"])["pending"] or st["text"]["files_waiting"]:
                            time.sleep(1)
                        print(f"  ({copies} PDFs imported through the server in {took:.0f} s, their papers embedded "
                              f"and every page read in {time.perf_counter() - t0:.0f} s more)")
                        th.start()  # from here the background embeds passages
                        first = c.get("/api/stats").json()["stats"]["text"]
                        time.sleep(seconds)
                        last = c.get("/api/stats").json()["stats"]["text"]
                stop.set()
                th.join()
                for kind, values in out.items():
                    print(f"  {label:>36}: /api/{'lookup (badge)' if kind == 'lookup' else 'lookup/stream (panel)'}: "
                          f"n={len(values)} p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
                          f"p99 {percentile(values, 99):.1f} ms")
            print(f"  (in the {seconds:.0f} s measured, "
                  f"{(last['passages'] - last['passages_waiting']) - (first['passages'] - first['passages_waiting'])} "
                  f"passages embedded; {last['passages_waiting']} still waiting)")
        finally:
            proc.terminate()
            proc.wait(30)


# -- backup ---------------------------------------------------------------------------------------------------
def backup_part() -> None:
    from papershelf import backup as backups
    from papershelf.library import Library
    from synthetic import vectors

    vocab = vocabulary()
    home = Path(tempfile.mkdtemp()) / "home"
    lib = Library(home)
    tables = lib.store.passage_tables
    rng = random.Random(3)
    from papershelf.models import FileRef, Record

    # 1,000 papers with a PDF each, as an import of 1,000 PDFs leaves them (the files' bytes are not needed here)
    lib.import_items([(str(i), Record(title=f"Paper {i} " + " ".join(rng.choices(vocab, k=6)), abstract="",
                                      files=[FileRef(path=f"/nowhere/{i}.pdf", sha256=f"sha{i}", size=1)]))
                      for i in range(1000)])
    for i in range(1000):
        rows = tables.put_text(f"sha{i}", 1, 12, [(1 + k // 5, "", " ".join(rng.choices(vocab, k=200)), [])
                                                 for k in range(60)], [], [])
        tables.put_vectors(lib.model_id, [r[0] for r in rows], vectors(len(rows), seed=i))
    t = time.perf_counter()
    info = lib.backup()
    made = time.perf_counter() - t
    lib.close()
    print(f"backup of a library with 1,000 PDFs' passages (60,000, with vectors): {info.bytes / 1e6:.0f} MB, made in "
          f"{made:.1f} s")
    target = home.parent / "restored"
    t = time.perf_counter()
    backups.restore(target, Path(info.path))
    lib = Library(target)
    hits = lib.passages(" ".join(vocab[:3]), k=5)
    print(f"  restored and answering a passage query in {time.perf_counter() - t:.1f} s ({len(hits)} hits; the "
          f"words' index is rebuilt from the restored passages)")
    lib.close()
    shutil.rmtree(home.parent, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="a folder of PDFs (../shared/pdfs)")
    ap.add_argument("--queries", type=Path, default=HERE / "fulltext_queries.json")
    ap.add_argument("--parts", default="speed,quality,scale,meanwhile,backup")
    ap.add_argument("--scale", default="100000,1000000", help="synthetic passage counts")
    ap.add_argument("--copies", type=int, default=1000, help="PDFs imported while latencies are measured")
    ap.add_argument("--library-size", type=int, default=100_000)
    ap.add_argument("--seconds", type=float, default=180)
    args = ap.parse_args()
    parts = args.parts.split(",")
    files = sorted(args.data.glob("*.pdf")) if args.data else []
    if {"speed", "quality", "meanwhile"} & set(parts) and not files:
        ap.error("--data DIR with PDFs is needed for speed, quality and meanwhile")
    if "speed" in parts:
        speed(files)
    if "quality" in parts:
        quality(files, args.queries)
    if "scale" in parts:
        scale([int(x) for x in args.scale.split(",")])
    if "meanwhile" in parts:
        meanwhile(files, args.copies, args.library_size, args.seconds)
    if "backup" in parts:
        backup_part()


if __name__ == "__main__":
    main()
