// On a page: find the paper (or the listing's entries) with the site's adapter, ask the service worker
// (content scripts never call the server themselves), show the panel or the marks. Single-page sites are
// followed across in-app navigation.
(() => {
  const papershelf = globalThis.papershelf;
  if (papershelf.started) return;
  papershelf.started = true;
  let panel = null;
  let current = null; // the paper on this page, for the popup
  let lastUrl = null;

  const ask = (msg) => chrome.runtime.sendMessage(msg).catch((e) => ({ state: "offline", error: String(e) }));

  async function settings() {
    return chrome.storage.local.get({ sites: {}, relatedCount: 5, minScore: 0, hideLoose: false, panel: true });
  }

  async function showPaper(paper, opts) {
    current = paper;
    if (!opts.panel) return;
    panel = panel && panel.host.isConnected ? panel : new papershelf.Panel();
    panel.host.dataset.paper = paper.ids[0] || paper.title;
    panel.render({ state: "loading" });
    const t0 = performance.now();
    const res = await ask({ type: "lookup", paper, k: opts.relatedCount });
    if (current !== paper) return; // navigated away meanwhile
    const view = { ...res };
    view.onSave = async () => {
      panel.render({ ...view, saving: true });
      const saved = await ask({ type: "save", paper });
      if (saved.state === "in-library") panel.render(saved);
      else panel.render({ ...view, ...saved, state: saved.state === "error" ? "not-in-library" : saved.state, saving: false });
    };
    panel.render(view);
    // Measured by the browser tests: DOMContentLoaded → related papers on screen.
    panel.host.dataset.renderedAt = String(performance.now());
    panel.host.dataset.lookupMs = String(Math.round(performance.now() - t0));
  }

  async function markListing(entries) {
    if (!entries.length) return;
    const ids = [...new Set(entries.flatMap((e) => e.ids))].slice(0, 200);
    const titles = Object.fromEntries(entries.filter((e) => e.title).map((e) => [e.ids[0], e.title]));
    const res = await ask({ type: "batch", ids, titles });
    if (!res || !res.results) return;
    for (const e of entries) {
      const hit = e.ids.map((i) => res.results[i]).find((r) => r && r.found);
      if (hit) papershelf.markEntry(e.anchor, hit);
    }
    document.documentElement.dataset.papershelfMarked = String(entries.length);
  }

  async function run() {
    lastUrl = location.href;
    const opts = await settings();
    const adapter = papershelf.findAdapter(location, opts.sites);
    if (!adapter) { panel?.remove(); panel = null; current = null; return; }
    if (adapter.listing) {
      panel?.remove(); panel = null; current = null;
      return markListing(adapter.listing(document));
    }
    // Single-page apps fill the page after navigation: try for a moment until the paper is there.
    for (let attempt = 0; attempt < 20; attempt++) {
      const paper = papershelf.extractPaper(adapter, document, location);
      if (paper && paper.title) return showPaper(paper, opts);
      await new Promise((r) => setTimeout(r, 150));
    }
    panel?.remove(); panel = null; current = null;
  }

  chrome.runtime.onMessage.addListener((msg, _sender, reply) => {
    if (msg.type === "current") { reply({ paper: current, url: location.href }); return false; }
    if (msg.type === "refresh") { run(); reply({ ok: true }); return false; }
    return false;
  });
  chrome.storage.onChanged.addListener((changes) => {
    if (changes.token || changes.serverUrl || changes.sites || changes.relatedCount || changes.minScore || changes.hideLoose) run();
  });
  // In-app navigation (pushState) on Hugging Face and Semantic Scholar: follow the URL.
  setInterval(() => { if (location.href !== lastUrl) run(); }, 400);
  window.addEventListener("popstate", () => run());
  run();
})();
