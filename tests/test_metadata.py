"""Right metadata: the user corrects any field and it stays theirs; every printed form of an arXiv id and the XMP
DOI are read; BibTeX as people really write it; our own export imported again keeps its files."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import FIXTURES, run_cli, start_server
from papershelf import importers
from papershelf.export import export
from papershelf.importers.bibtex import latex_to_text
from papershelf.models import Record
from papershelf.pdf import record as pdf
from papershelf.store import IdentifierTaken, content_hash, embed_text
from pdfgen import Page, write_pdf

WRONG = Record(title="Final_Version_v3", authors=["Ann Lovelace", "Switzerland"], identifiers=["doi:10.5555/meta.1"],
               source="pdf", guessed=True)


def edited_paper(lib):
    p, _ = lib.save(WRONG)
    return lib.edit(p.id, {"title": "Counting words in small corpora", "authors": ["Ann Lovelace"], "year": 2019,
                           "venue": "Journal of Small Things", "entry_type": "article"})


# -- editing ------------------------------------------------------------------------------------------------
def test_an_edited_field_is_the_users_and_no_import_or_pdf_read_overwrites_it(empty_lib, tmp_path):
    lib = empty_lib
    p = edited_paper(lib)
    assert (p.title, p.authors, p.year, p.venue, p.entry_type) == (
        "Counting words in small corpora", ["Ann Lovelace"], 2019, "Journal of Small Things", "article")
    assert p.edited == ["authors", "entry_type", "title", "venue", "year"]
    bib = tmp_path / "later.bib"
    bib.write_text("@inproceedings{later, title = {Counting Words in Small Corpora (extended)}, author = {Zed, A. "
                   "and Other, B. and Third, C.}, booktitle = {Proc. Elsewhere}, year = {2021}, doi = {10.5555/meta.1},"
                   " abstract = {An abstract the paper did not have.}}\n")
    lib.import_path(bib)
    lib.import_items([("pdf", Record(title="Yet another guess", authors=["Somebody Else"], year=2001,
                                     identifiers=["doi:10.5555/meta.1"], source="pdf", guessed=True))])
    got = lib.get(p.id)
    assert (got.title, got.authors, got.year, got.venue, got.entry_type) == (
        p.title, p.authors, p.year, p.venue, p.entry_type)
    assert got.abstract == "An abstract the paper did not have."  # a field the user left alone still grows
    assert "key:later" in got.identifiers
    lib.edit(p.id, {"abstract": ""})  # cleared by the user: a PDF read again does not fill it back
    lib.import_items([("pdf", Record(title="x", abstract="A guessed abstract from the layout.",
                                     identifiers=["doi:10.5555/meta.1"], source="pdf", guessed=True))])
    assert lib.get(p.id).abstract == ""


def test_a_sync_of_a_followed_file_keeps_the_users_fields_and_mirrors_the_others(empty_lib, tmp_path):
    lib = empty_lib
    bib = tmp_path / "followed.bib"
    bib.write_text("@article{f1, title = {A followed papr with a typo}, journal = {Old Venue}, year = {2010}}\n")
    info, _ = lib.sources.add(str(bib))
    pid = lib.resolve("key:f1")
    p = lib.edit(pid, {"title": "A followed paper without the typo"})
    assert p.mirrors == ["file"] and p.edited == ["title"]
    bib.write_text("@article{f1, title = {A followed papr, edited there}, journal = {New Venue}, year = {2011}}\n")
    lib.sources.sync(info.id)
    got = lib.get(pid)
    assert (got.title, got.venue, got.year) == ("A followed paper without the typo", "New Venue", 2011)
    released = lib.edit(pid, {}, release=["title"])  # given back: the next edit there reaches it
    assert released.edited == []
    bib.write_text("@article{f1, title = {A followed paper, as the file says}, journal = {New Venue}, year = {2011}}\n")
    lib.sources.sync(info.id)
    assert lib.get(pid).title == "A followed paper, as the file says"


def test_identifiers_are_added_and_removed_and_a_removed_one_does_not_come_back(empty_lib):
    lib = empty_lib
    p = edited_paper(lib)
    other, _ = lib.save(Record(title="Some other paper altogether", identifiers=["doi:10.5555/meta.2"]))
    p = lib.edit(p.id, {}, ["arxiv:1901.00001", "DOI:10.5555/META.9"])
    assert p.identifiers == ["arxiv:1901.00001", "doi:10.5555/meta.9"] and "identifiers" in p.edited
    assert lib.resolve("arxiv:1901.00001") == p.id and lib.store.resolve("doi:10.5555/meta.1") is None
    lib.import_items([("bib", Record(title="Counting words in small corpora", identifiers=["doi:10.5555/meta.1"]))])
    assert "doi:10.5555/meta.1" not in lib.get(p.id).identifiers  # the same title merges; the wrong DOI stays out
    with pytest.raises(IdentifierTaken, match="doi:10.5555/meta.2 is already paper"):
        lib.edit(p.id, {}, ["doi:10.5555/meta.2"])
    assert lib.get(p.id).identifiers == ["arxiv:1901.00001", "doi:10.5555/meta.9"]
    assert lib.get(other.id).identifiers == ["doi:10.5555/meta.2"]
    lib.edit(p.id, {}, release=["identifiers"])  # given back: the next import brings it again
    lib.import_items([("bib", Record(title="Counting words in small corpora", identifiers=["doi:10.5555/meta.1"]))])
    assert "doi:10.5555/meta.1" in lib.get(p.id).identifiers


@pytest.mark.parametrize("fields, message", [
    ({"title": "   "}, "title: a paper needs a title"), ({"year": 1200}, "year: not a year"),
    ({"url": "javascript:alert(1)"}, "url: not an http"), ({"entry_type": "two words"}, "entry_type:"),
    ({"notes": "x"}, "cannot edit notes")])
def test_a_value_papershelf_would_not_store_is_refused_with_its_field_and_nothing_changes(empty_lib, fields, message):
    p = edited_paper(empty_lib)
    with pytest.raises(ValueError, match=message):
        empty_lib.edit(p.id, fields)
    assert empty_lib.get(p.id) == p


def test_an_edited_title_is_embedded_at_once_and_related_papers_follow(sample_lib):
    lib = sample_lib
    pid = lib.find_by_title("Consistency Trajectory Models: Learning Probability Flow ODE Trajectory of Diffusion")
    before = [h.id for h in lib.related(pid, k=5)]
    p = lib.edit(pid, {"title": "Sparse mixture of experts routing for language models", "abstract": ""})
    stored = lib.store.vector_hashes(lib.model_id)[pid]
    assert stored == content_hash(p.title, "")  # no wait for the background worker
    vec = lib.store.vectors(lib.model_id, [pid])[1][0]
    assert np.allclose(vec, lib.embedder.embed_one(embed_text(p.title, "")), atol=1e-3)
    after = [h.id for h in lib.related(pid, k=5)]
    assert after != before
    hits = lib.search("sparse mixture of experts routing", k=3)
    assert pid in [h.id for h in hits]


def test_the_bibtex_export_writes_the_type_and_where_its_venue_goes(empty_lib):
    lib = empty_lib
    p, _ = lib.save(Record(title="A thesis on small things", venue="University of Somewhere"))
    lib.edit(p.id, {"entry_type": "phdthesis"})
    q, _ = lib.save(Record(title="A talk at a meeting of people", venue="Proc. of the Meeting"))
    lib.edit(q.id, {"entry_type": "inproceedings"})
    text = "".join(export(lib.store.iter_papers(), "bibtex"))
    assert "@phdthesis{" in text and "school = {University of Somewhere}" in text
    assert "@inproceedings{" in text and "booktitle = {Proc. of the Meeting}" in text
    back = [r for _, r in importers.parse(text.encode(), "x.bib")[1]]
    assert {(r.title, r.entry_type, r.venue) for r in back} == {
        ("A thesis on small things", "phdthesis", "University of Somewhere"),
        ("A talk at a meeting of people", "inproceedings", "Proc. of the Meeting")}
    for fmt in ("ris", "csljson", "jsonl"):  # every export carries the type, and reads it back
        text = "".join(export(lib.store.iter_papers(), fmt))
        back = [r for _, r in importers.parse(text.encode(), f"x.{fmt.replace('csljson', 'json')}")[1]]
        assert {(r.title, r.entry_type) for r in back} == {("A thesis on small things", "phdthesis"),
                                                          ("A talk at a meeting of people", "inproceedings")}, fmt


def test_the_api_and_the_cli_edit_every_field(tmp_path):
    home = tmp_path / "home"
    run_cli("import", str(FIXTURES / "zotero.bib"), "--no-wait", home=home)
    out = run_cli("edit", "key:vaswani2017attention", "--title", "Attention is all you need (corrected)",
                  "--author", "Ashish Vaswani", "--author", "Noam Shazeer", "--year", "2017", "--type", "inproceedings",
                  "--venue", "NeurIPS", "--add-id", "doi:10.5555/attn.1", "--json", home=home)
    p = json.loads(out.stdout)
    assert (p["title"], p["authors"], p["entry_type"], p["venue"]) == (
        "Attention is all you need (corrected)", ["Ashish Vaswani", "Noam Shazeer"], "inproceedings", "NeurIPS")
    assert "doi:10.5555/attn.1" in p["identifiers"] and set(p["edited"]) >= {"title", "authors", "identifiers"}
    shown = run_cli("show", "key:vaswani2017attention", home=home).stdout
    assert "2017 · NeurIPS · inproceedings" in shown and "edited by you" in shown and "title" in shown
    bad = run_cli("edit", "key:vaswani2017attention", "--year", "soon", home=home, check=False)
    assert bad.returncode != 0 and "--year takes a year" in bad.stderr
    srv = start_server(home)
    try:
        c = httpx.Client(base_url=srv.url, headers=srv.auth, timeout=60)
        pid = p["id"]
        r = c.patch(f"/api/papers/{pid}", json={"abstract": "Edited through the API.", "url": "https://example.org/a",
                                                "identifiers": ["doi:10.5555/attn.1"], "tags": ["mine"]})
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["abstract"] == "Edited through the API." and got["identifiers"] == ["doi:10.5555/attn.1"]
        assert got["tags"] == ["mine"] and {"abstract", "url", "identifiers"} <= set(got["edited"])
        assert c.patch("/api/papers/doi:10.5555%2Fattn.1", json={"year": 2018}).json()["year"] == 2018
        r = c.patch(f"/api/papers/{pid}", json={"year": "soon"})
        assert r.status_code == 400
        r = c.patch(f"/api/papers/{pid}", json={"authors": "One Name"})
        assert r.status_code == 400
        other = c.post("/api/papers", json={"title": "Another paper with its own DOI",
                                            "identifiers": ["doi:10.5555/attn.2"]}).json()["paper"]
        r = c.patch(f"/api/papers/{pid}", json={"identifiers": ["doi:10.5555/attn.2"]})
        assert r.status_code == 409 and other["id"] in r.json()["detail"]
        r = c.patch(f"/api/papers/{pid}", json={"release": ["abstract"], "colour": "red"})
        assert r.status_code == 400  # an unknown field is refused, never ignored
        r = c.patch(f"/api/papers/{pid}", json={"release": ["abstract"]})
        assert "abstract" not in r.json()["edited"] and r.json()["abstract"] == "Edited through the API."
        schema = c.get("/schema/openapi.json").json()["components"]["schemas"]
        patch = next(v for k, v in schema.items() if k.endswith("PaperPatch"))
        assert {"title", "authors", "year", "venue", "entry_type", "abstract", "url", "identifiers",
                "release"} <= set(patch["properties"])
        # While the server runs, the CLI edits through it.
        out = run_cli("edit", pid, "--remove-id", "doi:10.5555/attn.1", "--json", home=home)
        assert json.loads(out.stdout)["identifiers"] == []
    finally:
        srv.stop()


# -- arXiv ids printed in other ways, and XMP -----------------------------------------------------------------
def title_page(stamp: str | None = None, turn: int = 90, line: str | None = None, xmp: str | None = None) -> bytes:
    """A physics paper's title page, with its arXiv stamp set in the margin (turned) or an eprint line."""
    p = Page()
    p.text(90, 700, "Quantum Gravity Effects in Small Compact Spaces", size=17, bold=True)
    p.text(230, 670, "Ada Lovelace and Carl Gauss")
    p.text(270, 640, "Abstract", bold=True)
    for i, text in enumerate(["We study the effects of quantum gravity on compact spaces of small volume and show",
                              "that the corrections are of order one in the coupling. We compare with earlier",
                              "results and find agreement within the stated errors of each computation."]):
        p.text(90, 620 - 12 * i, text)
    if line:
        p.text(90, 570, line)
    p.text(90, 540, "1 Introduction", bold=True)
    p.text(90, 520, "As shown in [1], see also arXiv:1204.99999, the question is old.")
    if stamp:
        x, y = {90: (30, 250), 270: (30, 600), 180: (400, 40)}[turn]
        p.text(x, y, stamp, size=20, turn=turn)
    q = Page()
    q.text(90, 700, "References", bold=True)
    q.text(90, 680, "[1] A. Other, ArXiv e-prints, arXiv:1101.00002 (2011).")
    return write_pdf([p, q], xmp=xmp)


