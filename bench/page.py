"""The library page at 100,000 papers, in Chromium: its first paint, and the map (its one response and its
drawing). The baseline, measured in the same run, is the same page over the 289-paper sample library.

Each number is the median of 5 loads in a fresh tab, from the navigation's start (first paint, list shown) or
from the click on "Map" (the response, the points drawn). The 100k library is bench/synthetic.py's; its map is
laid out once (PaCMAP, about 30 s) before measuring, as a running server would have it.
Run: `bench/page.py [--quick] [--write-doc]` (--quick: 10,000 papers), `make page-bench`, or `make bench`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from http_load import serve  # noqa: E402
from panel import CHROMIUM, sample_home, write_doc  # noqa: E402
from synthetic import library  # noqa: E402

LOADS = 5
MARKS = ("<!-- page benchmark -->", "<!-- /page benchmark -->")


def measure(url: str, token: str) -> dict:
    from playwright import sync_api as pw

    p = pw.sync_playwright().start()
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
    runs = []
    try:
        for _ in range(LOADS):
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.goto(f"{url}/#token={token}")
            page.wait_for_selector("#list li")
            paint = page.evaluate("""() => {
                const fcp = performance.getEntriesByName('first-contentful-paint')[0];
                return { paint: fcp ? fcp.startTime : null, list: performance.now() }; }""")
            page.evaluate("""() => { window.mapClicked = performance.now();
                document.getElementById('view-map').click(); }""")
            page.wait_for_function("() => document.getElementById('library-map').dataset.points", timeout=120_000)
            drawn = page.evaluate("""() => {
                const r = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/api/map'));
                return { map: performance.now() - window.mapClicked, response: r ? r.responseEnd - r.startTime : null,
                         bytes: r ? r.encodedBodySize : null,
                         points: +document.getElementById('library-map').dataset.points }; }""")
            redraw = page.evaluate("""() => { const m = document.getElementById('library-map').map;
                const t = performance.now(); m.draw(); return performance.now() - t; }""")
            runs.append({**paint, **drawn, "redraw": redraw})
            ctx.close()
    finally:
        browser.close()
        p.stop()
    med = lambda k: statistics.median(r[k] for r in runs if r[k] is not None)  # noqa: E731
    return {k: med(k) for k in ("paint", "list", "map", "response", "bytes", "redraw")} | {"points": runs[0]["points"]}


def run(quick: bool = False) -> dict:
    n = 10_000 if quick else 100_000
    results = {}
    for name, source in (("sample", sample_home()), (f"{n:,}", library(n))):
        work = Path(tempfile.mkdtemp(prefix="page-bench-"))
        home = work / "home"
        shutil.copytree(source, home, ignore=shutil.ignore_patterns("server.json"))
        proc, url, auth = serve(home)
        try:
            deadline = time.time() + 600  # the map laid out (a server keeps it in home/map/ from then on)
            while time.time() < deadline and httpx.get(f"{url}/api/map", headers=auth, timeout=120).json()["method"] != "pacmap":
                time.sleep(2)
            results[name] = measure(url, auth["Authorization"].split()[1])
            print(name, results[name], flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
            shutil.rmtree(work, ignore_errors=True)
    return {"results": results, "markdown": markdown(results, n)}


def markdown(results: dict, n: int) -> str:
    big, base = results[f"{n:,}"], results["sample"]
    rows = [("first paint", "paint"), ("the first page of the list shown", "list"),
            ("Map clicked → all points drawn", "map"), ("/api/map response (transfer)", "response"),
            ("one redraw (zoom, pan)", "redraw")]
    lines = ["| | sample (289 papers) | " + f"{n:,} papers | ratio |", "|---|---|---|---|"]
    for label, key in rows:
        lines.append(f"| {label} | {base[key]:.0f} ms | {big[key]:.0f} ms | {big[key] / max(base[key], 0.1):.1f}x |")
    lines.append(f"| /api/map size | {base['bytes'] / 1024:.0f} KB | {big['bytes'] / 1024 / 1024:.1f} MB | |")
    ok_paint, ok_map = big["list"] <= 1000, big["map"] <= 1000
    return ("Chromium, median of 5 loads each in a fresh tab; times from the navigation's start (paint, list) or "
            "from the click on Map. Baseline: the same page over the sample library, in the same run.\n\n"
            + "\n".join(lines) + "\n\n"
            f"Targets (issue #14) at {n:,} papers: first paint ≤ 1 s: {'met' if ok_paint else '**missed**'} "
            f"({big['list']:.0f} ms to the list); the map's data in one compact response and drawn ≤ 1 s: "
            f"{'met' if ok_map else '**missed**'} ({big['map']:.0f} ms, {big['bytes'] / 1024 / 1024:.1f} MB).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="10,000 papers instead of 100,000")
    ap.add_argument("--write-doc", action="store_true", help="update the page table in docs/benchmarks.md")
    args = ap.parse_args()
    out = run(args.quick)
    print(out["markdown"])
    if args.write_doc:
        write_doc(out["markdown"], MARKS)


if __name__ == "__main__":
    main()
