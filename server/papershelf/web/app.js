// The library page: plain JS against the local API. The token comes from the link `papershelf serve`
// prints (#token=…) or is pasted once, and is kept in this origin's localStorage.
import { LibraryMap } from "./map.js";

const $ = (sel) => document.querySelector(sel);
const PAGE = 25;
let token = null;
let offset = 0;
let mode = "list"; // or "search"
// The newest list or search asked for: an answer to an older one that arrives after it is dropped, so the list
// never flips back to what a slower, earlier request found.
let listTicket = 0;

// Any site can open this page with a #token of its own: a token is stored only once this server has accepted
// it, so a junk link never replaces the pairing that works (nor logs the user out).
async function accepted(candidate) {
  try {
    const r = await fetch("/api/stats", { headers: { Authorization: `Bearer ${candidate}` } });
    return r.ok;
  } catch { return false; }
}

async function readToken() {
  const m = location.hash.match(/token=([^&]+)/);
  let refused = false;
  if (m) {
    const view = ["today", "map", "duplicates"].find((v) => location.hash.includes(v));
    history.replaceState(null, "", location.pathname + (view ? `#${view}` : "")); // keep the token out of the address bar
    let given = null;
    try { given = decodeURIComponent(m[1]); } catch { /* not even a token */ }
    if (given && await accepted(given)) localStorage.setItem("papershelf-token", given);
    else refused = true;
  }
  return { token: localStorage.getItem("papershelf-token"), refused };
}

// (A style set through the DOM: the page's Content-Security-Policy allows no inline style attribute.)
function scoreBar(score) {
  const bar = el("span", { class: "bar" });
  bar.style.width = `${Math.round(score * 100)}px`;
  return bar;
}

// A paper's address is shown as a link only if it is a web address: a stored `javascript:` one (an old
// library's, from a page's og:url) must never run in this origin, which holds the token.
function webUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch { return null; }
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

function paperItem(p, extra, selectable) {
  return el("li", { "data-paper-id": p.id },
    selectable ? el("input", { type: "checkbox", class: "pick", "aria-label": `select “${p.title}”`,
      ...(selected.has(p.id) || allMatching ? { checked: "" } : {}), onclick: (e) => pick(p.id, e) }) : null,
    el("a", { href: paperHash(p.id), class: "title", onclick: (e) => { e.preventDefault(); openPaper(p.id); } }, p.title),
    el("div", { class: "meta" }, byline(p),
      p.files?.length ? pdfMark(p.files) : null),
    p.tags?.length ? el("div", { class: "tags" }, p.tags.map((t) => el("span", { class: "tag" }, t))) : null,
    extra || null);
}

// A row's mark for its PDF (as Zotero's attachment icon): struck through when the file is no longer where it was.
function pdfMark(files) {
  const gone = files.every((f) => f.missing);
  const says = gone ? "its PDF is no longer where it was" : "has its PDF";
  return el("span", { class: `pdf-mark${gone ? " missing" : ""}`, title: says, "aria-label": says }, "PDF");
}

async function refreshStats() {
  const s = await api("/api/stats");
  const st = s.stats;
  put($("#stats"),
    el("div", {}, el("b", {}, st.papers), " papers"),
    el("div", {}, `${st.embedded} embedded`, st.pending ? `, ${st.pending} waiting` : ""),
    st.trashed ? el("div", {}, `${st.trashed} in the trash`) : null,
    st.text.files_read || st.text.files_waiting ? el("div", { id: "text-state" },
      `PDFs: ${st.text.pages_read} pages read, ${st.text.passages} passages`,
      st.text.files_waiting ? `, ${st.text.files_waiting} files to read` : "",
      st.text.passages_waiting ? `, ${st.text.passages_waiting} waiting for vectors` : "") : null,
    st.text.unsearchable_pages ? el("div", { class: "error" }, `${st.text.unsearchable_pages} PDF pages cannot be searched (scans: install tesseract-ocr)`) : null,
    st.sources_held ? el("div", { class: "error" }, `${st.sources_held} followed source waits for you (see Followed)`) : null,
    el("div", { class: "hint" }, st.model_id),
    s.embedding_error ? el("div", { class: "error" }, s.embedding_error) : null);
  $("#sample-btn").hidden = st.papers > 0;
}

// -- the list: facets, instant search, selection, bulk actions ----------------------------------------------
const filters = { tags: new Set(), year_min: "", year_max: "", venue: "", source: "", no_abstract: false, not_embedded: false, pdf: "" };
const selected = new Set(); // paper ids picked on any page
let allMatching = false; // "select all N matching": the bulk actions apply to the filter, not to ids
// Typed in the search box and not yet shown. A list reloaded meanwhile (a change elsewhere) shows it already:
// the typing timer must not come after it and reset a selection made on that list.
let typed = false;
let listed = []; // the papers on this page, in order
let lastPicked = null; // for shift-click ranges
let cursor = -1; // the keyboard's place in the list

// The list's filter as query parameters (what /api/papers, /api/facets and /api/export take).
function filterParams() {
  const q = new URLSearchParams();
  for (const t of filters.tags) q.append("tag", t);
  for (const k of ["year_min", "year_max", "venue", "source"]) if (filters[k]) q.set(k, filters[k]);
  for (const k of ["no_abstract", "not_embedded"]) if (filters[k]) q.set(k, "true");
  if (filters.pdf) q.set("pdf", filters.pdf === "yes" ? "true" : "false");
  const text = $("#q").value.trim();
  if (text) q.set("q", text);
  if ($("#show-trash").checked) q.set("trashed", "true");
  return q;
}

