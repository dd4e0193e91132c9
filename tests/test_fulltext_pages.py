"""The full text where researchers see it: the library page's "In your PDFs", the search inside a paper, and the
PDF opened at the passage's page in Chromium's viewer and in Firefox's (pdf.js); the CLI and the API of a running
server, with `papershelf import` returning once the passages are searchable."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
from conftest import BROWSER_WAIT, run_cli, start_server
from fulltext_corpus import make_paper

KEYS = ("melt", "terns", "lake")
CHROMIUM_PDF_VIEWER = "mhjfbmdgcfjbbpaeojofohoefgiehjai"  # the id of Chromium's built-in PDF viewer


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A server whose library has the three papers, imported by the CLI through it."""
    root = tmp_path_factory.mktemp("fulltext-pages")
    folder = root / "Papers"
    folder.mkdir()
    made = {}
    for key in KEYS:
        made[key] = make_paper(key)
        (folder / f"{key}.pdf").write_bytes(made[key].pdf)
    home = root / "home"
    home.mkdir()
    srv = start_server(home, "--no-digest", "--no-inbox", "--no-backup")
    try:
        p = run_cli("import", str(folder), "--json", home=home)
        assert json.loads(p.stdout)["added"] == 3, p.stdout
        yield srv, folder, made
    finally:
        srv.stop()


def test_import_through_the_server_returns_once_the_passages_are_searchable(library):
    srv, folder, made = library
    with srv.client() as c:
        # No wait here: the CLI's import above returned only when the server had read and embedded every page.
        text = c.get("/api/stats").json()["stats"]["text"]
        assert (text["files_read"], text["files_waiting"], text["passages_waiting"]) == (3, 0, 0)
        hits = c.get("/api/passages", params={"q": '"first meltwater pulse reached"'}).json()
        assert hits[0]["file"] == str(folder / "melt.pdf") and hits[0]["page"] == made["melt"].planted["phrase"]
        assert hits[0]["matched"] == ["words", "meaning"] and hits[0]["highlights"]
        question = c.get("/api/passages", params={"q": "why is there no oxygen at the bottom of the lake", "k": 3,
                                                  "per_paper": 0}).json()
        assert (str(folder / "lake.pdf"), made["lake"].planted["question"]) in [(h["file"], h["page"]) for h in question]
        inside = c.get("/api/passages", params={"q": "birds", "paper": hits[0]["paper_id"], "per_paper": 0}).json()
        assert all(h["paper_id"] == hits[0]["paper_id"] for h in inside)
        assert c.get("/api/passages", params={"q": "x", "paper": "arxiv:1111.11111"}).status_code == 404
        assert c.get("/api/passages", params={"q": "x" * 2001}).status_code == 400
        long = c.post("/api/passages", json={"q": "meltwater " * 1000})  # a pasted page: 10,000 characters
        assert long.status_code == 200 and long.json()[0]["file"].endswith("melt.pdf")
        assert c.post("/api/passages", json={"q": "x" * 10_001}).status_code == 400
        assert c.get("/api/passages", params={"q": "(AND\" : * -"}).status_code == 200
        related = c.post("/api/related", json={"title": "Arctic tern migration",
                                               "abstract": "Geolocators tracking seabirds.", "k": 3}).json()
        tern = next(h for h in related if h["title"] == made["terns"].title)
        assert tern["passage"]["file"].endswith("terns.pdf") and tern["passage"]["page"] >= 1
    assert httpx.get(f"{srv.url}/api/passages", params={"q": "melt"}).status_code == 401  # the token, as everywhere
    # The CLI through the same server: the passage, its file and page.
    p = run_cli("passages", '"geolocator weighing"', "--json", home=srv.home)
    got = json.loads(p.stdout)
    assert got[0]["file"].endswith("terns.pdf") and got[0]["page"] == made["terns"].planted["phrase"]
    p = run_cli("passages", '"geolocator weighing"', home=srv.home)
    assert "terns.pdf  page 1" in p.stdout and "Migration Routes of Arctic Terns" in p.stdout
    p = run_cli("stats", home=srv.home)
    assert "pages of 3 files read" in p.stdout
    p = run_cli("related", "--text", "tracking seabirds with geolocators on their migration", "--json", home=srv.home)
    tern = next(h for h in json.loads(p.stdout) if h["title"] == made["terns"].title)
    assert tern["passage"]["file"].endswith("terns.pdf") and len(tern["passage"]["text"].split()) >= 30
    p = run_cli("related", "--text", "tracking seabirds with geolocators on their migration", home=srv.home)
    assert "terns.pdf, page" in p.stdout.replace("\n", " ")


