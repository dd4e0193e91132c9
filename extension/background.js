// The service worker: the only part of the extension that talks to the papershelf server. Content scripts
// and the popup send it messages; it fetches http://127.0.0.1:PORT with the pairing token. (A content
// script's own fetch would carry the page's origin, which the server rightly refuses.)
import { paperFromPdfUrl, pdfFileName } from "./pdftab.js";

// finalWithinMs: how long after a page was read its final related list may still replace the list by words
// (later, the panel offers it instead of moving the list under the reader's eyes).
export const DEFAULTS = { serverUrl: "http://127.0.0.1:8765", token: "", sites: {}, relatedCount: 5, minScore: 0, hideLoose: false, panel: true,
  finalWithinMs: 300 };

// Read once per worker life and on every change: each page's lookup would otherwise wait on storage twice.
let settingsRead = null;
chrome.storage.onChanged.addListener(() => { settingsRead = null; });
async function settings() {
  settingsRead = settingsRead || chrome.storage.local.get(DEFAULTS);
  return settingsRead;
}

// A clock shared with the page's content script (both count from the epoch), for the panel's timing breakdown.
const now = () => performance.timeOrigin + performance.now();

// One request to the server with the token: {response} when it answered 2xx, else {state: "offline" |
// "unpaired" | "error", ...}.
async function request(path, { method = "GET", body, form } = {}) {
  const s = await settings();
  if (!s.token) return { state: "unpaired" };
  let r;
  try {
    r = await fetch(s.serverUrl.replace(/\/$/, "") + path, {
      method,
      headers: { Authorization: `Bearer ${s.token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: form || (body ? JSON.stringify(body) : undefined),
    });
  } catch (e) {
    return { state: "offline", error: String(e) };
  }
  if (r.status === 401) return { state: "unpaired" };
  if (!r.ok) {
    let detail = null;
    try { detail = (await r.json()).detail; } catch { /* not JSON */ }
    return { state: "error", status: r.status, error: detail || `HTTP ${r.status}` };
  }
  return { response: r };
}

// → {ok, data} or {state: "offline" | "unpaired" | "error", ...}
async function api(path, options) {
  const r = await request(path, options);
  if (!r.response) return r;
  let data = null;
  try { data = await r.response.json(); } catch { /* empty body */ }
  return { ok: true, data };
}

const switchedOff = (site, s) => !!site && s.sites[site] === false;

// The user's floor: a minimum score, and (an option) no loosely related papers at all.
const keep = (related, s) => (related || []).filter((h) => h.score >= (s.minScore || 0) && !(s.hideLoose && h.loose));

// What to show as a page's related papers. A PDF tab not in the library: its URL gives no text to relate
// (saving it reads the PDF).
const relatedOfPage = (paper, found, related, s) => (!found && paper.pdf && !paper.abstract ? [] : keep(related, s));

// One round trip: the server finds the paper, or relates it by its title and abstract (embedded once, and
// kept for a save that may follow).
async function lookup(paper, k) {
  const s = await settings();
  const r = await api("/api/lookup", { method: "POST", body: pageBody(paper, k || s.relatedCount) });
  if (!r.ok) return r;
  if (r.data.found) return { state: "in-library", paper: r.data.paper, related: keep(r.data.related, s) };
  return { state: "not-in-library", related: relatedOfPage(paper, false, r.data.related, s), librarySize: r.data.library_size };
}

// The panel's lookup, streamed (/api/lookup/stream): `onPart` gets the paper's state as soon as the server
// knows it (the badge), then its related papers. A paper in the library comes with them (their vectors are
// stored). One not in the library gets two lists: one from the page's words at once, then the final one, for
// which the server embeds the page's text. That embedding is asked for only once the page has drawn the first
// list (`drawn` resolves): on one core it took the CPU the page needed to draw, and the first list came
// 80-110 ms after the worker had it. Lines that arrive together go to the page as one part (one render
// there); the time of each goes into timing.calls. A final list that comes more than finalWithinMs after `since`
// (when the page was read) is marked `late`: the panels then offer it instead of swapping it in.
async function lookupInParts(paper, timing, onPart, k, drawn, since) {
  const s = await settings();
  const started = now();
  const body = pageBody(paper, k || s.relatedCount);
  const call = { path: "/api/lookup/stream" };
  let state = null;
  const first = await readLines({ ...body, words_first: true, words_only: true }, (line) => {
    if ("found" in line) {
      Object.assign(call, { first: now() - started, server: line.took_ms });
      timing.calls.push(call);
      state = line.found ? "in-library" : "not-in-library";
      return { state, paper: line.paper, librarySize: line.library_size };
    }
    const final = line.final !== false;
    Object.assign(call, final ? { ms: now() - started, related: line.took_ms }
      : { words: now() - started, wordsServer: line.took_ms });
    return { related: relatedOfPage(paper, state === "in-library", line.related, s), final };
  }, onPart);
  if (!first || first.final !== false || !(await drawn)) return;
  call.drawn = now() - started;
  await readLines(body, (line) => {
    if ("found" in line) return null; // said again by the second call: the state stays
    Object.assign(call, { ms: now() - started, related: line.took_ms });
    return { state, related: relatedOfPage(paper, state === "in-library", line.related, s), final: true,
      late: now() - since > s.finalWithinMs };
  }, onPart, state);
}

// One streamed call: each line through `parse` (→ what it adds to the part, or null), the lines of one chunk
// sent on as one part. Returns the last part sent; a failure is sent as a final part.
async function readLines(body, parse, onPart, state = null) {
  const { response, ...problem } = await request("/api/lookup/stream", { method: "POST", body });
  if (!response) { onPart(problem); return null; }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let sent = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let part = null;
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const add = parse(JSON.parse(buffered.slice(0, nl)));
        buffered = buffered.slice(nl + 1);
        if (add) { part = { ...part, ...add }; state = part.state || state; }
      }
      if (part) { sent = { ...part, state: part.state || state }; onPart(sent); }
      if (part && part.final !== undefined) return sent;
    }
  } catch (e) {
    onPart({ state: state || "offline", related: [], final: true, error: `the server stopped answering: ${e}` });
    return null;
  }
  onPart({ state: state || "error", related: [], final: true, error: "the server's answer was cut short" });
  return null;
}

const pageBody = (paper, k) => ({
  refs: (paper.ids || []).slice(0, 100).map((i) => i.slice(0, 500)), url: (paper.url || "").slice(0, 4000),
  title: (paper.title || "").slice(0, 2000), abstract: (paper.abstract || "").slice(0, 50000), k: Number(k) });

// content/main.js (and the side panel, with its own `k`) asks for a page's paper on a port ("lookup"): the
// parts come back as they are ready, the last one with `last: true` and the timing. "off": the user switched
// that site off; panel: false, the user hid the panel (the popup still shows the paper). The page says
// {drawn: true} once it shows a first list that is not the final one: the final one is asked for then.
chrome.runtime.onConnect.addListener((port) => {
  if (port.name !== "lookup") return;
  let onDrawn;
  const drawn = new Promise((resolve) => { onDrawn = resolve; }); // false: the page went away first
  port.onDisconnect.addListener(() => onDrawn(false));
  port.onMessage.addListener(async (m) => {
    if (m.drawn) return onDrawn(true);
    const timing = { received: now(), calls: [] };
    const s = await settings();
    const send = (part) => { try { port.postMessage(part); } catch { /* the tab went away */ } };
    if (switchedOff(m.site, s)) return send({ state: "off", last: true });
    await lookupInParts(m.paper, timing, (part) => {
      const last = !(part.state === "in-library" || part.state === "not-in-library") || part.final === true;
      send({ ...part, panel: s.panel !== false, last, ...(last ? { timing: { ...timing, replied: now() } } : {}) });
    }, m.k, drawn, m.since ?? timing.received);
  });
});

async function save(paper) {
  const r = await api("/api/papers", { method: "POST", body: {
    title: paper.title.slice(0, 2000), abstract: (paper.abstract || "").slice(0, 50000),
    authors: (paper.authors || []).slice(0, 2000).map((a) => a.slice(0, 500)),
    identifiers: (paper.ids || []).slice(0, 100), url: (paper.url || "").slice(0, 4000) } });
  if (!r.ok) return r;
  const after = await lookup({ ...paper, ids: [`id:${r.data.paper.id}`, ...(paper.ids || [])] });
  return after.state === "in-library" ? after : { state: "in-library", paper: r.data.paper, related: [] };
}

// -- PDF tabs: the toolbar icon says whether the tab's paper is in the library (badge and title) -----------
const BADGE = { "in-library": ["✓", "#1a7f37"], "not-in-library": ["+", "#6e7781"] };

async function markPdfTab(tabId, url) {
  const paper = paperFromPdfUrl(url || "");
  if (!paper) return null;
  const res = await lookup(paper);
  const title = res.state === "in-library" ? `In your library: ${res.paper.title}`
    : res.state === "not-in-library" ? `Not in your library: ${paper.label} (open papershelf to save it)`
      : res.state === "unpaired" ? "papershelf is not paired with your library (open its options)"
        : "papershelf: the server is not reachable";
  const [text, color] = BADGE[res.state] || ["!", "#cf222e"];
  try { // the title (what the badge means) first: whenever the badge shows, its tooltip says the same
    await chrome.action.setTitle({ tabId, title });
    await chrome.action.setBadgeBackgroundColor({ tabId, color });
    await chrome.action.setBadgeText({ tabId, text });
  } catch { /* the tab closed meanwhile */ }
  return { paper: { ...paper, title: res.state === "in-library" ? res.paper.title : paper.label }, res };
}

chrome.tabs.onUpdated.addListener((tabId, info, tab) => {
  if ((info.url || info.status === "complete") && tab.url) markPdfTab(tabId, tab.url);
});

// Save from a PDF tab: the PDF itself goes to the server (which reads and keeps it); the tab's URL and the
// identifiers it names join the paper, since a PDF does not print where it was downloaded from.
async function savePdf(tabId) {
  const tab = await chrome.tabs.get(tabId);
  const paper = paperFromPdfUrl(tab.url || "");
  if (!paper) return { state: "error", error: "this tab does not show a PDF" };
  let blob;
  try {
    const got = await fetch(tab.url, { credentials: "include" });
    if (!got.ok) return { state: "error", error: `the PDF could not be downloaded (HTTP ${got.status})` };
    blob = await got.blob();
  } catch (e) {
    return { state: "error", error: `the PDF could not be downloaded: ${e}` };
  }
  const form = new FormData();
  form.append("file", new File([blob], pdfFileName(tab.url), { type: "application/pdf" }));
  const r = await request("/api/import", { method: "POST", form });
  if (!r.response) return r;
  const report = await r.response.json();
  const pid = report.added[0] || (report.merged[0] && report.merged[0].id);
  if (!pid) return { state: "error", error: report.error || "the server kept nothing from that PDF" };
  const stored = await api(`/api/papers/${encodeURIComponent(pid)}`);
  if (stored.ok) {
    await api("/api/papers", { method: "POST", body: { title: stored.data.title, url: paper.url.slice(0, 4000),
      identifiers: [`id:${pid}`, ...paper.ids] } });
  }
  return (await markPdfTab(tabId, tab.url)) || { state: "error", error: "the tab changed" };
}

// The side panel and the popup: the tab's paper, from its content script, or from its URL for a PDF tab.
async function tabPaper(tabId) {
  try {
    const r = await chrome.tabs.sendMessage(tabId, { type: "current" });
    if (r && r.paper) return { paper: r.paper };
  } catch { /* no content script: a PDF tab, or a page we do not read */ }
  const tab = await chrome.tabs.get(tabId).catch(() => null);
  const marked = tab && await markPdfTab(tabId, tab.url);
  return marked || { paper: null };
}

const LOCAL = /^http:\/\/(127\.0\.0\.1|localhost)(:\d{1,5})?$/;
const sameServer = (a, b) => (a || "").replace(/\/$/, "") === (b || "").replace(/\/$/, "");

// Is this a papershelf server that takes this token? It must refuse a request without it (a server that
// answers anything is not one) and answer /api/stats with it, in papershelf's shape.
async function provesPapershelf(server, token) {
  try {
    const without = await fetch(`${server}/api/stats`);
    if (without.status !== 401) return false;
    const r = await fetch(`${server}/api/stats`, { headers: { Authorization: `Bearer ${token}` } });
    if (!r.ok) return false;
    const data = await r.json();
    return !!(data && data.stats && typeof data.stats.papers === "number" && typeof data.stats.model_id === "string");
  } catch {
    return false;
  }
}

const handlers = {
  // From content/pair.js on a local page: is the extension paired with the server this page comes from?
  pairedWith: async (m, sender) => {
    const origin = sender.url ? new URL(sender.url).origin : "";
    if (origin !== m.server || !LOCAL.test(origin)) return { paired: false };
    const s = await settings();
    if (!s.token || !sameServer(s.serverUrl, origin)) return { paired: false };
    return { paired: await provesPapershelf(origin, s.token) };
  },
  // The library page's "Connect this browser": keep the server and its token once the server proves itself.
  pair: async (m, sender) => {
    const origin = sender.url ? new URL(sender.url).origin : "";
    if (!sender.tab || origin !== m.server || !LOCAL.test(origin)) return { paired: false, error: "only a papershelf server's own page on this machine can pair" };
    if (!/^[A-Za-z0-9_-]{20,200}$/.test(m.token || "")) return { paired: false, error: "that is not a papershelf token" };
    if (!(await provesPapershelf(origin, m.token))) return { paired: false, error: `${origin} did not accept that token as a papershelf server` };
    await chrome.storage.local.set({ serverUrl: origin, token: m.token });
    return { paired: true };
  },
  lookup: (m) => lookup(m.paper, m.k), // the popup's (the panel's comes on a port: see onConnect above)
  tabPaper: (m) => tabPaper(m.tabId),
  savePdf: (m) => savePdf(m.tabId),
  // A URL that opens a paper's PDF in a tab (it carries a ticket for that one file, not the token).
  fileUrl: async (m) => {
    const r = await api(`/api/files/${encodeURIComponent(m.id)}/link`);
    if (!r.ok) return r;
    return { ok: true, url: (await settings()).serverUrl.replace(/\/$/, "") + r.data.url };
  },
  // A paper's PDF opened in a new tab at a page, with words for the viewer to find (#page= and #search=).
  openAt: async (m) => {
    const r = await api(`/api/files/${encodeURIComponent(String(m.fileId).slice(0, 64))}/link`);
    if (!r.ok) return r;
    const page = Math.max(1, Math.floor(Number(m.page)) || 1);
    const words = String(m.words || "").slice(0, 200);
    const url = (await settings()).serverUrl.replace(/\/$/, "") + r.data.url + `#page=${page}` +
      (words ? `&search=${encodeURIComponent(words)}` : "");
    await chrome.tabs.create({ url });
    return { ok: true, url };
  },
  // Passages inside one library paper's PDFs (the side panel on its PDF tab).
  passages: async (m) => {
    const q = String(m.q || "").slice(0, 2000);
    const r = await api(`/api/passages?${new URLSearchParams({ q, paper: String(m.paper).slice(0, 500), per_paper: "0", k: "20" })}`);
    return r.ok ? { state: "ok", hits: r.data } : r;
  },
  save: (m) => save(m.paper),
  remove: async (m) => {
    const r = await api(`/api/papers/${encodeURIComponent(m.id)}`, { method: "DELETE" });
    return r.ok ? { state: "removed" } : r;
  },
  batch: async (m) => {
    if (switchedOff(m.site, await settings())) return { state: "off" };
    const ids = m.ids.slice(0, 200);
    const titles = Object.fromEntries(Object.entries(m.titles || {}).filter(([k]) => ids.includes(k)).map(([k, t]) => [k, t.slice(0, 1000)]));
    const r = await api("/api/lookup/batch", { method: "POST", body: { ids, titles } });
    return r.ok ? r.data : r;
  },
  search: async (m) => {
    const r = await api(`/api/search?${new URLSearchParams({ q: m.q.slice(0, 500), k: "20" })}`);
    return r.ok ? { state: "ok", hits: r.data } : r;
  },
  relatedText: async (m) => {
    const s = await settings();
    const r = await api("/api/related", { method: "POST", body: { title: "", abstract: m.text.slice(0, 50000), k: Number(m.k || s.relatedCount * 2) } });
    return r.ok ? { state: "ok", hits: keep(r.data, s) } : r;
  },
  status: async () => {
    const s = await settings();
    try {
      const h = await fetch(s.serverUrl.replace(/\/$/, "") + "/api/health");
      if (!h.ok) return { state: "offline" };
    } catch { return { state: "offline" }; }
    const r = await api("/api/stats");
    return r.ok ? { state: "ok", stats: r.data.stats } : r;
  },
  // The popup's digest corner: how many new papers wait today (not in the library, not rated), the top three.
  digest: async () => {
    const r = await api("/api/digest");
    if (!r.ok) return r;
    const waiting = r.data.items.filter((i) => !i.in_library && !i.feedback);
    return { state: "ok", day: r.data.day, waiting: waiting.length, top: waiting.slice(0, 3) };
  },
  saveCandidate: async (m) => {
    const r = await api(`/api/digest/${encodeURIComponent(m.id)}/save`, { method: "POST" });
    return r.ok ? { state: "in-library", paper: r.data } : r;
  },
  openOptions: async () => { await chrome.runtime.openOptionsPage(); return { ok: true }; },
};

chrome.runtime.onMessage.addListener((msg, sender, reply) => {
  const h = handlers[msg && msg.type];
  if (!h) return false;
  h(msg, sender).then(reply, (e) => reply({ state: "error", error: String(e) }));
  return true; // answered asynchronously
});

chrome.runtime.onInstalled.addListener(() => {
  chrome.contextMenus.create({ id: "papershelf-related", title: "Find related papers in my library", contexts: ["selection"] });
});

chrome.contextMenus.onClicked.addListener((info) => {
  if (info.menuItemId === "papershelf-related" && info.selectionText) {
    chrome.tabs.create({ url: chrome.runtime.getURL(`related.html?text=${encodeURIComponent(info.selectionText.slice(0, 5000))}`) });
  }
});

// For tests and the options page: what the worker would do with a selection.
globalThis.papershelfHandlers = handlers;
