"""The library page in a real browser (Playwright with Debian's Chromium, as the extension tests): the map and
the list, against a real server over a copy of the sample library. Screenshots go to tests/artifacts/."""

import json
from pathlib import Path

import pytest

from browsers import FIXTURES_PDFS, lookup
from conftest import BROWSER_WAIT

ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture
def context(chromium):
    """A browser context of its own (no extension: the page alone)."""
    ctx = chromium.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(BROWSER_WAIT)
    yield ctx
    ctx.close()


def screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.fixture
def page(chromium, shared_server):
    ctx = chromium.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(BROWSER_WAIT)
    tab = ctx.new_page()
    tab.goto(f"{shared_server.url}/#token={shared_server.token}")
    tab.wait_for_selector("#app:not([hidden])")
    yield tab
    ctx.close()


def quiet_map_count(shared_server) -> int:
    """The map's count once the library is still: papers other tests of the module saved (a PDF whose paper the
    worker is embedding) are placed on the map as they arrive, and would change it between two requests."""
    import time

    with shared_server.client() as c:
        deadline, last = time.time() + 60, None
        while time.time() < deadline:
            now = c.get("/api/map").json()["count"]
            if now == last and c.get("/api/stats").json()["stats"]["pending"] == 0:
                return now
            last = now
            time.sleep(0.5)
    return last


def import_pdf_then_show_papers_with_pdfs(page, shared_server, name: str, report: str) -> int:
    """A PDF given to the page's import (as a drop does), then the list narrowed to papers with a PDF: how many."""
    page.set_input_files("#import-file", str(FIXTURES_PDFS / name))
    page.click("#import-form button")
    page.wait_for_selector(f"#import-report:has-text('{report}')")
    with shared_server.client() as c:
        with_pdf = c.get("/api/papers", params={"pdf": "true"}).json()["total"]
    page.click("#facet-pdf-yes")
    return with_pdf


def test_the_map_draws_every_embedded_paper_and_a_click_opens_the_right_one(page, shared_server):
    want = quiet_map_count(shared_server)
    page.click("#view-map")
    page.wait_for_selector(f'#library-map[data-points="{want}"]')
    # The most isolated point on screen (so that the click cannot land on a neighbour), and its paper.
    target = page.evaluate("""() => {
        const m = document.getElementById('library-map').map;
        let best = null;
        const pts = m.ids.map((id) => [id, m.project(id)]);
        for (const [id, p] of pts) {
          const gap = Math.min(...pts.filter(([o]) => o !== id).map(([, q]) => Math.hypot(p.x - q.x, p.y - q.y)));
          if (!best || gap > best.gap) best = { id, x: p.x, y: p.y, gap };
        }
        return best; }""")
    box = page.locator("#library-map canvas").bounding_box()
    page.mouse.move(box["x"] + target["x"], box["y"] + target["y"])
    page.wait_for_selector(f'#library-map[data-hover-id="{target["id"]}"]')
    page.wait_for_selector(".map-tip:not([hidden])")
    with shared_server.client() as c:
        title = c.get(f"/api/papers/{target['id']}").json()["title"]
    assert page.text_content(".map-tip") == title
    # Where the point is drawn now: the PaCMAP layout may have replaced the first map since the hover.
    now = page.evaluate(f"() => document.getElementById('library-map').map.project({json.dumps(target['id'])})")
    page.mouse.click(box["x"] + now["x"], box["y"] + now["y"])
    page.wait_for_selector("#detail:not([hidden]) h2")
    assert page.text_content("#detail h2") == title
    # A search lights its hits on the map and dims the rest.
    page.fill("#q", "mixture of experts")
    page.press("#q", "Enter")
    page.wait_for_function("() => +document.getElementById('library-map').dataset.lit > 0"
                           " && document.getElementById('map-note').textContent.includes('match')")
    # The first map is PCA; the PaCMAP layout arrives by itself (the server's "map" event), the search still lit.
    page.wait_for_selector('#library-map[data-method="pacmap"]', timeout=2 * BROWSER_WAIT)  # a layout on one core
    page.wait_for_function("() => +document.getElementById('library-map').dataset.lit > 0")
    page.click("#detail .close")
    page.mouse.move(0, 0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "library-map.png"))
    # Zoom and pan move the points: the target is drawn elsewhere afterwards.
    before = page.evaluate(f"() => document.getElementById('library-map').map.project({json.dumps(target['id'])})")
    page.mouse.move(box["x"] + box["width"] / 4, box["y"] + box["height"] / 4)
    page.mouse.wheel(0, -400)
    after = page.evaluate(f"() => document.getElementById('library-map').map.project({json.dumps(target['id'])})")
    assert abs(after["x"] - before["x"]) + abs(after["y"] - before["y"]) > 5


