"""The library page in a real browser (Playwright with Debian's Chromium, as the extension tests): the map and
the list, against a real server over a copy of the sample library. Screenshots go to tests/artifacts/."""

import json
from pathlib import Path

import pytest

from playwright import sync_api as pw  # installed by `make test` (the test extra); missing = failing

CHROMIUM = "/usr/lib/chromium/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)")
    p = pw.sync_playwright().start()
    b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
    yield b
    b.close()
    p.stop()


@pytest.fixture
def page(browser, shared_server):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = ctx.new_page()
    tab.goto(f"{shared_server.url}/#token={shared_server.token}")
    tab.wait_for_selector("#app:not([hidden])")
    yield tab
    ctx.close()


def test_the_map_draws_every_embedded_paper_and_a_click_opens_the_right_one(page, shared_server):
    with shared_server.client() as c:
        want = c.get("/api/map").json()["count"]
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
    page.mouse.click(box["x"] + target["x"], box["y"] + target["y"])
    page.wait_for_selector("#detail:not([hidden]) h2")
    assert page.text_content("#detail h2") == title
    # A search lights its hits on the map and dims the rest.
    page.fill("#q", "mixture of experts")
    page.press("#q", "Enter")
    page.wait_for_function("() => +document.getElementById('library-map').dataset.lit > 0")
    assert "match" in page.text_content("#map-note")
    # The first map is PCA; the PaCMAP layout arrives by itself (the server's "map" event), the search still lit.
    page.wait_for_selector('#library-map[data-method="pacmap"]', timeout=60_000)
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
