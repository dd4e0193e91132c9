"""PDFs: what is read from them, how they import (folders, the inbox, the API), and how their files are kept.

The PDFs in fixtures/pdfs/ were made for papershelf from the sources beside them (fixtures/pdfs/make.py);
expected.json says, by hand, what each one must give.
"""

import json
import shutil
from pathlib import Path

import httpx
import msgspec
import pytest
from conftest import FIXTURES, run_cli, start_server
from papershelf.models import Record
from papershelf.pdf import record as pdf

PDFS = FIXTURES / "pdfs"
EXPECTED = json.loads((PDFS / "expected.json").read_text())


def words(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_what_each_pdf_gives(name):
    want = EXPECTED[name]
    got = pdf.record_of(PDFS / name, name)
    if "failure" in want:
        assert isinstance(got, str) and want["failure"] in got and name in got
        return
    assert isinstance(got, Record), got
    assert got.title == want["title"]
    assert got.authors == want["authors"]
    if "year" in want:
        assert got.year == want["year"]
    assert got.identifiers == want["identifiers"]  # every printed id, and none that is not printed
    if want["abstract_start"] is None:
        assert got.abstract == ""
    else:
        assert words(got.abstract).startswith(words(want["abstract_start"]))
        assert words(got.abstract).endswith(words(want["abstract_end"]))
    if "warning" in want:
        assert any(want["warning"] in w.reason for w in got.warnings)
    assert got.guessed  # read from a layout: it fills what a paper lacks, never replaces what it has


def test_only_the_first_pages_are_read(tmp_path):
    """A long PDF costs what a short one does: the pages after the second (but the last) are never loaded."""
    import pypdfium2 as pdfium
    from papershelf.pdf import text as pdftext

    loaded = []
    original = pdfium.PdfDocument.__getitem__

    def spy(self, i):
        loaded.append(i)
        return original(self, i)

    big = pdfium.PdfDocument(str(PDFS / "llncs-paper.pdf"))
    for _ in range(40):
        big.import_pages(pdfium.PdfDocument(str(PDFS / "ieee-conf.pdf")))
    big.save(tmp_path / "long.pdf")
    pdfium.PdfDocument.__getitem__ = spy
    try:
        text = pdftext.read(str(tmp_path / "long.pdf"))
    finally:
        pdfium.PdfDocument.__getitem__ = original
    assert text.page_count > 40 and sorted(set(loaded)) == [0, 1, text.page_count - 1]


def copy_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Papers" / "nested"
    folder.mkdir(parents=True)
    for name in EXPECTED:
        shutil.copy(PDFS / name, folder / name)
    return folder.parent


def test_a_folder_of_pdfs_imports_with_its_files(empty_lib, tmp_path):
    folder = copy_folder(tmp_path)
    from papershelf.importers import files_in

    readable, _ = files_in(folder)
    pdfs = [p for p in readable if p.suffix == ".pdf"]
    assert len(pdfs) == len(EXPECTED)
    report = empty_lib.import_pdfs(pdfs)
    failed = {Path(f.position).name: f.reason for f in report.failed}
    assert set(failed) == {"encrypted.pdf", "truncated.pdf", "not-a-pdf.pdf"}  # the rest of the folder imports
    assert "password" in failed["encrypted.pdf"]
    papers = [empty_lib.get(pid) for pid in report.added]
    # ieee-conf.pdf and 2411.05678v1.pdf are the same paper (one title, authors and abstract): one paper, two files
    assert len(papers) == len(EXPECTED) - 3 - 1
    by_title = {p.title: p for p in papers}
    gait = by_title["Low-Power Gait Recognition on Wearable Accelerometers with Tiny Recurrent Networks"]
    assert sorted(Path(f.path).name for f in gait.files) == ["2411.05678v1.pdf", "ieee-conf.pdf"]
    assert "arxiv:2411.05678" in gait.identifiers
    scan = by_title["scan Okonkwo 2024 smart contracts"]
    assert scan.files and not scan.files[0].missing
    assert any("no text layer" in w.reason for w in report.warnings)
    for p in papers:
        for f in p.files:
            assert Path(f.path).is_file() and not f.kept and f.size == Path(f.path).stat().st_size

    # The same folder again: nothing is read again and nothing changes.
    again = empty_lib.import_pdfs(pdfs)
    assert not again.added and all(not m.changed for m in again.merged)


def test_export_carries_the_files(empty_lib, tmp_path):
    from papershelf.export import export

    target = tmp_path / "twocol-arxiv.pdf"
    shutil.copy(PDFS / "twocol-arxiv.pdf", target)
    report = empty_lib.import_pdfs([target])
    paper = empty_lib.get(report.added[0])
    line = json.loads("".join(export([paper], "jsonl")))
    assert line["files"] == [{"path": str(target), "sha256": paper.files[0].sha256, "size": target.stat().st_size}]
    assert f"file = {{{target}}}" in "".join(export([paper], "bibtex"))
    assert f"L1  - {target}" in "".join(export([paper], "ris"))


def test_a_pdf_of_a_known_paper_merges_into_it(empty_lib, tmp_path):
    """Identifiers decide first; what the library has is kept (the PDF only fills what is missing)."""
    empty_lib.import_items([("1", Record(title="Sparse retrieval heads for efficient long-context QA",
                                         abstract="The abstract the user imported from arXiv.",
                                         identifiers=["arxiv:2409.01234v1"], tags=["to-read"]))])
    target = tmp_path / "download.pdf"
    shutil.copy(PDFS / "twocol-arxiv.pdf", target)
    report = empty_lib.import_pdfs([target])
    assert not report.added and len(report.merged) == 1
    paper = empty_lib.get(report.merged[0].id)
    assert paper.abstract == "The abstract the user imported from arXiv."
    assert paper.title == "Sparse retrieval heads for efficient long-context QA"
    assert paper.authors == ["Amara Nwosu", "Tomasz Wiśniewski", "Ingrid Halvorsen"]  # it had none
    assert paper.tags == ["to-read"] and [Path(f.path).name for f in paper.files] == ["download.pdf"]


def test_a_moved_file_is_found_again_and_a_gone_one_shows_missing(empty_lib, tmp_path):
    first = tmp_path / "Downloads"
    first.mkdir()
    shutil.copy(PDFS / "llncs-paper.pdf", first / "paper.pdf")
    pid = empty_lib.import_pdfs([first / "paper.pdf"]).added[0]
    moved = tmp_path / "Sorted" / "verification"
    moved.mkdir(parents=True)
    shutil.move(first / "paper.pdf", moved / "okonkwo-2024.pdf")
    assert empty_lib.get(pid).files[0].missing
    report = empty_lib.import_pdfs([moved / "okonkwo-2024.pdf"])
    assert report.merged[0].id == pid and report.merged[0].changed and not report.added
    files = empty_lib.get(pid).files
    assert [f.path for f in files] == [str(moved / "okonkwo-2024.pdf")] and not files[0].missing
    (moved / "okonkwo-2024.pdf").unlink()
    paper = empty_lib.get(pid)
    assert paper.files[0].missing and paper.title  # the paper stays


def test_a_pdf_sent_as_bytes_is_kept_under_home(empty_lib):
    data = (PDFS / "elsarticle-journal.pdf").read_bytes()
    report = empty_lib.import_bytes(data, "../../etc/evil name.pdf")
    paper = empty_lib.get(report.added[0])
    kept = Path(paper.files[0].path)
    assert paper.files[0].kept and kept.is_file() and kept.read_bytes() == data
    assert kept.parent.parent == empty_lib.home / "files" and "/" not in kept.name and ".." not in kept.name
    again = empty_lib.import_bytes(data, "again.pdf")
    assert again.merged[0].id == paper.id and not again.merged[0].changed
    assert len(list((empty_lib.home / "files").rglob("*.pdf"))) == 1


def test_the_inbox_takes_pdfs_and_keeps_them(empty_lib, tmp_path):
    from papershelf.sources.inbox import Inbox

    inbox = Inbox(tmp_path / "inbox", lambda p: msgspec.to_builtins(empty_lib.import_dropped(p)))
    shutil.copy(PDFS / "word-export.pdf", inbox.folder / "seed-banks.pdf")
    shutil.copy(PDFS / "truncated.pdf", inbox.folder / "broken.pdf")
    for path in inbox.waiting():
        inbox.process(path)
    assert (inbox.done / "seed-banks.pdf").exists() and (inbox.failed / "broken.pdf").exists()
    assert "not a readable PDF" in (inbox.failed / "broken.pdf.error.txt").read_text()
    (paper,) = list(empty_lib.store.iter_papers())
    assert paper.title == "Community Seed Banks and Crop Diversity in the Andean Highlands" and paper.files[0].kept
    (inbox.done / "seed-banks.pdf").unlink()  # cleaning out the inbox loses nothing
    assert not empty_lib.get(paper.id).files[0].missing


def test_cli_imports_a_folder_and_exports_the_files(tmp_path):
    folder = copy_folder(tmp_path)
    home = tmp_path / "home"
    p = run_cli("import", str(folder), "--no-wait", "--json", home=home)
    out = json.loads(p.stdout)
    assert out["added"] == len(EXPECTED) - 4 and len(out["failed"]) == 3
    exported = [json.loads(line) for line in run_cli("export", "--format", "jsonl", home=home).stdout.splitlines()]
    assert all(e["files"] for e in exported)
    assert {Path(f["path"]).name for e in exported for f in e["files"]} == set(EXPECTED) - {
        "encrypted.pdf", "truncated.pdf", "not-a-pdf.pdf"}


def test_the_api_takes_serves_and_filters_pdfs(tmp_path):
    home = tmp_path / "home"
    srv = start_server(home)
    try:
        with srv.client() as c:
            data = (PDFS / "revtex-letter.pdf").read_bytes()
            r = c.post("/api/import", files={"file": ("letter.pdf", data)})
            assert r.status_code == 200 and len(r.json()["added"]) == 1, r.text
            c.post("/api/papers", json={"title": "A paper with no file"})
            paper = c.get(f"/api/papers/{r.json()['added'][0]}").json()
            (file,) = paper["files"]
            assert file["kept"] and not file["missing"]
            assert c.get(f"/api/files/{file['id']}").content == data
            assert c.get("/api/papers", params={"pdf": "true"}).json()["total"] == 1
            assert c.get("/api/papers", params={"pdf": "false"}).json()["papers"][0]["title"] == "A paper with no file"
            facets = c.get("/api/facets").json()
            assert (facets["with_pdf"], facets["without_pdf"]) == (1, 1)
            link = c.get(f"/api/files/{file['id']}/link").json()["url"]
            bad = c.post("/api/import", files={"file": ("x.pdf", b"%PDF-1.7 and then nothing")})
            assert bad.status_code == 400 and "not a readable PDF" in bad.json()["detail"]
        # A tab opens the file with its ticket and no token; the ticket opens nothing else.
        opened = httpx.get(srv.url + link)
        assert opened.status_code == 200 and opened.headers["content-type"] == "application/pdf"
        assert opened.headers["content-disposition"].startswith("inline")
        assert httpx.get(srv.url + f"/api/files/{file['id']}").status_code == 401
        ticket = link.split("ticket=")[1]
        assert httpx.get(srv.url + f"/api/files/{file['id']}/info?ticket={ticket}").status_code == 401
        assert httpx.get(srv.url + f"/api/papers?ticket={ticket}").status_code == 401
        assert httpx.get(srv.url + f"/api/files/{file['id']}?ticket={'0' * 32}").status_code == 401
        # The CLI, with the server running, links a PDF where it is (the server checks it is those bytes).
        target = tmp_path / "Papers" / "llncs.pdf"
        target.parent.mkdir()
        shutil.copy(PDFS / "llncs-paper.pdf", target)
        run_cli("import", str(target), "--no-wait", home=home)
        with srv.client() as c:
            found = c.get("/api/papers", params={"q": "Smart Contract"}).json()["papers"][0]
            assert found["files"][0]["path"] == str(target) and not found["files"][0]["kept"]
    finally:
        srv.stop()


def test_text_import_of_a_pdf_says_what_to_do():
    from papershelf import importers

    with pytest.raises(importers.FormatError, match="is a PDF"):
        importers.parse((PDFS / "llncs-paper.pdf").read_bytes()[:4000], "x.pdf", "bibtex")