def commit_year(page, key: str, value: str) -> None:
    """Type a year and commit it (its change event) in one step of the page. As two steps (fill, then the event),
    a list reload between them (another test's paper being embedded) redrew the box with the old year, and the
    event committed that."""
    page.evaluate("([key, value]) => { const box = document.getElementById(`facet-${key}`); box.value = value;"
                  " box.dispatchEvent(new Event('change')); }", [key, value])


def list_ids(page) -> list[str]:
    return page.evaluate("() => [...document.querySelectorAll('#list > li[data-paper-id]')].map(li => li.dataset.paperId)")


def test_facets_and_instant_search_combine_and_page_on_the_server(page, shared_server):
    with shared_server.client() as c:  # the sample has no years: two papers that do
        for year in (2019, 2024):
            c.post("/api/papers", json={"title": f"Latent diffusion for molecules, the {year} version", "year": year})
        found = c.get("/api/papers", params={"q": "diffusion"}).json()["total"]
        newer = c.get("/api/papers", params={"q": "diffusion", "year_min": 2023}).json()["total"]
    assert found > newer == 1
    page.fill("#q", "diffusion")  # no Enter: the list follows the box
    page.wait_for_function(f"() => document.getElementById('list-title').textContent === '{found} papers found'")
    commit_year(page, "year_min", "2023")
    page.wait_for_function(f"() => document.getElementById('list-title').textContent === '{newer} papers found'")
    with shared_server.client() as c:
        want = [p["id"] for p in c.get("/api/papers", params={"q": "diffusion", "year_min": 2023, "limit": 25}).json()["papers"]]
    assert list_ids(page) == want
    page.click("#clear-filters")
    page.wait_for_function("() => document.getElementById('list-title').textContent === 'Library'")
    assert page.input_value("#q") == ""


def test_a_year_being_typed_survives_a_reload_of_the_list_by_a_change_made_elsewhere(page, shared_server):
    page.wait_for_selector("#facet-year_max")
    page.fill("#facet-year_max", "2020")  # typed, not yet committed (no change event)
    page.evaluate("() => { document.getElementById('facet-year_max').dataset.before = 'reload'; }")
    with shared_server.client() as c:  # a save elsewhere: the page reloads its list and redraws the facets
        c.post("/api/papers", json={"title": "Typed while the list reloads"})
    page.wait_for_function("() => !document.getElementById('facet-year_max').dataset.before")
    assert page.input_value("#facet-year_max") == "2020"
    assert page.evaluate("() => document.activeElement.id") == "facet-year_max"
    page.dispatch_event("#facet-year_max", "change")  # and committing it then filters as usual
    page.wait_for_function("() => document.getElementById('list-title').textContent.endsWith('papers found')")
    commit_year(page, "year_max", "")
    page.wait_for_function("() => document.getElementById('list-title').textContent === 'Library'")


