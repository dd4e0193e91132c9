"""Every page of the PDFs: read into passages (reading order, running heads, hyphens, captions, references), found
by phrase and by meaning at their page, kept in step with the files, and never troubled by a hostile file or query.
The PDFs are made here (fulltext_corpus.py, pdfgen.py): invented papers with facts planted on known pages."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from fulltext_corpus import PAPERS, PHRASES, QUESTIONS, make_paper, scanned, thesis
from papershelf import fulltext
from papershelf.library import Library
from papershelf.pdf import pages as pdfpages
from papershelf.pdf.sandbox import Sandbox
from pdfgen import Page, write_pdf

KEYS = ("melt", "terns", "lake")
pytestmark = pytest.mark.usefixtures("remembered_embeddings")  # (conftest.py: the same PDFs, embedded once)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fulltext") / "Papers"
    folder.mkdir()
    out = {}
    for key in KEYS:
        m = make_paper(key)
        (folder / f"{key}.pdf").write_bytes(m.pdf)
        out[key] = m
    return folder, out


@pytest.fixture(scope="module")
def lib(made, tmp_path_factory):
    folder, _ = made
    lib = Library(tmp_path_factory.mktemp("fulltext-home") / "home")
    report = lib.import_pdfs(sorted(folder.glob("*.pdf")))
    assert len(report.added) == 3, report
    lib.embed_all()  # the papers' vectors, then every page read, then the passages' vectors
    yield lib
    lib.close()


def passages_of(made, key):
    folder, _ = made
    return pdfpages.read_full(str(folder / f"{key}.pdf"))


@pytest.mark.parametrize("key", KEYS)
def test_pages_become_passages_in_reading_order_without_running_heads(made, key):
    m = made[1][key]
    got = passages_of(made, key)
    texts = [p.text for p in got.passages]
    # Every planted sentence reads whole in one passage (two columns read column by column, lines joined), at its
    # page, hyphenated words joined ('repre-' 'sentation').
    for name, sentence in PAPERS[key]["plant"].items():
        sentence = sentence.replace("|", "")
        holding = [p for p in got.passages if sentence in p.text]
        assert holding, (name, sentence)
        assert {p.page_at(p.text.index(sentence)) for p in holding} == {m.planted[name]}
        assert all(p.page <= m.planted[name] for p in holding)  # a passage names the page it starts on
    assert not any("Journal of Invented Field Studies" in t for t in texts)  # the running head
    assert not any(re.search(r"(^|\. )\d{1,2}( |$)", t) and re.fullmatch(r"\d{1,2}", t) for t in texts)
    # The caption and the footnote are passages of their own, never inside a sentence of the body.
    assert PAPERS[key]["caption"] in texts
    assert PAPERS[key]["note"] in texts
    assert not any(PAPERS[key]["caption"] in t and t != PAPERS[key]["caption"] for t in texts)
    # Sections name their passages; sizes are a few sentences.
    results = [p for p in got.passages if p.section == "3 Results"]
    assert results and all(p.page >= 1 for p in results)
    body = [p for p in got.passages if len(p.text.split()) > 60]
    assert body and all(len(p.text.split()) <= pdfpages.MAX_WORDS for p in body)
    # The reference list is apart: each entry whole, in order, with its page; none of it among the passages.
    assert [r.text for r in got.references] == m.references
    assert all(r.page == got.pages for r in got.references)
    assert not any(m.references[0][4:30] in t for t in texts)


def test_words_broken_at_a_line_end_are_joined_unless_they_are_a_compound():
    assert pdfpages._dehyphenate("a compact repre-", "sentation of") == "a compact representation of"
    assert pdfpages._dehyphenate("a document-", "level view") == "a document-level view"


def test_a_thousand_page_thesis_is_read_in_full_within_a_workers_memory(tmp_path):
    pdf, page = thesis(1000, "The last chapter thanks the Oberhasli granite quarry for its samples.")
    path = tmp_path / "thesis.pdf"
    path.write_bytes(pdf)
    sandbox = Sandbox(workers=1, limits=fulltext.READ_LIMITS)  # the limits the library reads with
    try:
        got = sandbox.run(pdfpages.read_full, str(path))
    finally:
        sandbox.close()
    assert got.pages == 1000 and not got.scanned
    holding = [p for p in got.passages if "Oberhasli granite quarry" in p.text]
    assert {p.page_at(p.text.index("The last chapter")) for p in holding} == {page}
    assert page >= 998 and got.passages[-1].page >= 998
    assert not any("A thesis submitted" in p.text for p in got.passages)  # its running head, on every page


@pytest.mark.parametrize("key,query,planted", PHRASES)
def test_a_remembered_phrase_finds_its_file_and_page_first(lib, made, key, query, planted):
    folder, papers = made
    hits = lib.passages(query, k=5)
    assert hits, query
    top = hits[0]
    assert top.file == str(folder / f"{key}.pdf") and top.file.endswith(f"{key}.pdf")
    assert top.page == papers[key].planted[planted] and "words" in top.matched
    marked = " ".join(top.text[a:b] for a, b in top.highlights).lower()
    for word in re.findall(r"\w+", query.lower()):
        assert word in marked
    assert top.title == papers[key].title and top.file_id


@pytest.mark.parametrize("key,query,planted", QUESTIONS)
def test_a_question_in_other_words_finds_its_page(lib, made, key, query, planted):
    folder, papers = made
    hits = lib.passages(query, k=5, per_paper=0)
    places = [(h.file, h.page) for h in hits]
    want = (str(folder / f"{key}.pdf"), papers[key].planted[planted])
    assert want in places[:3], (query, places)
    assert "meaning" in hits[places.index(want)].matched


def test_which_of_my_papers_a_topic_is_in(lib, made):
    hits = lib.passages("which of my papers track seabird migration", k=3)
    assert hits[0].file.endswith("terns.pdf")
    assert len({h.paper_id for h in hits}) == len(hits)  # one passage per paper unless more are asked for
    inside = lib.passages("the birds", k=10, paper=hits[0].paper_id, per_paper=0)
    assert inside and {h.paper_id for h in inside} == {hits[0].paper_id} and len(inside) > 1


@pytest.mark.parametrize("query", ["AND OR NOT", "title:meltwater", "glac*", "(unbalanced", "-minus +plus",
                                   '"first meltwater pulse', '"', "''", "a" * 10_000, "x:(y AND z)^2 ~3 [1 TO 5]",
                                   "meltwater " * 2000, "\\ / ! {}"])
def test_a_users_query_is_never_read_as_engine_syntax(lib, query):
    hits = lib.passages(query, k=3)  # never raises
    assert isinstance(hits, list)
    if query.startswith('"first'):  # an unbalanced quote is text
        assert hits and hits[0].file.endswith("melt.pdf")


def test_search_finds_a_paper_by_words_only_in_its_body_below_title_matches(lib, made):
    hits = lib.search("Talbach gauge Mauritania", k=10)
    body = [h for h in hits if "fulltext" in h.matched]
    assert {h.title for h in body} >= {made[1]["melt"].title, made[1]["terns"].title}
    assert all(h.passage is not None and h.passage.page >= 1 for h in body)
    assert all("keyword" not in h.matched for h in body)  # the words stand in their body only
    titled = lib.search("Arctic terns migration", k=10)
    assert titled[0].title == made[1]["terns"].title and "keyword" in titled[0].matched
    assert titled[0].passage is None  # found by its title and abstract: no passage needed
    mixed = lib.search("Lake Varna Talbach", k=10)
    firsts = [h for h in mixed if "keyword" in h.matched]
    assert firsts and firsts[0].title == made[1]["lake"].title
    assert [h.title for h in mixed].index(made[1]["melt"].title) > [h.title for h in mixed].index(firsts[-1].title)


def test_related_papers_come_with_their_closest_passage(lib, made):
    hits = lib.related_text("Tracking seabirds with geolocators on their long annual migration", k=3)
    tern = next(h for h in hits if h.title == made[1]["terns"].title)
    assert tern.passage is not None and tern.passage.file.endswith("terns.pdf") and tern.passage.page >= 1
    assert tern.passage.paper_id == tern.id
    words_only = lib.related_page("Tracking seabirds", "Geolocators on terns.", k=3, words_only=True)
    assert all(h.passage is None for h in words_only)  # the first list never waits for passages


def test_a_paper_tells_its_pages_and_passages(lib, made):
    import pypdfium2

    pid = lib.search("Lake Varna sediment", k=1)[0].id
    f = lib.get(pid).files[0]
    assert f.pages == len(pypdfium2.PdfDocument(made[1]["lake"].pdf)) and f.passages > 5 and f.text_note == ""
    t = lib.stats().text
    pages = sum(len(pypdfium2.PdfDocument(m.pdf)) for m in made[1].values())
    assert (t.files_read, t.pages_read, t.passages_waiting, t.files_waiting, t.unsearchable_pages) == (3, pages, 0, 0, 0)
    assert t.passages == sum(lib.get(p.paper_id).files[0].passages for p in lib.passages("the", k=3))


def test_a_scan_is_read_by_ocr_or_said_to_be_unsearchable(tmp_path, monkeypatch):
    home = tmp_path / "home"
    (tmp_path / "scan.pdf").write_bytes(scanned("terns"))
    lib = Library(home)
    try:
        lib.fulltext.ocr_enabled = False  # as on a machine without tesseract-ocr
        monkeypatch.setattr(fulltext.ocr, "available", lambda: False)
        lib.import_pdfs([tmp_path / "scan.pdf"])
        lib.embed_all()
        f = lib.get(lib.search("scan", k=1)[0].id).files[0]
        assert f.text_note == "1 page cannot be searched: a scan (install tesseract-ocr)"
        assert lib.stats().text.unsearchable_pages == 1
        monkeypatch.undo()
        if not fulltext.ocr.available():
            pytest.fail("tesseract-ocr is not installed: make test installs it")
        lib.fulltext.ocr_enabled = True
        lib.embed_all()  # OCR, in the background's turn
        hits = lib.passages('"light level geolocator"', k=3)
        assert hits and hits[0].page == 1 and hits[0].file.endswith("scan.pdf")
        assert lib.stats().text.unsearchable_pages == 0
        assert lib.get(hits[0].paper_id).files[0].text_note == ""
    finally:
        lib.close()


def test_tesseract_runs_on_one_thread_at_the_lowest_priority(tmp_path, monkeypatch):
    """Tesseract's OpenMP threads spin while they wait: one page cost 18 s of CPU with them, 3.4 s without."""
    fake = tmp_path / "bin" / "tesseract"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncat > /dev/null\necho \"threads=$OMP_THREAD_LIMIT nice=$(nice)\"\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    assert fulltext.ocr.page_text(b"P5\n1 1\n255\n\x00").split() == ["threads=1", "nice=19"]


