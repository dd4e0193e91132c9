"""Pairing the extension with the server in Chromium: only the papershelf page hands the token over, an
impostor page learns nothing, and an unpaired or offline extension says what to do."""

from browsers import FINAL_WITHIN_TESTS, configure, decided, extension_state, popup, shot, stored, visit, worker
from papershelf.pairing import EXTENSION_ID


# -- the tests -------------------------------------------------------------------------------------------------
def test_extension_id_is_the_one_the_server_allows(browser):
    assert worker(browser).url.startswith(f"chrome-extension://{EXTENSION_ID}/")


def test_offline_and_unpaired_states(browser, library):
    configure(browser, serverUrl="http://127.0.0.1:9", token=library.token)
    page = visit(browser, "https://arxiv.org/abs/2410.04321", "offline")
    text = page.evaluate("() => document.getElementById('papershelf-root').shadowRoot.textContent")
    assert "papershelf serve" in text and "papershelf service install" in text
    shot(page, "panel-offline")
    configure(browser, serverUrl=library.url, token="")
    page.wait_for_selector('#papershelf-root[data-state="unpaired"]', state="attached")
    assert "papershelf token" in page.evaluate("() => document.getElementById('papershelf-root').shadowRoot.textContent")
    configure(browser, serverUrl=library.url, token="wrong-token")
    page.wait_for_selector('#papershelf-root[data-state="unpaired"]', state="attached")
    shot(page, "panel-unpaired")
    page.close()


def test_popup_says_how_to_start_the_server_or_pair(browser, library):
    configure(browser, serverUrl="http://127.0.0.1:9", token=library.token)
    pop = popup(browser)
    pop.wait_for_selector("#state[data-state=offline]")
    said = pop.text_content("#state")
    assert "papershelf serve" in said and "start at every login" in said and "papershelf service install" in said
    shot(pop, "popup-offline")
    configure(browser, serverUrl=library.url, token="")
    pop.reload()
    pop.wait_for_selector("#state[data-state=unpaired]")
    assert "papershelf token" in pop.text_content("#state")
    pop.close()


def test_options_are_saved(browser, library):
    page = browser.new_page()
    page.goto(f"chrome-extension://{EXTENSION_ID}/options.html")
    page.fill("#serverUrl", library.url + "/")
    page.fill("#token", library.token)
    page.uncheck('[data-site="semanticscholar"]')
    page.fill("#relatedCount", "7")
    page.fill("#minScore", "0.2")
    page.click("#save")
    page.wait_for_selector("#saved:has-text('Saved')")
    stored = worker(browser).evaluate("() => chrome.storage.local.get(null)")
    assert stored["serverUrl"] == library.url and stored["token"] == library.token
    assert stored["sites"]["semanticscholar"] is False and stored["sites"]["arxiv"] is True
    assert stored["relatedCount"] == 7 and stored["minScore"] == 0.2
    page.click("#test")
    page.wait_for_selector("#saved:has-text('Connected')")
    shot(page, "options")
    # A site switched off gets no panel; the minimum similarity and the count apply to related lists.
    s2 = "https://www.semanticscholar.org/paper/What%E2%80%99s-Left-of-the-Tide-Okafor-Lindqvist/0123456789abcdef0123456789abcdef01234567"
    off = visit(browser, s2)
    assert decided(browser, s2)["paper"] is None
    assert off.query_selector("#papershelf-root") is None
    on = visit(browser, "https://huggingface.co/papers/2202.09368")
    on.wait_for_selector('#papershelf-root[data-state]:not([data-state="loading"])', state="attached")
    scores = on.evaluate("""() => [...document.getElementById('papershelf-root').shadowRoot
        .querySelectorAll('li .why')].map(e => parseFloat(e.textContent.split('·')[0].trim() || e.textContent))""")
    assert len(scores) <= 7 and all(s >= 0.2 for s in scores if s == s)
    for p in (page, off, on):
        p.close()
    configure(browser, serverUrl=library.url, token=library.token, sites={}, relatedCount=5, minScore=0,
              finalWithinMs=FINAL_WITHIN_TESTS)


def test_the_library_page_pairs_the_extension_in_one_click(browser, library):
    configure(browser, serverUrl="http://127.0.0.1:8765", token="")  # a new install: not paired
    page = browser.new_page()
    page.goto(f"{library.url}/#token={library.token}")
    extension_state(page, "unpaired")
    page.wait_for_selector("#pair-extension", state="visible")
    shot(page, "pairing-before")
    # A script on the page clicking the button does nothing: only the user's click pairs.
    page.evaluate("() => document.getElementById('pair-extension').click()")  # refused as it is dispatched
    assert stored(browser)["token"] == "" and page.evaluate("() => document.documentElement.dataset.extension") == "unpaired"
    page.click("#pair-extension")
    extension_state(page, "paired")
    assert page.is_hidden("#pair-extension") and "connected" in page.text_content("#extension-status")
    shot(page, "pairing-after")
    assert stored(browser) == {"serverUrl": library.url, "token": library.token}
    # Paper pages now get their badge, and the library page says "paired" on every visit.
    visit(browser, "https://arxiv.org/abs/2410.04321").wait_for_selector(
        '#papershelf-root[data-state="in-library"], #papershelf-root[data-state="not-in-library"]', state="attached",
        )
    again = browser.new_page()
    again.goto(library.url + "/")
    extension_state(again, "paired")
    assert again.is_hidden("#pair-extension")
    page.close()
    again.close()


def test_a_page_that_is_not_papershelf_cannot_pair_or_learn_the_token(browser, library, impostor):
    configure(browser, serverUrl=library.url, token=library.token)  # paired with the real server
    page = browser.new_page()
    page.goto(impostor + "/")
    extension_state(page, "unpaired")  # the extension is not paired with this "server"
    page.click("#pair-extension")  # even a real click: the server does not prove it is papershelf
    page.wait_for_function("() => !!document.documentElement.dataset.extensionError")
    assert "did not accept" in page.evaluate("() => document.documentElement.dataset.extensionError")
    assert stored(browser) == {"serverUrl": library.url, "token": library.token}  # the pairing is untouched
    assert library.token not in page.content()
    # The same page on a public origin: the pairing script does not run there at all.
    public = visit(browser, "https://hostile.example.org/papershelf")
    public.wait_for_selector("#pair-extension")
    public.click("#pair-extension")
    decided(browser, "https://hostile.example.org/papershelf")  # every content script of the page has run
    assert public.evaluate("() => document.documentElement.dataset.extension") is None
    assert stored(browser) == {"serverUrl": library.url, "token": library.token}
    page.close()
    public.close()