def test_select_with_shift_click_and_tag_in_bulk_then_all_matching(page, shared_server):
    page.wait_for_selector("#list input.pick")
    ids = list_ids(page)
    boxes = page.locator("#list input.pick")
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])  # a range: the first three
    assert page.text_content("#selection") == "3 selected"
    page.fill("#bulk-tags", "bulk-picked")
    page.click("#bulk-tag")
    page.wait_for_selector("#facets input[data-facet=tag][value=bulk-picked]")
    with shared_server.client() as c:
        assert {p["id"] for p in c.get("/api/papers", params={"tag": "bulk-picked"}).json()["papers"]} == set(ids[:3])
    # Narrow by words, then select every paper the filter finds (more than one page) and tag them. The page's
    # timers are the test's here: the list is reloaded (by another sort) before the typing's timer fires, as a
    # change made elsewhere did under load, and that timer must not come after and undo "select all matching".
    page.clock.install()
    page.clock.pause_at(page.evaluate("Date.now()") + 1000)  # from here on, no timer fires until run_for
    page.fill("#q", "language")
    page.select_option("#sort", "title")
    page.wait_for_function("() => document.getElementById('list-title').textContent.endsWith('papers found')")
    with shared_server.client() as c:
        matching = c.get("/api/papers", params={"q": "language"}).json()["total"]
    assert matching > 25
    page.check("#select-page")
    page.click("#select-all")
    page.wait_for_function(f"() => document.getElementById('selection').textContent === '{matching} selected'")
    page.clock.run_for(1000)
    page.fill("#bulk-tags", "bulk-all")
    page.click("#bulk-tag")
    page.wait_for_selector("#facets input[data-facet=tag][value=bulk-all]")
    with shared_server.client() as c:
        assert c.get("/api/papers", params={"tag": "bulk-all"}).json()["total"] == matching
    page.screenshot(path=str(ARTIFACTS / "library-list.png"))


def test_keyboard_moves_opens_selects_and_searches(page, shared_server):
    page.wait_for_selector("#list input.pick")
    ids = list_ids(page)
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    page.keyboard.press("ArrowDown")  # first, second, first, second
    assert page.get_attribute("#list", "data-cursor") == ids[1]
    page.keyboard.press("x")
    assert page.text_content("#selection") == "1 selected"
    page.keyboard.press("Enter")
    page.wait_for_selector("#detail:not([hidden]) h2")
    with shared_server.client() as c:
        assert page.text_content("#detail h2") == c.get(f"/api/papers/{ids[1]}").json()["title"]
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "q"


def test_the_paper_view_links_every_identifier_and_the_pdf(page, shared_server):
    with shared_server.client() as c:
        p = c.post("/api/papers", json={"title": "A paper with many identifiers to follow",
                                        "identifiers": ["arxiv:2101.00001", "doi:10.5555/links.1", "pmid:12345"]}).json()["paper"]
    page.fill("#q", "many identifiers to follow")
    page.wait_for_selector(f'#list li[data-paper-id="{p["id"]}"] a.title')
    page.click(f'#list li[data-paper-id="{p["id"]}"] a.title')
    page.wait_for_selector("#detail:not([hidden]) .ids a")
    links = page.evaluate("() => [...document.querySelectorAll('#detail .ids a')].map(a => [a.textContent, a.href])")
    assert ["arxiv:2101.00001", "https://arxiv.org/abs/2101.00001"] in links
    assert ["doi:10.5555/links.1", "https://doi.org/10.5555/links.1"] in links
    assert ["pmid:12345", "https://pubmed.ncbi.nlm.nih.gov/12345/"] in links
    assert ["open PDF", "https://arxiv.org/pdf/2101.00001"] in links


def test_dropping_files_imports_them_with_progress_and_a_report_that_stays(page, shared_server):
    bib = ("@article{drop1, title={Dropped paper about graph neural networks for molecules}, author={Doe, Jane}, year={2024}}\n"
           "@article{drop2, title={Another dropped paper on protein language models}, author={Roe, Rick}, year={2023}}\n"
           "@article{drop3, author={Nobody}}\n")
    page.wait_for_selector("body[data-live=yes]")  # the server's events reach the page
    page.evaluate("""() => { window.progressSeen = [];
        new MutationObserver(() => { const t = document.getElementById('import-progress').textContent; if (t) window.progressSeen.push(t); })
          .observe(document.getElementById('import-progress'), { childList: true, characterData: true, subtree: true }); }""")
    page.evaluate("""(text) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], 'dropped.bib', { type: 'text/plain' }));
        window.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt }));
        window.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, cancelable: true }));
    }""", bib)
    page.wait_for_selector("#import-report .report")
    report = page.text_content("#import-report")
    assert "added 2" in report and "failed 1" in report and "record" in report
    assert any("importing dropped.bib" in t for t in page.evaluate("() => window.progressSeen"))
    page.wait_for_selector("#list li[data-paper-id]:has-text('Dropped paper about graph')")  # the list reloaded
    assert page.query_selector("#import-report .report")  # and the report stayed
    page.click("#import-report .dismiss")
    assert page.query_selector("#import-report .report") is None
    with shared_server.client() as c:
        assert c.get("/api/papers", params={"q": "Dropped paper about graph"}).json()["total"] == 1


