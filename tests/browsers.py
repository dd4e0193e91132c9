"""What the browser tests share (a pytest plugin, registered in conftest.py): real (saved) pages served under
their real host names over HTTPS, so that the manifest's match patterns and the adapters meet what they meet in
daily use; Chromium and Firefox with the extension as a user installs it; the real server they pair with; and
the small steps every test takes (visit a page, read the panel, open the popup). Screenshots go to
tests/artifacts/."""

import http.server
import json
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from conftest import BROWSER_WAIT, CHROMIUM
from papershelf.pairing import EXTENSION_ID


ROOT = Path(__file__).resolve().parent.parent


EXT = ROOT / "extension"


PAGES = Path(__file__).parent / "fixtures" / "pages"


FIXTURES_PDFS = Path(__file__).parent / "fixtures" / "pdfs"


PUBLISHERS = PAGES / "publishers"


ARTIFACTS = Path(__file__).parent / "artifacts"


# (host, path) → file: pages written for papershelf in each site's structure, with invented papers (fixtures/pages).
SITES = {
    ("arxiv.org", "/abs/2410.04321"): PAGES / "arxiv-abs.html",
    ("arxiv.org", "/abs/2410.04321v3"): PAGES / "arxiv-abs.html",
    ("arxiv.org", "/abs/hep-th/9905111"): PAGES / "arxiv-abs-old.html",
    ("arxiv.org", "/list/gr-qc/new"): PAGES / "arxiv-listing-old.html",
    ("arxiv.org", "/list/cs.LG/new"): PAGES / "arxiv-listing-new.html",
    ("arxiv.org", "/html/2006.11239v2"): PAGES / "arxiv-html.html",
    ("huggingface.co", "/papers/2202.09368"): PAGES / "hf-paper.html",
    ("huggingface.co", "/papers"): PAGES / "hf-daily.html",
    ("openreview.net", "/forum"): PAGES / "openreview-forum.html",
    ("aclanthology.org", "/2024.acl-long.512/"): PAGES / "acl.html",
    ("www.semanticscholar.org", "/paper/What%E2%80%99s-Left-of-the-Tide-Okafor-Lindqvist/0123456789abcdef0123456789abcdef01234567"):
        PAGES / "semanticscholar.html",
    ("www.biorxiv.org", "/content/10.1101/2024.01.30.577970v1"): PAGES / "biorxiv.html",
    ("link.springer.com", "/article/10.1007/s10924-024-03210-7"): PAGES / "springer.html",
    ("journals.example.org", "/dc-only"): PAGES / "dc-only.html",
    ("proceedings.example.org", "/jsonld-only"): PAGES / "jsonld-only.html",
    ("hostile.example.org", "/paper"): PAGES / "hostile.html",
    ("hostile.example.org", "/papershelf"): PAGES / "fake-papershelf.html",
    ("blog.example.org", "/post"): None,  # an ordinary page: no paper, no panel
    # Publishers (test_adapters.py checks what is read from each; here a sample, with the extension).
    ("www.sciencedirect.com", "/science/article/pii/S0021999124001234"): PUBLISHERS / "sciencedirect.html",
    ("www.sciencedirect.com", "/search"): PUBLISHERS / "sciencedirect-search.html",
    ("ieeexplore.ieee.org", "/document/10234567"): PUBLISHERS / "ieee.html",
    ("pubmed.ncbi.nlm.nih.gov", "/38012345/"): PUBLISHERS / "pubmed.html",
    ("pubmed.ncbi.nlm.nih.gov", "/"): PUBLISHERS / "pubmed-search.html",
    ("www.tandfonline.com", "/doi/full/10.1080/01621459.2024.2123456"): PUBLISHERS / "tandf.html",
    ("journals.plos.org", "/plosone/article"): PUBLISHERS / "plos.html",
    ("dl.acm.org", "/doi/10.1145/3637528.3671001"): PAGES / "acm.html",
    ("journals.aps.org", "/prx/abstract/10.1103/PhysRevX.14.021099"): PAGES / "aps.html",
    ("journals.example.org", "/teaser-only"): PUBLISHERS / "teaser-only.html",
    # PDF tabs: the browser's PDF viewer, where no content script runs (fixtures/pdfs, made for papershelf).
    ("arxiv.org", "/pdf/2409.01234v2"): Path(__file__).parent / "fixtures" / "pdfs" / "twocol-arxiv.pdf",
    ("proceedings.example.org", "/paper/files/llncs-Paper.pdf"): Path(__file__).parent / "fixtures" / "pdfs" / "llncs-paper.pdf",
}