def test_passages_follow_their_files_added_changed_and_removed(tmp_path):
    folder = tmp_path / "Papers"
    folder.mkdir()
    (folder / "melt.pdf").write_bytes(make_paper("melt").pdf)
    lib = Library(tmp_path / "home")
    try:
        src, rep = lib.sources.add(str(folder))
        assert rep.added == 1, rep
        lib.embed_all()
        before = lib.passages('"first meltwater pulse"', k=1)
        assert before and before[0].file == str(folder / "melt.pdf")
        old_sha = lib.get(before[0].paper_id).files[0].sha256
        old_count = lib.stats().text.passages
        # Changed bytes (another print of the paper): read again, the old passages gone.
        (folder / "melt.pdf").write_bytes(make_paper("melt", seed=8).pdf)
        lib.sources.sync(src.id)
        lib.embed_all()
        after = lib.passages('"first meltwater pulse"', k=1)
        assert after and lib.get(after[0].paper_id).files[0].sha256 != old_sha
        assert lib.stats().text.passages == old_count or lib.stats().text.files_read == 1
        assert lib.stats().text.files_read == 1
        # A file added: found at once; a file removed: its passages go with it.
        (folder / "lake.pdf").write_bytes(make_paper("lake").pdf)
        lib.sources.sync(src.id)
        lib.embed_all()
        assert lib.passages('"1783 Laki eruption"', k=1)[0].file.endswith("lake.pdf")
        (folder / "lake.pdf").unlink()
        lib.sources.sync(src.id)
        lib.embed_all()
        assert not [h for h in lib.passages('"1783 Laki eruption"', k=3) if h.file.endswith("lake.pdf")]
        assert lib.stats().text.files_read == 1
    finally:
        lib.close()


