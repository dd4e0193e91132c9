// The injected UI: one element, #papershelf-root, holding an open shadow root, so the page's CSS cannot
// reach in and ours cannot leak out. data-state says what the panel shows: loading, in-library,
// not-in-library, offline, unpaired.
(() => {
  const papershelf = globalThis.papershelf;

  const STYLE = `
    :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
    * { box-sizing: border-box; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
    .card { width: 360px; max-height: 70vh; overflow: auto; background: #fff; color: #1d1d1f; border: 1px solid #d9d9e0;
            border-radius: 10px; box-shadow: 0 6px 24px rgba(0,0,0,.15); font-size: 13px; line-height: 1.4; }
    header { display: flex; align-items: center; gap: 8px; padding: 8px 10px; border-bottom: 1px solid #eee; }
    header .brand { font-weight: 700; font-size: 12px; color: #2f5fd0; }
    header .spacer { flex: 1; }
    button { font: inherit; font-size: 12px; border: 1px solid #c9d3f0; background: #f3f6fe; color: #2f5fd0;
             border-radius: 6px; padding: 3px 9px; cursor: pointer; }
    button.icon { border: 0; background: none; color: #888; padding: 0 4px; font-size: 15px; }
    .badge { display: inline-block; border-radius: 999px; padding: 2px 9px; font-size: 12px; font-weight: 600; }
    .badge.in { background: #e6f4ea; color: #1e7b34; }
    .badge.off { background: #fdecea; color: #b3261e; }
    .status { padding: 8px 10px; color: #555; }
    .status code { background: #f2f2f5; padding: 0 3px; border-radius: 3px; }
    .tags span { background: #eef2fb; color: #2f5fd0; border-radius: 4px; padding: 0 5px; margin-right: 4px; font-size: 11px; }
    h4 { margin: 6px 10px 4px; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #777; }
    ol { margin: 0; padding: 0 10px 8px 28px; }
    li { margin: 0 0 8px; }
    li a { color: #1d1d1f; text-decoration: none; font-weight: 600; }
    li a:hover { color: #2f5fd0; text-decoration: underline; }
    .meta, .why { color: #6b6b73; font-size: 11.5px; }
    .passage { font-size: 11.5px; color: #3a3a40; margin-top: 2px; }
    .passage .open-page { font-weight: 600; }
    li.loose { opacity: .6; }
    .bar { display: inline-block; height: 5px; border-radius: 3px; background: #2f5fd0; vertical-align: middle; margin-right: 5px; }
    .collapsed .body { display: none; }
    .status.refining { padding: 0 10px 6px; font-size: 11.5px; font-style: italic; }
    .status.pending { min-height: min(300px, 40vh); } /* room for the list that replaces it: the card need not grow */
  `;

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c.nodeType ? c : String(c));
    return e;
  }

  // (Only a web address is a link: never a stored `javascript:` one, in the page the reader is on.)
  function webUrl(u) {
    try {
      const url = new URL(u);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch { return null; }
  }

  function paperLink(p) {
    if (webUrl(p.url)) return webUrl(p.url);
    const ids = p.identifiers || [];
    const ax = ids.find((i) => i.startsWith("arxiv:"));
    if (ax) return `https://arxiv.org/abs/${ax.slice(6)}`;
    const doi = ids.find((i) => i.startsWith("doi:"));
    if (doi) return `https://doi.org/${doi.slice(4)}`;
    return null;
  }

  // "2026-11-03T…" → "3 Nov 2026", by hand: the first toLocaleDateString in a page's fresh script world loads
  // the locale's data, which took 40-100 ms of the panel's render on one slow core.
  // The passage of a related paper's PDF closest to this page's paper: its page opens the PDF there.
  function passageOf(h) {
    const first = h.highlights.length ? h.highlights[0][0] : 0;
    let start = Math.max(0, first - 60);
    if (start) start = h.text.lastIndexOf(" ", start) + 1;
    const end = Math.min(h.text.length, start + 200);
    return el("div", { class: "passage", "data-page": h.page },
      el("a", { href: "#", class: "open-page", onclick: (e) => {
        e.preventDefault();
        chrome.runtime.sendMessage({ type: "openAt", fileId: h.file_id, page: h.page }).catch(() => {});
      } }, `p. ${h.page}`), " ", `${start ? "…" : ""}${h.text.slice(start, end)}${end < h.text.length ? "…" : ""}`);
  }

  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function day(iso) {
    const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso);
    return m ? `${Number(m[3])} ${MONTHS[Number(m[2]) - 1]} ${m[1]}` : "";
  }

  function byline(p) {
    const a = p.authors || [];
    const authors = a.length > 3 ? `${a.slice(0, 3).join(", ")} et al.` : a.join(", ");
    return [authors, p.year].filter(Boolean).join(" · ");
  }

  class Panel {
    constructor() {
      document.getElementById("papershelf-root")?.remove();
      // A custom element (page rules for div, section… miss it) placed with inline !important declarations,
      // which win over any rule of the page's style sheets; inside, the shadow root keeps page CSS out.
      this.host = el("papershelf-panel", { id: "papershelf-root", "data-state": "loading" });
      for (const [k, v] of Object.entries({ all: "initial", display: "block", position: "fixed", right: "16px", bottom: "16px",
        "z-index": "2147483647", visibility: "visible", opacity: "1", transform: "none", width: "auto", height: "auto" })) {
        this.host.style.setProperty(k, v, "important");
      }
      this.root = this.host.attachShadow({ mode: "open" });
      this.root.append(el("style", {}, STYLE));
      this.card = el("div", { class: "card", part: "card" });
      this.root.append(this.card);
      (document.body || document.documentElement).append(this.host);
      // Where the card's top is on screen, noted after each layout the browser does anyway: asking for it when
      // the list arrives would make the browser lay out the whole page there and then (on a slow machine, right
      // after DOMContentLoaded, the page's first layout: 60-100 ms).
      this.shownTop = null;
      new ResizeObserver(() => { this.shownTop = this.host.getBoundingClientRect().top; }).observe(this.card);
      this.render({ state: "loading" });
    }

    remove() { this.host.remove(); }

    header(...middle) {
      return el("header", {}, el("span", { class: "brand" }, "papershelf"), ...middle, el("span", { class: "spacer" }),
        el("button", { class: "icon", title: "Collapse", "aria-label": "Collapse", onclick: () => this.card.classList.toggle("collapsed") }, "–"),
        el("button", { class: "icon", title: "Close", "aria-label": "Close", onclick: () => this.remove() }, "×"));
    }

    // The related box's contents. The badge comes first; the related papers follow. A page not in the library
    // gets a list by its words at once, which the ranking of its embedded text replaces (once, a moment later):
    // the panel says which it shows.
    relatedList(related, empty, byWords, showFinal) {
      if (related === undefined) return [el("div", { class: "status pending" }, "Finding related papers…")];
      const note = !byWords ? [] : showFinal
        ? [el("div", { class: "status refining" }, "By the words they share. ",
          el("button", { type: "button", class: "show-final", onclick: showFinal }, "Show the full ranking"))]
        : [el("div", { class: "status refining" }, "By the words they share; the full ranking follows…")];
      if (!related || !related.length) return byWords ? note : [el("div", { class: "status empty" }, empty)];
      return [...note, el("ol", { class: "related" }, related.map((h) => {
        const p = h.paper || h;
        const href = paperLink(p);
        return el("li", { "data-paper-id": h.id, class: h.loose ? "loose" : null },
          href ? el("a", { href, target: "_blank", rel: "noopener" }, h.title) : el("span", {}, h.title),
          el("div", { class: "meta" }, byline(p)),
          el("div", { class: "why" }, el("span", { class: "bar", style: `width:${Math.max(4, Math.round(h.score * 80))}px` }),
            `${h.score.toFixed(2)}`, h.loose ? " · loosely related" : "", h.why && h.why.length ? ` · ${h.why.join(", ")}` : ""),
          h.passage ? passageOf(h.passage) : null);
      }))];
    }

    // Redraws only what changed: the related list arrives after the badge, and replacing the whole card then
    // would swap the Save button under a click that is landing on it. The header and the status are drawn
    // again only when what they show changes; the related list has a box of its own.
    render(view) {
      this.host.dataset.state = view.state;
      this.view = view;
      const shape = JSON.stringify([view.state, view.saving, view.error, view.teaser, view.librarySize === 0,
        view.paper && [view.paper.id, view.paper.added_at, view.paper.tags]]);
      if (shape !== this.shape) {
        this.shape = shape;
        this.shownRelated = null;
        this.relatedBox = el("div", { class: "related-box" });
        const { middle, body } = this.parts(view);
        this.card.replaceChildren(this.header(...middle), el("div", { class: "body" }, body));
      }
      if (this.relatedBox.isConnected && (view.related !== this.shownRelated || view.held !== this.shownHeld)) {
        if (this.shownRelated === undefined) this.holdTop(); // the list replaces its placeholder
        this.shownRelated = view.related;
        this.shownHeld = view.held;
        const byWords = view.related !== undefined && view.final === false;
        const which = byWords ? "words" : "final"; // (set only when it changes: observers count the lists shown)
        if (view.related !== undefined && this.host.dataset.related !== which) this.host.dataset.related = which;
        this.host.dataset.finalReady = view.held ? "yes" : "no"; // a final list that came late, offered
        this.relatedBox.replaceChildren(...this.relatedList(view.related, view.state === "in-library"
          ? "Nothing else in your library is related yet."
          : view.librarySize === 0 ? "Your library is empty: save this paper to start it."
            : "Nothing in your library is related to this paper.", byWords, view.held && view.onShowFinal));
      }
    }

    // Anchored at the bottom, the card grows upward as the list fills in, and its header (Save, collapse,
    // close) would jump away from a pointer about to click it. From now on the top stays where it was shown: the
    // list takes the placeholder's room, and the rest of the screen below it, and scrolls inside the card. A card
    // not laid out yet has been seen nowhere: it has no top to keep.
    holdTop() {
      if (this.shownTop === null) return;
      const top = Math.max(8, this.shownTop);
      this.host.style.setProperty("top", `${top}px`, "important");
      this.host.style.setProperty("bottom", "auto", "important");
      this.card.style.maxHeight = `${Math.max(160, innerHeight - top - 16)}px`;
    }

    // The header's middle and the body of a state; the related list goes into this.relatedBox.
    parts(view) {
      const body = [];
      let middle = [];
      if (view.state === "loading") {
        body.push(el("div", { class: "status" }, "Looking in your library…"));
      } else if (view.state === "offline") {
        middle = [el("span", { class: "badge off" }, "offline")];
        body.push(el("div", { class: "status" }, "Your papershelf server is not running. Start it with ",
          el("code", {}, "papershelf serve"), "; to start it at every login, ", el("code", {}, "papershelf service install"), "."));
      } else if (view.state === "unpaired") {
        middle = [el("span", { class: "badge off" }, "not paired")];
        body.push(el("div", { class: "status" }, "Connect the extension: open the link ", el("code", {}, "papershelf serve"),
          " printed and click ", el("b", {}, "Connect this browser"), ". (Or paste the token that ", el("code", {}, "papershelf token"),
          " prints into the options.) ",
          el("button", { onclick: () => chrome.runtime.sendMessage({ type: "openOptions" }) }, "Open options")));
      } else if (view.state === "in-library") {
        const p = view.paper;
        const added = p.added_at ? day(p.added_at) : "";
        middle = [el("span", { class: "badge in", title: `library id ${p.id}` }, "In your library")];
        body.push(el("div", { class: "status" }, added ? `Added ${added}` : "",
          p.tags && p.tags.length ? el("span", { class: "tags" }, " ", p.tags.map((t) => el("span", {}, t))) : ""));
        body.push(el("h4", {}, "Related in your library"), this.relatedBox);
      } else if (view.state === "not-in-library") {
        // this.view, not view: the button outlives the view it was drawn for.
        middle = [el("button", { class: "save", onclick: () => this.view.onSave && this.view.onSave() }, view.saving ? "Saving…" : "Save to library")];
        if (view.error) body.push(el("div", { class: "status error" }, view.error));
        if (view.teaser) {
          body.push(el("div", { class: "status teaser" }, "This page gives only a short description, not its abstract: "
            + "saving keeps that until a fuller abstract arrives (an import, another page)."));
        }
        body.push(el("h4", {}, "Related in your library"), this.relatedBox);
      }
      return { middle, body };
    }
  }

  // A small mark next to a listing entry that is in the library (its own shadow root, like the panel).
  function markEntry(anchor, hit) {
    if (anchor.parentElement?.querySelector(":scope > papershelf-mark")) return;
    const mark = document.createElement("papershelf-mark");
    mark.dataset.paperId = hit.id;
    mark.title = `In your papershelf library: ${hit.title}`;
    const root = mark.attachShadow({ mode: "open" });
    root.append(el("style", {}, `:host { all: initial; display: inline-block; margin-left: 6px; vertical-align: middle; }
      span { font: 600 11px system-ui, sans-serif; color: #1e7b34; background: #e6f4ea; border-radius: 999px; padding: 1px 7px; }`),
    el("span", {}, "✓ in library"));
    anchor.after(mark);
  }

  papershelf.Panel = Panel;
  papershelf.markEntry = markEntry;
})();