// The same filter as /api/papers/bulk's query.
function filterQuery() {
  const q = { tags: [...filters.tags], text: $("#q").value.trim(), no_abstract: filters.no_abstract,
    not_embedded: filters.not_embedded, trashed: $("#show-trash").checked, venue: filters.venue, source: filters.source };
  if (filters.year_min) q.year_min = +filters.year_min;
  if (filters.year_max) q.year_max = +filters.year_max;
  if (filters.pdf) q.pdf = filters.pdf === "yes";
  return q;
}

const filtering = () => filters.tags.size || filters.year_min || filters.year_max || filters.venue || filters.source
  || filters.no_abstract || filters.not_embedded || filters.pdf || $("#q").value.trim();

async function showList() {
  mode = "list";
  showLibraryView();
  if (typed) { // what was typed is shown now, whatever asked for this list: a new filter starts a new selection
    clearTimeout(typing);
    typed = false;
    offset = 0;
    allMatching = false;
  }
  const trashed = $("#show-trash").checked;
  const q = filterParams();
  const ticket = ++listTicket;
  const [page, facets] = await Promise.all([
    api(`/api/papers?offset=${offset}&limit=${PAGE}&sort=${$("#sort").value}&${q}`), api(`/api/facets?${q}`)]);
  if (ticket !== listTicket) return; // a newer list or search was asked for meanwhile
  $("#in-pdfs").hidden = true;
  listed = page.papers;
  cursor = Math.min(cursor, listed.length - 1);
  $("#list-title").textContent = trashed ? "Trash" : filtering() ? `${page.total} papers found` : "Library";
  $("#list").replaceChildren(...page.papers.map((p) => paperItem(p, null, true)));
  if (!page.total) $("#list").append(trashed ? el("li", { class: "empty" }, "The trash is empty.")
    : filtering() ? el("li", { class: "empty" }, "No paper matches: loosen a filter on the left.") : emptyLibrary());
  $("#pager").hidden = page.total <= PAGE;
  $("#page").textContent = `${offset + 1}–${Math.min(offset + PAGE, page.total)} of ${page.total}`;
  $("#prev").disabled = offset === 0;
  $("#next").disabled = offset + PAGE >= page.total;
  renderFacets(facets);
  renderSelection(page.total);
  markCursor();
}

// An empty library says how to fill it.
function emptyLibrary() {
  return el("li", { class: "empty welcome" },
    el("h3", {}, "Your library is empty. Add papers:"),
    el("ul", {},
      el("li", {}, el("b", {}, "Drop files anywhere on this page"), " (BibTeX, RIS, CSL-JSON, JSON lines, arXiv, OpenAlex, Semantic Scholar or Hugging Face answers, a pasted listing page), or choose them on the left."),
      el("li", {}, el("b", {}, "The inbox folder"), ": files put there are imported while ", el("code", {}, "papershelf serve"), " runs."),
      el("li", {}, el("b", {}, "The browser extension"), ": one click saves the paper you are reading (", el("i", {}, "Connect this browser"), " at the top right)."),
      el("li", {}, el("button", { type: "button", onclick: () => $("#sample-btn").click() }, "Import the sample library"), " (289 papers) to try it out.")));
}

function renderFacets(f) {
  const change = () => { offset = 0; allMatching = false; showList(); };
  const option = (value, label, current) => el("option", { value, ...(value === current ? { selected: "" } : {}) }, label);
  const tags = f.tags.map((c) => el("label", { class: "facet" },
    el("input", { type: "checkbox", "data-facet": "tag", value: c.value, ...(filters.tags.has(c.value) ? { checked: "" } : {}),
      onchange: (e) => { e.target.checked ? filters.tags.add(c.value) : filters.tags.delete(c.value); change(); } }),
    ` ${c.value} `, el("span", { class: "count" }, c.count)));
  for (const t of filters.tags) if (!f.tags.some((c) => c.value === t)) tags.push(el("label", { class: "facet" }, el("input", { type: "checkbox", checked: "", onchange: () => { filters.tags.delete(t); change(); } }), ` ${t}`));
  const years = f.years.map((c) => +c.value);
  // A list reload (a change made elsewhere, an import finishing) redraws the facets: a year being typed, not yet
  // committed by its change event, stays in its box, and the box keeps the focus.
  const typing = document.activeElement && document.activeElement.id.startsWith("facet-year") ? document.activeElement : null;
  const yearInput = (key, label) => el("input", { type: "number", id: `facet-${key}`, min: 1000, max: 2200, size: 5, "aria-label": label,
    placeholder: years.length ? String(key === "year_min" ? years[0] : years[years.length - 1]) : "",
    value: (typing && typing.id === `facet-${key}` ? typing.value : filters[key]) || null,
    onchange: (e) => { filters[key] = e.target.value; change(); } });
  const pick = (key, counts, any) => el("select", { id: `facet-${key}`, "aria-label": any, onchange: (e) => { filters[key] = e.target.value; change(); } },
    option("", any, filters[key]), counts.map((c) => option(c.value, `${c.value} (${c.count})`, filters[key])),
    filters[key] && !counts.some((c) => c.value === filters[key]) ? option(filters[key], filters[key], filters[key]) : null);
  const flag = (key, label, count) => el("label", { class: "facet" }, el("input", { type: "checkbox", id: `facet-${key}`,
    ...(filters[key] ? { checked: "" } : {}), onchange: (e) => { filters[key] = e.target.checked; change(); } }), ` ${label} `, el("span", { class: "count" }, count));
  put($("#facets"),
    tags.length ? el("fieldset", {}, el("legend", {}, "Tags"), tags) : null,
    el("fieldset", {}, el("legend", {}, "Year"), yearInput("year_min", "from year"), " to ", yearInput("year_max", "to year")),
    f.venues.length || filters.venue ? el("fieldset", {}, el("legend", {}, "Venue"), pick("venue", f.venues, "any venue")) : null,
    f.sources.length || filters.source ? el("fieldset", {}, el("legend", {}, "Came from"), pick("source", f.sources, "anywhere")) : null,
    el("fieldset", {}, el("legend", {}, "Missing"), flag("no_abstract", "no abstract", f.no_abstract), el("br"),
      flag("not_embedded", "not embedded yet", f.not_embedded)),
    el("fieldset", {}, el("legend", {}, "PDF"), ...[["yes", "has a PDF", f.with_pdf], ["no", "no PDF", f.without_pdf]].map(([v, label, n]) =>
      el("label", { class: "facet" }, el("input", { type: "radio", name: "facet-pdf", id: `facet-pdf-${v}`, ...(filters.pdf === v ? { checked: "" } : {}),
        onclick: (e) => { filters.pdf = filters.pdf === v ? "" : v; e.target.checked = !!filters.pdf; change(); } }), ` ${label} `, el("span", { class: "count" }, n)))),
    filtering() ? el("button", { type: "button", id: "clear-filters", onclick: () => {
      Object.assign(filters, { tags: new Set(), year_min: "", year_max: "", venue: "", source: "", no_abstract: false, not_embedded: false, pdf: "" });
      $("#q").value = ""; change(); } }, "Clear all") : null);
  if (typing) document.getElementById(typing.id).focus();
}

