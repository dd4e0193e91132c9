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
  // A page's own address for its paper (og:url and the like), resolved against the page: kept only if it is a
  // web address. A hostile page's `javascript:` og:url would otherwise be saved and later drawn as a link.
  const webAddress = (value, loc) => {
    if (!value) return "";
    try {
      const url = new URL(value, loc.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : "";
    } catch { return ""; }
  };
  // Every value of the first of these tags the page has (names match in any case: dc.creator is DC.creator).
  const metaAll = (doc, ...names) => {
    for (const n of names) {
      const values = [...doc.querySelectorAll(`meta[name="${n}" i]`)].map((m) => m.content.replace(/\s+/g, " ").trim()).filter(Boolean);
      if (values.length) return values;
    }
    return [];
  };

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

  const SCHOLARLY = /ScholarlyArticle|MedicalScholarlyArticle|Thesis|Report|Chapter/i;

  // A JSON-LD item that describes one piece of writing: {item, scholarly} (a blog's Article is not scholarly).
  function jsonLdArticle(doc) {
    for (const s of doc.querySelectorAll('script[type="application/ld+json"]')) {
      let data;
      try { data = JSON.parse(s.textContent); } catch { continue; }
      const items = [].concat(data["@graph"] || data).flatMap((it) => [it, ...[].concat((it && it.mainEntity) || [])]);
      for (const it of items) {
        const types = [].concat(it && it["@type"] || []);
        if (types.some((t) => /Article|CreativeWork|Thesis|Report|Chapter/i.test(t)) && (it.headline || it.name)) {
          return { item: it, scholarly: types.some((t) => SCHOLARLY.test(t)) };
        }
      }
    }
    return null;
  }

  // The DOI a page's address says it is about: /doi/10.…, /article/10.…, a canonical link, og:url.
  function doiOfAddress(doc, loc) {
    const addresses = [loc.pathname, doc.querySelector('link[rel="canonical" i]')?.getAttribute("href"), meta(doc, "og:url")];
    for (const a of addresses) {
      let path = "";
      try { path = decodeURIComponent(new URL(a || "", loc.href).pathname); } catch { continue; }
      const m = path.match(/\/(?:doi(?:\/(?:abs|full|pdf|epdf|book|reader))?|article|articles|chapter)\/(10\.\d{4,9}\/[^\s?#]+)/i);
      if (m) return doiOf(m[1]).replace(/\/(full|abstract|pdf|meta)$/i, "");
    }
    return "";
  }

  // The "Abstract" section of the page's body, as markup (extractPaper cleans it): a heading h1–h4 that says
  // Abstract (any case) with what follows it, a section labelled so, or #abstract / .abstract.
  const ABSTRACT_HEADING = /^\s*abstract\s*[.:]?\s*$/i;
  // The parts of a structured abstract (NLM's categories): headings inside an abstract, not after it.
  const STRUCTURED = /^(background|introduction|context|importance|objectives?|aims?|purpose|methods?|materials and methods|design|setting|participants|interventions?|measurements|main outcomes?( and measures?)?|results?|findings|conclusions?|interpretation|significance|limitations|discussion|funding)\s*[.:]?$/i;
  function bodyAbstract(doc) {
    for (const h of doc.querySelectorAll("h1, h2, h3, h4")) {
      if (!ABSTRACT_HEADING.test(h.textContent)) continue;
      // What follows the heading, up to the next heading that is not part of a structured abstract
      // (ScienceDirect, Wiley, ACM, NeurIPS, PLOS). A heading alone in its box: what follows the box
      // (Taylor & Francis).
      const level = Number(h.tagName[1]);
      const above = Array.from({ length: level }, (_, i) => `h${i + 1}`).join(", ");
      const ends = (el) => el.matches(above) || [...el.matches("h1, h2, h3, h4, h5, h6") ? [el] : [], ...el.querySelectorAll("h1, h2, h3, h4, h5, h6")]
        .some((x) => x.matches(above) || !STRUCTURED.test(x.textContent.trim()));
      let node = h;
      while (!node.nextElementSibling && node.parentElement && !/^(BODY|MAIN|ARTICLE)$/.test(node.parentElement.tagName)) node = node.parentElement;
      const parts = [];
      for (let el = node.nextElementSibling; el && !ends(el); el = el.nextElementSibling) parts.push(el.outerHTML);
      const html = parts.join(" ");
      if (cleanText(html, { abstract: true }).length >= 40) return html;
    }
    for (const sec of doc.querySelectorAll("section[aria-labelledby]")) {
      const label = doc.getElementById(sec.getAttribute("aria-labelledby"));
      if (label && ABSTRACT_HEADING.test(label.textContent)) return sec.innerHTML;
    }
    for (const el of doc.querySelectorAll('#abstract, .abstract, [role="doc-abstract"]')) {
      if (cleanText(el.innerHTML, { abstract: true }).length >= 40) return el.innerHTML;
    }
    return "";
  }

  // Authors named in the body, for pages whose metadata names none.
  function bodyAuthors(doc) {
    const found = [...doc.querySelectorAll('[itemprop="author"] [itemprop="name"], a[rel="author"], .author-name, .authors .author, .loa__author-name')]
      .map(text).filter((a) => a && a.length < 120);
    return [...new Set(found)].slice(0, 500);
  }

  // Highwire citation_* tags (Google Scholar's), Dublin Core, schema.org JSON-LD, then the page's address and
  // body. The abstract comes from the best source there is, in this order: citation_abstract, Dublin Core's
  // description, JSON-LD, the body's Abstract section, and only then the page's description (often a teaser:
  // abstractFrom says so).
  function fromMetadata(doc, loc) {
    const ids = [];
    const addressDoi = doiOfAddress(doc, loc);
    const doi = doiOf(meta(doc, "citation_doi", "dc.identifier", "DC.identifier", "prism.doi", "bepress_citation_doi")) || addressDoi;
    if (doi) ids.push(`doi:${doi}`);
    const ax = meta(doc, "citation_arxiv_id");
    if (ax) ids.push(`arxiv:${ax}`);
    const ld = jsonLdArticle(doc);
    const item = ld ? ld.item : {};
    // A page named by its DOI is an article even when it has no title tag (ACM): its heading is the title.
    const title = meta(doc, "citation_title", "dc.title", "bepress_citation_title") || text({ textContent: item.headline || item.name || "" })
      || (addressDoi ? text(doc.querySelector("h1")) : "");
    if (!title) return null; // most pages on the web: nothing more to read
    let authors = metaAll(doc, "citation_author", "dc.creator", "bepress_citation_author").map(personName);
    if (!authors.length) authors = [].concat(item.author || []).map((a) => (typeof a === "string" ? a : a.name || "")).filter(Boolean);
    if (!authors.length) authors = bodyAuthors(doc);
    const ldDoi = doiOf([].concat(item.identifier || [], item.sameAs || [], item["@id"] || []).map((x) => (typeof x === "string" ? x : x.value || "")).join(" "));
    if (ldDoi && !ids.some((i) => i.startsWith("doi:"))) ids.push(`doi:${ldDoi}`);
    let abstract = meta(doc, "citation_abstract") || meta(doc, "dc.description", "dcterms.abstract")
      || (typeof item.abstract === "string" ? item.abstract : "") || bodyAbstract(doc);
    let abstractFrom = abstract ? "abstract" : "";
    if (!abstract) {
      abstract = meta(doc, "description", "og:description") || (typeof item.description === "string" ? item.description : "");
      abstractFrom = abstract ? "description" : "";
    }
    const venue = meta(doc, "citation_journal_title", "citation_conference_title", "citation_publisher", "citation_inbook_title",
      "citation_dissertation_institution", "citation_technical_report_institution", "prism.publicationName", "dc.publisher");
    return { ids, title, authors, abstract, abstractFrom, url: webAddress(meta(doc, "citation_abstract_html_url", "og:url"), loc) || loc.href.split("#")[0],
      evidence: { doi: ids.some((i) => i.startsWith("doi:")), venue: !!venue, scholarly: !!(ld && ld.scholarly), arxiv: !!ax } };
  }

  // Is this page one scholarly article? A title plus a DOI, a title plus a journal/conference/publisher tag, or
  // a ScholarlyArticle in JSON-LD (an identifier alone, such as an arXiv id, also counts).
  const isArticle = (m) => !!m && !!m.title && (m.evidence.doi || m.evidence.venue || m.evidence.scholarly || m.evidence.arxiv);

  // IEEE Xplore keeps an article's metadata in a script: `xplGlobal.document.metadata={…};`.
  function xploreMetadata(doc) {
    for (const s of doc.querySelectorAll("script")) {
      const t = s.textContent;
      const at = t.indexOf("xplGlobal.document.metadata");
      if (at < 0) continue;
      const start = t.indexOf("{", at);
      let depth = 0, quote = null;
      for (let i = start; start >= 0 && i < t.length; i++) {
        const c = t[i];
        if (quote) { if (c === "\\") i++; else if (c === quote) quote = null; continue; }
        if (c === '"' || c === "'") quote = c;
        else if (c === "{") depth++;
        else if (c === "}" && --depth === 0) {
          try { return JSON.parse(t.slice(start, i + 1)); } catch { return null; }
        }
      }
    }
    return null;
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
        // The description tag holds the paper's whole abstract (the TLDR is a box of its own, and the
        // .cl-paper-abstract boxes are other papers'), unless the paper has none: "Semantic Scholar extracted
        // view of …". Older pages also put it in an abstract box, with a toggle's label at its end.
        if (/^Semantic Scholar extracted view of/i.test(m.abstract)) Object.assign(m, { abstract: "", abstractFrom: "" });
        else if (m.abstractFrom === "description") m.abstractFrom = "abstract";
        const full = text(doc.querySelector('[data-test-id="abstract-text"], .abstract__text'));
        if (full.length > m.abstract.length) Object.assign(m, { abstract: full.replace(/\s*(Expand|Collapse)$/, ""), abstractFrom: "abstract" });
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
        // No abstract tag: the page's og:description is its byline ("A, B. Proceedings of …"), the abstract is
        // in the body's card.
        const body = text(doc.querySelector(".acl-abstract span, .acl-abstract")).replace(/^Abstract\s*/, "");
        if (body && m.abstractFrom !== "abstract") Object.assign(m, { abstract: body, abstractFrom: "abstract" });
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
    // Publishers whose metadata is not enough; every other publisher is the generic adapter's (README: the table).
    {
      name: "sciencedirect", site: "sciencedirect",
      // Elsevier: citation_title and citation_doi but no citation_author; the abstract only in the body.
      test: (loc) => loc.hostname.endsWith("sciencedirect.com") && loc.pathname.startsWith("/science/article/"),
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        if (!isArticle(m)) return null;
        const names = [...doc.querySelectorAll(".author-group .given-name")].map((g) =>
          `${text(g)} ${text(g.parentElement.querySelector(".surname"))}`.trim());
        return { ...m, authors: names.length ? names : m.authors };
      },
    },
    {
      name: "ieee", site: "ieee",
      test: (loc) => loc.hostname.endsWith("ieeexplore.ieee.org") && /^\/(abstract\/)?document\/\d+/.test(loc.pathname),
      extract(doc, loc) {
        const x = xploreMetadata(doc);
        if (!x || !x.title) return null;
        const number = x.articleNumber || loc.pathname.match(/\d+/)[0];
        return { ids: x.doi ? [`doi:${doiOf(x.doi)}`] : [], title: x.title, abstract: x.abstract || "", abstractFrom: "abstract",
          authors: (x.authors || []).map((a) => a.name || `${a.firstName || ""} ${a.lastName || ""}`.trim()).filter(Boolean),
          url: `https://ieeexplore.ieee.org/document/${number}` };
      },
    },
    {
      name: "pubmed", site: "pubmed",
      // An article page with no citation tags: the heading, the author list and the abstract of the body.
      test: (loc) => loc.hostname === "pubmed.ncbi.nlm.nih.gov" && /^\/\d+\/?$/.test(loc.pathname),
      extract(doc, loc) {
        const title = text(doc.querySelector("h1.heading-title"));
        if (!title) return null;
        const pmid = loc.pathname.match(/\d+/)[0];
        const doi = doiOf(text(doc.querySelector(".identifier.doi .id-link")) || meta(doc, "citation_doi"));
        const list = doc.querySelector(".authors-list");
        const authors = list ? [...new Set([...list.querySelectorAll(".full-name")].map(text).filter(Boolean))] : [];
        const abstract = doc.querySelector("#eng-abstract, #abstract .abstract-content")?.innerHTML || "";
        return { ids: [`pmid:${pmid}`, ...(doi ? [`doi:${doi}`] : [])], title, authors, abstract, abstractFrom: "abstract",
          url: `https://pubmed.ncbi.nlm.nih.gov/${pmid}/` };
      },
    },
    {
      name: "aps", site: "aps",
      // APS journals: the abstract's paragraphs share a box with its figures and subject headings.
      test: (loc) => /(^|\.)(journals|link)\.aps\.org$/.test(loc.hostname) && /^\/(\w+\/)?(abstract|doi)\//.test(loc.pathname),
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        if (!isArticle(m)) return null;
        const paragraphs = [...doc.querySelectorAll("#abstract-section-content > p")].map((p) => p.outerHTML).join(" ");
        return paragraphs ? { ...m, abstract: paragraphs, abstractFrom: "abstract" } : m;
      },
    },
    {
      name: "acm", site: "acm",
      // The ACM Digital Library: no Highwire tags; the DOI is in the address, the authors in the body.
      test: (loc) => loc.hostname.endsWith("dl.acm.org") && /^\/doi\/(abs\/|full\/|pdf\/)?10\./.test(loc.pathname),
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        if (!isArticle(m)) return null;
        const title = text(doc.querySelector("h1.citation__title")) || m.title;
        const authors = [...new Set([...doc.querySelectorAll(".loa__author-name, .loa .authors .author-name")].map(text).filter(Boolean))];
        return { ...m, title, authors: authors.length ? authors : m.authors };
      },
    },
    {
      name: "generic", site: "generic",
      // Any page that is one scholarly article by its metadata (isArticle): Highwire citation_* tags, Dublin
      // Core, schema.org JSON-LD, a DOI in its address. A search results page is none of these.
      test: () => true,
      extract(doc, loc) {
        const m = fromMetadata(doc, loc);
        return isArticle(m) ? m : null;
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
    const { evidence, ...paper } = p;
    const abstract = cleanText(p.abstract, { abstract: true });
    return { ...paper, title: cleanText(p.title), abstract, abstractFrom: abstract ? p.abstractFrom || "abstract" : "",
      authors: (p.authors || []).map((a) => cleanText(a)).filter(Boolean) };
  };

  // The first adapter that claims the page decides; a site the user turned off stays off (no generic fallback).
  papershelf.findAdapter = (loc, enabledSites) => {
    const a = papershelf.adapters.find((x) => x.test(loc));
    return a && (!enabledSites || enabledSites[a.site] !== false) ? a : null;
  };
  papershelf.util = { text, meta, arxivId, doiOf, cleanText, isArticle };
})();
