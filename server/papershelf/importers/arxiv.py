"""arXiv API Atom feeds (export.arxiv.org/api/query), old and new output styles."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator

from .. import ids
from ..models import Record

NS = {"a": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def sniff(text: str) -> bool:
    """An Atom feed that talks about arXiv."""
    head = text[:4000]
    return "<feed" in head and "http://www.w3.org/2005/Atom" in head and "arxiv" in head.lower()


def _text(el, path: str) -> str:
    found = el.find(path, NS)
    return " ".join((found.text or "").split()) if found is not None else ""


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """One record per entry; versioned ids lose their version, wrapped lines are joined back."""
    try:
        root = ET.fromstring(text.encode())
    except ET.ParseError as e:
        yield f"line {e.position[0]}", f"not well-formed XML: {e}"
        return
    except (LookupError, ValueError) as e:  # an unknown encoding in the XML declaration, for one
        yield "document", f"unreadable XML: {e}"
        return
    for n, entry in enumerate(root.findall("a:entry", NS), 1):
        pos = f"entry {n}"
        raw_id = _text(entry, "a:id")
        found = ids.parse_url(raw_id) if raw_id.startswith("http") else []
        if not found:
            yield pos, f"entry has no arXiv id ({raw_id or 'empty'})"
            continue
        title = _text(entry, "a:title")
        if not title or title.lower() == "error":
            yield pos, f"API error entry: {_text(entry, 'a:summary') or 'no title'}"
            continue
        refs = [ids.format_identifier(*found[0])]
        if doi := _text(entry, "arxiv:doi"):
            refs.append(f"doi:{doi}")
        year = None
        if m := re.match(r"(\d{4})-", _text(entry, "a:published")):
            year = int(m.group(1))
        url = next((l.get("href") for l in entry.findall("a:link", NS) if l.get("rel") == "alternate"), raw_id)
        yield pos, Record(title=title, abstract=_text(entry, "a:summary"),
                          authors=[_text(a, "a:name") for a in entry.findall("a:author", NS)], year=year,
                          venue=_text(entry, "arxiv:journal_ref"), url=re.sub(r"v\d+$", "", url or ""),
                          identifiers=refs, source="arxiv")
