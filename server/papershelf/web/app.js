// The library page: plain JS against the local API. The token comes from the link `papershelf serve`
// prints (#token=…) or is pasted once, and is kept in this origin's localStorage.
import { LibraryMap } from "./map.js";

const $ = (sel) => document.querySelector(sel);
const PAGE = 25;
let token = null;
let offset = 0;
let mode = "list"; // or "search"

function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    localStorage.setItem("papershelf-token", decodeURIComponent(m[1]));
    const view = ["today", "map"].find((v) => location.hash.includes(v));
    history.replaceState(null, "", location.pathname + (view ? `#${view}` : "")); // keep the token out of the address bar
  }
  return localStorage.getItem("papershelf-token");
}

async function api(path, opts = {}) {
  const r = await fetch(path, { ...opts, headers: { Authorization: `Bearer ${token}`, ...(opts.headers || {}) } });
  if (r.status === 401) { showPairing("That token was not accepted."); throw new Error("unpaired"); }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) throw new Error(body.detail || `HTTP ${r.status}`);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
  return e;
}

// replaceChildren() would write a null child as the text "null": leave those out.
function put(target, ...children) {
  target.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

function showPairing(msg) {
  $("#pair").hidden = false;
  $("#app").hidden = true;
  $("#pair-error").textContent = msg || "";
}

function byline(p) {
  const authors = p.authors.length > 3 ? `${p.authors.slice(0, 3).join(", ")} et al.` : p.authors.join(", ");
  return [authors, p.year, p.venue].filter(Boolean).join(" · ");
}

function paperItem(p, extra) {
  return el("li", { "data-paper-id": p.id },
    el("a", { href: "#", class: "title", onclick: (e) => { e.preventDefault(); showPaper(p.id); } }, p.title),
    el("div", { class: "meta" }, byline(p)),
    p.tags?.length ? el("div", { class: "tags" }, p.tags.map((t) => el("span", { class: "tag" }, t))) : null,
    extra || null);
}

async function refreshStats() {
  const s = await api("/api/stats");
  const st = s.stats;
  put($("#stats"),
    el("div", {}, el("b", {}, st.papers), " papers"),
    el("div", {}, `${st.embedded} embedded`, st.pending ? `, ${st.pending} waiting` : ""),
    st.trashed ? el("div", {}, `${st.trashed} in the trash`) : null,
    el("div", { class: "hint" }, st.model_id),
    s.embedding_error ? el("div", { class: "error" }, s.embedding_error) : null);
  $("#sample-btn").hidden = st.papers > 0;
}

async function showList() {
  mode = "list";
  showLibraryView();
  const trashed = $("#show-trash").checked;
  const page = await api(`/api/papers?offset=${offset}&limit=${PAGE}&sort=${$("#sort").value}&trashed=${trashed}`);
  $("#list-title").textContent = trashed ? "Trash" : "Library";
  $("#list").replaceChildren(...page.papers.map((p) => paperItem(p)));
  if (!page.total) $("#list").append(el("li", { class: "empty" }, trashed ? "The trash is empty." :
    "Your library is empty: import a file, or the sample library, on the left."));
  $("#pager").hidden = page.total <= PAGE;
  $("#page").textContent = `${offset + 1}–${Math.min(offset + PAGE, page.total)} of ${page.total}`;
  $("#prev").disabled = offset === 0;
  $("#next").disabled = offset + PAGE >= page.total;
}

async function search(q) {
  mode = "search";
  showLibraryView();
  const hits = await api(`/api/search?q=${encodeURIComponent(q)}&k=50`);
  $("#list-title").textContent = `Search: ${q}`;
  $("#pager").hidden = true;
  $("#list").replaceChildren(...hits.map((h) => paperItem(h.paper,
    el("div", { class: "why" }, h.matched.join(" + "), h.why.length ? ` — ${h.why.join(", ")}` : ""))));
  if (!hits.length) $("#list").append(el("li", { class: "empty" }, "Nothing in your library matches."));
}

async function showPaper(id) {
  const p = await api(`/api/papers/${encodeURIComponent(id)}`);
  const related = p.deleted_at ? [] : await api(`/api/related?id=${encodeURIComponent(p.id)}&k=10`);
  const tags = el("input", { value: p.tags.join(", "), size: 40, "aria-label": "tags" });
  const notes = el("textarea", { rows: 3, cols: 50, "aria-label": "notes" });
  notes.value = p.notes;
  const save = el("button", { type: "button", onclick: async () => {
    await api(`/api/papers/${p.id}`, { method: "PATCH", headers: { "content-type": "application/json" },
      body: JSON.stringify({ tags: tags.value.split(",").map((t) => t.trim()).filter(Boolean), notes: notes.value }) });
    showPaper(p.id); reload();
  } }, "Save tags and notes");
  const trash = p.deleted_at
    ? el("button", { type: "button", onclick: async () => { await api(`/api/papers/${p.id}/restore`, { method: "POST" }); showPaper(p.id); reload(); } }, "Restore from trash")
    : el("button", { type: "button", onclick: async () => { await api(`/api/papers/${p.id}`, { method: "DELETE" }); showPaper(p.id); reload(); } }, "Move to trash");
  $("#detail").hidden = false;
  put($("#detail"),
    el("button", { type: "button", class: "close", onclick: () => { $("#detail").hidden = true; } }, "×"),
    el("h2", {}, p.url ? el("a", { href: p.url, target: "_blank", rel: "noopener" }, p.title) : p.title),
    el("div", { class: "meta" }, byline(p)),
    el("div", { class: "ids" }, [`id ${p.id}`, ...p.identifiers].join("  ·  ")),
    p.deleted_at ? el("p", { class: "error" }, "In the trash.") : null,
    el("p", { class: "abstract" }, p.abstract || "(no abstract)"),
    el("div", {}, el("label", {}, "Tags ", tags)), el("div", {}, el("label", {}, "Notes ", notes)),
    el("div", {}, save, " ", trash),
    el("h3", {}, "Related in your library"),
    related.length ? el("ol", { class: "related" }, related.map((h) => paperItem(h.paper,
      el("div", { class: "why" }, el("span", { class: "bar", style: `width:${Math.round(h.score * 100)}px` }),
        ` ${h.score.toFixed(2)}`, h.loose ? " · loosely related" : "", h.why.length ? ` — ${h.why.join(", ")}` : ""))))
      : el("p", { class: "hint" }, "Nothing related yet."));
}

// -- Today: the daily digest ------------------------------------------------------------------------------
const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function link(it) {
  const ax = it.identifiers.find((i) => i.startsWith("arxiv:"));
  const doi = it.identifiers.find((i) => i.startsWith("doi:"));
  return ax ? `https://arxiv.org/abs/${ax.slice(6)}` : it.url || (doi ? `https://doi.org/${doi.slice(4)}` : null);
}

function digestItem(it) {
  const li = el("li", { "data-item-id": it.id, class: [it.in_library ? "in-library" : "", it.feedback || ""].join(" ").trim() || null });
  const rate = (rating) => async () => {
    const r = await api(`/api/digest/${it.id}/rate`, json({ rating: it.feedback === rating ? null : rating }));
    it.feedback = r.feedback;
    li.replaceWith(digestItem(it));
  };
  const save = async () => {
    const p = await api(`/api/digest/${it.id}/save`, { method: "POST" });
    Object.assign(it, { in_library: true, library_id: p.id });
    li.replaceWith(digestItem(it));
    refreshStats();
  };
  const href = link(it);
  const close = it.why.papers.slice(0, 2).map((p) => p.title).join("; ");
  put(li,
    href ? el("a", { href, target: "_blank", rel: "noopener", class: "title" }, it.title) : el("span", { class: "title" }, it.title),
    el("div", { class: "meta" }, [byline(it), `${it.feed}${it.announce ? ` (${it.announce})` : ""}`].filter(Boolean).join(" · ")),
    el("div", { class: "why" }, close ? `close to: ${close}` : "", it.why.terms.length ? ` — ${it.why.terms.join(", ")}` : ""),
    el("div", { class: "actions" },
      it.in_library ? el("span", { class: "badge" }, "in your library")
        : el("button", { type: "button", class: "save", onclick: save }, "Save"),
      " ", el("button", { type: "button", class: "up", "aria-pressed": String(it.feedback === "up"), title: "More like this", onclick: rate("up") }, "👍"),
      " ", el("button", { type: "button", class: "down", "aria-pressed": String(it.feedback === "down"), title: "Less like this", onclick: rate("down") }, "👎"),
      href ? [" ", el("a", { href, target: "_blank", rel: "noopener" }, "open")] : null));
  return li;
}

async function showFeeds() {
  const feeds = await api("/api/feeds");
  put($("#feeds"), feeds.length ? feeds.map((f) => el("li", {}, el("b", {}, f.source), " ",
    el("span", { class: f.last_error ? "error" : "hint" }, f.last_error ? `last error: ${f.last_error}`
      : f.last_success_at ? `fetched ${f.last_success_at.slice(0, 16).replace("T", " ")} (${f.last_count} papers)` : "not fetched yet"),
    " ", el("button", { type: "button", onclick: async () => { await api(`/api/feeds?source=${encodeURIComponent(f.source)}`, { method: "DELETE" }); showFeeds(); } }, "remove")))
    : el("li", { class: "hint" }, "No feeds yet: add arxiv:cs.LG, hf:daily, or the URL of a feed of papers."));
  $("#feeds-box").open = !feeds.length;
}

async function showToday(day) {
  mode = "today";
  showView("today");
  const page = await api(`/api/digest${day ? `?day=${day}` : ""}`);
  put($("#digest-day"), page.days.map((d) => el("option", { value: d, ...(d === page.day ? { selected: "" } : {}) }, d)));
  $("#digest-note").textContent = page.day ? `${page.total} papers from your feeds` + (page.method === "model"
    ? ", ranked by a model of your library and your 👍/👎" : page.method === "similarity" ? "" : "") + (page.note ? ` (${page.note})` : "") : page.note;
  put($("#digest-list"), page.items.map(digestItem));
  showFeeds();
}

// One of the three views: the library's list, its map, today's papers.
function showView(name) {
  for (const [view, box] of [["library", "#library-view"], ["map", "#map-view"], ["today", "#today"]]) {
    $(box).hidden = view !== name;
    $(`#view-${view}`).classList.toggle("current", view === name);
  }
}

function showLibraryView() { showView("library"); }

let map = null;
async function showMap() {
  mode = "map";
  showView("map");
  map = map || new LibraryMap($("#library-map"), { api, open: showPaper });
  $("#library-map").map = map; // where a paper is drawn (map.project): for links to it, and the browser tests
  const m = await map.load();
  const colour = $("#map-colour").value;
  put($("#map-colour"), el("option", { value: "cluster" }, "cluster"),
    Object.keys(m.tags).sort().map((t) => el("option", { value: t }, `tag: ${t}`)));
  $("#map-colour").value = m.tags[colour] || colour === "cluster" ? colour : "cluster";
  map.colourBy = $("#map-colour").value;
  $("#map-note").textContent = m.count ? `${m.count} papers` + (m.not_embedded ? `; ${m.not_embedded} not drawn yet (being embedded)` : "")
    + (m.method === "pca" && m.count > 2 ? "; a finer layout is on its way" : "")
    : "No papers to draw yet: import some (on the left) or save them with the extension.";
  const q = $("#q").value.trim();
  if (q) lightSearch(q);
  else map.draw();
}

async function lightSearch(q) {
  // The papers a signal really matched (search ranks every paper; the tail matched nothing).
  const hits = (await api(`/api/search?q=${encodeURIComponent(q)}&k=100`)).filter((h) => h.matched.length);
  map.light(hits.map((h) => h.id));
  $("#map-note").textContent = `${hits.length} papers match “${q}”: lit on the map`;
}

function reload() {
  if (mode === "today") return showToday($("#digest-day").value || undefined);
  if (mode === "map") return showMap();
  refreshStats();
  return mode === "search" && $("#q").value ? search($("#q").value) : showList();
}

function showReport(r) {
  const unchanged = r.merged.filter((m) => !m.changed).length;
  put($("#import-report"),
    el("p", {}, `${r.source}: added ${r.added.length}, merged ${r.merged.length}` +
      (unchanged ? ` (${unchanged} already there)` : "") + `, failed ${r.failed.length}`),
    r.failed.length ? el("ul", { class: "error" }, r.failed.slice(0, 20).map((f) => el("li", {}, `${f.position}: ${f.reason}`))) : null);
}

function listenForEvents() {
  // EventSource cannot send headers: the event stream alone accepts the token as a query parameter.
  const es = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  let timer = null;
  const later = () => { clearTimeout(timer); timer = setTimeout(reload, 400); };
  es.addEventListener("embedding", (e) => {
    const d = JSON.parse(e.data);
    $("#progress").hidden = !d.pending;
    if (d.pending) $("#progress-text").textContent = `embedding: ${d.pending} waiting`;
    refreshStats();
  });
  es.addEventListener("library", later);
  es.addEventListener("map", () => { if (mode === "map") showMap(); });
  es.addEventListener("digest", (e) => { if (mode === "today" && ["fetch", "embedded"].includes(JSON.parse(e.data).change)) later(); });
  es.addEventListener("import", (e) => { const d = JSON.parse(e.data); $("#status").textContent = `importing ${d.source}: ${d.added} added`; });
}

// The papershelf extension marks this page (its content/pair.js): "unpaired" while it is not paired with this
// server; a click on the button (a real one: the extension ignores clicks made by scripts) gives it this
// server's token. Without the extension there is no mark and no button.
function showExtension() {
  const root = document.documentElement;
  const state = root.dataset.extension;
  const button = $("#pair-extension");
  button.hidden = state !== "unpaired" || !token;
  button.dataset.token = token || "";
  $("#extension-status").textContent = state === "paired" ? "This browser's papershelf extension is connected."
    : root.dataset.extensionError ? `Not connected: ${root.dataset.extensionError}` : "";
}
window.addEventListener("papershelf-extension", showExtension);

async function start() {
  token = readToken();
  showExtension();
  if (!token) return showPairing();
  try { await refreshStats(); } catch (e) { if (e.message !== "unpaired") $("#status").textContent = e.message; return; }
  $("#pair").hidden = true;
  $("#app").hidden = false;
  await (location.hash === "#today" ? showToday() : location.hash === "#map" ? showMap() : showList());
  listenForEvents();
}

$("#view-today").addEventListener("click", (e) => { e.preventDefault(); history.replaceState(null, "", "#today"); showToday(); });
$("#view-library").addEventListener("click", (e) => { e.preventDefault(); history.replaceState(null, "", location.pathname); offset = 0; showList(); });
$("#view-map").addEventListener("click", (e) => { e.preventDefault(); history.replaceState(null, "", "#map"); showMap(); });
$("#map-colour").addEventListener("change", () => { map.colourBy = $("#map-colour").value; map.draw(); });
$("#digest-day").addEventListener("change", () => showToday($("#digest-day").value));
$("#fetch-now").addEventListener("click", async () => {
  $("#fetch-now").disabled = true;
  $("#digest-note").textContent = "fetching your feeds…";
  try {
    const reports = await api("/api/digest/fetch", { method: "POST" });
    $("#status").textContent = reports.map((r) => `${r.source}: ${r.error || `${r.new} new`}`).join(" · ");
  } finally { $("#fetch-now").disabled = false; }
  showToday();
});
$("#feed-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("#feed-error").textContent = "checking the feed…";
  try {
    await api("/api/feeds", json({ source: $("#feed-source").value.trim() }));
    $("#feed-error").textContent = "";
    $("#feed-source").value = "";
    showToday();
  } catch (err) { $("#feed-error").textContent = err.message; }
});

