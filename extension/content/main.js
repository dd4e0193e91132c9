// On a page: find the paper (or the listing's entries) with the site's adapter, ask the service worker
// (content scripts never call the server themselves), show the panel or the marks. Single-page sites are
// followed across in-app navigation.
(() => {
  const papershelf = globalThis.papershelf;
  if (papershelf.started) return;
  papershelf.started = true;
  // The epoch clock the service worker shares, for the panel's timing breakdown (dataset.timing).
  const now = () => performance.timeOrigin + performance.now();
  const scriptStarted = now();
  let readStarted = scriptStarted; // when the page's paper was last read (the timing breakdown)
  const LOADING_AFTER_MS = 300;
  let panel = null;
  let current = null; // the paper on this page, for the popup
  let lastUrl = null;
  // Whether run() has decided what this page is (a paper, a listing, or nothing): the popup and the tests ask
  // (`current`) rather than guess from the time that passed.
  let settled = false;

  const ask = (msg) => chrome.runtime.sendMessage(msg).catch((e) => ({ state: "offline", error: String(e) }));

  // The paper is sent at once; the service worker holds the settings (a site switched off, the panel hidden,
  // how many related papers) and says what to show. Reading storage here first cost 5-20 ms per page.
  // The answer comes in parts on a port: the badge as soon as the server knows, then the related papers.
  // Resolves once the first part (or a "site off", or the worker's silence) has decided what the page shows.
  function showPaper(paper, site) {
    current = paper;
    let decided;
    const first = new Promise((resolve) => { decided = resolve; });
    const t = { read: readStarted, sent: now() };
    // A slow answer (the server just started) shows that the panel is looking, not nothing.
    const slow = setTimeout(() => { if (current === paper) placePanel().render({ state: "loading" }); }, LOADING_AFTER_MS);
    const port = chrome.runtime.connect({ name: "lookup" });
    let view = null;
    let saved = null; // the save's answer: a related list that arrives after it never takes the badge back
    const done = () => { clearTimeout(slow); try { port.disconnect(); } catch { /* gone */ } };
    port.onDisconnect.addListener(() => {
      clearTimeout(slow);
      if (!view && current === paper) placePanel().render({ state: "offline", error: "the extension's worker stopped" });
      decided();
    });
    port.onMessage.addListener((res) => {
      if (current !== paper) { decided(); return done(); } // navigated away meanwhile
      if (res.state === "off") { removePanel(); decided(); return done(); }
      if (res.panel === false) { panel?.remove(); panel = null; decided(); return done(); } // the popup still knows the paper
      clearTimeout(slow);
      t[view ? "answered" : "first"] = now();
      // The final list replaces the list by words once, and only while the reader can hardly have started on
      // it (the worker says when it is `late`): later, it is offered, not swapped in.
      view = res.late ? { ...view, ...res, related: view.related, final: false, held: res.related }
        : { ...view, ...res, teaser: paper.abstractFrom === "description" };
      if (res.late) t.held = true;
      if (saved) view = { ...view, state: saved.state, paper: saved.paper };
      view.onSave = async () => {
        const answer = await save(paper, view);
        if (answer.state === "in-library" && current === paper) saved = answer;
      };
      view.onShowFinal = () => { view = { ...view, related: view.held, final: true, held: undefined }; panel.render(view); };
      placePanel().render(view);
      const shown = now();
      t.badge = t.badge || shown;
      if (res.related !== undefined) t.list = t.list || shown; // the first related list: by words, or the final one
      t.rendered = shown;
      decided();
      if (res.last) { done(); timed(panel.host, res.timing, t); }
      else if (res.final === false) port.postMessage({ drawn: true }); // now the final list may take the CPU
    });
    port.postMessage({ paper, site, since: t.read });
    return first;
  }

  async function save(paper, view) {
    panel.render({ ...view, saving: true });
    const saved = await ask({ type: "save", paper });
    if (saved.state === "in-library") panel.render(saved);
    else panel.render({ ...view, ...saved, state: saved.state === "error" ? "not-in-library" : saved.state, saving: false });
    return saved;
  }

  function placePanel() {
    panel = panel && panel.host.isConnected ? panel : new papershelf.Panel();
    panel.host.dataset.paper = current.ids[0] || current.title;
    return panel;
  }

  function removePanel() { panel?.remove(); panel = null; current = null; }

  // Where the time from DOMContentLoaded to the panel went, for bench/panel.py and anyone asking why a panel
  // was slow (negative: before DOMContentLoaded): this script's start, when reading the page began (its head
  // parsed, or DOMContentLoaded) and how long it took, the message to the service worker (waking it), the
  // server call (its first part, the server's share of it, the words' list, the final related part), the way
  // back, the render; then the next frame. `badge`: when the badge was on screen; `list`: the first related
  // list (by words, for a paper not in the library); `total`: the final one (`held`: it came late, and is offered).
  function timed(host, worker, t) {
    if (document.readyState === "loading") { // drawn before DOMContentLoaded: count from it once it comes
      document.addEventListener("DOMContentLoaded", () => timed(host, worker, t), { once: true });
      return;
    }
    const nav = performance.getEntriesByType("navigation")[0];
    const dcl = performance.timeOrigin + (nav ? nav.domContentLoadedEventStart : 0);
    const timing = { total: t.rendered - dcl, badge: t.badge - dcl, list: (t.list || t.rendered) - dcl, held: !!t.held,
      script: scriptStarted - dcl, read: t.read - dcl, page: t.sent - t.read,
      toWorker: worker ? worker.received - t.sent : null, calls: worker ? worker.calls : [],
      back: worker ? (t.answered || t.first) - worker.replied : null, render: t.rendered - (t.answered || t.first) };
    host.dataset.timing = JSON.stringify(timing);
    requestAnimationFrame(() => { host.dataset.timing = JSON.stringify({ ...timing, frame: now() - dcl }); });
  }

  async function markListing(entries, site) {
    if (!entries.length) return;
    const ids = [...new Set(entries.flatMap((e) => e.ids))].slice(0, 200);
    const titles = Object.fromEntries(entries.filter((e) => e.title).map((e) => [e.ids[0], e.title]));
    const res = await ask({ type: "batch", ids, titles, site });
    if (!res || !res.results) return;
    for (const e of entries) {
      const hit = e.ids.map((i) => res.results[i]).find((r) => r && r.found);
      if (hit) papershelf.markEntry(e.anchor, hit);
    }
    document.documentElement.dataset.papershelfMarked = String(entries.length);
  }

  async function run() {
    settled = false;
    try {
      await decide();
    } finally {
      settled = true;
    }
  }

  async function decide() {
    lastUrl = location.href;
    const adapter = papershelf.findAdapter(location);
    if (!adapter) { removePanel(); return; }
    if (adapter.listing) {
      removePanel();
      return markListing(adapter.listing(document), adapter.site);
    }
    // Single-page apps fill the page after navigation: try for a moment until the paper is there.
    for (let attempt = 0; attempt < 20; attempt++) {
      readStarted = now();
      const paper = papershelf.extractPaper(adapter, document, location);
      if (paper && paper.title) return showPaper(paper, adapter.site);
      await new Promise((r) => setTimeout(r, 150));
    }
    removePanel();
  }

  // The scripts are injected at document_start (manifest.json): compiled, in their own world, while the page is
  // still arriving, instead of in the busy moment after DOMContentLoaded. The paper is read as soon as the page's
  // head is parsed (its body begins): a head that gives everything the lookup needs (a title, authors and a full
  // abstract: the citation_* tags most publishers and arXiv have) is looked up at once, while the body is still
  // parsed. At DOMContentLoaded the page is read again: the same paper keeps that lookup (and takes what the body
  // added, for a save); another asks again. Any other page is read at DOMContentLoaded.
  function start() {
    if (document.readyState !== "loading") { run(); return; }
    lastUrl = location.href; // not an in-app navigation (the interval below) while the page loads
    let early = null;
    const headParsed = new MutationObserver(() => {
      if (!document.body) return;
      headParsed.disconnect();
      early = lookUpFromHead();
    });
    headParsed.observe(document, { childList: true, subtree: true });
    document.addEventListener("DOMContentLoaded", () => {
      headParsed.disconnect();
      const adapter = early && papershelf.findAdapter(location);
      const paper = adapter && papershelf.extractPaper(adapter, document, location);
      if (paper && early === current && lookupKey(paper) === lookupKey(early)) Object.assign(early, paper);
      else run();
    }, { once: true });
  }

  const lookupKey = (p) => JSON.stringify([p.ids, p.url, p.title, p.abstract]);
  const complete = (p) => !!(p && p.title && p.abstract && p.abstractFrom === "abstract" && p.authors.length);

  function lookUpFromHead() {
    let adapter, paper;
    readStarted = now();
    try {
      adapter = papershelf.findAdapter(location);
      paper = adapter && !adapter.listing && papershelf.extractPaper(adapter, document, location);
    } catch { return null; } // an adapter that needs the body: DOMContentLoaded reads it
    if (!complete(paper)) return null;
    lastUrl = location.href;
    settled = false;
    showPaper(paper, adapter.site).finally(() => { settled = true; });
    return paper;
  }

  chrome.runtime.onMessage.addListener((msg, _sender, reply) => {
    if (msg.type === "current") { reply({ paper: current, url: location.href, settled }); return false; }
    if (msg.type === "refresh") { run(); reply({ ok: true }); return false; }
    return false;
  });
  chrome.storage.onChanged.addListener((changes) => {
    if (changes.token || changes.serverUrl || changes.sites || changes.relatedCount || changes.minScore || changes.hideLoose) run();
  });
  // In-app navigation (pushState) on Hugging Face and Semantic Scholar: follow the URL.
  setInterval(() => { if (location.href !== lastUrl) run(); }, 400);
  window.addEventListener("popstate", () => run());
  start();
})();
