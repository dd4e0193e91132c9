"""Writes and start-up: how fast papers get in, how soon a write is visible, how fast a library opens.

For 10k and 100k papers (bench/synthetic.py's records and libraries):
- import of a JSON-lines file before embedding, as `papershelf import` runs it (no index loaded), and into a
  loaded index (as the server runs it: the import returns once lookups see every paper); the same file again
  (unchanged: the library remembers it), and again after one of its papers was edited (every record read);
- save → visible: a save, then a keyword lookup through the index that finds it, p50 of 10; then, timed
  apart, what costs the model's time: related() of the saved paper (what the extension asks next; the paper has
  no vector yet, so its text is embedded now) and a search by its title (the query embedded); the embedding
  worker starts on each saved paper meanwhile, as in the server; tag edit → visible: a tag
  edit, then related() to another library paper filtered by that tag (the panel's lookup), p50 of 10, with
  the embedding worker idle;
- start-up, in a fresh process: from `python` to the first related() answer, and the library's own part
  (open + first answer), with the saved index and without it (a first start after an upgrade); resident memory
  after 60 lookups, and the peak.
- the first save after a start, in a fresh process: the library opened and warmed as `papershelf serve` does
  (Library.warm_up), its start's own work done (numba's loop loaded in its thread), then five saves, each
  followed by the lookup that finds it: the first against the median of the later four; the baseline, in the
  same run, is the same without the room warm_up makes (Index.make_room), as every start was before issue #36;
  and the first save made at once, while that load may still run (a click within a second of the start);
- end to end: 256 real abstracts imported and embedded, against raw fastembed on the same texts (the ceiling).
Run: `make bench` or `bench/ingest.py [--quick]` (10k only).
"""

from __future__ import annotations

import argparse
import json

import msgspec
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import ROOT, library, records, vocabulary  # noqa: E402

from papershelf.library import Library  # noqa: E402
from papershelf.models import Filters, Record  # noqa: E402

STARTUP = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {server!r})
from papershelf.library import Library
t1 = time.perf_counter()
lib = Library({home!r})
s = lib.index.snapshot()
pid = s.ids[0]
lib.related(pid, k=10)
t2 = time.perf_counter()
for q in s.ids[1:61]:
    lib.related(q, k=10)
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
mb = lambda key: int(status[key].split()[0]) / 1024  # VmHWM, not ru_maxrss: that one counts the parent's fork
print(json.dumps(dict(total=t2 - t0, library=t2 - t1, rss=mb("VmRSS"), peak=mb("VmHWM"))))
lib.worker.stop()
lib.store.close()  # not lib.close(): the saved index stays as it was for the next run
"""

FIRST_SAVE = """
import json, os, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {server!r})
from papershelf.library import Library
from papershelf.models import Record
home = Path(tempfile.mkdtemp()) / "home"
shutil.copytree({home!r}, home, ignore=shutil.ignore_patterns("server.json"))
os.sync()  # the copy's dirty pages written now, not during the saves' commits (a start follows no such copy)
lib = Library(home)
if {room!r}:
    lib.warm_up(1e9)  # as `papershelf serve` does (its map timer never fires here)
else:
    lib.index.snapshot()
lib.related(lib.index.snapshot().ids[0], k=10)
if {settled!r}:  # the start's own work done (numba's loop loaded in its thread), as before a reader's first click
    from papershelf.search import postings
    postings.wait_for_background_load()
times = []
for i in range(5):
    t = time.perf_counter()
    lib.save(Record(title=f"A paper saved after the start, number {{i}}, on sparse attention", source="extension",
                    abstract="We study sparse attention for long documents.", identifiers=[f"arxiv:2501.{{i + 90000}}"]))
    assert lib.find(f"arxiv:2501.{{i + 90000}}")
    times.append(time.perf_counter() - t)