$("#pair-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem("papershelf-token", $("#token").value.trim());
  start();
});
$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const q = $("#q").value.trim();
  if (mode === "map") return q ? lightSearch(q) : (map.light(null), showMap());
  q ? search(q) : (offset = 0, showList());
});
$("#sort").addEventListener("change", () => { offset = 0; showList(); });
$("#show-trash").addEventListener("change", () => { offset = 0; showList(); });
$("#prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); showList(); });
$("#next").addEventListener("click", () => { offset += PAGE; showList(); });
$("#import-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const files = $("#import-file").files;
  if (!files.length) return;
  const form = new FormData();
  for (const f of files) form.append(f.name, f, f.name);
  $("#import-report").textContent = "importing…";
  try { showReport(await api("/api/import", { method: "POST", body: form })); } catch (err) { $("#import-report").textContent = err.message; }
  reload();
});
$("#sample-btn").addEventListener("click", async () => {
  $("#import-report").textContent = "importing the sample…";
  showReport(await api("/api/import/sample", { method: "POST" }));
  reload();
});
for (const a of document.querySelectorAll(".export")) {
  a.addEventListener("click", async (e) => {
    e.preventDefault();
    const fmt = a.dataset.format;
    const text = await api(`/api/export?format=${fmt}`);
    const blob = new Blob([typeof text === "string" ? text : JSON.stringify(text)], { type: "text/plain" });
    const ext = { bibtex: "bib", jsonl: "jsonl", csljson: "json", ris: "ris" }[fmt];
    const link = el("a", { href: URL.createObjectURL(blob), download: `papershelf.${ext}` });
    link.click();
  });
}
start();
