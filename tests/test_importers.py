"""Importers: realistic files import, broken records are reported with position and reason, the rest still
import, and the format is detected from the content."""

from pathlib import Path

import pytest

from papershelf import importers
from papershelf.importers import listing
from papershelf.library import sample_path

FIX = Path(__file__).parent / "fixtures"


def records(items):
    return [r for _, r in items if not isinstance(r, str)]


def failures(items):
    return [(p, r) for p, r in items if isinstance(r, str)]


def test_sample_page_yields_exactly_289_papers_without_chrome():
    items = list(listing.parse(sample_path().read_text()))
    recs = records(items)
    assert len(recs) == 289
    assert recs[0].title == "Consistency Trajectory Models: Learning Probability Flow ODE Trajectory of Diffusion"
    titles = [r.title for r in recs]
    assert not any("Subscribe" in t or "trending" in t.lower() for t in titles)
    assert all(len(r.abstract) > 200 for r in recs)
    # The 26-word title must stay a title, not be mistaken for an abstract.
    assert any(t.startswith("ML4CO: Is GCNN All You Need?") for t in titles)


def test_shipped_sample_is_the_real_page_unchanged():
    """The package ships the pasted Hugging Face Papers page byte for byte (sha256 of the page as it was saved)."""
    import hashlib

    assert hashlib.sha256(sample_path().read_bytes()).hexdigest() == \
        "4d2bf512754dd2811bbd3d1eea958444e4b91068257f241689e1233a76a968ca"


def test_listing_ignores_chrome_and_stray_lines():
    text = ("Get trending papers in your email inbox!\nSubscribe\nSign in\n"
            "SubscribeA Real Paper Title About Graphs\n" + "We study graphs and their many properties. " * 8 + "\n"
            "Load more\n12 upvotes\n"
            "Another Paper: Trees\n" + "Trees are graphs without cycles, and we study them at length here. " * 5)
    fmt, items = importers.parse(text.encode(), "paste.txt")
    assert fmt == "listing"
    assert [r.title for r in records(items)] == ["A Real Paper Title About Graphs", "Another Paper: Trees"]


def test_bibtex_realistic_entries():
    fmt, items = importers.parse((FIX / "zotero.bib").read_bytes(), "zotero.bib")
    items = list(items)
    assert fmt == "bibtex"
    recs = {r.title: r for r in records(items)}
    att = recs["Attention Is All You Need"]
    assert att.authors == ["Ashish Vaswani", "Noam Shazeer", "Niki Parmar"]
    assert "arxiv:1706.03762v7" in att.identifiers and "key:vaswani2017attention" in att.identifiers
    assert "100% improvement" in att.abstract
    assert att.tags == ["transformers", "to-read"] and att.year == 2017
    sch = recs["Schrödinger Bridges and the École of Mixture-of-Experts"]
    assert sch.authors == ["Klaus Müller", "María García"]
    assert "doi:10.5555/ABC.123" in sch.identifiers and sch.venue == "Proceedings of ICML"
    assert "α" in sch.abstract or "alpha" in sch.abstract
    ok = recs["A Fine Online Entry"]
    assert ok.year == 2022 and "arxiv:2205.00001" in ok.identifiers
    bad = failures(items)
    assert bad, "the unclosed entry must be reported"
    assert all(p.startswith("line ") for p, _ in bad)


def test_jsonl_bad_lines_are_reported_and_good_ones_import():
    fmt, items = importers.parse((FIX / "mixed.jsonl").read_bytes(), "mixed.jsonl")
    items = list(items)
    assert fmt == "json"
    good = records(items)
    assert [r.title for r in good] == ["Sparse Mixture of Experts Routing at Scale", "Diffusion Models Beat GANs",
                                       "Year is nonsense"]
    assert good[0].authors == ["Ada Lovelace", "Alan Turing"] and good[0].year == 2023
    assert "arxiv:2301.00001v2" in good[0].identifiers and "key:p1" in good[0].identifiers
    assert good[1].year == 2021
    # An unreadable year loses the year, not the paper.
    assert good[2].year is None and [(w.field, w.value) for w in good[2].warnings] == [("year", "soon")]
    bad = dict(failures(items))
    assert set(bad) == {"line 2", "line 3"}
    assert "no title" in bad["line 2"] and "not valid JSON" in bad["line 3"]


