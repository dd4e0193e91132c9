"""Our own JSON Lines / JSON: objects with title, abstract, and optionally id, authors, year, arxiv_id, doi,
url, tags, venue, identifiers (`scheme:value`). A JSON file may be one object, a list, or {"papers": [...]}.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from ..models import Record


def sniff(text: str) -> bool:
    """Looks like JSON or JSON Lines."""
    t = text.lstrip()
    return t[:1] in ("{", "[")


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """Records from a JSON document or JSON Lines, one failure per unreadable line or object."""
    t = text.strip()
    try:
        doc = json.loads(t)
    except json.JSONDecodeError:
        doc = None
        lines_mode = True
    else:
        lines_mode = False
    if lines_mode:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                yield f"line {n}", f"not valid JSON ({e.msg} at column {e.colno})"
                continue
            yield f"line {n}", to_record(obj)
        return
    if isinstance(doc, dict) and isinstance(doc.get("papers"), list):
        doc = doc["papers"]
    if isinstance(doc, dict):
        yield "item 1", to_record(doc)
    elif isinstance(doc, list):
        for n, obj in enumerate(doc, 1):
            yield f"item {n}", to_record(obj)
    else:
        yield "document", "a JSON document of papers must be an object or a list of objects"


def _authors(value: Any) -> list[str]:
    """Authors as a list of names, from a list of strings/objects or one string ("A and B", "A; B")."""
    if value is None:
        return []
    if isinstance(value, str):
        parts = re.split(r"\s+and\s+|;\s*", value) if (" and " in value or ";" in value) else value.split(",")
        return [p.strip() for p in parts if p.strip()]
    if isinstance(value, list):
        out = []
        for a in value:
            if isinstance(a, str):
                out.append(a)
            elif isinstance(a, dict):
                name = a.get("name") or " ".join(x for x in (a.get("given"), a.get("family")) if x)
                if name:
                    out.append(str(name))
        return out
    raise ValueError("authors must be a list or a string")


def _year(value: Any) -> int | None:
    """A plausible year from an int or a date-like string."""
    if value in (None, ""):
        return None
    m = re.search(r"\b(1[5-9]\d\d|20\d\d|2100)\b", str(value))
    if not m:
        raise ValueError(f"year {value!r} is not a year")
    return int(m.group(1))


def to_record(obj: Any) -> Record | str:
    """One JSON object → Record, or the reason it is not one."""
    if not isinstance(obj, dict):
        return "expected a JSON object"
    title = obj.get("title")
    if isinstance(title, list):  # CSL-ish shapes put the title in a one-element list
        title = title[0] if title else ""
    if not isinstance(title, str) or not title.strip():
        return "record has no title"
    abstract = obj.get("abstract") or obj.get("summary") or ""
    if not isinstance(abstract, str):
        return "abstract must be a string"
    try:
        identifiers = [str(i) for i in (obj.get("identifiers") or [])]
        for key, scheme in (("arxiv_id", "arxiv"), ("arxiv", "arxiv"), ("doi", "doi"),
                            ("openreview_id", "openreview"), ("acl_id", "acl"), ("s2_id", "s2")):
            if obj.get(key):
                identifiers.append(f"{scheme}:{obj[key]}")
        if obj.get("id") not in (None, ""):
            identifiers.append(f"key:{obj['id']}")
        tags = obj.get("tags") or []
        if isinstance(tags, str):
            tags = [t for t in re.split(r"[,;]", tags)]
        return Record(title=title, abstract=abstract, authors=_authors(obj.get("authors")),
                      year=_year(obj.get("year")), venue=str(obj.get("venue") or ""), url=str(obj.get("url") or ""),
                      tags=[str(t) for t in tags], identifiers=identifiers, source="json")
    except (ValueError, TypeError) as e:
        return str(e)
