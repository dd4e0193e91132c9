"""Every format a researcher's library comes in, on API responses and exports written in each source's
documented format (fixtures/api, with the quirks real responses have): records map correctly, the same paper
from several formats is one paper, and every export re-imports as the same papers."""

import json
from pathlib import Path

import pytest

from conftest import API, FIXTURES
from papershelf import importers
from papershelf.export import export
from papershelf.importers.openalex import abstract_from_inverted_index
from papershelf.library import Library


def parsed(path: Path, fmt: str | None = None):
    got_fmt, items = importers.parse_path(path, fmt)
    items = list(items)
    return got_fmt, [r for _, r in items if not isinstance(r, str)], [(p, r) for p, r in items if isinstance(r, str)]


def test_openalex_single_work_with_inverted_abstract():
    fmt, recs, bad = parsed(API / "openalex-work.json")
    assert fmt == "openalex" and len(recs) == 1 and not bad
    r = recs[0]
    assert r.title.startswith("Hypoxic conditioning and enzymatic cross-linking")
    assert r.abstract.startswith("Significance Engineered cartilage is weaker than the tissue")
    assert "the tissue it should replace" in r.abstract  # "the" stands at four positions of the index
    assert r.year == 2014 and r.authors[0] == "Tomasz Kowalczyk"
    assert {"openalex:https://openalex.org/W4200000042", "pmid:99000427"} <= set(r.identifiers)


def test_openalex_words_sharing_a_position_are_kept():
    assert abstract_from_inverted_index({"deep": [0], "learning": [1, 3], "is": [2], "Deep": [0]}) == \
        "deep Deep learning is learning"
    assert abstract_from_inverted_index(None) == ""


def test_openalex_works_response_with_results():
    fmt, recs, _ = parsed(API / "openalex-works-filter.json")
    assert fmt == "openalex" and len(recs) == 5 and recs[0].title.startswith("LitScout")
    assert "arxiv:2312.09871" in recs[0].identifiers  # from its 10.48550 DOI


def test_semantic_scholar_batch_with_nulls_and_external_ids():
    fmt, recs, bad = parsed(API / "s2-paper-batch.json")
    assert fmt == "s2" and len(recs) == 3
    assert bad == [("item 1", "null (an id the source did not find)")]
    assert any(i.startswith("s2:") for i in recs[0].identifiers) and any(i.startswith("corpusid:") for i in recs[0].identifiers)
    assert recs[1].abstract == "" and not any(i.startswith("arxiv:") for i in recs[2].identifiers)  # nulls


@pytest.mark.parametrize("name, n", [("s2-paper-doi.json", 1), ("s2-search-match.json", 1), ("s2-search.json", 20)])
def test_semantic_scholar_single_and_data(name, n):
    fmt, recs, bad = parsed(API / name)
    assert fmt == "s2" and len(recs) == n and not bad


def test_hugging_face_daily_papers_and_single_paper(tmp_path):
    fmt, recs, _ = parsed(API / "hf-daily-papers.json")
    assert fmt == "hf" and len(recs) == 30
    first = json.loads((API / "hf-daily-papers.json").read_text())[0]["paper"]
    assert recs[0].identifiers == [f"arxiv:{first['id']}"] and recs[0].abstract.startswith("Large language models follow")
    assert recs[0].url == f"https://huggingface.co/papers/{first['id']}"
    assert recs[0].authors == [a["name"] for a in first["authors"]] and len(recs[0].authors) > 1
    # /api/papers/{id} returns the paper object itself.
    single = json.loads((API / "hf-daily-papers.json").read_text())[3]["paper"]
    f = tmp_path / "paper.json"
    f.write_text(json.dumps(single))
    fmt, recs, _ = parsed(f)
    assert fmt == "hf" and recs[0].identifiers == [f"arxiv:{single['id']}"]


def test_csl_json_from_acm():
    fmt, recs, _ = parsed(API / "acm-export.csl.json")
    assert fmt == "csljson"
    r = recs[0]
    assert r.title == "Private Paper Recommendation from a Personal Library"
    assert r.authors == ["Chidera Okafor", "Maja Lindqvist", "Hiroshi Tanaka"] and r.year == 2024
    assert r.identifiers == ["doi:10.1145/3637528.3671001"] and r.abstract.startswith("Recommending papers")
    assert r.venue.startswith("Proceedings of the 30th ACM SIGKDD")