@pytest.mark.parametrize("stamp, turn, line, ids, year", [
    ("arXiv:hep-th/9901001 v2 12 Jan 99", 90, None, ["arxiv:hep-th/9901001"], 1999),
    ("arXiv:hep-th/9901001 v2 12 Jan 99", 180, None, ["arxiv:hep-th/9901001"], 1999),  # upside down
    ("arXiv:hep-th/9901001 v2 12 Jan 99", 270, None, ["arxiv:hep-th/9901001"], 1999),
    ("arXiv:cond-mat/0512001v1 1 Dec 2005", 90, None, ["arxiv:cond-mat/0512001"], 2005),
    ("arXiv:1501.01234v2 [hep-th] 5 Jan 2015", 90, None, ["arxiv:1501.01234"], 2015),
    (None, 0, "ArXiv ePrint: 1501.01234", ["arxiv:1501.01234"], None),
    (None, 0, "arXiv e-print: hep-ph/0101001", ["arxiv:hep-ph/0101001"], None),
    (None, 0, None, [], None),  # the ids cited in the text and the references are not the paper's
])
def test_every_printed_form_of_an_arxiv_id_and_never_a_cited_one(stamp, turn, line, ids, year):
    rec = pdf.record_of(title_page(stamp, turn, line), "paper.pdf")
    assert rec.identifiers == ids and rec.year == year
    assert rec.title == "Quantum Gravity Effects in Small Compact Spaces"


