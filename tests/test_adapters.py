"""What the extension's site adapters read from each publisher's article page, page by page: the adapters'
own code (extension/content/adapters.js) in a real Chromium DOM, on pages written in each site's structure (parsed, so none
of the page's scripts run), with the address each page has in daily use. The browser suite
(test_chromium.py, test_firefox.py) then serves a sample of them under their real hosts with the extension installed."""

import re
from pathlib import Path

import pytest

from conftest import BROWSER_WAIT

ROOT = Path(__file__).resolve().parent.parent
PUBLISHERS = Path(__file__).parent / "fixtures" / "pages" / "publishers"
PAGES = Path(__file__).parent / "fixtures" / "pages"

# url, page, adapter, identifiers it must find, title, (first author, number of authors), the abstract's first
# words, where the abstract came from ("abstract": a real one; "description": the page's teaser).
ARTICLES = [
    ("https://www.sciencedirect.com/science/article/pii/S0021999124001234", PUBLISHERS / "sciencedirect.html",
     "sciencedirect", ["doi:10.1016/j.jcp.2024.112345"], "Learning sparse sensor placements for flow reconstruction",
     ("Marta Okafor", 2), "Reconstructing a flow field from a handful of point sensors depends on where", "abstract"),
    ("https://ieeexplore.ieee.org/document/10234567", PUBLISHERS / "ieee.html", "ieee",
     ["doi:10.1109/TNNLS.2024.3351234"], "Robust Federated Averaging Under Client Drift", ("Aiko Tanaka", 2),
     "Federated averaging degrades when the clients' data drift apart. We bound", "abstract"),
    ("https://onlinelibrary.wiley.com/doi/full/10.1002/anie.202312345", PUBLISHERS / "wiley.html", "generic",
     ["doi:10.1002/anie.202312345"], "Photocatalytic Reduction of CO2 on Layered Perovskites", ("Eva Novak", 3),
     "Layered perovskites reduce CO2 under visible light, but charge carriers", "abstract"),
    ("https://www.tandfonline.com/doi/full/10.1080/01621459.2024.2123456", PUBLISHERS / "tandf.html", "generic",
     ["doi:10.1080/01621459.2024.2123456"], "Bayesian Variable Selection for Survival Data with Cure Fractions",
     ("Lena Fischer", 2), "Survival data in oncology often include patients who will never experience the event. "
     "Cure models", "abstract"),
    ("https://pubmed.ncbi.nlm.nih.gov/38012345/", PUBLISHERS / "pubmed.html", "pubmed",
     ["pmid:38012345", "doi:10.1111/jsr.14012"], "Sleep spindles predict overnight memory consolidation in older adults",
     ("Carmen Alvarez", 2), "Background: Sleep spindles have been linked to memory, but mostly in young adults. "
     "Methods: We recorded", "abstract"),
    ("https://www.mdpi.com/2071-1050/16/2/789", PUBLISHERS / "mdpi.html", "generic", ["doi:10.3390/su16020789"],
     "Rooftop Solar Adoption and Neighbourhood Effects in Mid-Sized Cities", ("Ingrid Holm", 2),
     "Households install rooftop solar panels more often when their neighbours have them. We estimate", "abstract"),
    ("https://www.frontiersin.org/journals/neuroscience/articles/10.3389/fnins.2024.1234567/full",
     PUBLISHERS / "frontiers.html", "generic", ["doi:10.3389/fnins.2024.1234567"],
     "Theta oscillations coordinate place cells during route planning", ("Thandi Mbeki", 3),
     "Place cells fire in sequences that sweep ahead of the animal. We recorded", "abstract"),
    ("https://proceedings.mlr.press/v202/nakamura23a.html", PUBLISHERS / "pmlr.html", "generic", [],
     "Contrastive Pretraining Scales with Negative Diversity", ("Haruto Nakamura", 2),
     "We show that contrastive pretraining improves with the diversity of its negatives more than", "abstract"),
    ("https://proceedings.neurips.cc/paper_files/paper/2023/hash/0123456789abcdef0123456789abcdef-Abstract-Conference.html",
     PUBLISHERS / "neurips.html", "generic", [], "Sparse Mixture of Adapters for Continual Learning",
     ("Anna Kowalski", 2), "Continual learners forget because every task updates the same weights.", "abstract"),
    ("https://www.nature.com/articles/s41586-024-07001-0", PUBLISHERS / "nature.html", "generic",
     ["doi:10.1038/s41586-024-07001-0"], "A room-temperature superconducting qubit coupler", ("Lucas Ferreira", 3),
     "Coupling superconducting qubits needs millikelvin temperatures at every stage of the wiring. Here", "abstract"),
    ("https://journals.plos.org/plosone/article?id=10.1371/journal.pone.0299999", PUBLISHERS / "plos.html", "generic",
     ["doi:10.1371/journal.pone.0299999"], "Urban green space and childhood asthma: A cohort study in five cities",
     ("Jane Whitfield", 2), "Background: Children in greener neighbourhoods may have less asthma", "abstract"),
    ("https://journals.example.org/teaser-only", PUBLISHERS / "teaser-only.html", "generic",
     ["doi:10.5555/teaser.2024.7"], "Tidal heating in the moons of giant planets", ("Yusuf Ahmed", 1),
     "Tidal heating keeps the oceans of icy moons liquid", "description"),
    ("https://dl.acm.org/doi/10.1145/3637528.3671001", PAGES / "acm.html", "acm", ["doi:10.1145/3637528.3671001"],
     "Private Paper Recommendation from a Personal Library", ("Chidera Okafor", 3),  # listed twice on the page
     "Recommending papers to a researcher works best when", "abstract"),
    ("https://journals.aps.org/prx/abstract/10.1103/PhysRevX.14.021099", PAGES / "aps.html", "aps",
     ["doi:10.1103/PhysRevX.14.021099"], "Magnetic Reconnection Onset in Collisionless Turbulent Sheets",
     ("Lior K. Horvath", 3), "Turbulent plasmas form thin current sheets that can tear", "abstract"),
    ("https://link.springer.com/article/10.1007/s10924-024-03210-7", PAGES / "springer.html", "generic",
     ["doi:10.1007/s10924-024-03210-7"], "In Vitro Degradation of Starch-Based Films in Industrial Compost",  # &nbsp;
     ("Ilona Varga", 3), "Starch-based films are sold as compostable packaging", "abstract"),
    ("https://arxiv.org/abs/2410.04321v3", PAGES / "arxiv-abs.html", "arxiv", ["arxiv:2410.04321"],
     "Prototype Routing for Sparse Mixture-of-Experts Language Models", ("Chidera Okafor", 8),
     "Sparse mixture-of-experts (MoE) layers give each token a few experts out of many", "abstract"),
    ("https://arxiv.org/abs/hep-th/9905111", PAGES / "arxiv-abs-old.html", "arxiv", ["arxiv:hep-th/9905111"],
     "Bounds on the $\\ell_1$ Norm of Instanton Moduli", ("Soren Eriksen", 2),  # no citation_abstract: the body's
     "We bound the $\\ell_1$ norm of the moduli of instantons", "abstract"),
    ("https://aclanthology.org/2024.acl-long.512/", PAGES / "acl.html", "acl", ["acl:2024.acl-long.512",
     "doi:10.18653/v1/2024.acl-long.512"], "How Many Labels Does a Prompt Save?", ("Oona Laine", 2),
     "When labels are scarce, a prompt that states the task", "abstract"),
    ("https://www.semanticscholar.org/paper/What%E2%80%99s-Left-of-the-Tide-Okafor-Lindqvist/0123456789abcdef0123456789abcdef01234567",
     PAGES / "semanticscholar.html", "semanticscholar", ["s2:0123456789abcdef0123456789abcdef01234567", "arxiv:2305.04412"],
     "What’s Left of the Tide? Tidal Locking in the Atmospheres of Hot Exoplanets", ("Chidera Okafor", 4),
     "Hot exoplanets close to their stars are expected to be tidally locked", "abstract"),  # not the TLDR teaser
    ("https://www.biorxiv.org/content/10.1101/2024.01.30.577970v1", PAGES / "biorxiv.html", "biorxiv",
     ["doi:10.1101/2024.01.30.577970"], None, None, None, "abstract"),
]