print(json.dumps(dict(first=times[0] * 1000, later=sorted(times[1:])[1:3], )))
lib.worker.stop()
lib.store.close()
shutil.rmtree(home.parent, ignore_errors=True)
"""


def first_save(home: Path, room: bool, settled: bool = True) -> dict:
    """The first save after a start, and the later ones (ms), in a fresh process on a copy of the library;
    settled=False: at once, while the start's own work (numba's loop loading in a thread) may still run."""
    out = subprocess.run([sys.executable, "-c", FIRST_SAVE.format(server=str(ROOT / "server"), home=str(home),
                                                                  room=room, settled=settled)],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return {"first": got["first"], "later": statistics.mean(got["later"]) * 1000}


def startup(home: Path) -> dict:
    """Start-up measured in a fresh process."""
    out = subprocess.run([sys.executable, "-c", STARTUP.format(server=str(ROOT / "server"), home=str(home))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def writes(n: int, vocab: list[str]) -> dict:
    """Import rates and write-to-visible latencies at n papers."""
    got = {}
    with tempfile.TemporaryDirectory() as d:
        export = Path(d) / "export.jsonl"  # papershelf's own JSON lines, as `papershelf export` writes them
        export.write_bytes(b"\n".join(msgspec.json.encode(r) for _, r in records(n, vocab, seed=7)))
        lib = Library(Path(d) / "cli")
        t = time.perf_counter()
        report = lib.import_path(export)
        got["import"] = n / (time.perf_counter() - t)
        assert len(report.added) == n, report.failed[:3]
        t = time.perf_counter()
        report = lib.import_path(export)
        got["again"] = n / (time.perf_counter() - t)
        assert report.unchanged_since and len(report.merged) == n
        lib.update(report.merged[0].id, tags=["edited"])  # one paper changed since: the file is read again
        t = time.perf_counter()
        report = lib.import_path(export)
        got["again_edited"] = n / (time.perf_counter() - t)
        assert not report.unchanged_since and len(report.merged) == n
        lib.close()
        lib = Library(Path(d) / "server")
        lib.index.snapshot()  # loaded, as in a running server
        t = time.perf_counter()
        lib.import_path(export)
        lib.search("anything", k=1)
        got["import_served"] = n / (time.perf_counter() - t)
        lib.close()
    home = library(n)
    copy = Path(tempfile.mkdtemp()) / "lib"
    shutil.copytree(home, copy)
    try:
        lib = Library(copy)
        lib.index.snapshot()
        lib.embedder.embed_one("load the model before timing")
        rng = random.Random(1)
        saves, related, searches, tags, saved = [], [], [], [], []
        for i in range(10):
            title = f"A freshly saved paper on {' '.join(rng.sample(vocab, 4))} {i}"
            t = time.perf_counter()
            paper, _ = lib.save(Record(title=title, abstract=" ".join(rng.choices(vocab, k=150))))
            s, ranked = lib.index.search(title, None, k=10)  # a lookup through the index that needs no model
            saves.append((time.perf_counter() - t) * 1000)
            assert paper.id in [s.ids[r] for r in ranked.rows], "a save must be found by the next lookup"
            t = time.perf_counter()
            hits = lib.related(paper.id, k=5)  # what the extension asks next: its text is embedded now
            related.append((time.perf_counter() - t) * 1000)
            assert paper.id not in [h.id for h in hits]
            t = time.perf_counter()
            found = lib.search(title, k=10)  # the query embedded
            searches.append((time.perf_counter() - t) * 1000)
            assert paper.id in [h.id for h in found], "a save must be found by the next search"
            saved.append((paper.id, title))
        lib.worker.stop()
        lib.embed_all()  # the saved papers' vectors: the tag edits below do not share the CPU with the model
        for i, (pid, _) in enumerate(saved):
            t = time.perf_counter()
            lib.update(pid, tags=[f"bench-{i}"])
            hits = lib.related(saved[i - 1][0], k=3, filters=Filters(tags=[f"bench-{i}"]))
            tags.append((time.perf_counter() - t) * 1000)
            assert [h.id for h in hits] == [pid]
        got["save"], got["tag"] = statistics.median(saves), statistics.median(tags)
        got["search_after"] = statistics.median(searches)
        got["related_after"] = statistics.median(related)
        lib.worker.stop()
        lib.store.close()
    finally:
        shutil.rmtree(copy.parent, ignore_errors=True)
    got["warm"] = startup(home)
    got["first_save"], got["first_save_baseline"] = first_save(home, True), first_save(home, False)
    got["first_save_starting"] = first_save(home, True, settled=False)
    cold = Path(tempfile.mkdtemp()) / "lib"
    shutil.copytree(home, cold, ignore=shutil.ignore_patterns("index"))
    try:
        got["cold"] = startup(cold)
    finally:
        shutil.rmtree(cold.parent, ignore_errors=True)
    return got


def end_to_end() -> tuple[float, float]:
    """Papers/s imported and embedded, and raw fastembed's on the same 256 texts (of real abstracts' sentences)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from corpus import generated_papers

    texts = [p["abstract"] for p in generated_papers(256)]
    recs = [(str(i), Record(title=t.split(".")[0][:200] + f" ({i})", abstract=t)) for i, t in enumerate(texts)]
    with tempfile.TemporaryDirectory() as d:
        lib = Library(Path(d))
        lib.embedder.embed(["load the model before timing"])
        t = time.perf_counter()
        lib.embedder.embed([f"{r.title}. {r.abstract}" for _, r in recs])
        raw = len(recs) / (time.perf_counter() - t)
        t = time.perf_counter()
        lib.import_items(iter(recs))
        lib.embed_all()
        ours = len(recs) / (time.perf_counter() - t)
        lib.close()
    return ours, raw


