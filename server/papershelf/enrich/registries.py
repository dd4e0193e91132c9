"""The registries a paper is completed from, each read in its documented format: Crossref's REST API
(`GET /works/{doi}`, a `message` that is nearly CSL-JSON), DataCite's REST API (`GET /dois/{doi}`, JSON:API with
`data.attributes`) and the arXiv API (`GET /api/query?id_list=…`, an Atom feed). Each answer becomes a Record,
or None when the registry does not know the identifier; anything else raises RegistryBusy or RegistryError."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote

import msgspec

from ..importers import arxiv, csljson
from ..models import Record

if TYPE_CHECKING:  # (annotations only: see where it is imported)
    import httpx

ENDPOINTS = {"crossref": "https://api.crossref.org", "datacite": "https://api.datacite.org",
             "arxiv": "https://export.arxiv.org"}
# At most one request per this many seconds to each: Crossref's and DataCite's public pools take far more, arXiv
# asks for no more than one every three seconds.
INTERVAL = {"crossref": 1.0, "datacite": 1.0, "arxiv": 3.0}

# Crossref's work types → BibTeX's entry types.
CROSSREF_TYPES = {"journal-article": "article", "proceedings-article": "inproceedings", "book-chapter": "incollection",
                  "book-section": "incollection", "book-part": "incollection", "reference-entry": "incollection",
                  "book": "book", "monograph": "book", "edited-book": "book", "reference-book": "book",
                  "dissertation": "phdthesis", "report": "techreport", "report-component": "techreport",
                  "dataset": "dataset", "posted-content": "misc", "proceedings": "proceedings",
                  "standard": "techreport"}
# DataCite's resourceTypeGeneral, where its own `bibtex` type is missing.
DATACITE_TYPES = {"JournalArticle": "article", "ConferencePaper": "inproceedings", "BookChapter": "incollection",
                  "Book": "book", "Dissertation": "phdthesis", "Report": "techreport", "Dataset": "dataset",
                  "Software": "software", "Preprint": "misc", "Text": "misc"}


class RegistryError(Exception):
    """The registry answered something papershelf cannot read, or could not be reached."""


class RegistryBusy(RegistryError):
    """429 or 503: the registry asks us to wait (`after` seconds, from Retry-After when it says)."""

    def __init__(self, registry: str, status: int, after: float | None):
        super().__init__(f"{registry} answered {status}: waiting")
        self.registry, self.status, self.after = registry, status, after


def registry_for(ref: str) -> list[str]:
    """The registries to ask about an identifier, in order (a DOI Crossref does not know may be DataCite's)."""
    if ref.startswith("doi:"):
        return ["crossref", "datacite"]
    if ref.startswith("arxiv:"):
        return ["arxiv"]
    return []


def _retry_after(value: str | None) -> float | None:
    if value and value.strip().isdigit():
        return float(value.strip())
    return None


def fetch(http: httpx.Client, base: str, registry: str, ref: str) -> Record | None:
    """Ask one registry about one identifier: its Record, or None when it does not know it."""
    import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

    value = ref.split(":", 1)[1]
    if registry == "crossref":
        url, params = f"{base}/works/{quote(value, safe='')}", None
    elif registry == "datacite":
        url, params = f"{base}/dois/{quote(value, safe='')}", None
    else:
        url, params = f"{base}/api/query", {"id_list": value, "max_results": "1"}
    try:
        r = http.get(url, params=params)
    except httpx.HTTPError as e:
        raise RegistryError(f"{registry} could not be reached: {e}") from e
    if r.status_code in (429, 503):
        raise RegistryBusy(registry, r.status_code, _retry_after(r.headers.get("retry-after")))
    if r.status_code == 404:
        return None
    if r.status_code != 200:
        raise RegistryError(f"{registry} answered {r.status_code}")
    try:
        return {"crossref": crossref, "datacite": datacite, "arxiv": arxiv_entry}[registry](r.content, ref)
    except (ValueError, TypeError, KeyError, msgspec.DecodeError) as e:
        raise RegistryError(f"{registry}'s answer for {ref} could not be read: {e}") from e


def crossref(body: bytes, ref: str) -> Record | None:
    """Crossref's `{"status": "ok", "message": {...}}` → Record."""
    message = msgspec.json.decode(body).get("message")
    if not isinstance(message, dict):
        return None
    rec = csljson.to_record(message)
    if isinstance(rec, str):
        return None
    return msgspec.structs.replace(rec, source="crossref", identifiers=[ref],
                                   entry_type=CROSSREF_TYPES.get(str(message.get("type")), ""))


def _text(value) -> str:
    return value if isinstance(value, str) else ""


def datacite(body: bytes, ref: str) -> Record | None:
    """DataCite's `{"data": {"attributes": {...}}}` → Record."""
    data = msgspec.json.decode(body).get("data")
    attrs = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(attrs, dict):
        return None
    titles = [t.get("title") for t in attrs.get("titles") or [] if isinstance(t, dict) and not t.get("titleType")]
    title = _text(titles[0]) if titles else ""
    authors = []
    for c in attrs.get("creators") or []:
        if isinstance(c, dict):
            given, family = _text(c.get("givenName")), _text(c.get("familyName"))
            authors.append(f"{given} {family}".strip() if family else _text(c.get("name")))
    abstract = next((_text(d.get("description")) for d in attrs.get("descriptions") or []
                     if isinstance(d, dict) and d.get("descriptionType") == "Abstract"), "")
    container = attrs.get("container") if isinstance(attrs.get("container"), dict) else {}
    publisher = attrs.get("publisher")
    venue = _text(container.get("title")) or (_text(publisher.get("name")) if isinstance(publisher, dict)
                                              else _text(publisher))
    types = attrs.get("types") if isinstance(attrs.get("types"), dict) else {}
    kind = _text(types.get("bibtex")).lower() or DATACITE_TYPES.get(_text(types.get("resourceTypeGeneral")), "")
    year = attrs.get("publicationYear")
    return Record(title=title, abstract=abstract, authors=[a for a in authors if a],
                  year=int(year) if str(year or "").isdigit() else None, venue=venue, identifiers=[ref],
                  source="datacite", entry_type=kind if re.fullmatch(r"[a-z]{1,30}", kind) else "")


def arxiv_entry(body: bytes, ref: str) -> Record | None:
    """The arXiv API's Atom feed for one id → Record (an arXiv paper is `misc` until a journal reference says
    where it was published)."""
    for _, rec in arxiv.parse(body.decode("utf-8", "replace")):
        if isinstance(rec, Record):
            return msgspec.structs.replace(rec, identifiers=[ref], source="arxiv",
                                           entry_type="article" if rec.venue else "misc")
    return None
