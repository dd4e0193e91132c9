"""OpenAlex works: one work, a list, or a `/works` response with `results`."""

from __future__ import annotations

from .. import ids
from ..models import Record


def matches(obj: dict) -> bool:
    """An OpenAlex work."""
    return str(obj.get("id", "")).startswith("https://openalex.org/W") or "abstract_inverted_index" in obj


def abstract_from_inverted_index(index: dict | None) -> str:
    """Rebuild the abstract: words in position order; words sharing a position keep the index's order."""
    if not index:
        return ""
    placed = []
    for order, (word, positions) in enumerate(index.items()):
        for p in positions or []:
            placed.append((int(p), order, word))
    placed.sort()
    return " ".join(w for _, _, w in placed)


def to_record(obj: dict) -> Record | str:
    """One work → Record."""
    title = obj.get("title") or obj.get("display_name") or ""
    if not title:
        return "work has no title"
    refs = [f"openalex:{obj['id']}"] if obj.get("id") else []
    other = obj.get("ids") or {}
    if obj.get("doi") or other.get("doi"):
        refs.append(f"doi:{obj.get('doi') or other.get('doi')}")
    if other.get("pmid"):
        refs.append(f"pmid:{str(other['pmid']).rstrip('/').rsplit('/', 1)[-1]}")
    urls = []
    for loc in [obj.get("primary_location") or {}] + list(obj.get("locations") or []):
        if loc and loc.get("landing_page_url"):
            urls.append(loc["landing_page_url"])
            refs += [ids.format_identifier(s, v) for s, v in ids.parse_url(loc["landing_page_url"])]
    authors = [((a.get("author") or {}).get("display_name") or a.get("raw_author_name") or "")
               for a in obj.get("authorships") or []]
    source = ((obj.get("primary_location") or {}).get("source") or {})
    return Record(title=title, abstract=abstract_from_inverted_index(obj.get("abstract_inverted_index")),
                  authors=[a for a in authors if a], year=obj.get("publication_year"),
                  venue=source.get("display_name") or "", url=(obj.get("doi") or (urls[0] if urls else "")),
                  identifiers=refs, source="openalex")
