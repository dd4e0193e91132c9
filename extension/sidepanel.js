// The side panel (Chromium's sidePanel, Firefox's sidebar): the current tab's paper, in the library or not,
// and what in the library is related to it, for article pages and PDF tabs alike. It follows the user from
// tab to tab; opened as a page with ?tab=ID (the tests), it stays on that tab.
import { ask, el, hitItem, passageLine, problem } from "./common.js";

const box = document.getElementById("side");
const pinned = Number(new URLSearchParams(location.search).get("tab")) || null;
let shown = 0; // the latest render wins: a slow answer for a tab the user left is dropped
// The search inside the PDF outlives the renders: the related list comes in steps (and again on a setting's
// change), and each step redraws the panel; the reader's query and its passages must not go with it.
let inside = { id: null, node: null };

async function activeTab() {
  if (pinned) return chrome.tabs.get(pinned).catch(() => null);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab || null;
}

async function show() {
  const ticket = ++shown;
  const tab = await activeTab();
  const { paper } = tab ? await ask({ type: "tabPaper", tabId: tab.id }) : { paper: null };
  if (ticket !== shown) return;
  if (!paper) {
    box.dataset.state = "none";
    box.replaceChildren(el("p", { class: "muted" }, "No paper in this tab."));
    return;
  }
  const s = await chrome.storage.local.get({ relatedCount: 5 });
  // The panel's own path (the "lookup" port, streamed): the badge at once, then the related papers; for a paper
  // not in the library, a list by its words first, which the final one replaces.
  let view = null;
  const asked = performance.timeOrigin + performance.now(); // the worker's clock
  const port = chrome.runtime.connect({ name: "lookup" });
  port.onMessage.addListener((res) => {
    if (ticket !== shown) { port.disconnect(); return; }
    // As in the page's panel: a final list that comes late is offered, not swapped in under the reader's eyes.
    view = res.late ? { ...view, ...res, related: view.related, final: false, held: res.related } : { ...view, ...res };
    view.onShowFinal = () => { view = { ...view, related: view.held, final: true, held: undefined }; render(paper, view); };
    render(paper, view);
    if (res.last) port.disconnect();
    else if (res.final === false) port.postMessage({ drawn: true }); // the final list is asked for now
  });
  port.postMessage({ paper, k: Math.max(10, s.relatedCount * 2), since: asked });
}

function render(paper, res) {
  box.dataset.state = res.state;
  if (res.state !== "in-library" && res.state !== "not-in-library") { box.replaceChildren(problem(res)); return; }
  const inLib = res.state === "in-library";
  const byWords = res.related !== undefined && res.final === false;
  box.dataset.related = res.related === undefined ? "pending" : byWords ? "words" : "final";
  box.dataset.finalReady = res.held ? "yes" : "no";
  box.replaceChildren(
    el("div", { class: "paper-title" }, el("b", {}, inLib ? res.paper.title : paper.title || paper.label)),
    el("p", {}, el("span", { class: `badge ${inLib ? "in" : "out"}` }, inLib ? "In your library" : "Not in your library"),
      paper.pdf ? el("span", { class: "muted" }, " · PDF") : null),
    inLib && paper.pdf && (res.paper.files || []).length ? insidePdf(res.paper) : null,
    el("h4", {}, "Related in your library"),
    res.related === undefined ? el("p", { class: "muted" }, "Finding related papers…")
      : byWords && res.held ? el("p", { class: "muted" }, "By the words they share. ",
        el("button", { type: "button", id: "show-final", onclick: res.onShowFinal }, "Show the full ranking"))
        : byWords ? el("p", { class: "muted" }, "By the words they share; the full ranking follows…") : null,
    res.related && res.related.length ? el("ol", { id: "related" }, res.related.map(hitItem))
      : res.related && !byWords ? el("p", { class: "muted" }, "Nothing related in your library yet.") : null);
}

// On a library paper's PDF tab: a search inside its PDF, each passage opening the PDF at its page.
function insidePdf(p) {
  if (inside.id !== p.id) inside = { id: p.id, node: searchInside(p) };
  return inside.node;
}

function searchInside(p) {
  const input = el("input", { type: "search", id: "inside-q", placeholder: "Search inside this PDF", "aria-label": "Search inside this PDF" });
  const out = el("ol", { id: "inside" });
  let asked = 0; // the latest query's answer wins
  const form = el("form", { id: "inside-pdf", onsubmit: async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    const ticket = ++asked;
    const r = await ask({ type: "passages", q, paper: p.id });
    if (ticket !== asked) return;
    out.replaceChildren(...(r.state !== "ok" ? [problem(r)] : r.hits.length
      ? r.hits.map((h) => el("li", { "data-page": h.page }, passageLine(h, q))) : [el("li", { class: "muted" }, "Not in this PDF.")]));
  } }, input, " ", el("button", {}, "Find"));
  return el("div", {}, form, out);
}

chrome.tabs.onActivated.addListener(() => { if (!pinned) show(); });
chrome.tabs.onUpdated.addListener((tabId, info) => {
  if (info.status === "complete" || info.url) activeTab().then((t) => { if (t && t.id === tabId) show(); });
});
chrome.storage.onChanged.addListener(() => show());
show();