# Search results and other pages that list many papers: no single-article badge.
LISTINGS = [
    ("https://www.sciencedirect.com/search?qs=sparse%20sensor%20placement", PUBLISHERS / "sciencedirect-search.html"),
    ("https://ieeexplore.ieee.org/search/searchresult.jsp?queryText=federated", PUBLISHERS / "ieee-search.html"),
    ("https://pubmed.ncbi.nlm.nih.gov/?term=sleep+spindles+memory", PUBLISHERS / "pubmed-search.html"),
    ("https://www.medrxiv.org/search/abstract_title%3Amachine", PAGES / "medrxiv-search.html"),
]

EXTRACT = """([html, url]) => {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const loc = new URL(url);
  const adapter = papershelf.findAdapter(loc);
  if (!adapter) return { adapter: null, paper: null };
  if (adapter.listing) return { adapter: adapter.name, paper: null, listing: true };
  const paper = papershelf.extractPaper(adapter, doc, loc);
  return { adapter: adapter.name, paper: paper && paper.title ? paper : null };
}"""


@pytest.fixture(scope="module")
def page(chromium):
    tab = chromium.new_page()
    tab.set_default_timeout(BROWSER_WAIT)
    tab.add_script_tag(content=(ROOT / "extension" / "content" / "adapters.js").read_text())
    yield tab
    tab.close()


def extract(page, url: str, path: Path) -> dict:
    return page.evaluate(EXTRACT, [path.read_text(encoding="utf-8", errors="replace"), url])


@pytest.mark.parametrize("url, path, adapter, ids, title, authors, abstract, source", ARTICLES,
                         ids=[a[1].stem for a in ARTICLES])
