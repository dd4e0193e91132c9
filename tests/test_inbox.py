"""The inbox: dropped files are imported once complete, filed into done/ or failed/ with a report or an error,
never deleted; `papershelf serve` and `papershelf watch` both run it."""

import asyncio
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path

import msgspec
import pytest
from conftest import FIXTURES, papershelf_cmd, start_server
from papershelf.sources.inbox import Inbox


class Running:
    """An Inbox over a Library, running in its own thread and event loop."""

    def __init__(self, lib, folder: Path):
        self.lib = lib
        self.inbox = Inbox(folder, lambda p: msgspec.to_builtins(lib.import_dropped(p)))
        self.loop = asyncio.new_event_loop()
        self.stop = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        time.sleep(0.5)  # watching

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()
        self.loop.run_until_complete(self.inbox.run(self.stop))

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def wait_for(path: Path, timeout: float = 10) -> float:
    t = time.time()
    while time.time() - t < timeout:
        if path.exists():
            return time.time() - t
        time.sleep(0.02)
    raise AssertionError(f"{path} did not appear in {timeout} s")


@pytest.fixture
def inbox(empty_lib, tmp_path):
    r = Running(empty_lib, tmp_path / "inbox")
    yield r
    r.close()


def test_a_dropped_file_is_imported_within_a_second_and_filed(inbox):
    folder = inbox.inbox.folder
    shutil.copy(FIXTURES / "zotero.bib", folder / "zotero.bib")
    took = wait_for(folder / "done" / "zotero.bib.report.txt")
    print(f"\nimported {took:.2f} s after the file was complete (settle time + import)")
    assert not (folder / "zotero.bib").exists() and (folder / "done" / "zotero.bib").exists()
    report = (folder / "done" / "zotero.bib.report.txt").read_text()
    assert "added 3" in report and "failed 1" in report and "line 23" in report
    assert inbox.lib.stats().papers == 3


def test_a_report_appears_whole_never_empty_or_cut(tmp_path, monkeypatch):
    """Whoever waits for a report's name reads all of it: it is written under another name, then renamed (the
    duplicates test below once read an empty report under load)."""
    written = []
    write_text = Path.write_text
    monkeypatch.setattr(Path, "write_text", lambda self, text, *a, **k: written.append(self.name) or
                        write_text(self, text, *a, **k))
    inbox = Inbox(tmp_path / "inbox", lambda p: {"added": ["x"], "merged": [], "failed": [], "warnings": []})
    for name, folder in (("a.jsonl", "done"), ("b.jsonl", "failed")):
        if folder == "failed":
            inbox.import_file = lambda p: {"error": "unreadable", "added": [], "merged": [], "failed": []}
        (inbox.folder / name).write_text("{}")
        target = inbox.process(inbox.folder / name)
        kind = "report" if folder == "done" else "error"
        assert target == inbox.folder / folder / name
        assert (inbox.folder / folder / f"{name}.{kind}.txt").read_text().strip()
        assert f"{name}.{kind}.txt" not in written and f"{name}.{kind}.txt.tmp" in written


def test_duplicates_import_nothing_and_say_so_and_nothing_is_overwritten(inbox):
    folder = inbox.inbox.folder
    shutil.copy(FIXTURES / "mixed.jsonl", folder / "a.jsonl")
    wait_for(folder / "done" / "a.jsonl.report.txt")
    assert "warning line 5: year 'soon' not a year: dropped" in (folder / "done" / "a.jsonl.report.txt").read_text()
    shutil.copy(FIXTURES / "mixed.jsonl", folder / "a.jsonl")  # the same name again
    wait_for(folder / "done" / "a (2).jsonl.report.txt")
    assert "nothing new" in (folder / "done" / "a (2).jsonl.report.txt").read_text()
    assert (folder / "done" / "a.jsonl").read_bytes() == (folder / "done" / "a (2).jsonl").read_bytes()
    assert inbox.lib.stats().papers == 3


@pytest.mark.parametrize("name, data, reason", [
    ("paper.pdf", b"%PDF-1.5\n\x00\x01\x02binary", "not a readable PDF"),
    ("empty.bib", b"", "empty"),
    ("latin1.bib", "@article{k, title={Caf\xe9}}".encode("latin-1"), "not valid UTF-8"),
    ("notes.txt", b"just a shopping list\nmilk\neggs\n", "Could not recognise"),
    ("all-bad.jsonl", b'{"title": ""}\n{"abstract": "x"}\n', "no record could be read"),
])
def test_unreadable_files_go_to_failed_with_the_reason(inbox, name, data, reason):
    folder = inbox.inbox.folder
    (folder / name).write_bytes(data)
    wait_for(folder / "failed" / f"{name}.error.txt")
    assert reason in (folder / "failed" / f"{name}.error.txt").read_text()
    assert (folder / "failed" / name).read_bytes() == data  # kept, byte for byte
    assert inbox.lib.stats().papers == 0


def test_a_file_still_being_written_is_not_read_half_way(inbox):
    folder = inbox.inbox.folder
    lines = [json.dumps({"title": f"Slowly written paper number {i}", "abstract": "x"}) + "\n" for i in range(200)]
    with open(folder / "slow.jsonl", "w") as f:
        f.writelines(lines[:100])
        f.flush()
        time.sleep(1.5)  # a writer that pauses longer than the settle time, file still open
        assert not (folder / "done" / "slow.jsonl").exists()
        f.writelines(lines[100:])
    wait_for(folder / "done" / "slow.jsonl.report.txt")
    assert "added 200" in (folder / "done" / "slow.jsonl.report.txt").read_text()


def test_temporary_download_names_are_left_alone(inbox):
    folder = inbox.inbox.folder
    (folder / "x.bib.crdownload").write_bytes((FIXTURES / "zotero.bib").read_bytes())
    time.sleep(1.5)
    assert (folder / "x.bib.crdownload").exists() and inbox.lib.stats().papers == 0
    (folder / "x.bib.crdownload").rename(folder / "x.bib")  # the browser finishes and renames
    wait_for(folder / "done" / "x.bib.report.txt")


def test_files_waiting_at_start_are_imported(empty_lib, tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(FIXTURES / "zotero.ris", folder / "waiting.ris")
    r = Running(empty_lib, folder)
    try:
        wait_for(folder / "done" / "waiting.ris.report.txt")
    finally:
        r.close()


def test_the_server_watches_its_inbox(sample_copy):
    srv = start_server(sample_copy)
    try:
        shutil.copy(FIXTURES / "zotero.ris", sample_copy / "inbox" / "refs.ris")
        wait_for(sample_copy / "inbox" / "done" / "refs.ris.report.txt")
        with srv.client() as c:
            assert c.get("/api/lookup", params={"doi": "10.5555/jbe.2014.0427", "k": 0}).json()["found"]
    finally:
        srv.stop()


def test_papershelf_watch_without_a_server(tmp_path):
    home, folder = tmp_path / "home", tmp_path / "drop"
    p = subprocess.Popen([*papershelf_cmd(), "watch", str(folder), "--home", str(home)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(folder / "done", 30)
        time.sleep(0.5)
        shutil.copy(FIXTURES / "biblatex.bib", folder / "b.bib")
        wait_for(folder / "done" / "b.bib.report.txt", 30)
    finally:
        p.terminate()
        out, err = p.communicate(30)
    assert "done b.bib: added 2" in out
    stats = subprocess.run([*papershelf_cmd(), "stats", "--json", "--home", str(home)], capture_output=True, text=True)
    assert json.loads(stats.stdout)["papers"] == 2