def test_the_duplicates_review_merges_undoes_and_keeps_both(page, shared_server):
    with shared_server.client() as c:
        a = c.post("/api/papers", json={"title": "Scaling laws for neural language models revisited",
                                        "authors": ["Jared Kaplan"], "identifiers": ["arxiv:2001.08361"],
                                        "tags": ["scaling"]}).json()["paper"]
        b = c.post("/api/papers", json={"title": "Scaling Laws for Neural Language Models Revisited",
                                        "authors": ["Someone Else"], "abstract": "A second look at the laws.",
                                        "identifiers": ["doi:10.5555/scaling.2"]}).json()["paper"]
    assert a["id"] != b["id"]  # another first author: the automatic merge left them apart
    page.click("#view-duplicates")
    pair = f'#duplicates li[data-pair="{min(a["id"], b["id"])} {max(a["id"], b["id"])}"]'
    page.wait_for_selector(pair)
    assert "another first author" in page.text_content(f"{pair} .why")
    page.screenshot(path=str(ARTIFACTS / "library-duplicates.png"))
    keep_a = "keep-a" if min(a["id"], b["id"]) == a["id"] else "keep-b"
    page.click(f"{pair} button.{keep_a}")  # keep the first paper; the second goes into it
    page.wait_for_selector("#undo-merge")
    with shared_server.client() as c:
        kept = c.get(f"/api/papers/{a['id']}").json()
        assert set(kept["identifiers"]) == {"arxiv:2001.08361", "doi:10.5555/scaling.2"}
        assert kept["abstract"] == "A second look at the laws." and kept["tags"] == ["scaling"]
        assert c.get(f"/api/papers/{b['id']}").json()["id"] == a["id"]  # its id now names the kept paper
    assert page.query_selector(pair) is None
    page.click("#undo-merge")
    page.wait_for_selector(pair)
    with shared_server.client() as c:
        assert c.get(f"/api/papers/{a['id']}").json()["identifiers"] == ["arxiv:2001.08361"]
        back = c.get(f"/api/papers/{b['id']}").json()
        assert back["id"] == b["id"] and back["identifiers"] == ["doi:10.5555/scaling.2"]
    page.click(f"{pair} button.keep-both")
    page.wait_for_selector(pair, state="detached")
    with shared_server.client() as c:
        assert not [p for p in c.get("/api/duplicates").json() if {p["a"]["id"], p["b"]["id"]} == {a["id"], b["id"]}]


def test_todays_papers_show_on_the_map_as_rings_that_name_themselves(page, shared_server):
    from test_digest import FeedServer, add_feed_and_wait

    feeds = FeedServer()
    try:
        with shared_server.client() as c:
            add_feed_and_wait(c, feeds.url + "/rss")
            overlay = c.get("/api/map/digest").json()
        assert len(overlay["ids"]) == 4  # the feed's five papers, but one is in the library already
        page.click("#view-map")
        page.wait_for_selector("#library-map[data-points]")
        page.check("#map-digest")
        page.wait_for_selector('#library-map[data-overlay="4"]')
        where = page.evaluate("""() => { const m = document.getElementById('library-map').map;
            const [x, y] = m.toScreen(m.extra.x[0], m.extra.y[0]); return { x, y, id: m.extra.ids[0] }; }""")
        box = page.locator("#library-map canvas").bounding_box()
        page.mouse.move(box["x"] + where["x"], box["y"] + where["y"])
        page.wait_for_selector(f'#library-map[data-hover-id="{where["id"]}"]')
        assert page.text_content(".map-tip") == "new today: " + overlay["titles"][0]
    finally:
        feeds.close()


def visible_view(page) -> str:
    return page.evaluate("""() => [['library', 'library-view'], ['map', 'map-view'], ['duplicates', 'duplicates-view'],
        ['today', 'today']].filter(([, box]) => !document.getElementById(box).hidden).map(([v]) => v).join(',')""")


