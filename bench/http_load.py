"""The API under load: `papershelf serve` on a 100k-paper library, 1, 8 and 32 concurrent clients over loopback.

Endpoints as the extension and other tools call them: /api/lookup with k=0 (the badge: is this paper in my
library), /api/lookup with k=5 (badge and panel in one call: the paper and its related papers) and
/api/related?id= (k=10). Each client sends its requests one after another on a kept-alive connection; latency is
measured at the client. Then the same while a 20,000-paper import runs through POST /api/import.
The clients share the server's 2 cores: what is measured is the whole machine's answer time.
Run: `make bench` or `bench/http_load.py [--quick]` (10k papers, fewer requests).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic import ROOT, library, percentile, records, vocabulary  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(home: Path) -> tuple[subprocess.Popen, str, dict]:
    """A running server on the library (its index loaded), its URL and auth header."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "papershelf.cli", "serve", "--home", str(home), "--port",
                             str(port), "--no-digest", "--no-inbox", "--no-backup"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=dict(os.environ, HF_HUB_OFFLINE="1",
                                                                PYTHONPATH=str(ROOT / "server")))
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    auth = {"Authorization": f"Bearer {(home / 'token').read_text().strip()}"}
    httpx.get(f"{url}/api/search", params={"q": "warm up"}, headers=auth, timeout=120)  # index and model loaded
    return proc, url, auth


async def load(url: str, auth: dict, paths: list[str], clients: int, per_client: int) -> list[float]:
    """Milliseconds per request, `clients` at a time (the requests per second answered: the last item)."""
    times: list[float] = []
    start = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=auth, limits=limits, timeout=60) as client:
        async def one(c: int) -> None:
            rng = random.Random(c)
            for _ in range(per_client):
                t = time.perf_counter()
                r = await client.get(rng.choice(paths))
                times.append((time.perf_counter() - t) * 1000)
                r.raise_for_status()

        await asyncio.gather(*(one(c) for c in range(clients)))
    return times + [len(times) / (time.perf_counter() - start)]


def cell(t: list[float]) -> str:
    """p50 / p99 (requests per second)."""
    return f"{percentile(t[:-1], 50):.1f} / {percentile(t[:-1], 99):.1f} ({t[-1]:.0f}/s)"


def run(quick: bool = False) -> dict:
    n = 10_000 if quick else 100_000
    per = 15 if quick else 40
    src = library(n)
    work = Path(tempfile.mkdtemp())
    home = work / "lib"
    shutil.copytree(src, home)
    proc, url, auth = serve(home)
    values: dict = {"papers": n}
    lines = [f"Library of {n:,} papers. p50 / p99 at the client in ms (requests answered per second).", "",
             "| endpoint | 1 client | 8 clients | 32 clients | 32 clients during an import |",
             "|---|---|---|---|---|"]
    try:
        refs = [f"arxiv:{2101 + i // 100000:04d}.{i % 100000:05d}" for i in random.Random(0).sample(range(n), 200)]
        ids = [httpx.get(f"{url}/api/papers/{r}", headers=auth).json()["id"] for r in refs[:100]]
        endpoints = {"/api/lookup?k=0 (badge)": [f"/api/lookup?ref={r}&k=0" for r in refs],
                     "/api/lookup?k=5 (badge + panel)": [f"/api/lookup?ref={r}&k=5" for r in refs],
                     "/api/related?id= (k=10)": [f"/api/related?id={p}&k=10" for p in ids]}
        body = "\n".join(json.dumps({"title": r.title, "abstract": r.abstract, "authors": r.authors})
                         for _, r in records(20_000, vocabulary(), seed=99, start=n)).encode()
        cells: dict[str, list[str]] = {name: [] for name in endpoints}
        for name, paths in endpoints.items():
            got = {}
            for clients in (1, 8, 32):
                t = asyncio.run(load(url, auth, paths, clients, per if clients < 32 else max(per // 2, 10)))
                cells[name].append(cell(t))
                got[clients] = (percentile(t[:-1], 50), percentile(t[:-1], 99), t[-1])
            values[name.split(" (")[0]] = dict(idle32=got[32], one=got[1])
        # The same with 32 clients while an import of 20,000 papers runs (they then wait for their vectors:
        # the embedding worker is busy for the rest of the run).
        importer = subprocess.Popen([sys.executable, "-c", (
            "import httpx, sys; r = httpx.post(sys.argv[1] + '/api/import', files={'file': ('bench.jsonl', "
            "sys.stdin.buffer.read())}, headers={'Authorization': sys.argv[2]}, timeout=600); "
            "r.raise_for_status()"), url, auth["Authorization"]], stdin=subprocess.PIPE)
        importer.stdin.write(body)
        importer.stdin.close()
        time.sleep(0.5)  # the import is under way
        for name, paths in endpoints.items():
            t = asyncio.run(load(url, auth, paths, 32, max(per // 2, 10)))
            running = importer.poll() is None
            cells[name].append(cell(t) + ("" if running else " (the import had ended)"))
            values[name.split(" (")[0]]["importing32"] = (percentile(t[:-1], 50), percentile(t[:-1], 99), t[-1])
        importer.wait(600)
        lines += [f"| {name} | " + " | ".join(row) + " |" for name, row in cells.items()]
    finally:
        proc.terminate()
        proc.wait(60)
        shutil.rmtree(work, ignore_errors=True)
    return {"markdown": "\n".join(lines), "values": values}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10k papers, fewer requests (about a minute)")
    print(run(ap.parse_args().quick)["markdown"])


if __name__ == "__main__":
    main()
