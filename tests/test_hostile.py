"""Hostile and broken files cannot take papershelf down: each is read in a limited worker process, fails alone,
is reported with its name and reason, and is not read again by a sync or a start until the user asks.

The PDFs are made by fixtures/pdfs/hostile.py (never copied): a self-drawing form, a looping page tree, a
billion-page /Count, 256 MB of deflated spaces, a million text operators.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import FIXTURES, start_server
from papershelf.models import Record
from papershelf.pdf.sandbox import Limits, Sandbox, TaskFailed
from sandbox_tasks import die, fail, pid, sleep_for, take_memory

sys.path.insert(0, str(FIXTURES / "pdfs"))
import hostile  # noqa: E402

GOOD = FIXTURES / "pdfs"
GOOD_NAMES = ["twocol-arxiv.pdf", "llncs-paper.pdf"]
# What each hostile file must come to under the reader's default limits: failed (named, with the reason), or the
# record such a file gives (one page of a "billion").
FAILS = {"self-drawing-form.pdf": "crashed", "looping-page-tree.pdf": "page tree", "deflate-bomb.pdf": "crashed",
         "million-text-operators.pdf": "crashed"}
READS = {"billion-pages.pdf"}


@pytest.fixture(scope="module")
def hostile_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module")
def hostile_files(hostile_dir) -> dict[str, Path]:
    return {p.name: p for p in hostile.write_all(hostile_dir)}


# -- the sandbox itself ------------------------------------------------------------------------------------------
def test_a_task_that_overruns_is_killed_and_its_worker_replaced():
    box = Sandbox(1, Limits(memory_mb=512, seconds=1))
    try:
        first = box.run(pid)
        with pytest.raises(TaskFailed, match="longer than 1 s"):
            box.run(sleep_for, 30)
        with pytest.raises(ProcessLookupError):
            os.kill(first, 0)  # the worker that overran is gone...
        assert box.run(sleep_for, 0) == "woke" and box.run(pid) != first  # ...and the next task has a new one
    finally:
        box.close()


def test_a_task_past_its_memory_or_crashing_fails_alone():
    box = Sandbox(1, Limits(memory_mb=400, seconds=20))
    try:
        assert box.run(take_memory, 50) == 50 << 20
        with pytest.raises(TaskFailed, match="more than the reader's 400 MB"):
            box.run(take_memory, 600)
        with pytest.raises(TaskFailed, match="crashed .SIGABRT"):
            box.run(die)
        with pytest.raises(TaskFailed, match="KeyError: 'a bug in one task'"):
            box.run(fail)
        results = list(box.map(sleep_for, [(0,), (0,)]))
        assert [r for _, r in results] == ["woke", "woke"]
    finally:
        box.close()


def test_map_fails_each_item_alone_and_keeps_order():
    box = Sandbox(2, Limits(memory_mb=400, seconds=20))
    try:
        got = list(box.map(take_memory, [(1,), (900,), (2,)]))
        assert got[0] == ((1,), 1 << 20) and got[2] == ((2,), 2 << 20)
        assert isinstance(got[1][1], TaskFailed)
    finally:
        box.close()


# -- the library ------------------------------------------------------------------------------------------------
def test_each_hostile_pdf_alone_fails_or_reads_and_never_in_this_process(empty_lib, hostile_files):
    """Each alone: a record (only what such a file gives) or a failure with its name and reason; the reading
    happens in other processes, so this one's memory does not grow with the bomb (256 MB) or the form (without end)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for name, path in hostile_files.items():
        report = empty_lib.import_pdfs([path])
        if name in FAILS:
            (failure,) = report.failed
            assert name in failure.reason and FAILS[name] in failure.reason, failure
            assert not report.added
        else:
            assert len(report.added) == 1, (name, report)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < 200, grew_mb
    # Each failure is remembered by its bytes, with its reason; an import is the user asking, so it reads again.
    remembered = {Path(u.name).name: u for u in empty_lib.unreadable_files()}
    assert set(remembered) == set(FAILS) and all(u.attempts == 1 for u in remembered.values())
    again = empty_lib.import_pdfs([hostile_files["looping-page-tree.pdf"], GOOD / "twocol-arxiv.pdf"])
    assert len(again.added) == 1 and len(again.failed) == 1  # the good one beside it imports (a new worker)
    assert empty_lib.store.file_tables.unreadable([u.sha256 for u in remembered.values()])[
        remembered["looping-page-tree.pdf"].sha256].attempts == 2


