"""Markup never reaches the library, and one odd field never loses a paper: the clean step (clean.py) that
every record passes on its way into the store, on generated and real inputs, through every importer."""

import html
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import API
from papershelf import clean, importers
from papershelf.models import Record

INLINE = ["i", "b", "em", "sub", "sup", "span", "jats:italic", "jats:bold", "jats:sub", "mml:mi", "a"]
BLOCK = ["p", "div", "li", "jats:p", "jats:sec", "section", "td"]  # headings gain a colon: tested below

words = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                         max_size=12), min_size=1, max_size=30)


@st.composite
def wrapped(draw):
    """(words, the same words as markup): runs of whole words escaped and wrapped in random, nested tags."""
    ws = draw(words)
    out, i = [], 0
    while i < len(ws):
        n = draw(st.integers(1, 4))
        run = html.escape(" ".join(ws[i:i + n]), quote=draw(st.booleans()))
        for _ in range(draw(st.integers(0, 3))):
            tag = draw(st.sampled_from(INLINE + BLOCK))
            attrs = draw(st.sampled_from(["", ' class="x"', ' xmlns:jats="http://jats.nlm.nih.gov"']))
            run = f"<{tag}{attrs}>{run}</{tag}>"
        out.append(run)
        i += n
    return ws, draw(st.sampled_from([" ", "\n", " <br> ", "<br/>"])).join(out)


@settings(max_examples=300, deadline=None)
@given(wrapped())
def test_any_text_wrapped_in_random_tags_comes_out_as_the_text(case):
    ws, markup = case
    assert clean.text(markup) == " ".join(" ".join(ws).split())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_text_without_markup_only_has_its_whitespace_collapsed(s):
    plain = s.replace("<", " ").replace("&", " ")
    assert clean.text(plain) == " ".join(plain.split())


def test_bioRxiv_and_jats_abstracts_become_plain_text():
    # A bioRxiv article page's citation_abstract as the browser hands it over (entities decoded once).
    assert clean.abstract("<h3>ABSTRACT</h3> <p>An outbreak of Candida auris &amp; others in <i>vivo</i></p>") == \
        "An outbreak of Candida auris & others in vivo"
    assert clean.abstract("<jats:title>Abstract</jats:title><jats:p>The H<jats:sub>2</jats:sub>O cycle.</jats:p>") == \
        "The H2O cycle."
    assert clean.abstract("Abstract: We study x.") == "We study x." and clean.abstract("ABSTRACT We x.") == "We x."
    assert clean.abstract("Abstract reasoning is hard.") == "Abstract reasoning is hard."  # a sentence, not a heading
    assert clean.abstract("&lt;p&gt;Escaped twice&lt;/p&gt;") == "Escaped twice"
    assert clean.text("x<y and y>z, a < b") == "x<y and y>z, a < b"  # comparisons are text, not tags
    assert clean.text("<script>alert(1)</script>Title") == "Title"
    # A Crossref JATS abstract in sections: no tags, each section's heading kept as the abstract prints it.
    fmt, items = importers.parse_path(API / "crossref-work.json")
    rec, _, _ = clean.record(next(r for _, r in items))
    assert rec.abstract.startswith("Significance: Engineered cartilage is weaker than the tissue it should replace.")
    assert "Abstract: Tissues grown in the laboratory" in rec.abstract and "applied lysyl oxidase" not in rec.abstract
    assert "<" not in rec.abstract and "jats" not in rec.abstract


def test_every_path_into_the_store_is_cleaned(empty_lib):
    report = empty_lib.import_bytes(json.dumps({"title": "A <i>title</i> with H<sub>2</sub>O", "abstract":
                                                "<h3>Summary</h3><p>Clean &amp; tidy.</p>", "authors": ["<b>Ada</b>"]}
                                               ).encode(), "x.json")
    p = empty_lib.get(report.added[0])
    assert (p.title, p.abstract, p.authors) == ("A title with H2O", "Clean & tidy.", ["Ada"])
    saved, _ = empty_lib.save(Record(title="Saved <em>from</em> a page", abstract="<p>Abstract</p><p>Body.</p>"))
    assert (saved.title, saved.abstract) == ("Saved from a page", "Body.")