def _chromium_viewer_page(browser, want: int, timeout: float = 30) -> int | None:
    """The page Chromium's PDF viewer shows most of (1-based), asked of the viewer itself over CDP until it is
    `want` (it opens at the first page, then goes to the one its URL names)."""
    session = browser.new_browser_cdp_session()
    answers: list[dict] = []
    session.on("Target.receivedMessageFromTarget", lambda e: answers.append(json.loads(e["message"])))
    deadline = time.time() + timeout
    while time.time() < deadline:
        viewers = [t for t in session.send("Target.getTargets")["targetInfos"] if CHROMIUM_PDF_VIEWER in t["url"]]
        if viewers:
            sid = session.send("Target.attachToTarget", {"targetId": viewers[-1]["targetId"], "flatten": False})["sessionId"]
            expression = ("(() => { const v = document.querySelector('pdf-viewer'); "
                          "return v && v.viewport_ && v.viewport_.getMostVisiblePage(); })()")
            session.send("Target.sendMessageToTarget", {"sessionId": sid, "message": json.dumps(
                {"id": 1, "method": "Runtime.evaluate", "params": {"expression": expression, "returnByValue": True}})})
            time.sleep(0.3)
            value = next((a["result"]["result"].get("value") for a in answers if a.get("id") == 1), None)
            answers.clear()
            if isinstance(value, int) and value + 1 == want:
                return want
        time.sleep(0.3)
    return value + 1 if isinstance(value, int) else None


def test_the_library_page_shows_passages_and_opens_the_pdf_at_their_page(library, chromium, tmp_path):
    srv, folder, made = library
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(BROWSER_WAIT)
    try:
        page = ctx.new_page()
        page.goto(f"{srv.url}/#token={srv.token}")
        page.wait_for_selector("#app:not([hidden])")
        page.fill("#q", '"dammed for a mill"')
        page.press("#q", "Enter")
        page.wait_for_selector("#in-pdfs:not([hidden]) ol.passages li")
        item = page.locator("#in-pdfs ol.passages li").first
        assert item.locator("a.title").text_content() == made["lake"].title
        want = made["lake"].planted["question"]
        assert want > 1 and item.get_attribute("data-page") == str(want)
        assert [m.lower() for m in item.locator("mark").all_text_contents()] == ["dammed", "for", "a", "mill"]
        with ctx.expect_page() as opened:
            item.locator("a.open-page").click()
        tab = opened.value
        tab.wait_for_load_state("domcontentloaded")
        assert "/api/files/" in tab.url and "ticket=" in tab.url and srv.token not in tab.url
        assert tab.url.endswith(f"#page={want}&search=dammed%20for%20a%20mill")
        # Chromium's viewer itself shows that page.
        assert _chromium_viewer_page(chromium, want) == want
        tab.close()
        # A paper's own view searches inside its PDF: every passage, each at its page.
        item.locator("a.title").click()
        page.wait_for_selector("#detail .inside-pdf input")
        page.fill("#detail .inside-pdf input", "radiocarbon")
        page.press("#detail .inside-pdf input", "Enter")
        page.wait_for_selector("#detail ol.passages.inside li[data-page]")
        assert page.locator("#detail ol.passages.inside li[data-page]").count() >= 2
        page.screenshot(path=str(Path(__file__).parent / "artifacts" / "library-page-passages.png"))
    finally:
        ctx.close()


def test_firefoxs_pdf_viewer_opens_a_passage_link_at_its_page_with_its_words_found(library, tmp_path):
    from bidi import FIREFOX, Firefox

    if not Path(FIREFOX).exists():
        pytest.fail(f"{FIREFOX} is missing: `make test` installs Debian's firefox-esr")
    srv, folder, made = library
    with srv.client() as c:
        hit = c.get("/api/passages", params={"q": '"Mauritania"'}).json()[0]
        link = c.get(f"/api/files/{hit['file_id']}/link").json()["url"]
    ff = Firefox(tmp_path / "profile", {"pdfjs.disabled": False})
    try:
        tab = ff.tab()
        tab.goto(f"{srv.url}{link}#page={hit['page']}&search=Mauritania")
        assert tab.wait("window.PDFViewerApplication && PDFViewerApplication.pagesCount") >= 2
        assert tab.wait(f"PDFViewerApplication.page === {hit['page']} && PDFViewerApplication.page") == \
            made["terns"].planted["question"]
        assert tab.wait("document.querySelector('.textLayer .highlight') && "
                        "document.querySelector('.textLayer .highlight').textContent") == "Mauritania"
    finally:
        ff.close()
