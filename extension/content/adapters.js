// Site adapters: each finds the paper on a page as {ids, title, authors, abstract, url}, or, on a listing
// page, its entries as [{ids, anchor}]. Everything else (talking to the library, the panel) is shared.
// Content scripts are classic scripts, so the adapters live on one namespace object.
/* eslint-disable no-unused-vars */
const papershelf = globalThis.papershelf || (globalThis.papershelf = {});

(() => {
  const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
  const meta = (doc, ...names) => {
    for (const n of names) {
      const el = doc.querySelector(`meta[name="${n}" i], meta[property="${n}" i]`);
      if (el && el.content.trim()) return el.content.trim();
    }
    return "";
  };
  const metaAll = (doc, ...names) => names.flatMap((n) =>
    [...doc.querySelectorAll(`meta[name="${n}" i]`)].map((m) => m.content.trim()).filter(Boolean));

  // "Vaswani, Ashish" → "Ashish Vaswani"
  const personName = (s) => (s.includes(",") ? s.split(",").slice(1).join(" ").trim() + " " + s.split(",")[0].trim() : s).trim();

  const arxivId = (s) => {
    const m = String(s || "").match(/(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?\/\d{7})(v\d+)?/i);
    return m ? m[1] : "";
  };
  const doiOf = (s) => {
    const m = String(s || "").match(/10\.\d{4,9}\/[^\s"'<>?#]+/);
    return m ? m[0].replace(/[.,;]$/, "") : "";
  };

  function jsonLdArticle(doc) {
    for (const s of doc.querySelectorAll('script[type="application/ld+json"]')) {
      let data;
      try { data = JSON.parse(s.textContent); } catch { continue; }
      const items = [].concat(data["@graph"] || data);
      for (const it of items) {
        const types = [].concat(it && it["@type"] || []);
        if (types.some((t) => /ScholarlyArticle|Article|CreativeWork/i.test(t)) && (it.headline || it.name)) return it;
      }
    }
    return null;
  }

  // Highwire citation_* tags (Google Scholar's), Dublin Core, then schema.org JSON-LD.
  function fromMetadata(doc, loc) {
    const ids = [];
    const doi = meta(doc, "citation_doi", "dc.identifier", "DC.identifier", "prism.doi", "bepress_citation_doi");
    if (doiOf(doi)) ids.push(`doi:${doiOf(doi)}`);
    const ax = meta(doc, "citation_arxiv_id");
    if (ax) ids.push(`arxiv:${ax}`);
    let title = meta(doc, "citation_title", "dc.title", "DC.title", "bepress_citation_title");
    let authors = metaAll(doc, "citation_author", "dc.creator", "DC.creator", "bepress_citation_author").map(personName);
    let abstract = meta(doc, "citation_abstract", "dc.description", "DC.description", "description");
    const ld = jsonLdArticle(doc);
    if (ld) {
      title = title || text({ textContent: ld.headline || ld.name || "" });
      if (!authors.length) authors = [].concat(ld.author || []).map((a) => (typeof a === "string" ? a : a.name || "")).filter(Boolean);
      abstract = abstract.length > 80 ? abstract : (ld.abstract || ld.description || abstract);
      const ldDoi = doiOf([].concat(ld.identifier || [], ld.sameAs || [], ld["@id"] || []).map((x) => (typeof x === "string" ? x : x.value || "")).join(" "));
      if (ldDoi && !ids.length) ids.push(`doi:${ldDoi}`);
    }
    if (!title) return null;
    return { ids, title, authors, abstract, url: meta(doc, "citation_abstract_html_url", "og:url") || loc.href.split("#")[0] };
  }

  const withId = (paper, id) => paper && id && !paper.ids.includes(id) ? { ...paper, ids: [id, ...paper.ids] } : paper;

  papershelf.adapters = [
    {
      name: "arxiv", site: "arxiv",
      test: (loc) => loc.hostname.endsWith("arxiv.org") && /^\/(abs|html)\//.test(loc.pathname),
      extract(doc, loc) {
        const id = arxivId(meta(doc, "citation_arxiv_id") || loc.pathname.split("/").slice(2).join("/"));
        if (!id) return null;
        if (loc.pathname.startsWith("/html/")) {
          const title = text(doc.querySelector("h1.ltx_title, h1")).replace(/^Title:\s*/, "");
          const abstract = text(doc.querySelector(".ltx_abstract p, .ltx_abstract")).replace(/^Abstract[.:]?\s*/, "");
          // LaTeXML puts the affiliation after a <br> inside the name: keep what comes before it.
          const authors = [...doc.querySelectorAll(".ltx_personname")]
            .map((a) => (a.firstChild ? a.firstChild.textContent : a.textContent).replace(/\s+/g, " ").trim()).filter(Boolean);
          return { ids: [`arxiv:${id}`], title, authors, abstract, url: `https://arxiv.org/abs/${id}` };
        }
        const m = fromMetadata(doc, loc) || { ids: [], title: text(doc.querySelector("h1.title")).replace(/^Title:/, ""), authors: [], abstract: "" };
        m.abstract = m.abstract || text(doc.querySelector("blockquote.abstract")).replace(/^Abstract:\s*/, "");
        return { ...withId(m, `arxiv:${id}`), url: `https://arxiv.org/abs/${id}` };
      },
    },
    {
      name: "arxiv-listing", site: "arxiv",
      test: (loc) => loc.hostname.endsWith("arxiv.org") && /^\/(list|search)\//.test(loc.pathname),
      listing(doc) {
        const out = [];
        for (const a of doc.querySelectorAll('dt a[title="Abstract"], li.arxiv-result p.list-title a[href*="/abs/"]')) {
          const id = arxivId(a.getAttribute("href") || a.textContent);
          const dd = a.closest("dt")?.nextElementSibling;
          const title = text(dd?.querySelector(".list-title") || a.closest("li")?.querySelector("p.title")).replace(/^Title:\s*/, "");
          if (id) out.push({ ids: [`arxiv:${id}`], title, anchor: a });
        }
        return out;
      },
    },
    {
      name: "huggingface", site: "huggingface",
      test: (loc) => loc.hostname.endsWith("huggingface.co") && /^\/papers\/\d{4}\.\d{4,5}/.test(loc.pathname),
      extract(doc, loc) {
        const id = arxivId(loc.pathname);
        const title = text(doc.querySelector("main h1, h1")) || meta(doc, "og:title").replace(/^Paper page - /, "");
        let abstract = "";
        for (const h of doc.querySelectorAll("h2, h3")) {
          if (/^abstract$/i.test(text(h))) {
            let el = h.nextElementSibling;
            while (el && !abstract) { abstract = text(el.matches("p") ? el : el.querySelector("p")); el = el.nextElementSibling; }
            break;
          }
        }
        abstract = abstract || meta(doc, "og:description", "description");
        const authors = [...doc.querySelectorAll('a[href^="/papers?author="], .author-name, [data-author]')].map(text).filter(Boolean);
        return title ? { ids: [`arxiv:${id}`], title, authors, abstract, url: `https://huggingface.co/papers/${id}` } : null;
      },
    },
    {
      name: "huggingface-listing", site: "huggingface",
      test: (loc) => loc.hostname.endsWith("huggingface.co") && /^\/papers\/?($|date\/|week\/|month\/|trending|\?)/.test(loc.pathname + loc.search),
      listing(doc) {
        const seen = new Set();
        const out = [];
        for (const a of doc.querySelectorAll('article a[href^="/papers/"], a[href^="/papers/"] h3')) {
          const link = a.closest("a") || a;
          const id = arxivId(link.getAttribute("href"));
          if (!id || seen.has(id)) continue;
          seen.add(id);
          const heading = link.querySelector("h3") || (link.closest("article") || link).querySelector("h3") || link;
          out.push({ ids: [`arxiv:${id}`], title: text(heading), anchor: heading });
        }
        return out;
      },
    },
    {
      name: "openreview", site: "openreview",
      test: (loc) => loc.hostname.endsWith("openreview.net") && loc.pathname === "/forum",
      extract(doc, loc) {
        const id = new URLSearchParams(loc.search).get("id");
        const m = fromMetadata(doc, loc) || { ids: [], title: text(doc.querySelector(".forum-title h2, h2.citation_title, h2")), authors: [], abstract: "" };
        if (!m.abstract) {
          for (const f of doc.querySelectorAll(".note-content-field, strong")) {
            if (/^abstract/i.test(text(f))) { m.abstract = text(f.nextElementSibling); break; }
          }
        }
        if (!m.authors.length) m.authors = text(doc.querySelector(".forum-authors")).split(",").map((s) => s.trim()).filter(Boolean);
        return m.title ? { ...withId(m, id && `openreview:${id}`), url: `https://openreview.net/forum?id=${id}` } : null;
      },
    },
    {
      name: "semanticscholar", site: "semanticscholar",
      test: (loc) => loc.hostname.endsWith("semanticscholar.org") && loc.pathname.startsWith("/paper/"),
      extract(doc, loc) {
        const hash = (loc.pathname.match(/[0-9a-f]{40}/) || [])[0];
        const m = fromMetadata(doc, loc);
        if (!m) return null;
        const full = text(doc.querySelector('[data-test-id="abstract-text"], .abstract__text'));
        if (full.length > m.abstract.length) m.abstract = full.replace(/\s*(Expand|Collapse)$/, "");
        const ax = [...doc.querySelectorAll('a[href*="arxiv.org/abs/"]')].map((a) => arxivId(a.href)).find(Boolean);
        let paper = withId(m, hash && `s2:${hash}`);
        if (ax) paper = withId(paper, `arxiv:${ax}`);
        return { ...paper, url: loc.href.split("?")[0] };
      },
    },
    {
      name: "acl", site: "acl",
      test: (loc) => loc.hostname.endsWith("aclanthology.org") && /^\/[\w.\-]+\/?$/.test(loc.pathname) && /\d/.test(loc.pathname),
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        if (!m) return null;
        const id = loc.pathname.replace(/\//g, "");
        m.abstract = m.abstract || text(doc.querySelector(".acl-abstract span, .acl-abstract")).replace(/^Abstract\s*/, "");
        return { ...withId(m, `acl:${id}`), url: `https://aclanthology.org/${id}/` };
      },
    },
    {
      name: "biorxiv", site: "biorxiv",
      test: (loc) => /(^|\.)(bio|med)rxiv\.org$/.test(loc.hostname) && loc.pathname.startsWith("/content/10.1101/"),
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        if (!m) return null;
        const doi = (loc.pathname.match(/10\.1101\/(\d{4}\.\d{2}\.\d{2}\.\d+|\d{6,})/) || [])[0];
        m.abstract = m.abstract.length > 100 ? m.abstract : text(doc.querySelector("#abstract-1, .abstract")).replace(/^Abstract\s*/, "");
        return withId(m, doi && `doi:${doi}`);
      },
    },
    {
      name: "generic", site: "generic",
      // Any page with Highwire citation_* tags, Dublin Core tags or a schema.org ScholarlyArticle.
      test: () => true,
      extract(doc, loc) {
        const hasMeta = doc.querySelector('meta[name^="citation_title" i], meta[name="dc.title" i], script[type="application/ld+json"]');
        if (!hasMeta) return null;
        const m = fromMetadata(doc, loc);
        // A page that only has a generic JSON-LD Article (a blog post) is not a paper: require an author and
        // either an identifier, Highwire tags or a ScholarlyArticle type.
        if (!m || !m.authors.length) return null;
        const scholarly = doc.querySelector('meta[name^="citation_" i], meta[name^="dc." i]') ||
          /ScholarlyArticle/.test([...doc.querySelectorAll('script[type="application/ld+json"]')].map((s) => s.textContent).join(" "));
        return scholarly ? m : null;
      },
    },
  ];

  // Markup in metadata (bioRxiv's citation_abstract holds "<h3>ABSTRACT</h3> <p>…", JATS elsewhere) becomes
  // text the way the server cleans it (server/papershelf/clean.py): parsed, never matched with patterns;
  // block elements are spaces, inline ones (sub, sup, i) join their text; a leading "Abstract" heading goes.
  const MARKUP = /<[a-z!/?]|&(#\d+|#x[0-9a-f]+|[a-z]{2,8});/i;
  const BLOCK = /^(?:[\w-]+:)?(p|div|h[1-6]|title|label|sec|section|abstract|li|ul|ol|dl|dt|dd|br|hr|tr|td|th|table|tbody|thead|blockquote|caption|figure|figcaption|header|footer|article|aside|main|nav|pre|address|list|list-item|disp-quote|disp-formula|fig|table-wrap)$/i;
  const SECTION_HEADING = /^(?:[\w-]+:)?(h[1-6]|title)$/i;
  const HEADING_ONLY = /^\s*(abstract|summary)\s*[.:\-–—]?\s*$/i;
  const VOID = /^(?:[\w-]+:)?(br|hr|img|wbr|col|mspace|break)$/i;
  const unknownTag = (e) => !e.localName.includes(":") && Object.prototype.toString.call(e) === "[object HTMLUnknownElement]";

  function unmark(s, abstract) {
    const doc = new DOMParser().parseFromString("<!doctype html><body></body>", "text/html");
    const tpl = doc.createElement("template");
    tpl.innerHTML = s; // an inert template: nothing in it loads or runs
    const root = tpl.content;
    // "x<y and y>z" in a formula is text, not an element named y.
    for (const e of [...root.querySelectorAll("*")].filter(unknownTag).reverse()) {
      const attrs = [...e.attributes].map((a) => (a.value ? ` ${a.name}="${a.value}"` : ` ${a.name}`)).join("");
      e.replaceWith(`<${e.localName}${attrs}>`, ...e.childNodes);
    }
    // Real markup is closed (<h3>…</h3>) or empty (<br>): "&lt;A &gt;" read twice is someone writing "<A >".
    const closed = (e) => VOID.test(e.localName) || s.toLowerCase().includes(`</${e.localName.toLowerCase()}`);
    const sawElements = [...root.querySelectorAll("*")].some(closed);
    root.querySelectorAll("script, style, noscript, template, object, svg").forEach((e) => e.remove());
    if (abstract) {
      const first = [...root.querySelectorAll("*")].find((e) => BLOCK.test(e.localName));
      // Only a heading that opens the text: "We study… <h3>Abstract</h3>" keeps it.
      if (first && HEADING_ONLY.test(first.textContent) &&
          root.textContent.trimStart().startsWith(first.textContent.trim())) first.remove();
    }
    // A section heading of a structured abstract reads as one: "Significance: The inadequate …".
    for (const e of root.querySelectorAll("*")) {
      if (SECTION_HEADING.test(e.localName) && e.textContent.trim() && !/[.:!?]\s*$/.test(e.textContent)) e.append(":");
    }
    for (const e of root.querySelectorAll("*")) if (BLOCK.test(e.localName)) { e.before(" "); e.after(" "); }
    return [root.textContent, sawElements];
  }

  const cleanText = (value, { abstract = false } = {}) => {
    let s = String(value || "");
    // An escaped fragment (&lt;p&gt;…) is read a second time only if that reading finds real elements, closed
    // or empty: a text that says "&lt;/ &gt;" means "</ >" (as server/papershelf/clean.py decides).
    for (let pass = 0; pass < 2 && MARKUP.test(s); pass++) {
      const [out, sawElements] = unmark(s, abstract);
      if (out === s || (pass === 1 && !sawElements)) break;
      s = out;
    }
    if (abstract) s = s.replace(/^\s*(abstract|summary)\s*([.:\-–—]\s*|\n\s*)/i, "").replace(/^\s*(ABSTRACT|SUMMARY)\b\s*/, "");
    return s.replace(/\s+/g, " ").trim();
  };

  // What an adapter found, cleaned: the panel shows, and the server gets, text.
  papershelf.extractPaper = (adapter, doc, loc) => {
    const p = adapter.extract(doc, loc);
    if (!p) return p;
    return { ...p, title: cleanText(p.title), abstract: cleanText(p.abstract, { abstract: true }),
      authors: (p.authors || []).map((a) => cleanText(a)).filter(Boolean) };
  };

  // The first adapter that claims the page decides; a site the user turned off stays off (no generic fallback).
  papershelf.findAdapter = (loc, enabledSites) => {
    const a = papershelf.adapters.find((x) => x.test(loc));
    return a && (!enabledSites || enabledSites[a.site] !== false) ? a : null;
  };
  papershelf.util = { text, meta, arxivId, doiOf, cleanText };
})();