def read_library(tmp_path: Path, key: str) -> Library:
    """A library of one invented paper's PDF, every page read and embedded."""
    (tmp_path / f"{key}.pdf").write_bytes(make_paper(key).pdf)
    lib = Library(tmp_path / "home")
    lib.import_pdfs([tmp_path / f"{key}.pdf"])
    lib.embed_all()
    return lib


def test_a_model_switch_embeds_the_passages_again_in_the_background(tmp_path):
    from test_embed import same_model_elsewhere

    lib = read_library(tmp_path, "melt")
    n = lib.stats().text.passages
    lib.close()
    lib = Library(tmp_path / "home", model_dir=same_model_elsewhere(tmp_path))
    try:
        assert lib.stats().text.passages_waiting == n  # the old model's vectors do not count for the new one
        assert lib.passages('"first meltwater pulse"', k=1)  # words are searchable meanwhile
        lib.embed_all()
        assert lib.stats().text.passages_waiting == 0
        hits = lib.passages("which instrument on the mountain was wrecked by a snow slide", k=3, per_paper=0)
        assert any("meaning" in h.matched for h in hits)
    finally:
        lib.close()


def _pages_pdf(n: int, text_of) -> bytes:
    pages = []
    for i in range(n):
        page = Page()
        page.text(72, 700, text_of(i))
        pages.append(page)
    return write_pdf(pages)