function pick(id, e) {
  e.stopPropagation();
  if (allMatching) { allMatching = false; for (const p of listed) selected.add(p.id); }
  const i = listed.findIndex((p) => p.id === id);
  const j = lastPicked === null ? -1 : listed.findIndex((p) => p.id === lastPicked);
  const on = e.target.checked;
  if (e.shiftKey && j >= 0) { // a range, as file managers do
    for (let k = Math.min(i, j); k <= Math.max(i, j); k++) on ? selected.add(listed[k].id) : selected.delete(listed[k].id);
    for (const box of document.querySelectorAll("#list input.pick")) box.checked = selected.has(box.closest("li").dataset.paperId);
  } else if (on) selected.add(id); else selected.delete(id);
  lastPicked = id;
  renderSelection();
}

let matchingTotal = 0;
function renderSelection(total) {
  if (total !== undefined) matchingTotal = total;
  const n = allMatching ? matchingTotal : selected.size;
  $("#selection").textContent = n ? `${n} selected` : "";
  $(".bulk-actions").hidden = !n;
  const all = $("#select-all");
  all.hidden = !(selected.size && !allMatching && matchingTotal > selected.size);
  all.textContent = `Select all ${matchingTotal} matching`;
  $("#select-page").checked = listed.length > 0 && listed.every((p) => allMatching || selected.has(p.id));
}

// What the bulk actions apply to: the filter ("all matching") or the picked ids.
const target = () => (allMatching ? { query: filterQuery() } : { ids: [...selected] });

async function bulk(action) {
  const tags = $("#bulk-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
  if ((action === "tag" || action === "untag") && !tags.length) { $("#bulk-tags").focus(); return; }
  const r = await api("/api/papers/bulk", json({ action, tags, ...target() }));
  $("#status").textContent = `${r.changed} papers ${{ tag: "tagged", untag: "untagged", trash: "moved to the trash", restore: "restored" }[action]}`;
  if (action === "trash") { selected.clear(); allMatching = false; }
  await showList();
}

async function exportSelection() {
  const q = allMatching ? filterParams() : new URLSearchParams([...selected].map((id) => ["id", id]));
  if (!allMatching && !selected.size) { if (cursor >= 0) q.append("id", listed[cursor].id); else return; }
  const text = await api(`/api/export?format=bibtex&${q}`);
  el("a", { href: URL.createObjectURL(new Blob([text], { type: "text/plain" })), download: "papershelf-selection.bib" }).click();
}

function markCursor() {
  const items = [...document.querySelectorAll("#list > li[data-paper-id]")];
  items.forEach((li, i) => li.classList.toggle("cursor", i === cursor));
  if (items[cursor]) items[cursor].scrollIntoView({ block: "nearest" });
  $("#list").dataset.cursor = cursor >= 0 && listed[cursor] ? listed[cursor].id : "";
}

// Keys on the list (never while typing in a field): j/k or arrows move, Enter opens, x or space selects,
// / searches, t tags the selection (or the current paper), e exports it.
document.addEventListener("keydown", (e) => {
  if (e.target.closest("input, textarea, select") || e.ctrlKey || e.metaKey || e.altKey || mode !== "list") return;
  const key = e.key;
  if (key === "/") { e.preventDefault(); $("#q").focus(); return; }
  if (["j", "ArrowDown"].includes(key)) { e.preventDefault(); cursor = Math.min(listed.length - 1, cursor + 1); markCursor(); }
  else if (["k", "ArrowUp"].includes(key)) { e.preventDefault(); cursor = Math.max(0, cursor - 1); markCursor(); }
  else if (key === "Enter" && listed[cursor]) { e.preventDefault(); openPaper(listed[cursor].id); }
  else if ((key === "x" || key === " ") && listed[cursor]) {
    e.preventDefault();
    const box = document.querySelectorAll("#list > li[data-paper-id] input.pick")[cursor];
    box.checked = !box.checked;
    pick(listed[cursor].id, { target: box, shiftKey: false, stopPropagation() {} });
  } else if (key === "t") {
    e.preventDefault();
    if (!selected.size && !allMatching && listed[cursor]) { selected.add(listed[cursor].id); showList(); }
    renderSelection();
    $("#bulk-tags").focus();
  } else if (key === "e") { e.preventDefault(); exportSelection(); }
});

async function search(q) {
  mode = "search";
  showLibraryView();
  const ticket = ++listTicket;
  const [hits, passages] = await Promise.all([api(`/api/search?q=${encodeURIComponent(q)}&k=50`),
    api(`/api/passages?q=${encodeURIComponent(q)}&k=10`)]);
  if (ticket !== listTicket) return; // a newer list or search was asked for meanwhile
  $("#list-title").textContent = `Search: ${q}`;
  $("#pager").hidden = true;
  $("#list").replaceChildren(...hits.map((h) => paperItem(h.paper,
    el("div", { class: "why" }, h.matched.join(" + "), h.why.length ? ` — ${h.why.join(", ")}` : ""),
    h.passage ? passageLine(h.passage, q) : null)));
  if (!hits.length) $("#list").append(el("li", { class: "empty" }, "Nothing in your library matches."));
  $("#in-pdfs").hidden = !passages.length;
  put($("#in-pdfs"), el("h3", {}, "In your PDFs"),
    el("ol", { class: "passages" }, passages.map((h) => el("li", { "data-paper-id": h.paper_id, "data-page": h.page },
      el("a", { href: paperHash(h.paper_id), class: "title", onclick: (e) => { e.preventDefault(); openPaper(h.paper_id); } }, h.title),
      passageLine(h, q)))));
}

// The words of a query that a PDF viewer's #search= should look for: a quoted phrase, else the matched words.
function searchWords(h, q) {
  const phrase = /"([^"]+)"/.exec(q || "");
  if (phrase) return phrase[1];
  return [...new Set(h.highlights.map(([a, b]) => h.text.slice(a, b).toLowerCase()))].slice(0, 4).join(" ");
}

