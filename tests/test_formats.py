"""Every format a researcher's library comes in, on real saved API responses and exports: records map
correctly, the same paper from several formats is one paper, and every export re-imports as the same papers."""

import json
from pathlib import Path

import pytest

from conftest import FIXTURES, REAL
from papershelf import importers
from papershelf.export import export
from papershelf.importers.openalex import abstract_from_inverted_index
from papershelf.library import Library

PAGES = REAL


def parsed(path: Path, fmt: str | None = None):
    got_fmt, items = importers.parse_path(path, fmt)
    items = list(items)
    return got_fmt, [r for _, r in items if not isinstance(r, str)], [(p, r) for p, r in items if isinstance(r, str)]


def test_openalex_single_work_with_inverted_abstract():
    fmt, recs, bad = parsed(PAGES / "openalex" / "works_doi_10.1073_pnas.1414271111.json")
    assert fmt == "openalex" and len(recs) == 1 and not bad
    r = recs[0]
    assert r.title.startswith("Developing functional musculoskeletal tissues")
    assert r.abstract.startswith("Significance The inadequate mechanical properties")
    assert r.year == 2014 and r.authors[0] == "Eleftherios Makris"
    assert {"openalex:https://openalex.org/W2109415576", "pmid:25349395"} <= set(r.identifiers)


def test_openalex_words_sharing_a_position_are_kept():
    assert abstract_from_inverted_index({"deep": [0], "learning": [1, 3], "is": [2], "Deep": [0]}) == \
        "deep Deep learning is learning"
    assert abstract_from_inverted_index(None) == ""


def test_openalex_works_response_with_results():
    fmt, recs, _ = parsed(PAGES / "openalex" / "works_filter_title_search_PaperQA.json")
    assert fmt == "openalex" and recs[0].title.startswith("PaperQA")
    assert "arxiv:2312.07559" in recs[0].identifiers


def test_semantic_scholar_batch_with_nulls_and_external_ids():
    fmt, recs, bad = parsed(PAGES / "semanticscholar" / "graph_v1_paper_batch_full_fields.json")
    assert fmt == "s2" and len(recs) == 3
    assert bad == [("item 1", "null (an id the source did not find)")]
    assert any(i.startswith("s2:") for i in recs[0].identifiers) and any(i.startswith("corpusid:") for i in recs[0].identifiers)


@pytest.mark.parametrize("name, n", [("graph_v1_paper_DOI_10.48550_arxiv.2312.07559.json", 1),
                                     ("graph_v1_paper_search_match_attention.json", 1),
                                     ("graph_v1_paper_search_relevance_findpapers.json", 50)])
def test_semantic_scholar_single_and_data(name, n):
    fmt, recs, bad = parsed(PAGES / "semanticscholar" / name)
    assert fmt == "s2" and len(recs) == n and not bad


def test_hugging_face_daily_papers_and_single_paper(tmp_path):
    fmt, recs, _ = parsed(PAGES / "huggingface" / "api_daily_papers_2026-06-12.json")
    assert fmt == "hf" and len(recs) == 30
    assert recs[0].identifiers == ["arxiv:2606.00467"] and recs[0].abstract.startswith("Large Language Models")
    assert recs[0].url == "https://huggingface.co/papers/2606.00467"
    # /api/papers/{id} returns the paper object itself.
    single = json.loads((PAGES / "huggingface" / "api_daily_papers_2026-06-12.json").read_text())[3]["paper"]
    f = tmp_path / "paper.json"
    f.write_text(json.dumps(single))
    fmt, recs, _ = parsed(f)
    assert fmt == "hf" and recs[0].identifiers == [f"arxiv:{single['id']}"]


def test_csl_json_from_acm():
    fmt, recs, _ = parsed(PAGES / "acm" / "acm-export-csl_10.1145_3371158.3371232.json")
    assert fmt == "csljson"
    r = recs[0]
    assert r.title == "Graph-based Deep Learning in Natural Language Processing"
    assert r.authors[:2] == ["Shikhar Vashishth", "Naganand Yadati"] and r.year == 2020
    assert r.identifiers == ["doi:10.1145/3371158.3371232"]


@pytest.mark.parametrize("name, n", [("api_query_search_sample_response.xml", 50),
                                     ("api_query_all_transformer_cat_cs.LG_2026-06-14.xml", 5)])
