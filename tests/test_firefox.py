"""The extension in Firefox ESR over WebDriver BiDi: pairing, badges and saving, an impostor page, the options
and the popup, and a PDF tab with the sidebar."""

import json

from browsers import ARTIFACTS, PANEL, PDF_TAB, lookup, trash


def options_page(firefox):
    """The extension's options page (the tab the fixture kept), loaded: another test may have taken it elsewhere."""
    ext = firefox.extension_page
    if not ext.eval("location.pathname.endsWith('/options.html')"):
        ext.eval("(() => { location.href = 'options.html'; return 1 })()")
    ext.wait("location.pathname.endsWith('/options.html') && document.readyState === 'complete'"
             " && typeof browser === 'object' && !!document.getElementById('serverUrl')")
    return ext


def unpair(firefox) -> None:
    """Forget the pairing (another test of this module may have paired), through the extension's own page."""
    options_page(firefox).eval("(async () => { await browser.storage.local.set({token: ''}); return 1 })()")


def click_connect(tab) -> None:
    """"Connect this browser" on a papershelf page: the button is shown a moment after the page says it is
    unpaired (on a loaded machine, a click in between found it not displayed)."""
    tab.wait("!document.getElementById('pair-extension').hidden")
    tab.click("document.getElementById('pair-extension')")


def test_firefox_pairs_through_the_library_page_then_badges_and_saves(firefox, library):
    unpair(firefox)
    tab = firefox.tab()
    tab.goto(f"{library.url}/#token={library.token}")
    tab.wait("document.documentElement.dataset.extension === 'unpaired'")
    click_connect(tab)
    tab.wait("document.documentElement.dataset.extension === 'paired'")
    assert "connected" in tab.eval("document.getElementById('extension-status').textContent")
    # A paper page: the badge, then one click saves it with its abstract.
    with library.client() as c:
        c.delete("/api/papers/arxiv:2410.04321")  # (another test may have saved it)
    tab.goto("https://arxiv.org/abs/2410.04321")
    tab.wait(f"{PANEL} && {PANEL}.dataset.state === 'not-in-library'")
    tab.wait(f"{PANEL}.shadowRoot.querySelectorAll('li[data-paper-id]').length > 0")
    tab.screenshot(ARTIFACTS / "firefox-panel-not-in-library.png")
    tab.wait(f"{PANEL}.dataset.related === 'final'")  # as a reader would: Save once the panel stands still
    tab.click(f"{PANEL}.shadowRoot.querySelector('button.save')")
    tab.wait(f"{PANEL}.dataset.state === 'in-library'")
    tab.screenshot(ARTIFACTS / "firefox-panel-in-library.png")
    r = lookup(library, arxiv="2410.04321")
    assert r["found"] and r["paper"]["abstract"].startswith("Sparse mixture-of-experts (MoE) layers give")
    # A listing page marks what is in the library.
    tab.goto("https://arxiv.org/list/gr-qc/new")
    with library.client() as c:
        c.post("/api/papers", json={"title": "Tidal Love Numbers of Boson Stars", "identifiers": ["arxiv:2411.08102"]})
    tab.goto("https://arxiv.org/list/gr-qc/new")
    tab.wait("document.querySelectorAll('papershelf-mark').length > 0")


def test_firefox_an_impostor_cannot_pair_and_an_ordinary_page_gets_no_panel(firefox, library, impostor):
    tab = firefox.tab()
    tab.goto(f"{library.url}/#token={library.token}")  # paired with the real server (as the test above left it)
    tab.wait("document.documentElement.dataset.extension")
    if tab.eval("document.documentElement.dataset.extension") == "unpaired":
        click_connect(tab)
        tab.wait("document.documentElement.dataset.extension === 'paired'")
    tab.goto(impostor + "/")
    tab.wait("document.documentElement.dataset.extension === 'unpaired'")
    click_connect(tab)
    assert "did not accept" in tab.wait("document.documentElement.dataset.extensionError")
    # Still paired with the real server: a paper page gets its badge from it.
    tab.goto("https://huggingface.co/papers/2202.09368")
    tab.wait(f"{PANEL} && ['in-library', 'not-in-library'].includes({PANEL}.dataset.state)")
    tab.goto("https://blog.example.org/post")
    # The content script has decided there is no paper here (asked from the extension's own page).
    firefox.extension_page.wait("""(async () => {
        for (const t of await browser.tabs.query({})) {
          try { const r = await browser.tabs.sendMessage(t.id, {type: "current"});
                if (r && r.url === "https://blog.example.org/post") return r.settled && r.paper === null; }
          catch (e) {}
        }
        return false; })()""", timeout=60)
    assert tab.eval(f"{PANEL} === null")


def test_firefox_elseviers_article_page_gets_its_badge_and_a_save_keeps_doi_and_abstract(firefox, library):
    """ScienceDirect's pages have no citation_author and the abstract only in the body (issue #15)."""
    tab = firefox.tab()
    tab.goto(f"{library.url}/#token={library.token}")
    tab.wait("document.documentElement.dataset.extension")
    if tab.eval("document.documentElement.dataset.extension") == "unpaired":
        click_connect(tab)
        tab.wait("document.documentElement.dataset.extension === 'paired'")
    trash(library, "doi:10.1016/j.jcp.2024.112345")
    tab.goto("https://www.sciencedirect.com/science/article/pii/S0021999124001234")
    tab.wait(f"{PANEL} && {PANEL}.dataset.state === 'not-in-library'")
    # As a reader would: Save once the panel stands still (the final list can move the button as it arrives).
    tab.wait(f"{PANEL}.dataset.related === 'final'")
    tab.click(f"{PANEL}.shadowRoot.querySelector('button.save')")
    tab.wait(f"{PANEL}.dataset.state === 'in-library'")
    saved = lookup(library, ref="doi:10.1016/j.jcp.2024.112345")["paper"]
    assert saved["authors"] == ["Marta Okafor", "Jonas Lindqvist"]
    assert saved["abstract"].startswith("Reconstructing a flow field") and "Highlights" not in saved["abstract"]
    tab.close()


