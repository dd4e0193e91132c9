"""Semantic Scholar Graph API JSON: one paper, a list (a batch, with nulls for unknown ids), or `data`."""

from __future__ import annotations

from ..models import Record

_EXTERNAL = {"ArXiv": "arxiv", "DOI": "doi", "CorpusId": "corpusid", "PubMed": "pmid", "ACL": "acl"}


def matches(obj: dict) -> bool:
    """A Semantic Scholar paper."""
    return "paperId" in obj or "externalIds" in obj


def to_record(obj: dict) -> Record | str:
    """One paper → Record."""
    if not obj.get("title"):
        return "paper has no title"
    refs = [f"s2:{obj['paperId']}"] if obj.get("paperId") else []
    for key, value in (obj.get("externalIds") or {}).items():
        if key in _EXTERNAL and value not in (None, ""):
            refs.append(f"{_EXTERNAL[key]}:{value}")
    venue = obj.get("venue") or ((obj.get("journal") or {}).get("name") or "")
    return Record(title=obj["title"], abstract=obj.get("abstract") or "",
                  authors=[a.get("name", "") for a in obj.get("authors") or [] if a.get("name")],
                  year=obj.get("year"), venue=venue, url=obj.get("url") or "", identifiers=refs,
                  source="semanticscholar")