def wait_for_view(page, view: str, paper_title: str | None = None) -> None:
    boxes = {"library": "library-view", "map": "map-view", "duplicates": "duplicates-view", "today": "today"}
    page.wait_for_selector(f"#{boxes[view]}:not([hidden])")
    assert visible_view(page) == view
    if paper_title is None:
        page.wait_for_selector("#detail", state="hidden")
    else:
        page.wait_for_function("t => !document.getElementById('detail').hidden && "
                               "document.querySelector('#detail h2')?.textContent === t", arg=paper_title)


def test_every_view_and_opened_paper_is_a_history_entry_and_switching_views_closes_the_paper(page, shared_server):
    first = page.locator("#list > li[data-paper-id] a.title").first
    title, pid = first.text_content(), page.locator("#list > li[data-paper-id]").first.get_attribute("data-paper-id")
    first.click()
    wait_for_view(page, "library", title)
    assert page.evaluate("location.hash") == f"#paper/{pid}"
    page.click("#view-map")
    wait_for_view(page, "map")  # the paper closed: it covered half of the map
    page.click("#view-today")
    wait_for_view(page, "today")
    page.click("#view-duplicates")
    wait_for_view(page, "duplicates")
    # Back through all of it, and forward again.
    for view, paper in [("today", None), ("map", None), ("library", title), ("library", None)]:
        page.go_back()
        wait_for_view(page, view, paper)
    page.go_forward()
    wait_for_view(page, "library", title)
    page.go_forward()
    wait_for_view(page, "map")
    # An address typed into the bar: a view, and a paper open in a view.
    page.goto(f"{shared_server.url}/#today")
    wait_for_view(page, "today")
    page.goto(f"{shared_server.url}/#map/paper/{pid}")
    wait_for_view(page, "map", title)
    page.click("#detail .close")
    wait_for_view(page, "map")
    assert page.evaluate("location.hash") == "#map"
    # A fresh load of a paper's address opens it.
    page.goto(f"{shared_server.url}/")
    page.goto(f"{shared_server.url}/#paper/{pid}")
    page.reload()
    wait_for_view(page, "library", title)


def test_enter_gives_the_ranked_search_and_the_instant_filter_does_not_replace_it(page):
    """Typing filters the list a moment after the last key; Enter asks for the ranked search. On a slow machine
    the filter's answer can come last: it must not replace the search that Enter asked for."""
    held, holding = [], [True]

    def hold(route):  # the list's requests wait until the test lets them go
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/api/papers?*", hold)
    page.fill("#q", "mixture of experts routing")
    page.press("#q", "Enter")
    page.wait_for_selector("#list-title:has-text('Search: mixture of experts routing')")
    first = page.locator("#list li[data-paper-id] a.title").first.text_content()
    holding[0] = False
    for route in held:  # whatever list the page asked for answers now, after the search (each once: Playwright
        route.continue_()  # refuses a route handled twice, which unrouting first could do)
    page.unroute("**/api/papers?*")
    page.wait_for_load_state("networkidle")
    assert page.text_content("#list-title") == "Search: mixture of experts routing"
    assert page.locator("#list li[data-paper-id] a.title").first.text_content() == first


def test_a_bib_followed_from_the_page_is_listed_synced_and_its_edit_arrives_by_itself(page, shared_server, tmp_path):
    bib = tmp_path / "followed.bib"
    entries = [f"@article{{follow{i}, title={{A followed paper on page-driven topic {i}}}, year={{2024}}}}\n"
               for i in range(6)]
    bib.write_text("".join(entries))
    page.fill("#source-location", str(bib))
    page.click("#source-form button")
    item = page.wait_for_selector("#sources li.source[data-kind=file]:has-text('6 papers')")
    sid = item.get_attribute("data-id")
    page.wait_for_selector("#list li[data-paper-id]:has-text('A followed paper on page-driven topic 5')")
    bib.write_text("".join(entries).replace("page-driven topic 5", "page-driven topic five, edited"))
    # The server follows the file: the page hears of the sync and shows the edit, with no click.
    page.wait_for_selector("#list li[data-paper-id]:has-text('page-driven topic five, edited')")
    bib.write_text("".join(entries[:3]))  # half the file gone at once: the sync waits for the user
    page.wait_for_selector(f"#sources li[data-id='{sid}'] .held:has-text('would remove 3 of the 6')")
    with shared_server.client() as c:
        assert c.get("/api/papers", params={"q": "page-driven topic"}).json()["total"] == 6
    page.click(f"#sources li[data-id='{sid}'] button.confirm")
    page.wait_for_selector(f"#sources li.source[data-id='{sid}']:has-text('3 papers')")
    page.on("dialog", lambda d: d.accept())
    page.click(f"#sources li[data-id='{sid}'] button.unfollow")
    page.wait_for_selector(f"#sources li[data-id='{sid}']", state="detached")
    with shared_server.client() as c:
        assert c.get("/api/sources").json() == []
        assert c.get("/api/papers", params={"q": "page-driven topic"}).json()["total"] == 0  # only it held them


