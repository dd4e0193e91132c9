"""Fidelity on real saved files, outside the test suite: the extension's site adapters (in Chromium) and the
importers over a folder of real pages and API responses that other projects saved (`../shared/pages` on our
machines; never in the repository), each against what a careful reader finds in it. Exits 1 on any regression.

    .venv/bin/python bench/realfiles.py --data ../shared/pages

The suite's own fixtures are written for papershelf from each format's documentation (tests/fixtures); this
checks that what they taught holds on the real thing. A file the tables below do not name is still read (the
importers and the clean-text rules must hold for it) and reported as "not checked".
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from papershelf import clean, importers  # noqa: E402

CHROMIUM = "/usr/lib/chromium/chromium"
# Markup that must not reach the library: HTML's and JATS's own elements and entities. ("<swi>", a model's token
# that an abstract talks about, is text.)
MARKUP = re.compile(r"</?(?:p|i|b|em|strong|sub|sup|span|div|br|a|h[1-6]|li|ul|ol|section|jats:\w+|mml:\w+)\b[^>]*>"
                    r"|&(?:amp|lt|gt|quot|apos|nbsp|#\d+|#x[0-9a-f]+);", re.I)

# Pages: the address it had, the adapter, identifiers it must find, title (or its start), (first author, how
# many), the abstract's first words, where the abstract came from; a listing: how many entries; None: no paper.
PAGES = {
    "arxiv/arxiv.org-abs-1706.03762.html": ("https://arxiv.org/abs/1706.03762", "arxiv", ["arxiv:1706.03762"],
        "Attention Is All You Need", ("Ashish Vaswani", 8), "The dominant sequence transduction models", "abstract"),
    "arxiv/arxiv_list_gr-qc_new_2024-08.html": ("https://arxiv.org/list/gr-qc/new", "arxiv-listing", 45),
    "acl/ACL_2021.naacl-main.208.html": ("https://aclanthology.org/2021.naacl-main.208/", "acl",
        ["acl:2021.naacl-main.208", "doi:10.18653/v1/2021.naacl-main.208"], "How many data points is a prompt worth?",
        ("Teven Le Scao", 2), "When fine-tuning pretrained models for classification", "abstract"),
    "acm/acm-paper-page_10.1145_3371158.3371232.html": ("https://dl.acm.org/doi/10.1145/3371158.3371232", "acm",
        ["doi:10.1145/3371158.3371232"], "Graph-based Deep Learning in Natural Language Processing",
        ("Shikhar Vashishth", 3), "This tutorial aims to introduce recent advances in graph-based deep learning", "abstract"),
    "aps/APS_PhysRevX.12.041027.html": ("https://journals.aps.org/prx/abstract/10.1103/PhysRevX.12.041027", "aps",
        ["doi:10.1103/PhysRevX.12.041027"], "Tearing Instability and Current-Sheet Disruption in the Turbulent Dynamo",
        ("Alisa K. Galishnikova", 3), "Turbulence in a conducting plasma can amplify seed magnetic fields", "abstract"),
    "springer/SpringerLink_s10924-010-0192-1.html": ("https://link.springer.com/article/10.1007/s10924-010-0192-1",
        "generic", ["doi:10.1007/s10924-010-0192-1"], "In Vitro Cytotoxicity of Amylose-Based Bioplastic for Packaging "
        "Applications", ("Sanchita Bandyopadhyay-Ghosh", 4), "Amylose containing polysaccharides are one of the most "
        "abundant", "abstract"),
    "semanticscholar/s2_page_meow.html": ("https://www.semanticscholar.org/paper/What%E2%80%99s-in-a-Meow-A-Study-on-"
        "Human-Classification-of-Prato-Previde-Cannas/d1de4343d4076843583ca5826f345be6cb5cd75c", "semanticscholar",
        ["s2:d1de4343d4076843583ca5826f345be6cb5cd75c"], "What’s in a Meow?", ("E. Prato-Previde", 9),
        "It emerged that, although meowing is mainly a human-directed vocalization", "abstract"),
    "semanticscholar/s2_page_crosswalk.html": ("https://www.semanticscholar.org/paper/Where-the-Crosswalk-Ends%3A-"
        "Mapping-Crosswalk-via-in-Moran/704dde842312c5eabb8c76ecf86b48e9fe68e4fe", "semanticscholar",
        ["s2:704dde842312c5eabb8c76ecf86b48e9fe68e4fe"], "Where the Crosswalk Ends", ("Marcel E. Moran", 1),
        "Marked crosswalks are the primary means of safeguarding pedestrian travel", "abstract"),
    "medrxiv/medrxiv_search_page_sample.html": ("https://www.medrxiv.org/search/abstract_title%3Amachine", None),
}

# Files: format, records, failures, first title (start), identifiers the first record has, its abstract's start.
FILES = {
    "arxiv/api_query_all_transformer_cat_cs.LG_2026-06-14.xml": ("arxiv", 5, 0, "Mana: Dexterous Manipulation",
                                                                 ["arxiv:2606.13677"], "Articulated tool manipulation"),
    "arxiv/api_query_search_sample_response.xml": ("arxiv", 50, 0, "Strong Partitioning and a Machine Learning",
                                                   ["arxiv:2301.00306"], "We learn optimal instance-specific"),
    "huggingface/api_daily_papers_2026-06-12.json": ("hf", 30, 0, "On the Limits of LLM Adaptability",
                                                     ["arxiv:2606.00467"], "Large Language Models (LLMs) are"),
    "semanticscholar/graph_v1_paper_DOI_10.48550_arxiv.2312.07559.json": ("s2", 1, 0, "PaperQA",
                                                                          ["arxiv:2312.07559", "corpusid:266191420"], ""),
    "semanticscholar/graph_v1_paper_batch_full_fields.json": ("s2", 3, 1, "How Much Should We Trust Differences",
                                                              ["doi:10.2139/ssrn.288970"], "Most Difference-in-Difference"),
    "semanticscholar/graph_v1_paper_search_match_attention.json": ("s2", 1, 0, "Attention is All you Need",
                                                                   ["arxiv:1706.03762"], ""),
    "semanticscholar/graph_v1_paper_search_relevance_findpapers.json": ("s2", 50, 0, "An Analysis of Machine Learning",
                                                                        [], "Due to the extensive use"),
    "openalex/works_doi_10.1073_pnas.1414271111.json": ("openalex", 1, 0, "Developing functional musculoskeletal",
                                                        ["doi:10.1073/pnas.1414271111", "pmid:25349395"],
                                                        "Significance The inadequate mechanical properties"),
    "openalex/works_filter_title_search_PaperQA.json": ("openalex", 1, 0, "PaperQA", ["arxiv:2312.07559"],
                                                        "Large Language Models (LLMs) generalize"),
    "crossref/works_10.1073_pnas.1414271111.json": ("csljson", 1, 0, "Developing functional musculoskeletal",
                                                    ["doi:10.1073/pnas.1414271111"],
                                                    "Significance: The inadequate mechanical properties"),
    "crossref/works_10.1073_pnas.1414271111.x-bibtex.bib": ("bibtex", 1, 0, "Developing functional musculoskeletal",
                                                            ["key:Makris_2014", "doi:10.1073/pnas.1414271111"], ""),
    "acm/acm-export-csl_10.1145_3371158.3371232.json": ("csljson", 1, 0, "Graph-based Deep Learning",
                                                        ["doi:10.1145/3371158.3371232"], "This tutorial aims"),
    "exports/wos_plaintext_example_wos.txt": ("wos", 2, 0, "Interactions stabilizing the structure",
                                              ["doi:10.1021/bi049798f", "pmid:15170338"], "Reconstitution experiments"),
    # A project's own wrapper around bioRxiv API answers, not a format papershelf reads: every item fails with a
    # reason, and nothing crashes.
    "biorxiv/biorxiv_api_details_responses.json": ("json", 0, 7, None, [], ""),
}

# The same paper in several files becomes one paper: (files to import, a reference, identifiers it then has).
SAME_PAPER = [
    (["openalex/works_filter_title_search_PaperQA.json", "semanticscholar/graph_v1_paper_DOI_10.48550_arxiv.2312.07559.json"],
     "arxiv:2312.07559", ["corpusid:266191420"]),
    (["crossref/works_10.1073_pnas.1414271111.x-bibtex.bib", "openalex/works_doi_10.1073_pnas.1414271111.json",
      "crossref/works_10.1073_pnas.1414271111.json"], "doi:10.1073/pnas.1414271111", ["key:Makris_2014", "pmid:25349395"]),
]

EXTRACT = """([html, url]) => {
  const doc = new DOMParser().parseFromString(html, "text/html");
  const loc = new URL(url);
  const adapter = papershelf.findAdapter(loc);
  if (!adapter) return { adapter: null };
  if (adapter.listing) return { adapter: adapter.name, entries: adapter.listing(doc).map((e) => e.ids[0]) };
  const paper = papershelf.extractPaper(adapter, doc, loc);
  return { adapter: adapter.name, paper: paper && paper.title ? paper : null };
}"""


def clean_text_problems(what: str, text: str) -> list[str]:
    """The rules every stored text keeps: no markup, no line breaks, no doubled spaces."""
    out = []
    if MARKUP.search(text):
        out.append(f"{what} has markup: {MARKUP.search(text).group(0)!r}")
    if "\n" in text or "  " in text:
        out.append(f"{what} has line breaks or doubled spaces")
    return out


def check_page(page, rel: str, html: str, want: tuple) -> list[str]:
    """What the adapter read from one page, against the table."""
    url, adapter = want[0], want[1]
    got = page.evaluate(EXTRACT, [html, url])
    if adapter is None:
        return [] if not got.get("paper") and "entries" not in got else [f"a paper or a listing where there is none: {got}"]
    problems = [] if got["adapter"] == adapter else [f"adapter {got['adapter']}, not {adapter}"]
    if len(want) == 3:  # a listing
        n = len(got.get("entries") or [])
        return problems + ([] if n == want[2] else [f"{n} listing entries, not {want[2]}"])
    ids, title, authors, abstract, source = want[2:]
    p = got.get("paper")
    if not p:
        return problems + ["no paper found"]
    problems += [f"missing identifier {i}" for i in ids if i not in p["ids"]]
    if not p["title"].startswith(title):
        problems.append(f"title {p['title'][:80]!r}")
    if p["authors"][:1] != [authors[0]] or len(p["authors"]) != authors[1]:
        problems.append(f"authors {p['authors'][:3]}… ({len(p['authors'])})")
    if not p["abstract"].startswith(abstract):
        problems.append(f"abstract {p['abstract'][:80]!r}")
    if p["abstractFrom"] != source:
        problems.append(f"abstract from {p['abstractFrom']!r}, not {source!r}")
    return problems + clean_text_problems("title", p["title"]) + clean_text_problems("abstract", p["abstract"])


def check_file(path: Path, want: tuple | None) -> list[str]:
    """What the importers read from one file (after the clean step every record takes), against the table."""
    try:
        fmt, items = importers.parse_path(path)
        items = list(items)
    except importers.FormatError as e:
        return [] if want and want[1] == 0 and want[2] == 0 else [f"not read: {e}"]
    recs = [clean.record(r)[0] for _, r in items if not isinstance(r, str)]
    failed = [(p, r) for p, r in items if isinstance(r, str)]
    problems = [f"failure without a reason at {p}" for p, r in failed if not r]
    for r in recs:
        problems += clean_text_problems(f"title of {r.title[:40]!r}", r.title)
        problems += clean_text_problems(f"abstract of {r.title[:40]!r}", r.abstract)
    if want is None:
        return problems
    fmt_want, n, n_failed, title, ids, abstract = want
    if fmt != fmt_want:
        problems.append(f"format {fmt}, not {fmt_want}")
    if (len(recs), len(failed)) != (n, n_failed):
        problems.append(f"{len(recs)} records and {len(failed)} failures, not {n} and {n_failed}")
    if recs and title:
        first = recs[0]
        if not first.title.startswith(title):
            problems.append(f"first title {first.title[:80]!r}")
        problems += [f"missing identifier {i}" for i in ids if i not in first.identifiers]
        if not first.abstract.startswith(abstract):
            problems.append(f"first abstract {first.abstract[:80]!r}")
    return problems


def check_same_paper(data: Path) -> list[tuple[str, list[str]]]:
    """Files that describe one paper give one paper, with every file's identifiers."""
    from papershelf.library import Library

    out = []
    for files, ref, ids in SAME_PAPER:
        if not all((data / f).exists() for f in files):
            continue
        with tempfile.TemporaryDirectory() as home:
            lib = Library(Path(home))
            try:
                for f in files:
                    lib.import_path(data / f)
                paper = lib.get(ref)
                titles = [p.title.lower() for p in lib.store.iter_papers()]
                problems = [f"missing identifier {i}" for i in ids if i not in paper.identifiers]
                if len(titles) != len(set(titles)):
                    problems.append("a paper was imported twice")
            finally:
                lib.close()
        out.append((f"one paper from {len(files)} files: {ref}", problems))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="a folder of real saved pages and API responses")
    args = ap.parse_args()
    data = args.data
    if not data.is_dir():
        print(f"no folder {data}: give --data the folder of real saved files (../shared/pages on our machines)")
        return 2
    results: list[tuple[str, str, list[str]]] = []  # (file, "ok" | "FAIL" | "not checked", problems)
    files = sorted(p for p in data.rglob("*") if p.is_file() and p.suffix.lower() not in (".md",))
    pages = [p for p in files if p.suffix.lower() in (".html", ".htm")]
    if pages:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_page()
            page.add_script_tag(content=(ROOT / "extension" / "content" / "adapters.js").read_text())
            for p in pages:
                rel = p.relative_to(data).as_posix()
                want = PAGES.get(rel)
                if want is None:
                    results.append((rel, "not checked", []))
                    continue
                problems = check_page(page, rel, p.read_text(encoding="utf-8", errors="replace"), want)
                results.append((rel, "FAIL" if problems else "ok", problems))
            browser.close()
    for p in (f for f in files if f not in pages):
        rel = p.relative_to(data).as_posix()
        problems = check_file(p, FILES.get(rel))
        results.append((rel, "FAIL" if problems else "ok" if rel in FILES else "not checked", problems))
    for name, problems in check_same_paper(data):
        results.append((name, "FAIL" if problems else "ok", problems))
    missing = [rel for rel in [*PAGES, *FILES] if not (data / rel).exists()]
    width = max(len(r[0]) for r in results) if results else 10
    for rel, verdict, problems in results:
        print(f"{rel:<{width}}  {verdict}")
        for why in problems:
            print(f"{'':<{width}}    - {why}")
    for rel in missing:
        print(f"{rel:<{width}}  missing from {data}")
    failed = sum(1 for _, v, _ in results if v == "FAIL")
    print(f"\n{sum(1 for _, v, _ in results if v == 'ok')} ok, {failed} failed, "
          f"{sum(1 for _, v, _ in results if v == 'not checked')} not checked, {len(missing)} missing")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