HOSTS = sorted({h for h, _ in SITES})


# Pages whose body arrives seconds after their head (a slow server, a long page): tests put them here.
SLOW: dict[tuple[str, str], list] = {}


BLOG = b"<!doctype html><title>A blog post</title><h1>My holiday</h1><p>Nothing academic.</p>"


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """One HTTPS server answering for every host name above (the browser maps them all to it); its port."""
    from https_pages import PageServer, certificate

    def page(host: str, path: str) -> bytes | list | None:
        if (host, path) in SLOW:
            return SLOW[(host, path)]
        f = SITES.get((host, path))
        return f.read_bytes() if f else BLOG if (host, path) == ("blog.example.org", "/post") else None

    httpd = PageServer(page, *certificate(tmp_path_factory.mktemp("cert"), HOSTS))
    yield httpd.port
    httpd.shutdown()


@pytest.fixture(scope="module")
def library(shared_server):
    """The real papershelf server these tests save into (this module's own copy of the sample)."""
    return shared_server


def written_extension(tmp_path_factory, browser: str) -> Path:
    """The extension as a user gets it: written out of the installed package by `papershelf extension`."""
    out = tmp_path_factory.mktemp(f"extension-{browser}") / "papershelf"
    subprocess.run([sys.executable, "-m", "papershelf.cli", "extension", "--browser", browser, "--out", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def browser(tmp_path_factory, sites, playwright):
    ext = written_extension(tmp_path_factory, "chromium")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium (apt-get install chromium)")
    rules = ", ".join(f"MAP {h} 127.0.0.1:{sites}" for h in HOSTS) + ", MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    ctx = playwright.chromium.launch_persistent_context(
        str(tmp_path_factory.mktemp("profile")), headless=True, executable_path=CHROMIUM,
        ignore_default_args=["--disable-extensions"], ignore_https_errors=True, viewport={"width": 1280, "height": 900},
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
              # (the extension's own fetch of a PDF tab meets the tests' self-signed certificate too)
              "--ignore-certificate-errors",
              "--disable-component-update", "--disable-sync", f"--disable-extensions-except={ext}",
              f"--load-extension={ext}", f"--host-resolver-rules={rules}"])
    ctx.set_default_timeout(BROWSER_WAIT)
    yield ctx
    ctx.close()


def worker(ctx):
    """The extension's service worker (MV3 workers stop when idle: look it up each time)."""
    for sw in ctx.service_workers:
        if sw.url.startswith(f"chrome-extension://{EXTENSION_ID}/"):
            return sw
    return ctx.wait_for_event("serviceworker", timeout=BROWSER_WAIT)


def configure(ctx, **values):
    worker(ctx).evaluate("v => chrome.storage.local.set(v)", values)


# A loaded test machine may bring a final list after the 300 ms within which a reader's panel still swaps it in:
# the tests wait for it instead (the late one, offered, has its own test).
FINAL_WITHIN_TESTS = 600_000


@pytest.fixture
def paired(browser, library):
    configure(browser, serverUrl=library.url, token=library.token, sites={}, relatedCount=5, minScore=0,
              finalWithinMs=FINAL_WITHIN_TESTS)
    return browser


def visit(ctx, url: str, state: str | None = None, timeout: float = BROWSER_WAIT):
    page = ctx.new_page()
    page.goto(url, wait_until="domcontentloaded")
    if state:  # and its final related papers arrived (they follow the badge, and a list by words)
        page.wait_for_selector(f'#papershelf-root[data-state="{state}"]', state="attached", timeout=timeout)
        page.wait_for_function("() => { const h = document.getElementById('papershelf-root');"
                               " return !h.shadowRoot.querySelector('.pending') && h.dataset.related !== 'words'; }",
                               timeout=timeout)
    return page