def test_a_link_with_a_token_the_server_refuses_changes_nothing(page, shared_server, chromium):
    """Any site can open http://127.0.0.1:8765/#token=junk: the page asks the server before it keeps a token."""
    page.goto("about:blank")  # (a site sends the tab there from elsewhere: a new load, not a change of hash)
    page.goto(f"{shared_server.url}/#token=junk-from-another-site")
    page.wait_for_selector("#app:not([hidden])")  # still signed in
    page.wait_for_function("() => document.getElementById('status').textContent.includes('not accepted')")
    assert page.evaluate("() => localStorage.getItem('papershelf-token')") == shared_server.token
    assert "junk" not in page.url
    fresh = chromium.new_context()
    try:
        tab = fresh.new_page()
        tab.goto(f"{shared_server.url}/#token=junk-from-another-site")
        tab.wait_for_selector("#pair:not([hidden])")
        assert "not accepted" in tab.text_content("#pair-error")
        assert tab.evaluate("() => localStorage.getItem('papershelf-token')") is None
        tab.fill("#token", "also-junk")
        tab.click("#pair-form button")
        tab.wait_for_function("() => document.getElementById('pair-error').textContent.includes('not accepted')")
        assert tab.evaluate("() => localStorage.getItem('papershelf-token')") is None
        tab.fill("#token", shared_server.token)
        tab.click("#pair-form button")
        tab.wait_for_selector("#app:not([hidden])")
    finally:
        fresh.close()


def test_a_stored_javascript_address_is_never_a_link_and_nothing_breaks_the_policy(page, shared_server):
    """An old library may hold a `javascript:` url (a page's og:url): the page shows it as no link. And the page,
    a paper and the map draw under the Content-Security-Policy without one refusal."""
    refused = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    with shared_server.client() as c:
        p = c.post("/api/papers", json={"title": "A paper whose page lied about its address"}).json()["paper"]

    def lie(route):
        body = route.fetch().json()
        body["url"] = "javascript:document.title='pwned'"
        route.fulfill(json=body)

    page.route(f"**/api/papers/{p['id']}", lie)
    page.reload()
    page.wait_for_selector("#app:not([hidden])")
    page.fill("#q", "lied about its address")
    page.wait_for_selector(f'#list li[data-paper-id="{p["id"]}"] a.title')
    page.click(f'#list li[data-paper-id="{p["id"]}"] a.title')
    page.wait_for_selector("#detail:not([hidden]) h2")
    assert page.text_content("#detail h2") == p["title"]
    assert page.evaluate("() => [...document.querySelectorAll('#detail a')].filter(a => /^javascript:/i.test("
                         "a.getAttribute('href') || '')).length") == 0
    related = page.query_selector("#detail .related .bar")
    if related:
        assert related.evaluate("b => b.style.width").endswith("px")
    page.click("#view-map")
    page.wait_for_selector("#library-map[data-points]")
    assert refused == []


def test_unreadable_files_are_listed_and_read_again_on_request(page, shared_server, tmp_path):
    import sys
    import time

    sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "pdfs"))
    import hostile

    folder = tmp_path / "followed"
    bad = hostile.write(folder, "looping-page-tree.pdf")
    with shared_server.client() as c:
        added = c.post("/api/sources", json={"location": str(folder)}).json()
        assert [f["position"] for f in added["sync"]["failed"]] == [bad.name]
    page.reload()
    page.wait_for_selector("#unreadable:not([hidden])")
    page.click("#unreadable-count")
    assert bad.name in page.text_content("#unreadable-files") and "page tree" in page.text_content("#unreadable-files")
    sid = added["source"]["id"]
    with shared_server.client() as c:
        page.click("#retry-failed")
        deadline = time.time() + 30
        while time.time() < deadline:
            source = c.get(f"/api/sources/{sid}").json()
            if source["last_sync_at"] > added["source"]["last_sync_at"]:
                break
            time.sleep(0.2)
        failed = source["last_report"]["failed"]
        assert failed and "page tree" in failed[0]["reason"] and "failed before" not in failed[0]["reason"]
        (again,) = [u for u in c.get("/api/files/unreadable").json() if u["name"].endswith(bad.name)]
        assert again["attempts"] == 1  # forgotten, then read again (and it failed again)
        c.delete(f"/api/sources/{sid}")