def test_hostile_files_cost_bounded_work_leave_a_note_and_the_rest_goes_on(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.pdf").write_bytes(make_paper("lake").pdf)
    # 5000 pages of one sentence: every page is read, and their passages, alike, are embedded once
    (folder / "long.pdf").write_bytes(_pages_pdf(5000, lambda i: "An endless appendix repeats itself."))
    big = Page()
    for row in range(250):  # a page holding over a megabyte of text
        big.text(10, 780 - row * 3, "lorem ipsum dolor sit amet " * 160, size=1)
    (folder / "dense.pdf").write_bytes(write_pdf([big]))
    garbage = Page()
    for row in range(40):  # glyphs mapped to control characters: a text layer of garbage
        garbage.text(72, 740 - row * 14, "".join(chr(1 + (row * 7 + k) % 26) for k in range(60)))
    (folder / "garbage.pdf").write_bytes(write_pdf([garbage]))
    for name in ("encrypted.pdf", "truncated.pdf"):
        shutil.copy(os.path.join(os.path.dirname(__file__), "fixtures", "pdfs", name), folder / name)
    lib = Library(tmp_path / "home")
    try:
        report = lib.import_pdfs(sorted(folder.glob("*.pdf")))
        assert {f.position.rsplit("/", 1)[-1] for f in report.failed} == {"encrypted.pdf", "truncated.pdf"}
        assert all("encrypted" in f.reason or "not a readable PDF" in f.reason for f in report.failed)
        lib.fulltext.ocr_enabled = False  # (the garbage page's note, before OCR had a go at it)
        lib.embed_all()
        notes = {f.path.rsplit("/", 1)[-1]: f for p in lib.iter_papers() for f in lib.get(p.id).files}
        assert notes["long.pdf"].pages == 5000
        text = lib.stats().text
        assert text.pages_read == 5004 and text.passages > 200 and text.passages_waiting == 0  # each with a vector
        assert lib.passages('"endless appendix"', k=1, per_paper=0)
        assert "only its first 100,000 characters were read" in notes["dense.pdf"].text_note
        assert notes["garbage.pdf"].text_note.startswith("1 page cannot be searched")
        assert lib.passages('"1783 Laki eruption"', k=1)[0].file.endswith("good.pdf")
    finally:
        lib.close()


def test_a_restored_backup_answers_passage_queries(tmp_path):
    from papershelf import backup

    lib = read_library(tmp_path, "terns")
    info = lib.backup()
    lib.close()
    other = tmp_path / "restored"
    backup.restore(other, Path(info.path))
    assert not (other / "passages").exists()  # the words' index is not in a backup: it is made again from them
    lib = Library(other)
    try:
        assert lib.stats().text.passages_waiting == 0  # the vectors came back with the passages
        hit = lib.passages('"geolocator weighing 0.65 grams"', k=1)[0]
        assert hit.file.endswith("terns.pdf") and "words" in hit.matched
        assert "meaning" in lib.passages("where did the birds pause on the way to feed", k=1)[0].matched
    finally:
        lib.close()


def test_a_file_not_where_it_was_is_read_once_it_is_found_again(tmp_path):
    folder = tmp_path / "Papers"
    folder.mkdir()
    (folder / "lake.pdf").write_bytes(make_paper("lake").pdf)
    lib = Library(tmp_path / "home")
    try:
        lib.import_pdfs([folder / "lake.pdf"])
        moved = tmp_path / "Moved"
        folder.rename(moved)  # before its pages were read (a disk unmounted, a folder renamed)
        lib.embed_all()  # returns: the missing file is skipped, not waited for
        assert lib.stats().text.files_read == 0 and lib.text_waiting() == 0
        lib.import_pdfs([moved / "lake.pdf"])  # found again where it is now
        lib.embed_all()
        hit = lib.passages('"1783 Laki eruption"', k=1)[0]
        assert hit.file == str(moved / "lake.pdf")
    finally:
        lib.close()


def test_the_words_index_survives_the_papers_index_saving_and_its_own_folder_going_away(tmp_path):
    lib = read_library(tmp_path, "melt")
    try:
        lib.index.close()  # the papers' index saves itself: it replaces <home>/index whole
        assert lib.passages('"first meltwater pulse"', k=1)
        shutil.rmtree(tmp_path / "home" / "passages")  # deleted by hand, under a running library
        (tmp_path / "lake.pdf").write_bytes(make_paper("lake").pdf)
        lib.import_pdfs([tmp_path / "lake.pdf"])
        lib.embed_all()  # the next file read finds the index gone, opens it anew and builds it again
        assert lib.passages('"first meltwater pulse"', k=1)[0].file.endswith("melt.pdf")
        assert lib.passages('"1783 Laki eruption"', k=1)[0].file.endswith("lake.pdf")
    finally:
        lib.close()