// Open a paper's PDF at a page, with the words found (Chromium's and Firefox's viewers read #page= and #search=).
async function openAt(h, q) {
  const link = await api(`/api/files/${encodeURIComponent(h.file_id)}/link`); // a one-file ticket: a tab cannot send the token
  const words = searchWords(h, q);
  window.open(`${link.url}#page=${h.page}${words ? `&search=${encodeURIComponent(words)}` : ""}`, "_blank", "noopener");
}

// A passage's words around its first match, the matched words marked.
function snippet(h, width = 280) {
  const first = h.highlights.length ? h.highlights[0][0] : 0;
  let start = Math.max(0, first - Math.floor(width / 3));
  if (start) start = h.text.lastIndexOf(" ", start) + 1;
  const end = Math.min(h.text.length, start + width);
  const parts = [start ? "…" : ""];
  let at = start;
  for (const [a, b] of h.highlights) {
    if (a < start || b > end) continue;
    parts.push(h.text.slice(at, a), el("mark", {}, h.text.slice(a, b)));
    at = b;
  }
  parts.push(h.text.slice(at, end), end < h.text.length ? "…" : "");
  return el("span", { class: "snippet" }, parts);
}

// One passage: where it stands (a link that opens the PDF there) and its words.
function passageLine(h, q) {
  return el("div", { class: "passage" },
    el("a", { href: "#", class: "open-page", "data-file-id": h.file_id, "data-page": h.page,
      onclick: (e) => { e.preventDefault(); openAt(h, q); } }, `p. ${h.page}`),
    h.section ? el("span", { class: "section" }, ` · ${h.section}`) : null, " ", snippet(h));
}

async function showPaper(id) {
  const p = await api(`/api/papers/${encodeURIComponent(id)}`);
  if (lastEdit && lastEdit.id !== p.id) lastEdit = null; // Undo is offered on the paper just edited, not later
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
  const head = el("div", { class: "paper-head" },
    el("h2", {}, webUrl(p.url) ? el("a", { href: webUrl(p.url), target: "_blank", rel: "noopener" }, p.title) : p.title),
    el("div", { class: "meta" }, byline(p), p.entry_type ? ` · ${p.entry_type}` : ""),
    el("button", { type: "button", class: "edit-paper", onclick: () => head.replaceWith(editForm(p)) }, "Edit"));
  put($("#detail"),
    el("button", { type: "button", class: "close", onclick: () => navigate(viewHash(route().view)) }, "×"),
    lastEdit?.id === p.id ? undoNotice(lastEdit) : null,
    head,
    p.edited.length ? el("div", { class: "hint edited" }, `Edited by you: ${Object.keys(FIELD_NAMES).filter((f) => p.edited.includes(f)).map((f) => FIELD_NAMES[f]).join(", ")} (no import or sync changes ${p.edited.length > 1 ? "them" : "it"})`) : null,
    p.mirrors.includes("zotero") ? el("div", { class: "hint mirrors" }, "It mirrors your Zotero library: edit it in Zotero to change it everywhere. "
      + "An edit here stays in papershelf only (papershelf never writes to Zotero), and Zotero's later changes to a field you edited no longer reach it.") : null,
    el("div", { class: "ids" }, `id ${p.id}`, p.identifiers.flatMap((i) => {
      const href = identifierLink(i);
      return ["  ·  ", href ? el("a", { href, target: "_blank", rel: "noopener" }, i) : i];
    }), pdfLink(p) ? ["  ·  ", el("a", { href: pdfLink(p), target: "_blank", rel: "noopener", class: "pdf" }, "open PDF")] : null),
    p.deleted_at ? el("p", { class: "error" }, "In the trash.") : null,
    p.files.length ? el("ul", { class: "files" }, p.files.map((f) => el("li", { "data-file-id": f.id },
      f.missing ? el("span", { class: "missing", title: "import the folder it moved to and papershelf finds it again" },
        `${f.path} — no longer there`)
        : el("a", { href: "#", class: "open-file", onclick: async (e) => {
          e.preventDefault();
          const link = await api(`/api/files/${encodeURIComponent(f.id)}/link`); // a one-file ticket: a tab cannot send the token
          window.open(link.url, "_blank", "noopener");
        } }, `PDF: ${f.path.split("/").pop()}`), ` (${Math.max(1, Math.round(f.size / 1024))} KB${f.kept ? ", kept by papershelf" : ""})`))) : null,
    p.files.some((f) => f.text_note) ? el("p", { class: "hint text-note" }, p.files.map((f) => f.text_note).filter(Boolean).join("; ")) : null,
    p.files.some((f) => f.passages) ? insidePdf(p) : null,
    el("p", { class: "abstract" }, p.abstract || "(no abstract)"),
    el("div", {}, el("label", {}, "Tags ", tags)), el("div", {}, el("label", {}, "Notes ", notes)),
    el("div", {}, save, " ", trash),
    el("h3", {}, "Related in your library"),
    related.length ? el("ol", { class: "related" }, related.map((h) => paperItem(h.paper,
      el("div", { class: "why" }, scoreBar(h.score),
        ` ${h.score.toFixed(2)}`, h.loose ? " · loosely related" : "", h.why.length ? ` — ${h.why.join(", ")}` : ""),
      h.passage ? passageLine(h.passage) : null)))
      : el("p", { class: "hint" }, "Nothing related yet."));
}

