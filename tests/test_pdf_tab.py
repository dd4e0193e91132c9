"""A PDF open in a Chromium tab: its badge, and the popup saving the PDF itself (by its URL's id, or by its
bytes when the URL names no paper)."""

import time
from pathlib import Path

from browsers import FIXTURES_PDFS, PDF_NO_ID, PDF_TAB, lookup, shot, tab_of, trash, wait_toolbar
from papershelf.pairing import EXTENSION_ID


def test_a_pdf_tab_gets_its_badge_and_the_popup_saves_the_pdf_itself(paired, library):
    trash(library, "arxiv:2409.01234")
    page = paired.new_page()
    page.goto(PDF_TAB, wait_until="domcontentloaded")
    tab = tab_of(paired, PDF_TAB)
    assert tab, "no tab shows the PDF"
    assert "Not in your library: arXiv:2409.01234v2" in wait_toolbar(paired, tab, "+")
    pop = paired.new_page()
    pop.goto(f"chrome-extension://{EXTENSION_ID}/popup.html?tab={tab}")
    pop.wait_for_selector("#save")
    assert pop.text_content("#save") == "Save PDF to library"
    pop.click("#save")
    pop.wait_for_selector("#remove")
    shot(pop, "popup-pdf-saved")
    found = lookup(library, ref="arxiv:2409.01234")
    assert found["found"], "the PDF's paper is not in the library"
    paper = found["paper"]
    assert paper["title"] == "Sparse Retrieval Heads for Efficient Long-Context Question Answering"
    assert paper["abstract"].startswith("Long-context language models spend most of their inference budget")
    assert paper["url"] == PDF_TAB and paper["files"][0]["kept"]  # the bytes themselves are kept
    assert (FIXTURES_PDFS / "twocol-arxiv.pdf").read_bytes() == Path(paper["files"][0]["path"]).read_bytes()
    assert "In your library: Sparse Retrieval Heads" in wait_toolbar(paired, tab, "✓")
    # The popup opens the kept PDF from the server, in a tab, without the token in its URL.
    with paired.expect_page() as opened:
        pop.click("#open-pdf")
    pdf_tab = opened.value
    pdf_tab.wait_for_load_state("domcontentloaded")
    assert "/api/files/" in pdf_tab.url and library.token not in pdf_tab.url
    for p in (pdf_tab, pop, page):
        p.close()


def test_a_pdf_tab_whose_url_names_no_paper_is_saved_by_its_bytes(paired, library):
    trash(library, "doi:10.0000/none")  # (nothing: the URL names no identifier)
    page = paired.new_page()
    page.goto(PDF_NO_ID, wait_until="domcontentloaded")
    tab = tab_of(paired, PDF_NO_ID)
    if wait_toolbar(paired, tab, "✓" if lookup(library, url=PDF_NO_ID)["found"] else "+").startswith("In your"):
        with library.client() as c:
            c.delete(f"/api/papers/{lookup(library, url=PDF_NO_ID)['paper']['id']}")
        page.reload()
        wait_toolbar(paired, tab, "+")
    pop = paired.new_page()
    pop.goto(f"chrome-extension://{EXTENSION_ID}/popup.html?tab={tab}")
    pop.click("#save")
    pop.wait_for_selector("#remove")
    found = lookup(library, url=PDF_NO_ID)
    assert found["found"] and found["paper"]["title"] == "Verifying Smart Contract Upgrades with Bounded Model Checking"
    wait_toolbar(paired, tab, "✓")
    pop.close()
    page.close()


def test_the_side_panel_on_a_library_papers_pdf_tab_searches_inside_it_and_opens_the_page(paired, library):
    # The paper with its PDF, kept (as the popup's save leaves it), read into passages by the server's background.
    with library.client() as c:
        found = lookup(library, ref="arxiv:2409.01234")
        if found["found"] and not found["paper"]["files"]:
            c.delete(f"/api/papers/{found['paper']['id']}")
        with open(FIXTURES_PDFS / "twocol-arxiv.pdf", "rb") as f:
            assert c.post("/api/import", files={"file": ("2409.01234v2.pdf", f, "application/pdf")}).status_code == 200
        pid = lookup(library, ref="arxiv:2409.01234")["paper"]["id"]
        deadline = time.time() + 120
        while not c.get("/api/passages", params={"q": "legal contracts", "paper": pid}).json():
            assert time.time() < deadline, "the PDF's passages were not read in 2 minutes"
            time.sleep(0.2)
    page = paired.new_page()
    page.goto(PDF_TAB, wait_until="domcontentloaded")
    tab = tab_of(paired, PDF_TAB)
    assert "In your library: Sparse Retrieval Heads" in wait_toolbar(paired, tab, "✓")
    side = paired.new_page()
    side.goto(f"chrome-extension://{EXTENSION_ID}/sidepanel.html?tab={tab}")
    side.fill("#inside-q", "legal contracts")
    side.press("#inside-q", "Enter")
    side.wait_for_selector("#inside li[data-page] .passage mark")
    # The panel redraws as the related list comes in steps and on a setting's change; the reader's query and its
    # passages stay (a CI run lost them to a redraw between the answer and the reading of it).
    side.wait_for_selector('#side[data-related="final"]')
    side.evaluate("() => { window.relatedBefore = document.getElementById('related'); }")
    side.evaluate("() => chrome.storage.local.set({ relatedCount: 6 })")
    side.wait_for_function("() => document.getElementById('side').dataset.related === 'final'"
                           " && document.getElementById('related') !== window.relatedBefore")
    assert side.input_value("#inside-q") == "legal contracts"
    assert [m.lower() for m in side.locator("#inside li .passage").first.locator("mark").all_text_contents()] == \
        ["legal", "contracts"]
    side.evaluate("() => chrome.storage.local.set({ relatedCount: 5 })")  # the session's browser is shared
    with paired.expect_page() as opened:
        side.locator("#inside a.open-page").first.click()
    pdf = opened.value
    pdf.wait_for_load_state("domcontentloaded")
    assert "/api/files/" in pdf.url and pdf.url.endswith("#page=1&search=legal%20contracts")
    assert library.token not in pdf.url
    shot(side, "side-panel-inside-pdf")
    for p in (pdf, side, page):
        p.close()