def test_one_set_of_limits_holds_for_every_way_in(empty_lib):
    """What POST /api/papers refuses cannot come in through an import either: a 10 MB title is cut, with a
    warning, and the paper kept; a list past its limit keeps its first items."""
    from papershelf.clean import LIMITS

    huge = {"title": "Long " * 2_000_000, "abstract": "word " * 20_000, "authors": [f"Author {i}" for i in range(3000)],
            "tags": ["t" * 300, *[f"tag{i}" for i in range(300)]], "venue": "v" * 5000,
            "identifiers": ["key:" + "k" * 600, "doi:10.1234/fine"], "url": "https://example.org/" + "x" * 5000}
    report = empty_lib.import_bytes(json.dumps(huge).encode(), "huge.json")
    p = empty_lib.get(report.added[0])
    assert len(p.title) <= LIMITS["title"] and len(p.abstract) <= LIMITS["abstract"]
    assert len(p.authors) == LIMITS["authors"] and len(p.venue) <= LIMITS["venue"]
    assert len(p.tags) == LIMITS["tags"] and all(len(t) <= LIMITS["tag"] for t in p.tags)
    assert p.identifiers == ["doi:10.1234/fine"] and p.url == ""
    assert {w.field for w in report.warnings} >= {"title", "abstract", "authors", "tags", "tag", "venue",
                                                   "identifier", "url"}
    _, listed = empty_lib.store.list_papers(limit=50)
    assert len(json.dumps([q.title for q in listed])) < 10_000  # a page of the list stays small


@pytest.mark.parametrize("url", ["javascript:alert(document.domain)", "JaVaScRiPt:alert(1)", "data:text/html,<b>x",
                                 "file:///etc/passwd", "vbscript:x", " javascript:alert(1)"])
def test_only_web_addresses_are_kept(empty_lib, url):
    saved, _ = empty_lib.save(Record(title=f"A page whose og:url is {url}", url=url))
    assert saved.url == ""
    report = empty_lib.import_bytes(json.dumps({"title": "An import with a bad url", "url": url}).encode(), "u.json")
    assert empty_lib.get((report.added or [m.id for m in report.merged])[0]).url == ""
    good, _ = empty_lib.save(Record(title="A real page", url="https://example.org/paper?id=1"))
    assert good.url == "https://example.org/paper?id=1"


def test_an_unreadable_year_is_a_warning_and_the_paper_is_imported(empty_lib):
    report = empty_lib.import_bytes(b'{"title": "Medieval manuscripts", "year": 801}\n'
                                    b'{"title": "Forthcoming work", "year": "in press"}\n'
                                    b'{"title": "Suffixed year", "year": "2021a", "doi": "10.1234/abc."}\n'
                                    b'{"title": "Month year", "year": "March 2019", "authors": "A. Smith and B. Jones"}\n'
                                    b'{"title": "Odd authors", "authors": 42, "identifiers": ["doi:not-a-doi"]}\n',
                                    "odd.jsonl")
    assert len(report.added) == 5 and report.failed == []
    got = {(w.position, w.field, w.value) for w in report.warnings}
    assert got == {("line 1", "year", "801"), ("line 2", "year", "in press"), ("line 5", "authors", "42"),
                   ("line 5", "identifier", "doi:not-a-doi")}
    papers = {p.title: p for p in (empty_lib.get(pid) for pid in report.added)}
    assert papers["Medieval manuscripts"].year is None and papers["Suffixed year"].year == 2021
    assert "doi:10.1234/abc" in papers["Suffixed year"].identifiers  # the trailing dot repaired
    assert papers["Month year"].year == 2019 and papers["Month year"].authors == ["A. Smith", "B. Jones"]
    assert "warnings" in report.summary()


def test_the_same_rule_in_every_importer(empty_lib):
    files = {
        "a.bib": b"@article{k1, title={In press paper}, year={in press}}\n",
        "a.ris": b"TY  - JOUR\nTI  - RIS in press\nPY  - forthcoming\nER  - \n",
        "a.csl.json": json.dumps([{"type": "article-journal", "title": "CSL odd date",
                                   "issued": {"date-parts": [["n.d."]]}}]).encode(),
        "a.s2.json": json.dumps({"paperId": "0123456789abcdef0123456789abcdef01234567", "title": "S2 ancient",
                                "year": 801}).encode(),
        "a.openalex.json": json.dumps({"id": "https://openalex.org/W2109415576", "title": "OA future",
                                       "publication_year": 9999}).encode(),
    }
    for name, data in files.items():
        report = empty_lib.import_bytes(data, name)
        assert len(report.added) == 1 and report.failed == [], (name, report)
        assert [w.field for w in report.warnings] == ["year"], (name, report.warnings)
        assert empty_lib.get(report.added[0]).year is None


@pytest.mark.parametrize("escaped, plain", [
    ("&lt;A &gt;", "<A >"),  # an <a> that never closes: someone wrote "<A >" (found by hypothesis)
    ("see &lt;b&gt; below", "see <b> below"),
    ("&lt;h3&gt;ABSTRACT&lt;/h3&gt; &lt;p&gt;Cells divide.&lt;/p&gt;", "Cells divide."),  # escaped markup
    ("line one&lt;br&gt;line two", "line one line two"),  # an empty element is complete when it opens
])
def test_an_escaped_fragment_is_read_twice_only_if_it_holds_real_markup(escaped, plain):
    assert clean.text(escaped) == plain