def test_a_pdf_sent_as_bytes_that_fails_is_an_error_and_keeps_nothing(empty_lib, hostile_files):
    data = hostile_files["looping-page-tree.pdf"].read_bytes()
    report = empty_lib.import_pdf_bytes(data, "from-the-extension.pdf")
    assert "from-the-extension.pdf" in report.error and "page tree" in report.error
    assert not list((empty_lib.home / "files").rglob("*.pdf"))  # no kept copy of a file that gave no paper
    assert not list((empty_lib.home / "cache").glob("*.pdf"))  # nor the copy the reader was handed
    (remembered,) = empty_lib.unreadable_files()
    assert remembered.name == "from-the-extension.pdf"  # its own name, not the reader's temporary one


# -- followed folders: reported, remembered, skipped at the next sync and start, retried on request ----------------
def test_a_followed_folder_with_a_broken_file_syncs_the_good_ones_and_skips_it_after(empty_lib, hostile_files,
                                                                                     tmp_path):
    folder = tmp_path / "Papers"
    folder.mkdir()
    for n in GOOD_NAMES:
        shutil.copy(GOOD / n, folder / n)
    bad = "looping-page-tree.pdf"
    shutil.copy(hostile_files[bad], folder / bad)
    info, report = empty_lib.sources.add(str(folder))
    assert not report.error and report.added == 2 and info.papers == 2
    assert [f.position for f in report.failed] == [bad]
    again = empty_lib.sources.sync(info.id)
    assert not again.error and [f.position for f in again.failed] == [bad]
    assert "not read, it failed before" in again.failed[0].reason and "--retry-failed" in again.failed[0].reason
    assert [u.attempts for u in empty_lib.unreadable_files()] == [1]  # skipped: not read a second time
    retried = empty_lib.sources.sync(info.id, retry_failed=True)
    assert [f.position for f in retried.failed] == [bad] and "failed before" not in retried.failed[0].reason
    assert [u.attempts for u in empty_lib.unreadable_files()] == [2]


def test_an_unexpected_error_fails_one_source_and_not_the_others(empty_lib, tmp_path, monkeypatch):
    good, bad = tmp_path / "good", tmp_path / "bad"
    for folder in (good, bad):
        folder.mkdir()
    shutil.copy(GOOD / "twocol-arxiv.pdf", good / "a.pdf")
    shutil.copy(GOOD / "llncs-paper.pdf", bad / "b.pdf")
    empty_lib.sources.add(str(bad), sync=False)
    empty_lib.sources.add(str(good), sync=False)
    original = empty_lib.sources._scan_folder

    def broken(folder, *a):
        if folder.name == "bad":
            raise RuntimeError("something nobody foresaw")
        return original(folder, *a)

    monkeypatch.setattr(empty_lib.sources, "_scan_folder", broken)
    reports = {r.source: r for r in empty_lib.sources.sync_all()}
    assert "something nobody foresaw" in reports["bad"].error and reports["good"].added == 1
    assert empty_lib.sources.get("bad").last_error  # the source says why, in the list and on the page
    # The same when applying what was read fails (a bug in the store): that source, and no other.
    shutil.copy(GOOD / "ieee-conf.pdf", good / "c.pdf")
    monkeypatch.setattr(empty_lib.sources, "_scan_folder", original)
    real_mirror = empty_lib.store.mirror

    def mirror(sid, *a):
        if sid == "bad":
            raise RuntimeError("the store broke")
        return real_mirror(sid, *a)

    monkeypatch.setattr(empty_lib.store, "mirror", mirror)
    reports = {r.source: r for r in empty_lib.sources.sync_all()}
    assert "the store broke" in reports["bad"].error and reports["good"].added == 1


# -- through the server: it keeps answering, at every start too ----------------------------------------------------
class HealthWatch:
    """Polls /api/health while a test runs: every poll must answer, and the slowest is kept."""

    def __init__(self, url: str):
        self.url, self.slowest, self.failures, self.polls = url, 0.0, [], 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        with httpx.Client(timeout=10) as c:
            while not self._stop.is_set():
                t = time.perf_counter()
                try:
                    c.get(self.url + "/api/health").raise_for_status()
                except httpx.HTTPError as e:
                    self.failures.append(repr(e))
                self.slowest = max(self.slowest, time.perf_counter() - t)
                self.polls += 1
                self._stop.wait(0.1)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        print(f"/api/health: {self.polls} polls, slowest {self.slowest * 1000:.0f} ms")


