// Shared by the popup and the related page: message the worker, render a list of papers.
export const ask = (msg) => chrome.runtime.sendMessage(msg);

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c.nodeType ? c : String(c));
  return e;
}

// A paper's address becomes a link only if it is a web address: a `javascript:` one (from a page's og:url,
// stored by an older papershelf) must never run in the extension's pages.
export function webUrl(u) {
  try {
    const url = new URL(u);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch { return null; }
}

export function link(p) {
  if (webUrl(p.url)) return webUrl(p.url);
  const ax = (p.identifiers || []).find((i) => i.startsWith("arxiv:"));
  if (ax) return `https://arxiv.org/abs/${ax.slice(6)}`;
  const doi = (p.identifiers || []).find((i) => i.startsWith("doi:"));
  return doi ? `https://doi.org/${doi.slice(4)}` : null;
}

export function hitItem(h) {
  const p = h.paper || h;
  const href = link(p);
  const a = (p.authors || []);
  return el("li", { "data-paper-id": h.id, class: h.loose ? "loose" : undefined },
    href ? el("a", { href, target: "_blank", rel: "noopener" }, h.title) : h.title,
    el("div", { class: "why" }, [a.length > 3 ? `${a.slice(0, 3).join(", ")} et al.` : a.join(", "), p.year].filter(Boolean).join(" · ")),
    el("div", { class: "why" }, `${h.score.toFixed(2)}`, h.loose ? " · loosely related" : "", h.why && h.why.length ? ` · ${h.why.join(", ")}` : "",
      h.matched ? ` · ${h.matched.join(" + ")}` : ""),
    h.passage ? passageLine(h.passage) : null);
}

// A passage of a paper's PDF: its page (a link that opens the PDF there) and its words around the first match.
export function passageLine(h, q) {
  const first = h.highlights.length ? h.highlights[0][0] : 0;
  let start = Math.max(0, first - 60);
  if (start) start = h.text.lastIndexOf(" ", start) + 1;
  const end = Math.min(h.text.length, start + 220);
  const parts = [start ? "…" : ""];
  let at = start;
  for (const [a, b] of h.highlights) {
    if (a < start || b > end) continue;
    parts.push(h.text.slice(at, a), el("mark", {}, h.text.slice(a, b)));
    at = b;
  }
  parts.push(h.text.slice(at, end), end < h.text.length ? "…" : "");
  const phrase = /"([^"]+)"/.exec(q || "");
  const words = phrase ? phrase[1] : [...new Set(h.highlights.map(([a, b]) => h.text.slice(a, b).toLowerCase()))].slice(0, 4).join(" ");
  return el("div", { class: "passage", "data-page": h.page },
    el("a", { href: "#", class: "open-page", onclick: (e) => { e.preventDefault(); ask({ type: "openAt", fileId: h.file_id, page: h.page, words }); } },
      `p. ${h.page}`), " ", el("span", { class: "snippet" }, parts));
}

// What to say when the server cannot answer.
export function problem(res) {
  if (res.state === "offline") {
    return el("p", { class: "problem" }, el("span", { class: "badge off" }, "server not running"), " Start it: run ",
      el("code", {}, "papershelf serve"), " in a terminal, then reopen this. To have it start at every login (and again if it stops): ",
      el("code", {}, "papershelf service install"), ".");
  }
  if (res.state === "unpaired") {
    return el("p", { class: "problem" }, el("span", { class: "badge off" }, "not paired"), " Open the link ",
      el("code", {}, "papershelf serve"), " printed and click Connect this browser, or paste the token that ",
      el("code", {}, "papershelf token"), " prints into the ", el("a", { href: "options.html", target: "_blank" }, "options"), ".");
  }
  return el("p", { class: "problem" }, res.error || "Something went wrong.");
}