def test_library_page_works_in_a_browser(context, shared_server):
    page = context.new_page()
    page.goto(f"{shared_server.url}/#token={shared_server.token}")  # the link `papershelf serve` prints
    page.wait_for_selector("#list li[data-paper-id]")
    assert "#token" not in page.url  # the token does not stay in the address bar
    assert "papers" in page.text_content("#stats")
    assert "null" not in page.text_content("#stats") and "undefined" not in page.text_content("body")
    assert len(page.query_selector_all("#list li[data-paper-id]")) == 25
    page.click("#next")
    page.wait_for_selector("#page:has-text('26–50')")
    page.fill("#q", "mixture of experts routing")
    page.press("#q", "Enter")
    page.wait_for_selector("#list-title:has-text('Search')")
    first = page.locator("#list li[data-paper-id] a.title").first  # a locator: found again if the list is redrawn
    why = page.text_content("#list li[data-paper-id] .why")
    assert any(w in first.text_content() for w in ("Expert", "MoE", "Routing")) and "routing" in why, (
        first.text_content(), why)
    first.click()
    page.wait_for_selector("#detail ol.related li[data-paper-id]")
    assert "null" not in page.text_content("#detail")
    page.fill("#detail input[aria-label=tags]", "moe, to-read")
    page.click("#detail button:has-text('Save tags and notes')")
    page.wait_for_selector("#detail input[aria-label=tags][value='moe, to-read']")
    screenshot(page, "library-page")
    with shared_server.client() as c:
        assert c.get("/api/papers", params={"tag": "to-read"}).json()["total"] == 1
    # Without a token the page asks for one instead of showing a blank list.
    fresh = context.new_page()
    fresh.goto(shared_server.url + "/")
    fresh.evaluate("() => localStorage.clear()")
    fresh.reload()
    fresh.wait_for_selector("#pair:not([hidden])")
    page.close()
    fresh.close()


def test_library_page_takes_a_pdf_shows_its_file_opens_it_and_filters_by_it(context, shared_server):
    page = context.new_page()
    page.goto(f"{shared_server.url}/#token={shared_server.token}")
    page.wait_for_selector("#list li[data-paper-id]")
    with shared_server.client() as c:
        c.delete("/api/papers/" + (lookup(shared_server, title="Thermal Hall Effect of Magnons in a Kagome Ferromagnet")
                                   .get("paper") or {}).get("id", "none"))
    # A PDF given to the page's import (as a drop does): read, kept, and in the report.
    with_pdf = import_pdf_then_show_papers_with_pdfs(page, shared_server, "revtex-letter.pdf", "added 1")
    # The list redrawn with the papers that have a PDF only (the paper just added heads the unfiltered list too).
    page.wait_for_function(f"() => document.querySelectorAll('#list li[data-paper-id]').length === {min(with_pdf, 25)}")
    page.wait_for_selector("#list li[data-paper-id] a.title:has-text('Thermal Hall Effect')")
    assert page.text_content("#list-title")
    page.click("#list li[data-paper-id] a.title:has-text('Thermal Hall Effect')")
    page.wait_for_selector("#detail ul.files a.open-file")
    assert "kept by papershelf" in page.text_content("#detail ul.files")
    with context.expect_page() as opened:
        page.click("#detail ul.files a.open-file")
    tab = opened.value
    tab.wait_for_load_state("domcontentloaded")
    assert "/api/files/" in tab.url and "ticket=" in tab.url and shared_server.token not in tab.url
    screenshot(page, "library-page-pdf")
    tab.close()
    page.close()