def test_the_server_survives_hostile_files_by_every_way_in_and_at_every_start(tmp_path, hostile_files):
    home, folder = tmp_path / "home", tmp_path / "Followed"
    folder.mkdir()
    for n in GOOD_NAMES[:1]:
        shutil.copy(GOOD / n, folder / n)
    for name, path in hostile_files.items():
        shutil.copy(path, folder / name)
    srv = start_server(home, "--no-backup", "--no-digest")
    try:
        with HealthWatch(srv.url) as watch, srv.client() as c:
            # One upload with a good and a bad PDF: a report of both, not a 500.
            r = c.post("/api/import", files=[("file", ("good.pdf", (GOOD / "llncs-paper.pdf").read_bytes())),
                                             ("file", ("bad.pdf", hostile_files["self-drawing-form.pdf"].read_bytes()))])
            assert r.status_code == 200, r.text
            (failure,) = r.json()["failed"]
            assert len(r.json()["added"]) == 1 and failure["position"] == "bad.pdf" and "crashed" in failure["reason"]
            # What `papershelf import x.pdf` sends while the server runs: the bytes, and where the file is.
            looping = hostile_files["looping-page-tree.pdf"]
            r = c.post("/api/import", files={"file": (looping.name, looping.read_bytes())},
                       headers={"X-Papershelf-Path": quote(str(looping))})
            assert r.status_code == 200 and not r.json()["added"]
            assert "looping-page-tree.pdf" in r.json()["failed"][0]["reason"]
            # A followed folder with all of them and a good one.
            r = c.post("/api/sources", json={"location": str(folder)})
            assert r.status_code == 201, r.text
            added = r.json()
            assert added["sync"]["added"] == 1 + len(READS) and not added["sync"]["error"]
            assert {f["position"] for f in added["sync"]["failed"]} == set(FAILS)
            # A file dropped into the followed folder later.
            shutil.copy(hostile_files["looping-page-tree.pdf"], folder / "dropped-later.pdf")
            deadline = time.time() + 60
            while time.time() < deadline and "dropped-later.pdf" not in str(c.get("/api/sources").json()):
                time.sleep(0.3)
            assert "dropped-later.pdf" in str(c.get("/api/sources").json())
            # Remembered by their bytes, under the name each first failed with (the form came first as bad.pdf).
            unreadable = {Path(u["name"]).name for u in c.get("/api/files/unreadable").json()}
            assert unreadable == {"bad.pdf"} | set(FAILS) - {"self-drawing-form.pdf"}
            assert srv.proc.poll() is None
        assert not watch.failures, watch.failures
    finally:
        assert srv.stop() == 0
    # A start with the files still there: the start's sync skips them, and the server stays up.
    srv = start_server(home, "--no-backup", "--no-digest")
    try:
        with HealthWatch(srv.url) as watch, srv.client() as c:
            deadline = time.time() + 60
            while time.time() < deadline:
                (source,) = c.get("/api/sources").json()
                if source["last_sync_at"] and source["last_sync_at"] > added["source"]["last_sync_at"]:
                    break
                time.sleep(0.3)
            failed = source["last_report"]["failed"]
            assert {f["position"] for f in failed} >= set(FAILS)
            assert all("failed before" in f["reason"] for f in failed)
            # Asked to, it reads them again (in its workers), and still stands.
            r = c.post("/api/sources/sync", json={"retry_failed": True})
            assert r.status_code == 200 and all("failed before" not in f["reason"] for f in r.json()[0]["failed"])
            assert c.get("/api/health").status_code == 200
        assert not watch.failures, watch.failures
    finally:
        assert srv.stop() == 0
    log = (home / "logs" / "papershelf.log").read_text()
    assert "self-drawing-form.pdf" in log and "looping-page-tree.pdf" in log  # each failure logged with its file


def test_an_unexpected_error_in_a_request_is_logged(tmp_path):
    """A 500 says nothing to the caller but everything in the log."""
    from papershelf.api.app import _server_error

    class FakeRequest:
        method, url = "POST", httpx.URL("http://127.0.0.1/api/import")

    import logging

    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("papershelf.api").addHandler(handler)
    try:
        try:
            raise ValueError("boom")
        except ValueError as e:
            response = _server_error(FakeRequest(), e)
    finally:
        logging.getLogger("papershelf.api").removeHandler(handler)
    assert response.status_code == 500 and "boom" not in str(response.content)
    assert records and "POST /api/import" in records[0].getMessage() and records[0].exc_info


def test_the_reader_gives_a_record_or_a_reason_for_each_hostile_file(hostile_files):
    """pdf.record_of itself, in this process where it is safe (not the self-drawing form): a reason, never an
    exception."""
    from papershelf.pdf import record as pdf

    for name in ("looping-page-tree.pdf", "billion-pages.pdf"):
        got = pdf.record_of(hostile_files[name], name)
        assert isinstance(got, (Record, str)), name
        if isinstance(got, str):
            assert name in got