@pytest.mark.parametrize("name, n", [("arxiv-api-classic.xml", 12), ("arxiv-api-new.xml", 5)])
def test_arxiv_atom_feeds(name, n):
    """The classic output wraps titles and summaries over indented lines; the newer one does not."""
    fmt, recs, bad = parsed(API / name)
    assert fmt == "arxiv" and len(recs) == n and not bad
    for r in recs:
        (ref,) = [i for i in r.identifiers if i.startswith("arxiv:")]
        assert "v" not in ref.split(":", 1)[1].split(".")[-1]  # versionless
        assert "\n" not in r.abstract and "  " not in r.abstract and "\n" not in r.title
        assert r.authors and r.year


def test_ris_with_broken_record():
    fmt, recs, bad = parsed(FIXTURES / "zotero.ris")
    assert fmt == "ris" and len(recs) == 3
    assert bad and bad[0][0] == "line 25" and "no title" in bad[0][1]
    cartilage = recs[0]
    assert cartilage.authors == ["Tomasz A. Kowalczyk", "Hana J. Fujimoto"]
    assert cartilage.tags == ["collagen", "to-read"] and cartilage.year == 2014
    assert "doi:10.5555/JBE.2014.0427" in cartilage.identifiers and "key:kowalczyk2014" in cartilage.identifiers
    assert recs[1].abstract.startswith("The dominant sequence")  # N2 abstracts


def test_web_of_science_plain_text_export():
    """Field-tagged, a byte-order mark first, continuation lines, cited references whose DOIs are not the
    paper's, a record without a title (failed alone); the .txt name does not make it a pasted listing."""
    fmt, recs, bad = parsed(FIXTURES / "wos.txt")
    assert fmt == "wos" and len(recs) == 2 and bad == [("line 45", "record has no title (TI)")]
    r = recs[0]
    assert r.title == "In vitro degradation of starch-based films in industrial compost: the role of plasticisers"
    assert r.authors == ["Ilona Varga", "Mateo Quispe", "Nadia Rahman"] and r.year == 2024
    assert r.abstract.startswith("Starch-based films are sold") and r.abstract.endswith("for ninety days.")
    assert r.identifiers == ["doi:10.1007/s10924-024-03210-7", "pmid:38000001"]
    assert r.venue == "JOURNAL OF POLYMERS AND THE ENVIRONMENT"
    assert recs[1].venue == "PROCEEDINGS OF THE 30TH ACM SIGKDD CONFERENCE ON KNOWLEDGE DISCOVERY AND DATA MINING"


def test_biblatex_and_crossref_bibtex():
    fmt, recs, bad = parsed(FIXTURES / "biblatex.bib")
    assert fmt == "bibtex" and not bad
    by_key = {next(i for i in r.identifiers if i.startswith("key:")): r for r in recs}
    pre = by_key["key:wei2022chain"]
    assert pre.year == 2022 and "arxiv:2201.11903v6" in pre.identifiers and pre.tags == ["prompting", "reasoning"]
    assert "17% on GSM8K" in pre.abstract
    assert by_key["key:wei2022published"].venue == "Advances in Neural Information Processing Systems"  # @string
    goedel = by_key["key:goedel"]
    assert goedel.title == "Über formal unentscheidbare Sätze der Principia Mathematica"
    assert goedel.authors == ["Kurt Gödel"] and goedel.venue == "Monatshefte für Mathematik"
    fmt, recs, _ = parsed(API / "crossref-work.bib")  # one line, a leading space, month as a macro
    assert recs[0].identifiers == ["key:Kowalczyk_2014", "doi:10.5555/jbe.2014.0427"] and recs[0].year == 2014


def test_crossref_works_json():
    fmt, recs, _ = parsed(API / "crossref-work.json")  # {"status", "message": work}; the DOI in capitals
    assert recs and recs[0].title.startswith("Hypoxic conditioning and enzymatic cross-linking")
    assert "doi:10.5555/jbe.2014.0427" in [i.lower() for i in recs[0].identifiers]
    assert recs[0].venue == "Journal of Biomedical Engineering" and recs[0].year == 2014


