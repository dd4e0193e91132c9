// The popup: is the server there, what is this page's paper, save/remove it, its related papers, and a
// search box over the whole library.
import { ask, el, hitItem, problem, webUrl } from "./common.js";

const $ = (s) => document.querySelector(s);

// The tab the popup is about: the active one, or ?tab=ID when the popup is opened as a page for a tab.
async function targetTab() {
  const id = Number(new URLSearchParams(location.search).get("tab"));
  if (id) return chrome.tabs.get(id).catch(() => null);
  const [tab] = await chrome.tabs.query({ active: true, currentWindow: true });
  return tab || null;
}

async function currentPaper() {
  const tab = await targetTab();
  if (!tab) return null;
  const r = await ask({ type: "tabPaper", tabId: tab.id }); // a page's content script, or a PDF tab's URL
  return r && r.paper ? { ...r.paper, tabId: tab.id } : null;
}

// Open the paper's PDF in a tab (the server serves it by the file's id; the URL holds a one-file ticket).
function openPdfButton(p) {
  const file = (p.files || []).find((f) => !f.missing);
  if (!file) return null;
  return el("button", { id: "open-pdf", onclick: async () => {
    const r = await ask({ type: "fileUrl", id: file.id });
    if (r.ok) chrome.tabs.create({ url: r.url });
  } }, "Open PDF");
}

function renderPage(paper, res) {
  const page = $("#page");
  if (!paper) { page.replaceChildren(el("p", { class: "muted" }, "No paper found on this page.")); return; }
  const title = el("div", {}, el("b", {}, paper.title));
  if (res.state === "in-library") {
    page.replaceChildren(el("div", {}, el("b", {}, res.paper.title || paper.title)), el("p", {}, el("span", { class: "badge in" }, "In your library"), " ",
      el("button", { id: "remove", onclick: async () => { await ask({ type: "remove", id: res.paper.id }); refresh(); } }, "Remove"),
      " ", openPdfButton(res.paper)),
    el("h4", {}, "Related in your library"), el("ol", { id: "related" }, res.related.map(hitItem)));
  } else if (res.state === "not-in-library") {
    page.replaceChildren(title, el("p", {}, el("button", { id: "save", onclick: async (e) => {
      e.target.textContent = paper.pdf ? "Saving the PDF…" : "Saving…";
      const saved = await ask(paper.pdf ? { type: "savePdf", tabId: paper.tabId } : { type: "save", paper });
      if (saved.state === "error" || saved.state === "offline") { page.append(problem(saved)); e.target.textContent = "Save to library"; return; }
      refresh();
    } }, paper.pdf ? "Save PDF to library" : "Save to library")), el("h4", {}, "Related in your library"),
    res.related.length ? el("ol", { id: "related" }, res.related.map(hitItem)) : el("p", { class: "muted" },
      paper.pdf ? "Save the PDF to see what in your library is related to it." : "Nothing related in your library."));
  } else {
    page.replaceChildren(problem(res));
  }
  targetTab().then((tab) => tab && chrome.tabs.sendMessage(tab.id, { type: "refresh" }).catch(() => {}));
}

async function refresh() {
  const status = await ask({ type: "status" });
  const state = $("#state");
  state.dataset.state = status.state === "ok" ? "ok" : status.state;
  if (status.state !== "ok") {
    state.replaceChildren(problem(status));
    $("#page").replaceChildren();
    $("#search-form").hidden = true;
    return;
  }
  $("#search-form").hidden = false;
  state.replaceChildren(el("p", { class: "muted" }, `${status.stats.papers} papers in your library`,
    status.stats.pending ? `, ${status.stats.pending} being embedded` : ""));
  const paper = await currentPaper();
  renderPage(paper, paper ? await ask({ type: "lookup", paper }) : null);
  renderDigest(await ask({ type: "digest" }), await chrome.storage.local.get({ serverUrl: "http://127.0.0.1:8765" }));
}

// Today's digest in brief: how many new papers wait, the top three, a link to the Today view.
function renderDigest(d, s) {
  const box = $("#digest");
  box.hidden = !(d && d.state === "ok" && d.day);
  if (box.hidden) return;
  box.dataset.waiting = String(d.waiting);
  const link = (it) => {
    const ax = it.identifiers.find((i) => i.startsWith("arxiv:"));
    return ax ? `https://arxiv.org/abs/${ax.slice(6)}` : webUrl(it.url);
  };
  box.replaceChildren(el("h4", {}, `Today: ${d.waiting} new paper${d.waiting === 1 ? "" : "s"} for you`),
    el("ol", { id: "digest-top" }, d.top.map((it) => el("li", { "data-item-id": it.id },
      link(it) ? el("a", { href: link(it), target: "_blank", rel: "noopener" }, it.title) : it.title, " ",
      el("button", { class: "save-candidate", onclick: async (e) => {
        e.target.disabled = true;
        const r = await ask({ type: "saveCandidate", id: it.id });
        e.target.replaceWith(r.state === "in-library" ? el("span", { class: "badge in" }, "saved") : problem(r));
      } }, "Save")))),
    el("a", { href: `${s.serverUrl.replace(/\/$/, "")}/#today`, target: "_blank", rel: "noopener" }, "All of today's papers →"));
}

$("#search-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const q = $("#q").value.trim();
  if (!q) return;
  const res = await ask({ type: "search", q });
  $("#results").replaceChildren(...(res.state === "ok" ? (res.hits.length ? res.hits.map(hitItem) : [el("li", { class: "muted" }, "No match.")]) : [problem(res)]));
});
$("#options").addEventListener("click", (e) => { e.preventDefault(); chrome.runtime.openOptionsPage(); });
// The side panel follows the user from tab to tab (Chromium's sidePanel, Firefox's sidebar).
$("#side").addEventListener("click", async (e) => {
  e.preventDefault();
  if (globalThis.browser && browser.sidebarAction) await browser.sidebarAction.open();
  else if (chrome.sidePanel) { const w = await chrome.windows.getCurrent(); await chrome.sidePanel.open({ windowId: w.id }); }
  window.close();
});
ask({ type: "status" }); // wakes the worker
refresh();