def test_arxiv_atom_feeds(name, n):
    fmt, recs, bad = parsed(PAGES / "arxiv" / name)
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
    makris = recs[0]
    assert makris.authors == ["Eleftherios A. Makris", "Donald J. Responte"]
    assert makris.tags == ["collagen", "to-read"] and makris.year == 2014
    assert "doi:10.1073/PNAS.1414271111" in makris.identifiers and "key:makris2014" in makris.identifiers
    assert recs[1].abstract.startswith("The dominant sequence")  # N2 abstracts


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
    fmt, recs, _ = parsed(PAGES / "crossref" / "works_10.1073_pnas.1414271111.x-bibtex.bib")
    assert recs[0].identifiers == ["key:Makris_2014", "doi:10.1073/pnas.1414271111"]


def test_crossref_works_json():
    fmt, recs, _ = parsed(PAGES / "crossref" / "works_10.1073_pnas.1414271111.json")
    assert recs and recs[0].title.startswith("Developing functional musculoskeletal")
    assert "doi:10.1073/pnas.1414271111" in [i.lower() for i in recs[0].identifiers]


def test_one_paper_from_many_formats(empty_lib):
    lib = empty_lib
    for f in (PAGES / "openalex" / "works_filter_title_search_PaperQA.json",
              PAGES / "semanticscholar" / "graph_v1_paper_DOI_10.48550_arxiv.2312.07559.json"):
        lib.import_path(f)
    for f in (PAGES / "crossref" / "works_10.1073_pnas.1414271111.x-bibtex.bib", FIXTURES / "zotero.ris",
              PAGES / "openalex" / "works_doi_10.1073_pnas.1414271111.json", PAGES / "crossref" / "works_10.1073_pnas.1414271111.json"):
        lib.import_path(f)
    for f in (PAGES / "semanticscholar" / "graph_v1_paper_search_match_attention.json", FIXTURES / "zotero.bib"):
        lib.import_path(f)
    paperqa = lib.get("arxiv:2312.07559")
    assert {"arxiv:2312.07559", "corpusid:266191420"} <= set(paperqa.identifiers)
    assert any(i.startswith("openalex:") for i in paperqa.identifiers) and any(i.startswith("s2:") for i in paperqa.identifiers)
    assert "Large Language Models" in paperqa.abstract  # OpenAlex had the abstract, S2 did not
    makris = lib.get("10.1073/pnas.1414271111")
    assert {"key:Makris_2014", "key:makris2014", "pmid:25349395"} <= set(makris.identifiers)
    assert makris.tags == ["collagen", "to-read"]
    attention = lib.get("1706.03762")
    assert {"key:vaswani2017attention", "s2:204e3073870fae3d05bcbc2f6a8e263d9b72e776"} <= set(attention.identifiers)
    titles = [p.title.lower() for p in lib.store.iter_papers()]
    assert len(titles) == len(set(titles)), "a paper was imported twice"


def test_preprint_and_published_version_across_formats(empty_lib):
    empty_lib.import_path(FIXTURES / "biblatex.bib")  # the arXiv preprint and the NeurIPS paper, one paper
    empty_lib.import_path(FIXTURES / "zotero.ris")  # the NeurIPS version again, from RIS
    p = empty_lib.get("arxiv:2201.11903")
    assert p.id == empty_lib.get("doi:10.5555/3600270.3602070").id
    assert {"key:wei2022chain", "key:wei2022published"} <= set(p.identifiers)
    assert empty_lib.stats().papers == 4  # chain-of-thought, Gödel, Makris, Attention: nothing twice


@pytest.mark.parametrize("fmt", ["jsonl", "bibtex", "csljson", "ris"])
def test_export_round_trip_into_an_empty_library(tmp_path, fmt):
    src = Library(tmp_path / "src")
    for f in (FIXTURES / "zotero.bib", FIXTURES / "mixed.jsonl", FIXTURES / "zotero.ris", FIXTURES / "biblatex.bib",
              PAGES / "semanticscholar" / "graph_v1_paper_search_relevance_findpapers.json",
              PAGES / "openalex" / "works_filter_title_search_PaperQA.json",
              PAGES / "huggingface" / "api_daily_papers_2026-06-12.json",
              PAGES / "arxiv" / "api_query_all_transformer_cat_cs.LG_2026-06-14.xml"):
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


from hypothesis import given, settings
from hypothesis import strategies as st

from papershelf.export import _bib_escape
from papershelf.importers.bibtex import latex_to_text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Co")), max_size=300))
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