def run(quick: bool = False) -> dict:
    vocab = vocabulary()
    ours, raw = end_to_end()
    lines = [f"End to end (256 real abstracts, parse + store + embed): **{ours:.1f} papers/s**, raw fastembed on the "
             f"same texts {raw:.1f} papers/s: **{ours / raw:.2f}x** of the ceiling.", "",
             "Imports read a JSON-lines file of n papers (`import_path`, as the CLI, the API and the inbox do).", "",
             "| papers | import before embedding | into a loaded index | the same file again | again, one of its "
             "papers edited since | save → found (then its related(); a search) | tag edit → related() by tag | start-up, saved index "
             "(process / library) | start-up, no saved index | memory after 60 lookups (peak) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    values = {"end_to_end": ours / raw}
    firsts = []
    for n in [10_000] if quick else [10_000, 100_000]:
        g = writes(n, vocab)
        firsts.append((n, g))
        values.update(papers=n, import_rate=g["import"], reimport=g["again"] / g["import"],
                      reimport_edited=g["again_edited"] / g["import"], save_ms=g["save"], search_ms=g["search_after"],
                      related_ms=g["related_after"],
                      tag_ms=g["tag"], startup=g["warm"]["total"], startup_library=g["warm"]["library"],
                      rss=g["warm"]["rss"], peak=g["warm"]["peak"], cold=g["cold"]["total"])
        w, c = g["warm"], g["cold"]
        lines.append(f"| {n:,} | {g['import']:,.0f} papers/s | {g['import_served']:,.0f} papers/s | "
                     f"{g['again']:,.0f} papers/s ({g['again'] / g['import']:.0f}x) | "
                     f"{g['again_edited']:,.0f} papers/s ({g['again_edited'] / g['import']:.1f}x) | {g['save']:.0f} ms "
                     f"({g['related_after']:.0f} ms; {g['search_after']:.0f} ms) | "
                     f"{g['tag']:.0f} ms | {w['total']:.2f} s / {w['library']:.2f} s | {c['total']:.1f} s | "
                     f"{w['rss']:,.0f} MB ({w['peak']:,.0f} MB) |")
    lines += ["", "The first save after a start (save → found, in a fresh process warmed as `papershelf serve` warms it), "
              "against the later saves and against the same start without the room made for new rows (the "
              "baseline, as before issue #36), in the same run:", "",
              "| papers | first save | later saves (mean of the middle two of four) | first save, baseline | ratio | "
              "first save before the start's own work is done |",
              "|---|---|---|---|---|---|"]
    for n, g in firsts:
        f, b, s = g["first_save"], g["first_save_baseline"], g["first_save_starting"]
        lines.append(f"| {n:,} | {f['first']:.0f} ms | {f['later']:.0f} ms | {b['first']:.0f} ms | "
                     f"{f['first'] / b['first']:.2f}x | {s['first']:.0f} ms |")
        values[f"first_save_{n}"] = f["first"]
    return {"markdown": "\n".join(lines), "values": values}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k papers only (about a minute)")
    print(run(ap.parse_args().quick)["markdown"])


if __name__ == "__main__":
    main()
