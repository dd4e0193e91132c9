"""A PDF open in a Chromium tab: its badge, and the popup saving the PDF itself (by its URL's id, or by its
bytes when the URL names no paper)."""

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