XMP = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:prism="http://prismstandard.org/namespaces/basic/2.0/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" {attr}>
<dc:identifier>{ident}</dc:identifier>{prism}
</rdf:Description></rdf:RDF></x:xmpmeta>
<?xpacket end="w"?>"""


@pytest.mark.parametrize("attr, ident, prism, doi", [
    ("", "doi:10.5555/xmp.77", "<prism:doi>10.5555/xmp.77</prism:doi>", "doi:10.5555/xmp.77"),
    ('prism:doi="10.5555/xmp.78"', "", "", "doi:10.5555/xmp.78"),
    ("", "", "<prism:url>https://doi.org/10.5555/xmp.79</prism:url>", "doi:10.5555/xmp.79"),
    ("", "doi:10.5555/xmp.80", "<prism:doi>10.5555/xmp.81</prism:doi>", None),  # they disagree: neither
    ("", "", "<dc:title>Nothing about a DOI 10.5555/not.this</dc:title>", None),  # not a field for its own DOI
])
def test_the_doi_in_xmp_metadata_is_read_when_the_page_prints_none(attr, ident, prism, doi):
    rec = pdf.record_of(title_page(xmp=XMP.format(attr=attr, ident=ident, prism=prism)), "paper.pdf")
    assert rec.identifiers == ([doi] if doi else [])


# -- BibTeX as people write it ----------------------------------------------------------------------------------
def bib_items(text: str) -> list[tuple[str, object]]:
    fmt, items = importers.parse(text.encode(), "refs.bib")
    assert fmt == "bibtex"
    return list(items)


def test_a_bib_whose_first_entries_are_not_papers_is_read_whole():
    items = bib_items((FIXTURES / "bibtex" / "not-papers-first.bib").read_text())
    got = {r.title: r.entry_type for _, r in items}
    assert got == {"A documentary about the sea floor": "video", "A widget that counts": "patent",
                   "counttool": "softwareversion", "Counting things in the sea": "article",
                   "A survey of sea floor counting": "inproceedings", "Sea floor counts 2020": "dataset"}
    assert importers.detect((FIXTURES / "bibtex" / "not-papers-first.bib").read_text(), "") == "bibtex"


def test_endnote_entries_without_a_key_are_read_and_a_broken_entry_fails_alone_with_its_line():
    items = bib_items((FIXTURES / "bibtex" / "endnote-no-keys.bib").read_text())
    good = [r for _, r in items if not isinstance(r, str)]
    bad = [(pos, r) for pos, r in items if isinstance(r, str)]
    assert [r.title for r in good] == ["Reading without keys", "A second keyless entry", "After the broken one"]
    assert all(not any(i.startswith("key:") for i in r.identifiers) for r in good)
    assert good[0].authors == ["Maria Keyless", "Jo Nokey"] and good[0].venue == "Journal of Exports"
    assert len(bad) == 1 and bad[0][0] == "line 15" and "unreadable BibTeX entry" in bad[0][1]


def test_biblatex_is_read_as_biblatex_means_it():
    items = dict(bib_items((FIXTURES / "bibtex" / "biblatex-fields.bib").read_text()))
    recs = {r.identifiers[0]: r for r in items.values()}
    book = recs["key:language"]
    assert book.title == "Language learning as language use. A cross-linguistic model of child language development"
    assert (book.year, book.entry_type) == (2022, "book")
    annotated = recs["key:annotated"]
    assert annotated.authors == ["Ann First", "Ben Second", "Cy Third"] and annotated.title == "Annotated names"
    assert annotated.venue == "Journal of Annotations: Series B" and annotated.year == 2020
    assert recs["key:asks"].title == "Does it work? Yes, it does"  # the title's own punctuation stays
    assert "arxiv:2101.00001" in recs["key:eprint"].identifiers and recs["key:eprint"].year == 2021
    assert "pmid:12345678" in recs["key:pubmed"].identifiers


@pytest.mark.parametrize("latex, text", [
    (r"Pulses of 5 $\mu$J", "Pulses of 5 μJ"), (r"{\mbox{$\mu$}}J pulses", "μJ pulses"),
    (r"$\pm$0.1\% accuracy", "±0.1% accuracy"), (r"A 3 mm$^2$ sensor", "A 3 mm² sensor"),
    (r"H$_2$O and CO$_{2}$", "H₂O and CO₂"), (r"\textsuperscript{13}C labelling", "¹³C labelling"),
    (r"$O(n \log n)$ sorting", "O(n log n) sorting"), (r"\textit{In vivo} imaging", "In vivo imaging"),
    (r"See \url{https://example.org/a_b%20c}", "See https://example.org/a_b%20c"),
    (r"Pages 1--10 --- and more", "Pages 1–10 — and more"), (r"A\,B\;C\quad D~E", "A B C D E"),
    (r"Erd\H{o}s and G\"{o}del and {\c{C}}elik", "Erdős and Gödel and Çelik"), (r"$\alpha$-helices", "α-helices"),
    (r"{BERT}: Pre-training", "BERT: Pre-training"), (r"$x^{n+1}$", "xⁿ⁺¹"),
])
def test_latex_in_titles_becomes_unicode(latex, text):
    assert latex_to_text(latex) == text


def test_a_long_field_takes_the_fast_path():
    long = r"We measure $\mu$ and \textit{more}. " * 200
    out = latex_to_text(long, long=True)
    assert "\\textit" not in out and len(out) > 1000


# -- our own export, imported again ------------------------------------------------------------------------------
def test_importing_our_jsonl_export_links_the_files_again_and_checks_them(empty_lib, tmp_path):
    lib = empty_lib
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.pdf").write_bytes(title_page(line=f"ArXiv ePrint: 1501.0123{ord(name) - 96}"))
    lib.import_pdfs(sorted(folder.glob("*.pdf")))
    text = "".join(export(lib.store.iter_papers(), "jsonl"))
    (folder / "b.pdf").write_bytes(b"%PDF-1.4 changed since the export")
    (folder / "c.pdf").unlink()
    lines = [json.loads(x) for x in text.splitlines()]
    lines[0]["files"].append({"path": "/etc/passwd", "sha256": "0" * 64, "size": 1})  # never trusted alone
    fresh = type(lib)(tmp_path / "restored")
    try:
        rep = fresh.import_bytes("\n".join(json.dumps(x) for x in lines).encode(), "export.jsonl")
        linked = {Path(f.path).name for p in fresh.store.iter_papers() for f in p.files}
        assert linked == {"a.pdf"}
        why = {(Path(w.value).name, w.reason) for w in rep.warnings}
        assert ("b.pdf", "its content changed since the export: not linked") in why
        assert ("c.pdf", "no longer there: not linked") in why
        assert ("passwd", "not a PDF: not linked") in why
    finally:
        fresh.close()


def test_a_hostile_xmp_flood_gives_no_doi_and_the_paper_is_still_read():
    flood = "<x:xmpmeta>" * 20_000 + "<x:xmpmeta>" + "<prism:doi>10.5555/flood." * 5_000 + "</x:xmpmeta>"
    rec = pdf.record_of(title_page(xmp=flood), "paper.pdf")
    assert rec.identifiers == [] and rec.title == "Quantum Gravity Effects in Small Compact Spaces"


def test_a_paper_that_mirrors_zotero_says_so_and_an_edit_stays_here_while_its_other_fields_follow(empty_lib, tmp_path):
    from test_sources import small_library

    lib = empty_lib
    z, k = small_library(tmp_path / "Zotero")
    lib.sources.add(str(tmp_path / "Zotero"))
    pid = lib.find_by_title("Attention for sparse graphs & trees")
    assert lib.get(pid).entry_type == "article"  # Zotero's item type, as BibTeX names it
    assert lib.get(lib.find_by_title("A thesis about many small things")).entry_type == "phdthesis"
    p = lib.edit(pid, {"title": "Attention for sparse graphs and trees"})
    assert p.mirrors == ["zotero"] and p.edited == ["title"]
    z.set_field(k["article"], "title", "Attention for sparse graphs, edited in Zotero")
    z.set_field(k["article"], "publicationTitle", "Journal of Graph Learning, Second Series")
    database = (tmp_path / "Zotero" / "zotero.sqlite").read_bytes()
    lib.sources.sync(lib.sources.list()[0].id)
    assert (tmp_path / "Zotero" / "zotero.sqlite").read_bytes() == database  # only ever read
    got = lib.get(pid)
    assert got.title == "Attention for sparse graphs and trees"  # the user's
    assert got.venue == "Journal of Graph Learning, Second Series"  # Zotero's, still followed