def test_one_paper_from_many_formats(empty_lib):
    lib = empty_lib
    for f in (API / "openalex-works-filter.json", API / "s2-paper-doi.json"):
        lib.import_path(f)
    for f in (API / "crossref-work.bib", FIXTURES / "zotero.ris", API / "openalex-work.json", API / "crossref-work.json"):
        lib.import_path(f)
    for f in (API / "s2-search-match.json", FIXTURES / "zotero.bib"):
        lib.import_path(f)
    litscout = lib.get("arxiv:2312.09871")
    assert {"arxiv:2312.09871", "corpusid:270100001"} <= set(litscout.identifiers)
    assert any(i.startswith("openalex:") for i in litscout.identifiers) and any(i.startswith("s2:") for i in litscout.identifiers)
    assert "Large language models answer questions" in litscout.abstract  # OpenAlex had the abstract, S2 did not
    cartilage = lib.get("10.5555/jbe.2014.0427")
    assert {"key:Kowalczyk_2014", "key:kowalczyk2014", "pmid:99000427"} <= set(cartilage.identifiers)
    assert cartilage.tags == ["collagen", "to-read"]
    attention = lib.get("1706.03762")
    assert {"key:vaswani2017attention", "s2:0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"} <= set(attention.identifiers)
    titles = [p.title.lower() for p in lib.store.iter_papers()]
    assert len(titles) == len(set(titles)), "a paper was imported twice"


def test_preprint_and_published_version_across_formats(empty_lib):
    empty_lib.import_path(FIXTURES / "biblatex.bib")  # the arXiv preprint and the NeurIPS paper, one paper
    empty_lib.import_path(FIXTURES / "zotero.ris")  # the NeurIPS version again, from RIS
    p = empty_lib.get("arxiv:2201.11903")
    assert p.id == empty_lib.get("doi:10.5555/3600270.3602070").id
    assert {"key:wei2022chain", "key:wei2022published"} <= set(p.identifiers)
    assert empty_lib.stats().papers == 4  # chain-of-thought, Gödel, the cartilage paper, Attention: nothing twice


@pytest.mark.parametrize("fmt", ["jsonl", "bibtex", "csljson", "ris"])
def test_export_round_trip_into_an_empty_library(tmp_path, fmt):
    src = Library(tmp_path / "src")
    for f in (FIXTURES / "zotero.bib", FIXTURES / "mixed.jsonl", FIXTURES / "zotero.ris", FIXTURES / "biblatex.bib",
              API / "s2-search.json", API / "openalex-works-filter.json", API / "hf-daily-papers.json",
              API / "arxiv-api-new.xml", API / "arxiv-api-classic.xml", API / "crossref-work.json"):
        src.import_path(f)
    src.update(next(src.store.iter_papers()).id, tags=["mine, with a comma?", "reading"])
    text = "".join(export(src.store.iter_papers(), fmt))
    dst = Library(tmp_path / "dst")
    rep = dst.import_bytes(text.encode(), f"export.{fmt}")
    assert rep.format == fmt.replace("jsonl", "json") and rep.failed == []

    def papers(lib):
        return {p.title: (p.abstract, p.authors, p.year, p.venue if fmt != "jsonl" else p.venue,
                          sorted(i for i in p.identifiers if not i.startswith("key:")))
                for p in lib.store.iter_papers()}

    assert papers(dst) == papers(src)
    tags = {p.title: p.tags for p in src.store.iter_papers()}
    if fmt in ("jsonl", "ris"):  # formats with one field per tag keep a tag with a comma intact
        assert {p.title: p.tags for p in dst.store.iter_papers()} == tags
    src.close()
    dst.close()


from hypothesis import example, given, settings
from hypothesis import strategies as st

from papershelf.export import _bib_escape
from papershelf.importers.bibtex import latex_to_text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Co")), max_size=300))
@example("?`\\")  # TeX reads ?` as ¿ (and !` as ¡) once the field holds other markup: found by this test
@example("Why?` said !`she -- ``quoted'' \\ 50%")
def test_any_text_survives_bibtex_escaping_both_ways(text):
    """Whatever an abstract contains, exporting to BibTeX and reading back gives it back (both converters)."""
    want = " ".join(text.split())
    escaped = _bib_escape(want)
    assert latex_to_text(escaped, long=True) == want
    assert latex_to_text(escaped) == want


def test_sample_abstracts_survive_bibtex_escaping():
    from papershelf.library import sample_path

    for line in sample_path().read_text().splitlines():
        want = " ".join(line.split())
        assert latex_to_text(_bib_escape(want), long=True) == want
