"""CSL-JSON, as Zotero, Mendeley and publishers (ACM) export it."""

from __future__ import annotations

import re

from .. import ids
from ..clean import read_year
from ..models import Record

_CSL_TYPES = {"article-journal", "paper-conference", "article", "book", "chapter", "report", "thesis", "manuscript",
              "webpage", "post", "dataset", "software", "speech", "entry-encyclopedia", "review"}


# CSL item types → BibTeX entry types.
ENTRY_TYPES = {"article-journal": "article", "article-magazine": "article", "article-newspaper": "article",
               "paper-conference": "inproceedings", "chapter": "incollection", "entry-encyclopedia": "incollection",
               "book": "book", "thesis": "phdthesis", "report": "techreport", "manuscript": "unpublished",
               "dataset": "dataset", "software": "software", "patent": "patent", "webpage": "online",
               "post-weblog": "online", "article": "misc", "motion_picture": "video"}


def matches(obj: dict) -> bool:
    """CSL: family/given authors, `issued` date parts, or a CSL item type."""
    authors = obj.get("author")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict) and (
            {"family", "given", "literal"} & set(authors[0])):
        return True
    return "issued" in obj or str(obj.get("type", "")).lower().replace("_", "-") in _CSL_TYPES | {"paper-conference"}


def _name(a: dict) -> str:
    return a.get("literal") or " ".join(x for x in (a.get("given"), a.get("family")) if x)


def to_record(obj: dict) -> Record | str:
    """One CSL item → Record; a `note` line like `arXiv: 1706.03762` is an identifier (Zotero writes them)."""
    title = obj.get("title") or ""
    if isinstance(title, list):
        title = title[0] if title else ""
    if not title:
        return "item has no title"
    refs = []
    if obj.get("id") not in (None, "") and not ids.normalize_doi(str(obj["id"])):
        refs.append(f"key:{obj['id']}")
    if obj.get("DOI"):
        refs.append(f"doi:{obj['DOI']}")
    for line in str(obj.get("note") or "").splitlines():
        m = re.match(r"^\s*([A-Za-z]+)\s*:\s*(\S+)\s*$", line)
        if m and m.group(1).lower() in ids.SCHEMES:
            refs.append(f"{m.group(1).lower()}:{m.group(2)}")
    if m := re.match(r"^arxiv:\s*(\S+)$", str(obj.get("number") or ""), re.I):
        refs.append(f"arxiv:{m.group(1)}")
    issued = obj.get("issued") or {}
    parts = issued.get("date-parts") or [] if isinstance(issued, dict) else []
    warnings: list = []
    year = read_year(parts[0][0] if parts and isinstance(parts[0], list) and parts[0] else (
        issued.get("raw") or issued.get("literal") if isinstance(issued, dict) else issued), warnings)
    tags = [t.strip() for t in re.split(r"[,;]", str(obj.get("keyword") or "")) if t.strip()]
    venue = obj.get("container-title") or ""
    if isinstance(venue, list):
        venue = venue[0] if venue else ""
    # Crossref's abstracts are JATS (<jats:title>Abstract</jats:title><jats:p>…): clean.record reads them.
    return Record(title=title, abstract=obj.get("abstract") or "",
                  authors=[n for n in (_name(a) for a in obj.get("author") or [] if isinstance(a, dict)) if n],
                  year=year, venue=venue, url=obj.get("URL") or "", tags=tags, identifiers=refs, source="csljson",
                  warnings=warnings, entry_type=ENTRY_TYPES.get(str(obj.get("type") or "").lower(), ""))