PANEL = "document.getElementById('papershelf-root')"


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def related_ids(page) -> list[str]:
    return page.evaluate("""() => [...document.getElementById('papershelf-root').shadowRoot
        .querySelectorAll('li[data-paper-id]')].map(li => li.dataset.paperId)""")


def shadow_click(page, selector: str) -> None:
    page.evaluate(f"""() => document.getElementById('papershelf-root').shadowRoot.querySelector({json.dumps(selector)}).click()""")


def trash(library, ref: str) -> None:
    """Move the paper with this identifier to the trash, if the library has it (another test may have saved it)."""
    found = lookup(library, ref=ref)
    if found["found"]:
        with library.client() as c:
            assert c.delete(f"/api/papers/{found['paper']['id']}").status_code == 200


def lookup(library, **params):
    with library.client() as c:
        return c.get("/api/lookup", params={**params, "k": 0}).json()


def popup(ctx, page_url: str | None = None):
    """The popup, opened as a page for the tab showing page_url (found by asking each tab's content script:
    without the "tabs" permission, which the extension does not ask for, tab URLs are not visible)."""
    tab = None
    if page_url:
        tab = worker(ctx).evaluate("""async (url) => {
            for (const t of await chrome.tabs.query({})) {
                try { const r = await chrome.tabs.sendMessage(t.id, {type: "current"}); if (r && r.url === url) return t.id; }
                catch (e) {}
            }
            return null; }""", page_url)
        assert tab, f"no tab shows {page_url}"
    page = ctx.new_page()
    page.goto(f"chrome-extension://{EXTENSION_ID}/popup.html" + (f"?tab={tab}" if tab else ""))
    return page


# Which related lists a page's panel showed, in order ("words", then "final"), seen from the page itself.
LISTS_SHOWN = """window.__lists = [];
new MutationObserver((records) => {
  for (const r of records) if (r.attributeName === 'data-related' && r.oldValue) window.__lists.push(r.oldValue);
  const h = document.getElementById('papershelf-root');
  window.__now = h && h.dataset.related;
}).observe(document, { subtree: true, childList: true, attributes: true, attributeOldValue: true,
                       attributeFilter: ['data-related'] });"""


def tab_state(ctx, page_url: str) -> dict | None:
    """What the content script of the tab showing page_url says: {paper, url, settled}."""
    return worker(ctx).evaluate("""async (url) => {
        for (const t of await chrome.tabs.query({})) {
            try { const r = await chrome.tabs.sendMessage(t.id, {type: "current"}); if (r && r.url === url) return r; }
            catch (e) {}
        }
        return null; }""", page_url)


def current_paper(ctx, page_url: str) -> dict:
    """What the content script found on the tab showing page_url (what it sends to the server)."""
    return (tab_state(ctx, page_url) or {}).get("paper")