// -- editing a paper's metadata, with Undo ---------------------------------------------------------------------
const FIELD_NAMES = { title: "title", authors: "authors", year: "year", venue: "venue", entry_type: "type",
  abstract: "abstract", url: "URL", identifiers: "identifiers" };
const ENTRY_TYPES = ["article", "inproceedings", "incollection", "book", "inbook", "phdthesis", "mastersthesis",
  "techreport", "unpublished", "misc", "online", "dataset", "software", "patent"];
let lastEdit = null; // { id, before, released }: what Undo puts back

const lines = (text) => text.split("\n").map((t) => t.trim()).filter(Boolean);
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The paper's fields as a form in its detail; Save sends only what changed (PATCH takes the paper's own names).
function editForm(p) {
  const input = (name, value, attrs = {}) => el("input", { name, value: value ?? "", "aria-label": FIELD_NAMES[name], ...attrs });
  const area = (name, value, rows) => { const t = el("textarea", { name, rows, "aria-label": FIELD_NAMES[name] }); t.value = value; return t; };
  const type = el("select", { name: "entry_type", "aria-label": "type" },
    el("option", { value: "" }, "(not said)"),
    [...new Set([...ENTRY_TYPES, ...(p.entry_type ? [p.entry_type] : [])])].map((t) =>
      el("option", { value: t, ...(t === p.entry_type ? { selected: "" } : {}) }, t)));
  const error = el("p", { class: "error", role: "alert" });
  const row = (label, field) => el("label", { class: "edit-row" }, el("span", {}, label), field);
  const form = el("form", { class: "edit-form", onsubmit: async (e) => {
    e.preventDefault();
    const f = form.elements;
    const now = { title: f.title.value.trim(), authors: lines(f.authors.value), year: f.year.value ? +f.year.value : null,
      venue: f.venue.value.trim(), entry_type: f.entry_type.value, abstract: f.abstract.value.trim(), url: f.url.value.trim(),
      identifiers: lines(f.identifiers.value) };
    const changes = Object.fromEntries(Object.entries(now).filter(([k, v]) => !same(v, p[k])));
    if (!Object.keys(changes).length) { showPaper(p.id); return; }
    try {
      await api(`/api/papers/${encodeURIComponent(p.id)}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(changes) });
    } catch (err) { error.textContent = err.message; return; }
    const before = Object.fromEntries(Object.keys(changes).map((k) => [k, p[k]]));
    lastEdit = { id: p.id, before, released: Object.keys(changes).filter((k) => !p.edited.includes(k)) };
    showPaper(p.id); reload();
  } },
  row("Title", input("title", p.title, { required: "", size: 50 })),
  row("Authors (one a line)", area("authors", p.authors.join("\n"), Math.min(8, Math.max(2, p.authors.length + 1)))),
  row("Year", input("year", p.year, { type: "number", min: 1000, max: 2200 })),
  row("Venue", input("venue", p.venue, { size: 40 })), row("Type", type),
  row("Abstract", area("abstract", p.abstract, 6)),
  row("URL", input("url", p.url, { type: "url", size: 50 })),
  row("Identifiers (one a line: doi:…, arxiv:…)", area("identifiers", p.identifiers.join("\n"), Math.max(2, p.identifiers.length + 1))),
  error,
  el("div", {}, el("button", { type: "submit" }, "Save"), " ", el("button", { type: "button", onclick: () => showPaper(p.id) }, "Cancel")));
  return form;
}

function undoNotice(edit) {
  return el("p", { class: "notice" }, `Saved your changes to ${Object.keys(edit.before).map((f) => FIELD_NAMES[f]).join(", ")}. `,
    el("button", { type: "button", class: "undo-edit", onclick: async () => {
      lastEdit = null;
      await api(`/api/papers/${encodeURIComponent(edit.id)}`, { method: "PATCH", headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...edit.before, release: edit.released }) });
      showPaper(edit.id); reload();
    } }, "Undo"));
}

// A search inside one paper's PDFs: every passage that matches, best first.
function insidePdf(p) {
  const input = el("input", { type: "search", placeholder: "Search inside its PDF", "aria-label": "Search inside its PDF", size: 30 });
  const out = el("ol", { class: "passages inside" });
  const pages = p.files.reduce((n, f) => n + (f.pages || 0), 0);
  const form = el("form", { class: "inside-pdf", onsubmit: async (e) => {
    e.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    const hits = await api(`/api/passages?q=${encodeURIComponent(q)}&paper=${encodeURIComponent(p.id)}&per_paper=0&k=20`);
    put(out, hits.length ? hits.map((h) => el("li", { "data-page": h.page }, passageLine(h, q)))
      : [el("li", { class: "empty" }, "Not in its PDF.")]);
  } }, input, " ", el("button", {}, "Find"), el("span", { class: "hint" }, ` ${pages} pages`));
  return el("div", {}, form, out);
}

// Where an identifier leads (arXiv, DOI, OpenAlex, Semantic Scholar, PubMed, OpenReview, ACL Anthology).
function identifierLink(ref) {
  const i = ref.indexOf(":");
  const [scheme, value] = [ref.slice(0, i), ref.slice(i + 1)];
  return {
    arxiv: `https://arxiv.org/abs/${value}`, doi: `https://doi.org/${value}`, openalex: `https://openalex.org/${value}`,
    s2: `https://www.semanticscholar.org/paper/${value}`, corpusid: `https://api.semanticscholar.org/CorpusID:${value}`,
    pmid: `https://pubmed.ncbi.nlm.nih.gov/${value}/`, openreview: `https://openreview.net/forum?id=${value}`,
    acl: `https://aclanthology.org/${value}/`,
  }[scheme] || null;
}

// A PDF where the paper's identifiers say where one is (arXiv, ACL Anthology, OpenReview).
function pdfLink(p) {
  for (const ref of p.identifiers) {
    const [scheme, value] = [ref.slice(0, ref.indexOf(":")), ref.slice(ref.indexOf(":") + 1)];
    if (scheme === "arxiv") return `https://arxiv.org/pdf/${value}`;
    if (scheme === "acl") return `https://aclanthology.org/${value}.pdf`;
    if (scheme === "openreview") return `https://openreview.net/pdf?id=${value}`;
  }
  return /\.pdf($|\?)/i.test(p.url || "") ? webUrl(p.url) : null;
}

// -- Today: the daily digest ------------------------------------------------------------------------------
const json = (body) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

function link(it) {
  const ax = it.identifiers.find((i) => i.startsWith("arxiv:"));
  const doi = it.identifiers.find((i) => i.startsWith("doi:"));
  return ax ? `https://arxiv.org/abs/${ax.slice(6)}` : webUrl(it.url) || (doi ? `https://doi.org/${doi.slice(4)}` : null);
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

// -- Followed sources: Zotero, a rewritten .bib, a folder -------------------------------------------------------
function syncLine(s) {
  if (s.held) return el("span", { class: "error held" }, s.held.split(";")[0] + ".");
  if (s.last_error) return el("span", { class: "error" }, `last sync failed: ${s.last_error}`);
  const r = s.last_report;
  if (!r) return el("span", { class: "hint" }, "not synced yet");
  const when = new Date(s.last_sync_at).toLocaleString();
  return el("span", { class: "hint" }, `synced ${when}` + (r.added || r.updated || r.trashed
    ? `: ${r.added} added, ${r.updated} updated, ${r.trashed} to the trash` : ""));
}

async function showSources() {
  const sources = await api("/api/sources");
  const act = async (path, opts) => {
    $("#source-error").textContent = "";
    try { await api(path, opts); } catch (err) { $("#source-error").textContent = err.message; }
    showSources();
  };
  put($("#sources"), ...sources.map((s) => el("li", { class: "source", "data-id": s.id, "data-kind": s.kind },
    el("b", {}, s.id), ` ${s.papers} papers `, el("span", { class: "hint", title: s.location }, s.kind), el("br"),
    syncLine(s), " ",
    el("button", { type: "button", class: "sync", onclick: () => act(`/api/sources/${s.id}/sync`, json({})) }, "Sync now"),
    ...(s.held ? [" ", el("button", { type: "button", class: "confirm",
      onclick: () => act(`/api/sources/${s.id}/sync`, json({ confirm: true })) }, "Apply the removals")] : []),
    " ", el("button", { type: "button", class: "unfollow", onclick: () => {
      if (confirm(`Stop following ${s.id}? The papers only it brought go to the trash (restorable).`))
        act(`/api/sources/${s.id}`, { method: "DELETE" });
    } }, "Stop following"))));
  showUnreadable(act);
}

// Files no reader could read (a crash, no memory or time left, not a PDF): a sync skips them until asked.
async function showUnreadable(act) {
  const files = await api("/api/files/unreadable");
  const box = $("#unreadable");
  box.hidden = !files.length;
  put($("#unreadable-files"), files.slice(0, 20).map((f) => el("li", { title: f.name },
    el("b", {}, f.name.split(/[\\/]/).pop()), " ", el("span", { class: "hint" }, f.reason.replace(/^[^:]*: /, "")))));
  $("#unreadable-count").textContent = `${files.length} file${files.length === 1 ? "" : "s"} could not be read`;
  $("#retry-failed").onclick = () => act("/api/sources/sync", json({ retry_failed: true }));
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
  for (const [view, box] of [["library", "#library-view"], ["map", "#map-view"], ["duplicates", "#duplicates-view"], ["today", "#today"]]) {
    $(box).hidden = view !== name;
    $(`#view-${view}`).classList.toggle("current", view === name);
  }
}

function showLibraryView() { showView("library"); }

let map = null;
async function showMap() {
  mode = "map";
  showView("map");
  map = map || new LibraryMap($("#library-map"), { api, open: openPaper });
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
  if ($("#map-digest").checked) showDigestOverlay();
}

// -- the duplicates review ----------------------------------------------------------------------------------
function paperCard(p) {
  return el("div", { class: "card", "data-paper-id": p.id },
    el("a", { href: paperHash(p.id), class: "title", onclick: (e) => { e.preventDefault(); openPaper(p.id); } }, p.title),
    el("div", { class: "meta" }, byline(p) || "no authors, year or venue"),
    el("div", { class: "ids" }, p.identifiers.join(" · ") || "no identifiers"),
    p.tags.length ? el("div", { class: "tags" }, p.tags.map((t) => el("span", { class: "tag" }, t))) : null,
    el("p", { class: "excerpt" }, p.abstract ? p.abstract.slice(0, 300) + (p.abstract.length > 300 ? "…" : "") : "(no abstract)"));
}

async function showDuplicates() {
  mode = "duplicates";
  showView("duplicates");
  const pairs = await api("/api/duplicates");
  put($("#duplicates"), pairs.length ? pairs.map((pair) => {
    const keep = (kept, gone) => async () => {
      const r = await api("/api/duplicates/merge", json({ keep: kept.id, gone: gone.id }));
      put($("#merge-notice"), el("p", { class: "notice" }, `Merged “${gone.title}” into “${kept.title}”. `,
        el("button", { type: "button", id: "undo-merge", onclick: async () => {
          await api("/api/duplicates/undo", json({ merge: r.merge }));
          put($("#merge-notice"), el("p", { class: "notice" }, "Undone: both papers are back as they were."));
          showDuplicates();
        } }, "Undo")));
      showDuplicates();
      refreshStats();
    };
    return el("li", { class: "pair", "data-pair": `${pair.a.id} ${pair.b.id}` },
      el("p", { class: "why" }, pair.why),
      el("div", { class: "side-by-side" },
        el("div", {}, paperCard(pair.a), el("button", { type: "button", class: "keep-a", onclick: keep(pair.a, pair.b) }, "Keep this one")),
        el("div", {}, paperCard(pair.b), el("button", { type: "button", class: "keep-b", onclick: keep(pair.b, pair.a) }, "Keep this one"))),
      el("button", { type: "button", class: "keep-both", onclick: async () => {
        await api("/api/duplicates/keep-both", json({ keep: pair.a.id, gone: pair.b.id }));
        showDuplicates();
      } }, "Keep both: two papers"));
  }) : el("li", { class: "empty" }, "No possible duplicates: every paper that looked like another was merged or kept apart."));
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
  if (mode === "duplicates") return showDuplicates();
  refreshStats();
  return mode === "search" && $("#q").value ? search($("#q").value) : showList();
}

// An import's report stays until dismissed: added, merged, warnings, and each failure with its reason.
function showReport(r) {
  const reports = Array.isArray(r) ? r : [r];
  put($("#import-report"), el("div", { class: "report", role: "status" },
    el("button", { type: "button", class: "dismiss", "aria-label": "Dismiss the import report", onclick: () => $("#import-report").replaceChildren() }, "×"),
    reports.flatMap((r) => {
      const unchanged = r.merged.filter((m) => !m.changed).length;
      return [el("p", {}, el("b", {}, r.source), `: added ${r.added.length}, merged ${r.merged.length}` +
        (unchanged ? ` (${unchanged} already there)` : "") + `, ${r.warnings.length} warnings, failed ${r.failed.length}`),
      r.failed.length ? el("ul", { class: "error" }, r.failed.slice(0, 20).map((f) => el("li", {}, `record ${f.position}: ${f.reason}`))) : null,
      r.warnings.length ? el("details", {}, el("summary", {}, "warnings"), el("ul", {}, r.warnings.slice(0, 50).map((w) =>
        el("li", {}, `record ${w.position}: ${w.field ? `${w.field}: ` : ""}${w.reason}`)))) : null];
    })));
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
  // Live: the server's events reach this page (import progress, changes made elsewhere).
  es.addEventListener("hello", () => { document.body.dataset.live = "yes"; });
  es.addEventListener("error", () => { document.body.dataset.live = "no"; });
  es.addEventListener("library", later);
  es.addEventListener("sources", () => { showSources(); refreshStats(); });
  // Pages read, passages embedded: the stats say how far the PDFs' full text is (a burst of events: once a second).
  let textTimer = null;
  es.addEventListener("fulltext", () => { if (!textTimer) textTimer = setTimeout(() => { textTimer = null; refreshStats(); }, 1000); });
  es.addEventListener("map", () => { if (mode === "map") showMap(); });
  es.addEventListener("digest", (e) => { if (mode === "today" && ["fetch", "embedded"].includes(JSON.parse(e.data).change)) later(); });
  es.addEventListener("import", (e) => {
    const d = JSON.parse(e.data);
    $("#import-progress").textContent = `importing ${d.source}: ${d.added} added, ${d.merged} merged, ${d.failed} failed so far`;
  });
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
  const read = await readToken();
  token = read.token;
  showExtension();
  const refusal = "The link's token was not accepted by this papershelf: nothing was changed.";
  if (!token) return showPairing(read.refused ? refusal : "");
  if (read.refused) $("#status").textContent = refusal;
  try { await refreshStats(); } catch (e) { if (e.message !== "unpaired") $("#status").textContent = e.message; return; }
  $("#pair").hidden = true;
  $("#app").hidden = false;
  await render(true);
  showSources();
  listenForEvents();
}

// The address says what is shown: a view (#map, #duplicates, #today; the library has none) and the paper open
// in it (#map/paper/ID, #paper/ID). Each view and each opened paper is a history entry, so Back, Forward and an
// address typed or pasted all work; switching views closes the paper.
const VIEWS = { library: () => showList(), map: () => showMap(), duplicates: () => showDuplicates(), today: () => showToday() };

function route() {
  const [first, ...rest] = location.hash.slice(1).split("/");
  const view = first in VIEWS && first !== "library" ? first : "library";
  const tail = first === "paper" ? rest : rest[0] === "paper" ? rest.slice(1) : [];
  return { view, paper: tail.length ? decodeURIComponent(tail.join("/")) : null };
}

const viewHash = (view) => (view === "library" ? "" : `#${view}`);
const paperHash = (id, view = route().view) => `${view === "library" ? "#" : `${viewHash(view)}/`}paper/${encodeURIComponent(id)}`;

let shown = { view: null, paper: null }; // what render() last drew

// Show what the address says; a view is drawn again only when it changes (or when asked: `redraw`).
async function render(redraw = false) {
  if (!token || $("#app").hidden) return;
  const want = route();
  const viewChanged = redraw || want.view !== shown.view;
  const paperChanged = viewChanged || want.paper !== shown.paper;
  shown = want; // before drawing: popstate and hashchange may both ask for the same address
  if (!want.paper) $("#detail").hidden = true;
  if (viewChanged) await VIEWS[want.view]();
  if (want.paper && paperChanged) {
    try { await showPaper(want.paper); } catch (e) { if (e.message !== "unpaired") $("#status").textContent = e.message; }
  }
}

// A new history entry for an address, then show it.
function navigate(hash, redraw = false) {
  if (hash !== location.hash && !(hash === "" && !location.hash)) history.pushState(null, "", hash || location.pathname);
  return render(redraw);
}

function openPaper(id) { return navigate(paperHash(id)); }

// Back and Forward fire popstate; a hash typed into the address bar fires hashchange (and popstate too).
window.addEventListener("popstate", () => render());
window.addEventListener("hashchange", () => render());

for (const view of Object.keys(VIEWS)) {
  $(`#view-${view}`).addEventListener("click", (e) => {
    e.preventDefault();
    if (view === "library") offset = 0;
    navigate(viewHash(view), view === "library"); // the library's own link also takes it back to its first page
  });
}
$("#map-colour").addEventListener("change", () => { map.colourBy = $("#map-colour").value; map.draw(); });
$("#map-digest").addEventListener("change", () => showDigestOverlay());

// The digest's newest day on the map: its new papers as rings where they would sit.
async function showDigestOverlay() {
  if (!$("#map-digest").checked) { map.overlay(null); return; }
  const o = await api("/api/map/digest");
  map.overlay(o);
  $("#map-note").textContent = o.day ? `${o.ids.length} new papers of ${o.day}: the rings` : "No digest yet: add feeds in Today.";
}
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
$("#source-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const location = $("#source-location").value.trim();
  if (!location) return;
  $("#source-error").textContent = "reading it once…";
  try {
    const got = await api("/api/sources", json({ location }));
    const r = got.sync;
    $("#source-error").textContent = r && r.error ? r.error : "";
    $("#status").textContent = r ? `${got.source.id}: ${r.added} added, ${r.merged} already in the library` : "";
    $("#source-location").value = "";
  } catch (err) { $("#source-error").textContent = err.message; }
  showSources();
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

$("#pair-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const given = $("#token").value.trim();
  if (!(await accepted(given))) return showPairing("That token was not accepted.");
  localStorage.setItem("papershelf-token", given);
  start();
});
$("#search-form").addEventListener("submit", (e) => {
  e.preventDefault();
  clearTimeout(typing); // Enter asks for the ranked search: the instant filter still waiting must not replace it
  const q = $("#q").value.trim();
  if (mode === "map") return q ? lightSearch(q) : (map.light(null), showMap());
  q ? search(q) : (offset = 0, showList());
});
let typing = null; // instant search: the list follows the box as you type (a moment after the last key)
$("#q").addEventListener("input", () => {
  clearTimeout(typing);
  typed = true;
  typing = setTimeout(() => { if (mode === "list" || mode === "search") showList(); }, 250);
});
$("#select-all").addEventListener("click", () => { allMatching = true; showList(); });
$("#select-page").addEventListener("change", (e) => {
  allMatching = false;
  for (const p of listed) e.target.checked ? selected.add(p.id) : selected.delete(p.id);
  showList();
});
$("#bulk-tag").addEventListener("click", () => bulk("tag"));
$("#bulk-untag").addEventListener("click", () => bulk("untag"));
$("#bulk-trash").addEventListener("click", () => bulk($("#show-trash").checked ? "restore" : "trash"));
$("#bulk-export").addEventListener("click", exportSelection);
$("#bulk-tags").addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); bulk("tag"); } });

// Drop files anywhere: they are imported, with the server's progress events and the report kept until dismissed.
let dragging = 0;
window.addEventListener("dragenter", (e) => { if (token && e.dataTransfer?.types?.includes("Files")) { dragging++; $("#drop-zone").hidden = false; } });
window.addEventListener("dragleave", () => { if (--dragging <= 0) { dragging = 0; $("#drop-zone").hidden = true; } });
window.addEventListener("dragover", (e) => { if (e.dataTransfer?.types?.includes("Files")) e.preventDefault(); });
window.addEventListener("drop", (e) => {
  if (!e.dataTransfer?.files?.length) return;
  e.preventDefault();
  dragging = 0;
  $("#drop-zone").hidden = true;
  importFiles(e.dataTransfer.files);
});

async function importFiles(files) {
  const form = new FormData();
  for (const f of files) form.append(f.name, f, f.name);
  $("#import-report").textContent = `importing ${[...files].map((f) => f.name).join(", ")}…`;
  try { showReport(await api("/api/import", { method: "POST", body: form })); } catch (err) { $("#import-report").textContent = err.message; }
  $("#import-progress").textContent = "";
  reload();
}

$("#sort").addEventListener("change", () => { offset = 0; showList(); });
$("#show-trash").addEventListener("change", () => { offset = 0; showList(); });
$("#prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); showList(); });
$("#next").addEventListener("click", () => { offset += PAGE; showList(); });
$("#import-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if ($("#import-file").files.length) importFiles($("#import-file").files);
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
