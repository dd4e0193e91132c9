"""Following Zotero: a first sync of a 10,000-item library, a sync after one change, and lookups meanwhile.

    bench/sources.py [--items 10000] [--skip-server]

The Zotero library is written with tests/zotero_db.py (Zotero's documented schema), items with abstracts,
two authors, tags, collections and a DOI each. Printed, all measured in this run on this machine:
  1. the baseline: the same items exported by hand as BibTeX and imported (`Library.import_path`), the only way
     in before papershelf followed Zotero; then the first sync of the Zotero source into a fresh library (copy,
     integrity check, stamps, reading, merging; before embedding), and the ratio; then both again into the
     100k-paper benchmark library with its index loaded;
  2. a sync after one edit, a sync after nothing changed, and a sync after 100 edits;
  3. with --skip-server left out: /api/lookup (the badge) and /api/lookup/stream (the panel) on a running
     server over the 100k-paper benchmark library, alone, during the first sync (POST /api/sources), while
     its 10,000 new papers are embedded after it, and while they still are and an edit every 2 s is synced
     by the server's watcher by itself: p50/p95/p99.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import ROOT, library, percentile  # noqa: E402

sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT / "tests"))
from zotero_db import big_library  # noqa: E402


def as_bibtex(z, path: Path) -> None:
    """The items as Better BibTeX would export them (title, authors, year, journal, DOI, abstract, keywords)."""
    rows = z.con.execute(
        "SELECT i.key, group_concat(f.fieldName || char(31) || v.value, char(30)) FROM items i "
        "JOIN itemData d ON d.itemID = i.itemID JOIN fields f ON f.fieldID = d.fieldID "
        "JOIN itemDataValues v ON v.valueID = d.valueID GROUP BY i.itemID").fetchall()
    with open(path, "w") as out:
        for key, packed in rows:
            f = dict(part.split("\x1f", 1) for part in packed.split("\x1e"))
            out.write(f"@article{{{key},\n  title = {{{f.get('title', '')}}},\n  year = {{{f.get('date', '')}}},\n"
                      f"  journal = {{{f.get('publicationTitle', '')}}},\n  doi = {{{f.get('DOI', '')}}},\n"
                      f"  abstract = {{{f.get('abstractNote', '')}}},\n}}\n")


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    got = fn()
    return time.perf_counter() - t, got


def direct(z, zdir: Path, items: int) -> None:
    from papershelf.library import Library

    with tempfile.TemporaryDirectory() as t:
        bib = Path(t) / "export.bib"
        as_bibtex(z, bib)
        lib = Library(Path(t) / "bib-home")
        took_bib, rep = timed(lambda: lib.import_path(bib))
        lib.close()
        print(f"baseline: the same {items} items as a BibTeX export, imported: {took_bib:.1f} s "
              f"({len(rep.added)} added)")
        lib = Library(Path(t) / "home")
        took, (_, report) = timed(lambda: lib.sources.add(str(zdir)))
        print(f"first sync of the Zotero library: {took:.1f} s ({report.added} added, before embedding); "
              f"ratio to the BibTeX import: {took / took_bib:.2f}")
        key = next(iter(z.items))
        z.set_field(key, "title", "An edited title for the benchmark")
        one, r1 = timed(lambda: lib.sources.sync("zotero"))
        print(f"sync after one edit: {one * 1000:.0f} ms ({r1.updated} updated, {r1.unchanged} unchanged)")
        time.sleep(2.5)
        # The first sync after an edit reads again: the database's time was too close to the last read to be
        # trusted to say "unchanged" (file times tick coarsely). The next one reads nothing.
        again, _ = timed(lambda: lib.sources.sync("zotero"))
        none, r0 = timed(lambda: lib.sources.sync("zotero"))
        print(f"sync after no change: {again * 1000:.0f} ms the first time (read again), then {none * 1000:.1f} ms "
              f"({r0.unchanged} unchanged, not read)")
        for k in list(z.items)[1:101]:
            z.add_tag(k, "bench-tag")
        hundred, r100 = timed(lambda: lib.sources.sync("zotero"))
        print(f"sync after 100 edits: {hundred * 1000:.0f} ms ({r100.updated} updated)")
        lib.close()
        # Into the 100k-paper benchmark library, its index loaded as a server has it: there, both also bring
        # the index's keywords and vectors up to date for the 10,000 new papers before they return.
        for what in ("the BibTeX export imported", "the first sync of the Zotero library"):
            home = Path(t) / f"big-{what[4:7]}"
            shutil.copytree(library(100_000), home, ignore=shutil.ignore_patterns("server.json", "cache", "ready"))
            lib = Library(home)
            lib.index.snapshot()
            took, _ = timed(lambda: lib.import_path(bib) if "BibTeX" in what else lib.sources.add(str(zdir)))
            print(f"into a 100,000-paper library (its index loaded): {what}: {took:.1f} s")
            if "sync" in what:
                z.set_field(next(iter(z.items)), "title", "Edited again for the benchmark")
                one, r1 = timed(lambda: lib.sources.sync("zotero"))
                print(f"  then a sync after one edit: {one * 1000:.0f} ms ({r1.updated} updated)")
            lib.close()
            shutil.rmtree(home)


def server_meanwhile(z, zdir: Path, seconds: float) -> None:
    import httpx

    from http_load import serve
    from pdf import latencies  # the badge's and the panel's requests, one after another

    base = library(100_000)
    with tempfile.TemporaryDirectory() as t:
        home = Path(t) / "home"
        shutil.copytree(base, home, ignore=shutil.ignore_patterns("server.json", "cache", "ready"))
        proc, url, auth = serve(home)
        keys = list(z.items)
        try:
            for label in ("alone", "during the first sync", "while its papers are embedded",
                          "embedding, and syncs after one change"):
                out: dict[str, list[float]] = {"lookup": [], "panel": []}
                stop = threading.Event()
                th = threading.Thread(target=latencies, args=(url, auth, stop, out))
                th.start()
                note = ""
                if label == "alone":
                    time.sleep(seconds)
                elif label == "during the first sync":
                    took, r = timed(lambda: httpx.post(f"{url}/api/sources", json={"location": str(zdir)},
                                                       headers=auth, timeout=600).json())
                    note = (f"  (the first sync took {took:.1f} s: {r['sync']['added']} added; the sync's own report says "
                            f"{r['sync']['seconds']:.1f} s, which includes bringing the index's keywords and vectors "
                            "up to date)")
                elif label == "while its papers are embedded":
                    # The model embeds 7-20 long abstracts a second on this machine: 10,000 take many minutes,
                    # and the syncs after one change below run while it still works (as they would for a user).
                    time.sleep(seconds)
                    left = httpx.get(f"{url}/api/stats", headers=auth).json()["stats"]["pending"]
                    note = f"  ({left} papers still waiting for a vector)"
                else:
                    end = time.monotonic() + seconds
                    n = 0
                    while time.monotonic() < end:  # an edit every 2 s; the server's watcher syncs each
                        z.set_field(keys[n % len(keys)], "title", f"Edited while serving, number {n}")
                        n += 1
                        time.sleep(2)
                    note = f"  ({n} edits)"
                stop.set()
                th.join()
                for kind, values in out.items():
                    print(f"  {label:>30}: /api/{'lookup (badge)' if kind == 'lookup' else 'lookup/stream (panel)'}: "
                          f"n={len(values)} p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
                          f"p99 {percentile(values, 99):.1f} ms")
                if note:
                    print(note)
            src = httpx.get(f"{url}/api/sources/zotero", headers=auth).json()
            print(f"  the server's own syncs: last {src['last_report']['seconds'] * 1000:.0f} ms "
                  f"({src['last_report']['updated']} updated)")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=20, help="how long each server phase measures")
    ap.add_argument("--skip-server", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        zdir = Path(t) / "Zotero"
        took, z = timed(lambda: big_library(zdir, a.items))
        size = (zdir / "zotero.sqlite").stat().st_size + (zdir / "zotero.sqlite-wal").stat().st_size
        print(f"a Zotero library of {a.items} items written in {took:.1f} s ({size / 1e6:.0f} MB with its -wal)")
        direct(z, zdir, a.items)
        if not a.skip_server:
            server_meanwhile(z, zdir, a.seconds)
        z.close()


if __name__ == "__main__":
    main()