def test_json_document_shapes():
    for doc in (b'{"title": "One", "abstract": "x"}', b'[{"title": "One"}, {"title": "Two"}]',
                b'{"papers": [{"title": "One"}]}'):
        fmt, items = importers.parse(doc, "x.json")
        assert fmt == "json" and records(items)[0].title == "One"


def test_format_is_detected_from_content_not_name():
    bib = (FIX / "zotero.bib").read_bytes()
    assert importers.parse(bib, "export.txt")[0] == "bibtex"
    assert importers.parse(b'{"title": "T"}\n', "papers.bib")[0] == "json"
    assert importers.parse(sample_path().read_bytes(), "notes.json")[0] == "listing"


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"   \n\n", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (b"title,abstract\n\xff\xfe bad bytes", "not valid UTF-8"),
    (b"just some words that are not a paper format", "Could not recognise"),
])
def test_unreadable_input_is_a_clear_error(data, reason):
    with pytest.raises(importers.FormatError, match=reason) as e:
        importers.parse(data, "thing.dat")
    if reason == "Could not recognise":
        assert "BibTeX" in str(e.value)  # the message names the formats we read


def test_library_import_reports_failures_and_keeps_the_rest(empty_lib):
    rep = empty_lib.import_path(FIX / "mixed.jsonl")
    assert len(rep.added) == 3 and len(rep.failed) == 2
    assert [(w.position, w.field, w.value) for w in rep.warnings] == [("line 5", "year", "soon")]
    rep2 = empty_lib.import_path(FIX / "zotero.bib")
    assert len(rep2.added) == 3 and rep2.failed
    assert empty_lib.stats().papers == 6
    bad = empty_lib.import_bytes(b"\x00\x01\x02", "blob.bin")
    assert bad.error and "binary" in bad.error
    assert empty_lib.stats().papers == 6  # nothing lost


def test_the_same_file_again_costs_nothing_unless_its_papers_changed(empty_lib, tmp_path):
    lib = empty_lib
    first = lib.import_path(FIX / "mixed.jsonl")
    assert len(first.added) == 3 and not first.unchanged_since
    slow = lib.import_bytes((FIX / "mixed.jsonl").read_bytes() + b"\n", "edited.jsonl")  # other bytes: parsed
    assert not slow.unchanged_since and len(slow.merged) == 3 and not any(m.changed for m in slow.merged)
    again = lib.import_bytes((FIX / "mixed.jsonl").read_bytes(), "mixed.jsonl")
    # Nothing parsed or merged: the first import's outcome, every record merged unchanged into its paper.
    assert again.unchanged_since and not again.added
    assert sorted((m.position, m.id) for m in again.merged) == sorted(
        [(m.position, m.id) for m in slow.merged])
    assert [m.id for m in sorted(again.merged, key=lambda m: m.position)] == [
        m.id for m in sorted(slow.merged, key=lambda m: m.position)]
    assert [f.position for f in again.failed] == [f.position for f in first.failed]
    assert [(w.position, w.field) for w in again.warnings] == [("line 5", "year")]
    # One of its papers in the trash: the file is imported for real, and brings it back.
    lib.trash(first.added[0])
    back = lib.import_path(FIX / "mixed.jsonl")
    assert not back.unchanged_since and any(m.id == first.added[0] and m.changed for m in back.merged)
    assert lib.get(first.added[0]).deleted_at is None
    # Edited since (tags): imported for real again.
    lib.update(first.added[1], tags=["mine"])
    assert not lib.import_path(FIX / "mixed.jsonl").unchanged_since
    assert lib.import_path(FIX / "mixed.jsonl").unchanged_since
    assert lib.stats().papers == 3
