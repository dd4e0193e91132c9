"""Reading paper PDFs: accuracy, speed against pdftotext, a 1,000-PDF folder, and the server meanwhile.

    bench/pdf.py --data DIR [--copies 1000] [--skip-server]

DIR holds PDFs; if it also holds `truth.jsonl` and `score.py` (as ../shared/pdfs does), the accuracy table is
the scorer's. Printed, all measured in this run on this machine:
  1. accuracy: score.py's table over what papershelf reads from each PDF;
  2. metadata per PDF on one core (median, p90, max), and as the baseline `pdftotext -f 1 -l 2` (poppler) over
     the same files: its text only, no metadata;
  3. a folder of --copies PDFs (the files of DIR, each copy made distinct by a comment after its end so no
     two are the same file) imported with `papershelf import DIR --no-wait`: wall time before embedding;
  4. /api/lookup (the badge) and /api/lookup/stream (the page panel) on a 100k-paper library, alone and while
     that folder is imported through the running server (whose PDFs are read in worker processes): p50/p95/p99.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from synthetic import ROOT, library, percentile  # noqa: E402

sys.path.insert(0, str(ROOT / "server"))
from papershelf.pdf import record as pdf  # noqa: E402


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values):.1f} ms, p90 {percentile(values, 90):.1f} ms, max {max(values):.1f} ms"


def accuracy(files: list[Path], data: Path, out: Path) -> None:
    with open(out, "w") as f:
        for p in files:
            rec = pdf.record_of(p, p.name)
            if isinstance(rec, str):
                f.write(json.dumps({"file": p.name}) + "\n")
                continue
            first = lambda scheme: next((i.split(":", 1)[1] for i in rec.identifiers if i.startswith(scheme + ":")), None)  # noqa: E731
            f.write(json.dumps({"file": p.name, "title": rec.title, "authors": rec.authors, "year": rec.year,
                                "arxiv_id": first("arxiv"), "doi": first("doi"), "abstract": rec.abstract}) + "\n")
    if (data / "truth.jsonl").exists() and (data / "score.py").exists():
        print(subprocess.run([sys.executable, str(data / "score.py"), str(data / "truth.jsonl"), str(out)],
                             capture_output=True, text=True).stdout)
    else:
        print(f"(no truth.jsonl and score.py in {data}: what was read is in {out})")


def speed(files: list[Path]) -> None:
    ours, theirs = [], []
    for p in files * 3:  # three rounds: the first warms the page cache for both
        t = time.perf_counter()
        pdf.record_of(p, p.name)
        ours.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        subprocess.run(["pdftotext", "-f", "1", "-l", "2", str(p), "-"], capture_output=True)
        theirs.append((time.perf_counter() - t) * 1000)
    print(f"metadata from a PDF, one core ({len(files)} files x 3): papershelf {ms(ours)}")
    print(f"baseline pdftotext -f 1 -l 2 (text only, a process each): {ms(theirs)}")
    print(f"ratio of medians, papershelf / pdftotext: {statistics.median(ours) / statistics.median(theirs):.2f}")


def folder_of(files: list[Path], n: int, target: Path) -> Path:
    target.mkdir(parents=True)
    for i in range(n):
        src = files[i % len(files)]
        (target / f"{i:04d}-{src.name}").write_bytes(src.read_bytes() + f"\n% papershelf bench copy {i}\n".encode())
    return target


def import_folder(folder: Path, home: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "papershelf.cli", "import", str(folder), "--no-wait", "--home", str(home)],
                   check=True, capture_output=True, env={"PYTHONPATH": str(ROOT / "server"), "HF_HUB_OFFLINE": "1",
                                                         "PATH": "/usr/bin:/bin"})
    return time.perf_counter() - t


def latencies(url: str, auth: dict, stop: threading.Event, out: dict[str, list[float]]) -> None:
    """The badge's and the page panel's requests, one after another, until `stop`."""
    page = {"refs": ["arxiv:2409.99999"], "url": "https://arxiv.org/abs/2409.99999",
            "title": "Sparse retrieval heads for long-context question answering",
            "abstract": "Long-context language models spend most of their inference budget attending to tokens "
                        "that never influence the answer; we prune attention heads during decoding.", "k": 5}
    with httpx.Client(base_url=url, headers=auth, timeout=60) as c:
        while not stop.is_set():
            t = time.perf_counter()
            c.get("/api/lookup", params={"arxiv": "2409.99999", "k": 0})
            out["lookup"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            c.post("/api/lookup/stream", json=page).read()
            out["panel"].append((time.perf_counter() - t) * 1000)


def server_meanwhile(folder: Path, seconds: float) -> None:
    from http_load import serve

    base = library(100_000)
    with tempfile.TemporaryDirectory() as t:
        home = Path(t) / "home"
        shutil.copytree(base, home, ignore=shutil.ignore_patterns("server.json", "cache", "ready"))
        proc, url, auth = serve(home)
        try:
            for label in ("alone", "while the folder imports"):
                out: dict[str, list[float]] = {"lookup": [], "panel": []}
                stop = threading.Event()
                th = threading.Thread(target=latencies, args=(url, auth, stop, out))
                th.start()
                took = None
                if label == "alone":
                    time.sleep(seconds)
                else:
                    took = import_folder(folder, home)  # the CLI goes through the running server
                stop.set()
                th.join()
                for kind, values in out.items():
                    print(f"  {label:>24}: /api/{'lookup (badge)' if kind == 'lookup' else 'lookup/stream (panel)'}: "
                          f"n={len(values)} p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
                          f"p99 {percentile(values, 99):.1f} ms")
                if took is not None:
                    print(f"  the import through the server took {took:.1f} s")
        finally:
            proc.terminate()
            proc.wait(30)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True, help="a folder of PDFs (../shared/pdfs)")
    ap.add_argument("--copies", type=int, default=1000)
    ap.add_argument("--skip-server", action="store_true", help="leave out the 100k-library latency part")
    args = ap.parse_args()
    files = sorted(args.data.glob("*.pdf"))
    if not files:
        sys.exit(f"no PDFs in {args.data}")
    if not shutil.which("pdftotext"):
        sys.exit("pdftotext is missing (apt-get install poppler-utils): it is the baseline")
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        print(f"## accuracy ({len(files)} PDFs in {args.data})")
        accuracy(files, args.data, tmp / "extracted.jsonl")
        print("## speed")
        speed(files)
        folder = folder_of(files, args.copies, tmp / "folder")
        took = import_folder(folder, tmp / "home")
        print(f"## a folder of {args.copies} PDFs: papershelf import, before embedding: {took:.1f} s "
              f"({took / args.copies * 1000:.0f} ms a PDF, worker processes on every core but one)")
        if not args.skip_server:
            print("## the server while the folder imports (100k-paper library)")
            server_meanwhile(folder, seconds=20)


if __name__ == "__main__":
    main()