def decided(ctx, page_url: str, timeout: float = 60) -> dict:
    """The content script's answer once it has decided what the page is (a paper, a listing or nothing)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = tab_state(ctx, page_url)
        if r and r["settled"]:
            return r
        time.sleep(0.1)
    raise AssertionError(f"the content script on {page_url} did not decide in {timeout} s")


# -- pairing in one click ------------------------------------------------------------------------------------
IMPOSTOR_PAGE = (PAGES / "fake-papershelf.html").read_bytes()  # looks like the library page, tries to pair itself


@pytest.fixture
def impostor():
    """A local web server that is not papershelf: its page looks like the library page, and it answers every
    request 200 with a stats-like body (it accepts any token, or none)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            api = self.path.startswith("/api/")
            body = b'{"stats": {"papers": 1, "model_id": "x"}}' if api else IMPOSTOR_PAGE
            self.send_response(200)
            self.send_header("Content-Type", "application/json" if api else "text/html")
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class HoldingProxy:
    """A proxy in front of the test's server that holds back the final related list (the panel's second
    /api/lookup/stream call, the one without words_only) until the test releases it: the order of a save's answer
    and that list, which a loaded machine decides at random, is the test's to choose."""

    def __init__(self, target: str):
        self.target, self.release, self.held = target, threading.Event(), threading.Event()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def relay(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path.startswith("/api/lookup/stream") and b'"words_only"' not in body:
                    proxy.held.set()
                    proxy.release.wait(BROWSER_WAIT / 1000)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = httpx.request(self.command, proxy.target + self.path, headers=headers, content=body, timeout=60)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PATCH = do_DELETE = do_OPTIONS = relay

            def log_message(self, *a):
                pass

        self.httpd = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()


@pytest.fixture
def holding_proxy(library):
    proxy = HoldingProxy(library.url)
    yield proxy
    proxy.close()


def stored(ctx) -> dict:
    return worker(ctx).evaluate("() => chrome.storage.local.get(['serverUrl', 'token'])")


def extension_state(page, want: str) -> None:
    page.wait_for_function(f"() => document.documentElement.dataset.extension === {json.dumps(want)}")


# -- the same extension in Firefox -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def firefox(tmp_path_factory, sites):
    """Debian's firefox-esr with the Firefox build of the extension (`papershelf extension --browser firefox`)."""
    from bidi import FIREFOX, Firefox, Tunnel

    if not Path(FIREFOX).exists():
        pytest.fail(f"{FIREFOX} is missing: `make test` installs Debian's firefox-esr (apt-get install firefox-esr)")
    unpacked = written_extension(tmp_path_factory, "firefox")
    tunnel = Tunnel(sites)
    ff = Firefox(tmp_path_factory.mktemp("firefox-profile"), {
        # Every https host goes through the tunnel to the tests' HTTPS server; 127.0.0.1 (papershelf) directly.
        "network.proxy.type": 1, "network.proxy.ssl": "127.0.0.1", "network.proxy.ssl_port": tunnel.port,
        "network.proxy.no_proxies_on": "127.0.0.1, localhost", "network.proxy.allow_hijacking_localhost": False,
        "network.dns.disableIPv6": True, "browser.shell.checkDefaultBrowser": False, "app.update.enabled": False,
        "datareporting.policy.dataSubmissionEnabled": False, "toolkit.telemetry.reportingpolicy.firstRun": False,
        "extensions.webextensions.restrictedDomains": "", "browser.aboutwelcome.enabled": False})
    ff.install(unpacked)
    # WebDriver BiDi may not open moz-extension:// pages, but a page the extension opened itself can be driven:
    # a fresh (unpaired) panel's "Open options" opens the options page in a tab, kept for the popup's test.
    tab = ff.tab()
    tab.goto("https://arxiv.org/abs/2410.04321")
    tab.wait(f"{PANEL} && {PANEL}.dataset.state === 'unpaired'")
    tab.click(f"[...{PANEL}.shadowRoot.querySelectorAll('button')].find(b => b.textContent === 'Open options')")
    ff.extension_page = ff.wait_for_tab(lambda url: url.startswith("moz-extension://") and url.endswith("/options.html"))
    # A loaded test machine may bring a final list after the 300 ms a reader's panel still swaps it in: the tests
    # wait for it (the late one, offered instead, has its own test).
    ff.extension_page.wait("document.readyState === 'complete'")
    ff.extension_page.eval(f"(async () => {{ await browser.storage.local.set({{finalWithinMs: {FINAL_WITHIN_TESTS}}}); return 1 }})()")
    tab.close()
    yield ff
    ff.close()
    tunnel.shutdown()


# -- PDF tabs and the side panel ----------------------------------------------------------------------------
PDF_TAB = "https://arxiv.org/pdf/2409.01234v2"


PDF_NO_ID = "https://proceedings.example.org/paper/files/llncs-Paper.pdf"


def tab_of(ctx, url: str) -> int:
    """The id of the tab showing this URL (the extension may read PDF tabs' URLs: its host permissions)."""
    return worker(ctx).evaluate("async (url) => (await chrome.tabs.query({url}))[0]?.id ?? null", url)


def toolbar(ctx, tab: int) -> tuple[str, str]:
    return tuple(worker(ctx).evaluate("""async (tabId) => [await chrome.action.getBadgeText({tabId}),
        await chrome.action.getTitle({tabId})]""", tab))


def wait_toolbar(ctx, tab: int, badge: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        text, title = toolbar(ctx, tab)
        if text == badge:
            return title
        time.sleep(0.2)
    raise AssertionError(f"the toolbar badge stayed {toolbar(ctx, tab)}, not {badge!r}")