def test_each_publishers_article_page(page, url, path, adapter, ids, title, authors, abstract, source):
    got = extract(page, url, path)
    assert got["adapter"] == adapter and got["paper"], got
    p = got["paper"]
    assert set(ids) <= set(p["ids"]), p["ids"]
    if title:
        assert p["title"] == title
    if authors:
        assert p["authors"][0] == authors[0] and len(p["authors"]) == authors[1], p["authors"]
    else:
        assert p["authors"], "no authors"
    if abstract:
        assert p["abstract"].startswith(abstract), p["abstract"][:200]
    assert len(p["abstract"]) > 60 and not re.search(r"<[a-zA-Z/!]|&[a-z]+;", p["abstract"])
    assert not p["abstract"].lower().startswith("abstract")
    assert p["abstractFrom"] == source


@pytest.mark.parametrize("url, path", LISTINGS, ids=[p.stem for _, p in LISTINGS])
def test_search_results_get_no_single_article_badge(page, url, path):
    assert extract(page, url, path)["paper"] is None


def test_the_generic_adapter_wants_scholarly_evidence_not_one_tag(page):
    """A title plus a DOI, a venue tag or a ScholarlyArticle makes an article; a blog post's title and author
    tags, or its JSON-LD Article, do not."""
    def page_with(head: str, url: str = "https://blog.example.org/post") -> dict | None:
        return extract_html(page, f"<!doctype html><html><head>{head}</head><body><h1>x</h1></body></html>", url)

    title = '<meta name="citation_title" content="A study of things">'
    assert page_with(title) is None
    assert page_with(title + '<meta name="citation_author" content="Doe, Jane">') is None
    assert page_with(title + '<meta name="citation_doi" content="10.5555/x.1">')["ids"] == ["doi:10.5555/x.1"]
    assert page_with(title + '<meta name="citation_conference_title" content="Proc. of Things">')
    assert page_with(title, "https://journals.example.org/doi/10.5555/x.2")["ids"] == ["doi:10.5555/x.2"]
    assert page_with(title + '<link rel="canonical" href="https://example.org/article/10.5555/x.3">')["ids"] == ["doi:10.5555/x.3"]
    blog = '<script type="application/ld+json">{"@type": "BlogPosting", "headline": "My holiday", "author": "Me"}</script>'
    assert page_with(blog) is None
    paper = '<script type="application/ld+json">{"@type": "ScholarlyArticle", "headline": "On things", "abstract": "We study things at length and find that they are many."}</script>'
    got = page_with(paper)
    assert got["title"] == "On things" and got["abstract"].startswith("We study things") and got["authors"] == []


@pytest.mark.parametrize("given, kept", [
    ("javascript:alert(document.cookie)", "https://journals.example.org/article/7"),
    ("data:text/html,<script>alert(1)</script>", "https://journals.example.org/article/7"),
    ("/doi/abs/10.5555/x.7", "https://journals.example.org/doi/abs/10.5555/x.7"),
    ("https://journals.example.org/doi/10.5555/x.7", "https://journals.example.org/doi/10.5555/x.7")])
def test_a_page_gives_only_a_web_address_for_its_paper(page, given, kept):
    """A hostile page's og:url of `javascript:` would be saved and later drawn as a link: only http(s) is kept
    (a relative one is resolved against the page), else the page's own address stands in."""
    got = extract_html(page, '<!doctype html><html><head><meta name="citation_title" content="A study of things">'
                             '<meta name="citation_doi" content="10.5555/x.7">'
                             f'<meta property="og:url" content="{given}"></head><body></body></html>',
                       "https://journals.example.org/article/7#section")
    assert got["url"] == kept


def extract_html(page, html: str, url: str) -> dict | None:
    return page.evaluate(EXTRACT, [html, url])["paper"]


@pytest.mark.parametrize("url, path, ids", [
    ("https://arxiv.org/list/gr-qc/new", PAGES / "arxiv-listing-old.html",  # XHTML, with an old-style identifier
     [f"arxiv:2411.0{8100 + i}" for i in range(10)] + ["arxiv:gr-qc/0601042", "arxiv:2411.08111"]),
    ("https://arxiv.org/list/cs.LG/new", PAGES / "arxiv-listing-new.html", [f"arxiv:2411.1{2000 + i}" for i in range(8)]),
])
def test_both_arxiv_listing_templates_give_every_entry_with_its_title(page, url, path, ids):
    got = page.evaluate("""([html, url]) => {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const adapter = papershelf.findAdapter(new URL(url));
      return { name: adapter.name, entries: adapter.listing(doc).map((e) => ({ ids: e.ids, title: e.title })) };
    }""", [path.read_text(), url])
    assert got["name"] == "arxiv-listing"
    assert [e["ids"][0] for e in got["entries"]] == ids
    assert all(e["title"] and not e["title"].startswith("Title") and "  " not in e["title"] for e in got["entries"])