def test_firefox_options_pair_by_hand_and_the_popup_saves_removes_and_searches(firefox, library):
    ext = options_page(firefox)
    ext.eval(f"(() => {{ document.getElementById('serverUrl').value = {json.dumps(library.url)};"
             f" document.getElementById('token').value = {json.dumps(library.token)}; return 1 }})()")
    ext.click("document.getElementById('save')")
    ext.wait("document.getElementById('saved').textContent.includes('Saved')")
    ext.click("document.getElementById('test')")
    ext.wait("document.getElementById('saved').textContent.includes('Connected')")
    assert library.url in ext.wait("document.getElementById('paired-with').textContent")
    # The popup, for the tab showing a paper (opened as a page, as the Chromium tests do).
    paper = firefox.tab()
    paper.goto("https://openreview.net/forum?id=AAWuCvzaVt")
    paper.wait(f"{PANEL} && ['in-library', 'not-in-library'].includes({PANEL}.dataset.state)")
    tab_id = ext.eval('''(async () => {
        for (const t of await browser.tabs.query({})) {
          try { const r = await browser.tabs.sendMessage(t.id, {type: "current"}); if (r && r.url.includes("AAWuCvzaVt")) return t.id; }
          catch (e) {}
        }
        return null; })()''')
    assert tab_id, "no tab shows the OpenReview page"
    ext.eval(f"(() => {{ location.href = 'popup.html?tab={tab_id}'; return 1 }})()")
    ext.wait("location.pathname.endsWith('/popup.html') && !!document.querySelector('#state[data-state=ok]')")
    assert ext.wait("document.querySelector('#page b')?.textContent") == "Diffusion Models Beat GANs on Image Synthesis"
    if ext.eval("!!document.getElementById('remove')"):  # saved by an earlier test: remove, then save again
        ext.click("document.getElementById('remove')")
        ext.wait("!!document.getElementById('save')")
    ext.click("document.getElementById('save')")
    ext.wait("!!document.getElementById('remove')")
    assert lookup(library, ref="openreview:AAWuCvzaVt")["found"]
    ext.click("document.getElementById('remove')")
    ext.wait("!!document.getElementById('save')")
    assert not lookup(library, ref="openreview:AAWuCvzaVt")["found"]
    ext.eval("(() => { document.getElementById('q').value = 'speech recognition';"
             " document.getElementById('search-form').requestSubmit(); return 1 })()")
    assert "Speech" in ext.wait("document.querySelector('#results li[data-paper-id]')?.textContent")
    ext.screenshot(ARTIFACTS / "firefox-popup-search.png")
    paper.close()


def test_firefox_a_pdf_tab_gets_its_badge_the_popup_saves_it_and_the_sidebar_lists_related(firefox, library):
    ext = firefox.extension_page
    ext.wait("document.readyState === 'complete'")
    ext.eval(f"(async () => {{ await browser.storage.local.set({{serverUrl: {json.dumps(library.url)}, "
             f"token: {json.dumps(library.token)}}}); return 1 }})()")
    trash(library, "arxiv:2409.01234")
    pdf = firefox.tab()
    pdf.goto(PDF_TAB)
    tab_id = ext.wait(f"(async () => (await browser.tabs.query({{url: {json.dumps(PDF_TAB)}}}))[0]?.id)()")
    ext.wait(f"(async () => (await browser.action.getBadgeText({{tabId: {tab_id}}})) === '+')()")
    assert "Not in your library" in ext.eval(f"browser.action.getTitle({{tabId: {tab_id}}})")
    ext.eval(f"(() => {{ location.href = 'popup.html?tab={tab_id}'; return 1 }})()")
    ext.wait("location.pathname.endsWith('/popup.html') && document.getElementById('save')?.textContent === 'Save PDF to library'")
    ext.click("document.getElementById('save')")
    ext.wait("!!document.getElementById('remove')")
    found = lookup(library, ref="arxiv:2409.01234")
    assert found["found"] and found["paper"]["files"][0]["kept"] and found["paper"]["url"] == PDF_TAB
    ext.wait(f"(async () => (await browser.action.getBadgeText({{tabId: {tab_id}}})) === '✓')()")
    # The sidebar's page (Firefox's sidebar_action), for that tab: the paper and its related papers.
    ext.eval(f"(() => {{ location.href = 'sidepanel.html?tab={tab_id}'; return 1 }})()")
    ext.wait("location.pathname.endsWith('/sidepanel.html') && document.getElementById('side')?.dataset.state === 'in-library'")
    ext.wait("document.querySelectorAll('#related li[data-paper-id]').length > 0")
    assert "Sparse Retrieval Heads" in ext.eval("document.querySelector('.paper-title').textContent")
    ext.screenshot(ARTIFACTS / "firefox-sidebar-pdf.png")
    ext.eval("(() => { location.href = 'options.html'; return 1 })()")  # as the fixture left it
    pdf.close()
