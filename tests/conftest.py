"""Shared fixtures: a sample library embedded once per session, copied for each test that writes to it,
and a real `papershelf serve` subprocess for API tests."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

import httpx
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # any accidental hub call fails fast instead of hanging


def _one_tls_context_for_every_client() -> None:
    """httpx builds a TLS context for every client it makes, parsing certifi's bundle: 27 ms of CPU each, and the
    tests make some 1,500 clients (each httpx.get is one), all for plain http to 127.0.0.1: 40 s of a run's CPU.
    In the test process they share the one context httpx would make (a context with other settings is made
    as before)."""
    from httpx._transports import default

    default.create_ssl_context = functools.cache(default.create_ssl_context)


_one_tls_context_for_every_client()
pytest_plugins = ["browsers"]  # the browser tests' fixtures and steps (browsers.py)

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).parent / "fixtures"
API = FIXTURES / "api"  # API responses and exports in each source's format, written by api/make.py
PAGES = FIXTURES / "pages"  # article and listing pages in each site's structure, with invented papers


class SampleImport(NamedTuple):
    home: Path
    report: dict  # what `papershelf import --sample --json` printed
    offline: bool  # it ran in a network namespace with no network at all


@pytest.fixture(scope="session")
def sample_import(tmp_path_factory) -> SampleImport:
    """The shipped sample imported and embedded once for the whole run, as the README's first step does it:
    through the real command line, and with no network at all where the machine lets a test cut it. With
    several workers (`make test`), the first one to get here builds it and the others wait and share it: every
    test copies it before it writes."""
    import fcntl

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, above each worker's own
    home, built = root / "sample-home", root / "sample-import.json"
    with open(root / "sample-import.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            offline = shutil.which("unshare") is not None and os.geteuid() == 0
            env = dict(os.environ, HF_HUB_OFFLINE="0" if offline else "1")  # offline: no network to reach anyway
            p = subprocess.run([*(["unshare", "-n"] if offline else []), *papershelf_cmd(), "import", "--sample",
                                "--json", "--home", str(home)], capture_output=True, text=True, timeout=600, env=env)
            assert p.returncode == 0, p.stderr
            built.write_text(json.dumps({"report": json.loads(p.stdout), "offline": offline}))
    got = json.loads(built.read_text())
    report = got["report"]
    assert report["added"] == 289 and report["pending"] == 0, report
    return SampleImport(home, report, got["offline"])


@pytest.fixture(scope="session")
def sample_home(sample_import) -> Path:
    """A closed library home with the shipped sample imported and fully embedded (built once)."""
    return sample_import.home


@pytest.fixture(scope="session")
def mapped_sample_home(sample_import) -> Path:
    """The sample home with its map laid out (built once, as sample_import is): a server over a copy of it has a
    kept map to bring up to date, where one over the bare sample lays out a first map 30 s after its start (2-8 s
    of CPU in each of the longer-lived test servers: a sixth of what those servers did)."""
    import fcntl

    from papershelf.library import Library

    root = sample_import.home.parent
    home = root / "sample-home-mapped"
    with open(root / "sample-import.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "map" / "map.npz").exists():
            shutil.rmtree(home, ignore_errors=True)
            shutil.copytree(sample_import.home, home, ignore=shutil.ignore_patterns("server.json", "cache"))
            lib = Library(home)
            lib.map.current()
            lib.map.wait()
            assert lib.map.current().method == "pacmap"
            lib.close()
    return home


@pytest.fixture
def sample_copy(sample_home, tmp_path) -> Path:
    """A private copy of the sample home, for tests that change it."""
    dst = tmp_path / "home"
    shutil.copytree(sample_home, dst, ignore=shutil.ignore_patterns("server.json", "cache"))
    return dst


@pytest.fixture
def sample_lib(sample_copy):
    """An open Library on a copy of the sample."""
    from papershelf.library import Library

    lib = Library(sample_copy)
    yield lib
    lib.close()


@pytest.fixture
def empty_lib(tmp_path):
    from papershelf.library import Library

    lib = Library(tmp_path / "empty-home")
    yield lib
    lib.close()


RELEASES = FIXTURES / "releases"  # each release's library, made with its own code (releases/make_library.py)


def release_home(version: str, dest: Path) -> Path:
    """A home holding the library papershelf `version` made (tests/fixtures/releases/VERSION/), unpacked."""
    import tarfile

    dest.mkdir(parents=True)
    with tarfile.open(RELEASES / version / "library.tar.gz") as tar:
        tar.extractall(dest, filter="data")
    return dest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def papershelf_cmd() -> list[str]:
    return [sys.executable, "-m", "papershelf.cli"]


_zygote = None  # this worker's (tests/cli_zygote.py), started by the first command


def run_cli(*args: str, home: Path, check: bool = True, timeout: float = 300, stdin: str | None = None
            ) -> subprocess.CompletedProcess:
    """Run the real command line, as a user would: `python -m papershelf.cli`, in a process of its own, forked
    from one that has imported papershelf already (PAPERSHELF_TEST_FRESH_CLI=1: started afresh each time)."""
    global _zygote
    env = dict(os.environ, HF_HUB_OFFLINE="1", COLUMNS="200")
    argv = [*args, "--home", str(home)]
    if os.environ.get("PAPERSHELF_TEST_FRESH_CLI") or (_zygote is not None and _zygote.lock.locked()):
        p = subprocess.run([*papershelf_cmd(), *argv], capture_output=True, text=True, timeout=timeout, env=env,
                           input=stdin)
    else:
        if _zygote is None:
            import atexit

            from cli_zygote import Zygote

            _zygote = Zygote(sys.executable, env)
            atexit.register(_zygote.close)
        p = _zygote.run(argv, env, stdin, timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"papershelf {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p


class Server:
    """A running `papershelf serve` on a free port."""

    def __init__(self, home: Path, port: int, proc: subprocess.Popen):
        self.home, self.port, self.proc = home, port, proc
        self.url = f"http://127.0.0.1:{port}"
        self.token = (home / "token").read_text().strip()
        self.auth = {"Authorization": f"Bearer {self.token}"}

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.auth, **{"timeout": 60, **kw})

    def stop(self, sig=None) -> int:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(sig or signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_server(home: Path, *extra: str, cpus: str | None = None) -> Server:
    """`papershelf serve` over home; cpus: the cores it may use (`taskset -c`), as on a slower machine."""
    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    log = open(home.parent / f"server-{port}.log", "w")
    pinned = ["taskset", "-c", cpus] if cpus else []
    proc = subprocess.Popen([*pinned, *papershelf_cmd(), "serve", "--home", str(home), "--port", str(port), *extra],
                            stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {(home.parent / f'server-{port}.log').read_text()}")
        if (home / "server.json").exists():
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    return Server(home, port, proc)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start in 60 s")


@pytest.fixture
def server(mapped_sample_home, tmp_path):
    """A real server over a copy of the sample library (its map laid out)."""
    home = tmp_path / "home"
    shutil.copytree(mapped_sample_home, home)
    srv = start_server(home)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory, mapped_sample_home):
    """One server over its own copy of the sample library (its map laid out), for a whole test module."""
    home = tmp_path_factory.mktemp("api-shared") / "home"
    shutil.copytree(mapped_sample_home, home)
    srv = start_server(home)
    yield srv
    srv.stop()


_REMEMBERED: dict[tuple[str, str], object] = {}  # (model id, text) → vector, for this worker's whole run


@pytest.fixture(scope="module")
def remembered_embeddings():
    """For a module whose tests read the same invented PDFs into library after library: the model's vector of a
    text it has embedded once in this run is given again instead of computed again (the model gives a text the
    same vector every time; test_fulltext took twice as long without this). Not for tests that count what is
    embedded or compare vectors exactly."""
    import numpy as np
    from papershelf.search.embed import Embedder

    computed = Embedder._embed

    def embed(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if (self.model_id, t) not in _REMEMBERED]
        if new:
            _REMEMBERED.update(((self.model_id, t), v) for t, v in zip(new, computed(self, new)))
        return np.stack([_REMEMBERED[(self.model_id, t)] for t in texts])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Embedder, "_embed", embed)
        yield


_LOADED_MODELS: dict[tuple, object] = {}  # (model id, weights, threads, bulk) → the loaded model, for this worker


@pytest.fixture(autouse=True)
def loaded_models_are_shared(request, monkeypatch):
    """A model loaded by one test's Embedder is handed to the next Embedder of the same model, threads and kind
    in this worker: loading costs 0.4 s of CPU (fastembed and onnxruntime build a session), and the tests load it
    some eighty times. The session is onnxruntime's, whose runs are thread-safe. test_embed.py, which tests the
    loading itself (threads, priority, unloading), loads its own."""
    if request.module.__name__ == "test_embed":
        yield
        return
    from papershelf.search.embed import Embedder

    load = Embedder._load

    def shared(self):
        if self._model is None:
            key = (self.spec.model_id, str(self.spec.onnx), self.threads, self.bulk)
            if key not in _LOADED_MODELS:
                _LOADED_MODELS[key] = load(self)  # (verifies the weights, as every load does)
            self._model = _LOADED_MODELS[key]
            if self.bulk:  # its runs stop on this Embedder's interrupt, not on an earlier one's
                self._make_interruptible(self._model)
        return self._model

    monkeypatch.setattr(Embedder, "_load", shared)
    yield


@pytest.fixture(scope="session")
def playwright():
    """Playwright, once per run: its sync API allows one instance per thread."""
    from playwright import sync_api as pw  # installed by `make test` (the test extra); missing = failing

    p = pw.sync_playwright().start()
    yield p
    p.stop()


CHROMIUM = "/usr/lib/chromium/chromium"
# How long a browser test waits for a state before it fails (ms): generous, since a waiting test costs nothing
# on a fast machine and a short bound fails on a slow laptop. Tests wait for states, never for a fixed time.
BROWSER_WAIT = 60_000


@pytest.fixture(scope="session")
def chromium(playwright):
    """Debian's Chromium, headless and without the extension (the library page, the adapters on saved pages)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
    yield browser
    browser.close()


# The order `make test` hands whole files to its workers (it passes --no-loadscope-reorder: xdist would
# otherwise order files by their number of tests, and a long file with few tests would start last and run alone).
# Longest first, as measured in a whole run (`--durations=0`, summed per file, 2026-12-08); files not named run last.
LONGEST_FIRST = ["test_reliability.py", "test_chromium.py", "test_library_page.py", "test_fulltext.py", "test_api.py",
                 "test_cli.py", "test_digest.py", "test_fulltext_pages.py", "test_embed.py", "test_firefox.py",
                 "test_hostile.py", "test_assistant.py", "test_inbox.py", "test_bad_input.py", "test_index.py",
                 "test_related.py", "test_enrich.py", "test_store.py", "test_pdf_tab.py", "test_sources.py",
                 "test_pairing.py", "test_pdf.py", "test_map.py", "test_backup.py", "test_release.py",
                 "test_metadata.py", "test_origin.py", "test_keys.py", "test_extension_build.py", "test_clean.py",
                 "test_service.py"]


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