def test_a_paper_is_edited_in_its_detail_undone_and_its_row_shows_who_when_where_and_its_pdf(page, shared_server):
    with shared_server.client() as c:
        p = c.post("/api/papers", json={"title": "Scan 0042 final copy", "authors": ["Ada Lovelace", "Switzerland"],
                                        "identifiers": ["doi:10.5555/edit.page"]}).json()["paper"]
    page.fill("#q", "Scan 0042 final copy")
    row = f'#list li[data-paper-id="{p["id"]}"]'
    # The list the search box asked for (a click on the first list's row, as it is replaced, can land elsewhere).
    page.wait_for_function("() => document.getElementById('list-title').textContent.endsWith('papers found')")
    page.wait_for_selector(f"{row} a.title")
    page.click(f"{row} a.title")
    opened = page.wait_for_function("""() => !!document.querySelector('#detail button.edit-paper')
        || document.getElementById('status').textContent""").json_value()
    assert opened is True, f"the paper did not open: {opened}"  # (the page's status says why)
    page.click("#detail button.edit-paper")
    form = "#detail form.edit-form"
    page.fill(f"{form} input[name=title]", "Notes on the analytical engine")
    page.fill(f"{form} textarea[name=authors]", "Ada Lovelace\nCharles Babbage")
    page.fill(f"{form} input[name=year]", "1843")
    page.fill(f"{form} input[name=venue]", "Scientific Memoirs")
    page.select_option(f"{form} select[name=entry_type]", "article")
    page.fill(f"{form} textarea[name=identifiers]", "doi:10.5555/edit.page\narxiv:not an id")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(f"{form} .error:has-text('arxiv:not an id')")  # refused, the form stays as typed
    page.fill(f"{form} textarea[name=identifiers]", "doi:10.5555/edit.page")
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector("#detail h2:has-text('Notes on the analytical engine')")
    assert "Ada Lovelace, Charles Babbage · 1843 · Scientific Memoirs · article" in page.text_content("#detail .meta")
    assert "Edited by you: title, authors, year, venue, type" in page.text_content("#detail .edited")
    with shared_server.client() as c:
        got = c.get(f"/api/papers/{p['id']}").json()
    assert (got["title"], got["authors"], got["year"]) == ("Notes on the analytical engine",
                                                           ["Ada Lovelace", "Charles Babbage"], 1843)
    # The row in the list: first authors, year, venue.
    page.fill("#q", "analytical engine")
    page.wait_for_selector(f"{row} .meta:has-text('Ada Lovelace, Charles Babbage · 1843 · Scientific Memoirs')")
    page.click("#detail button.undo-edit")
    page.wait_for_selector("#detail h2:has-text('Scan 0042 final copy')")
    assert not page.query_selector("#detail .edited")  # undone whole: no field is the user's
    with shared_server.client() as c:
        got = c.get(f"/api/papers/{p['id']}").json()
    assert (got["title"], got["authors"], got["year"], got["edited"]) == (
        "Scan 0042 final copy", ["Ada Lovelace", "Switzerland"], None, [])


def test_each_row_marks_a_pdf_and_a_long_venue_name_stays_inside_the_sidebar(page, shared_server):
    long_venue = "Proceedings of the " + "Very Long Annual International Conference on Everything " * 4
    with shared_server.client() as c:
        c.post("/api/papers", json={"title": "A paper from a venue with a very long name", "venue": long_venue})
    with_pdf = import_pdf_then_show_papers_with_pdfs(page, shared_server, "llncs-paper.pdf", "added")
    page.wait_for_selector(f"#list-title:has-text('{with_pdf} papers found')")
    marks = page.evaluate("() => [...document.querySelectorAll('#list li[data-paper-id]')].map(li => !!li.querySelector('.pdf-mark'))")
    assert len(marks) == min(with_pdf, 25) and all(marks)  # every paper with a PDF says so
    page.click("#facet-pdf-yes")  # off again
    page.wait_for_selector("#list-title:text-is('Library')")
    page.wait_for_selector("#facet-venue")
    # Both boxes measured at once, in the page: the facets are redrawn whenever the list is (an import's events).
    select, aside = page.evaluate("""() => [document.getElementById('facet-venue'), document.querySelector('aside')]
        .map((e) => { const r = e.getBoundingClientRect(); return { right: r.right, width: r.width }; })""")
    assert select["width"] > 0 and select["right"] <= aside["right"] + 1, (select, aside)
