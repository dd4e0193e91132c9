// Which paper a PDF tab shows, from its URL alone. Content scripts do not run in the browser's PDF viewer,
// so the worker reads the tab's URL: most PDF URLs name their paper (an arXiv id, an OpenReview id, an ACL
// Anthology id, a DOI), and then the badge needs no download. A `.pdf` URL that names nothing is still a PDF
// tab: the popup can save it (the file itself goes to the server, which reads it).
const ARXIV = /^\/pdf\/(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[A-Z]{2})?\/\d{7})(v\d+)?(\.pdf)?$/;
const NEW_ARXIV_IN_PATH = /(?:^|[/_=-])(\d{4}\.\d{4,5})(v\d+)?(?:\.pdf)?$/i;
const DOI_IN_PATH = /(10\.\d{4,9}\/[^?#\s]+?)(?:\.full|\/full|\/pdf|\.pdf|v\d+\.full\.pdf|v\d+)*$/i;

export function paperFromPdfUrl(raw) {
  let u;
  try { u = new URL(raw); } catch { return null; }
  if (!/^https?:$/.test(u.protocol)) return null;
  const host = u.hostname.replace(/^www\./, "");
  const path = decodeURIComponent(u.pathname);
  const ids = [];
  let label = "";
  if (/(^|\.)arxiv\.org$/.test(host)) {
    const m = path.match(ARXIV);
    if (!m) return null;
    ids.push(`arxiv:${m[1]}`);
    label = `arXiv:${m[1]}${m[2] || ""}`;
  } else if (host === "openreview.net" && path === "/pdf") {
    const id = u.searchParams.get("id");
    if (!id || !/^[\w-]{5,40}$/.test(id)) return null;
    ids.push(`openreview:${id}`);
    label = `OpenReview ${id}`;
  } else if (host === "aclanthology.org" && /^\/[\w.-]+\.pdf$/.test(path)) {
    const id = path.slice(1, -4);
    ids.push(`acl:${id}`);
    label = `ACL Anthology ${id}`;
  } else if (/(^|\.)(bio|med)rxiv\.org$/.test(host) && /\.full\.pdf$/.test(path)) {
    const m = path.match(/(10\.1101\/(?:\d{4}\.\d{2}\.\d{2}\.)?\d{6,})/);
    if (!m) return null;
    ids.push(`doi:${m[1].toLowerCase()}`);
    label = m[1];
  } else if (/\.pdf$/i.test(path)) {
    // Any other PDF: an arXiv id or a DOI in its path names it (proceedings.neurips.cc's do not: URL only).
    const doi = path.match(DOI_IN_PATH);
    const ax = path.match(NEW_ARXIV_IN_PATH);
    if (doi) ids.push(`doi:${doi[1].replace(/\.pdf$/i, "").toLowerCase()}`);
    else if (ax) ids.push(`arxiv:${ax[1]}`);
    label = path.split("/").pop();
  } else {
    return null;
  }
  return { ids, url: u.href, title: "", abstract: "", authors: [], pdf: true, label };
}

// The name the saved file gets on the server (it keeps only safe characters of it).
export function pdfFileName(raw) {
  const last = new URL(raw).pathname.split("/").filter(Boolean).pop() || "paper";
  return /\.pdf$/i.test(last) ? last : `${last}.pdf`;
}
