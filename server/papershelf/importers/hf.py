"""Hugging Face Papers API JSON: `/api/papers/{id}` (a paper) and `/api/daily_papers` (items wrapping one)."""

from __future__ import annotations

import re

from ..models import Record


def matches(obj: dict) -> bool:
    """A daily-papers item or a paper object of the Hugging Face API."""
    if isinstance(obj.get("paper"), dict) and "id" in obj["paper"]:
        return True
    return "summary" in obj and "id" in obj and ("upvotes" in obj or "publishedAt" in obj)


def to_record(obj: dict) -> Record | str:
    """One paper → Record (its id is the arXiv id)."""
    paper = obj["paper"] if isinstance(obj.get("paper"), dict) else obj
    title = paper.get("title") or obj.get("title") or ""
    if not title:
        return "paper has no title"
    pid = str(paper.get("id", ""))
    year = None
    if m := re.match(r"(\d{4})-", str(paper.get("publishedAt", ""))):
        year = int(m.group(1))
    return Record(title=title, abstract=paper.get("summary") or obj.get("summary") or "",
                  authors=[a.get("name", "") for a in paper.get("authors") or [] if not a.get("hidden") and a.get("name")],
                  year=year, url=f"https://huggingface.co/papers/{pid}" if pid else "",
                  identifiers=[f"arxiv:{pid}"] if pid else [], source="huggingface")
