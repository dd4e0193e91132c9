"""Listing pages pasted as text (Hugging Face Papers search, daily lists, similar pages): a title line,
then an abstract line. Page chrome ("Subscribe", "Get trending papers …", vote counts) is not a paper and
must not stick to a title.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..models import Record

# Whole lines that are page furniture, not papers.
_CHROME_LINE = re.compile(
    r"^(get trending papers.*|subscribe|sign ?(in|up)|log ?in|papers|daily papers|trending|new|search|"
    r"load more.*|show more.*|submitted by.*|upvote.*|\d+\s*(upvotes?|comments?|authors?)?|[·•|]+|"
    r"hugging ?face|models|datasets|spaces|docs|pricing|collections|view all.*|see all.*|©.*|copyright.*|"
    r"(previous|next)( page)?|page \d+( of \d+)?|\d+ (results|papers).*)$", re.I)
# Chrome words that a copy glues onto the next line ("SubscribeConsistency Trajectory Models…").
_CHROME_PREFIX = re.compile(r"^(Subscribe|Upvote|Submitted by \S+|\d+ upvotes?)(?=[A-Z0-9\"'“(])")
MAX_TITLE = 400
MIN_ABSTRACT = 150


def sniff(text: str) -> bool:
    """At least two title/abstract pairs."""
    return sum(1 for _ in _pairs(text.splitlines()[:400])) >= 2


def _is_title(line: str) -> bool:
    """Short, one sentence at most (a long title can have 25 words; it still has no ". " inside)."""
    return (8 <= len(line) <= MAX_TITLE and len(line.split()) >= 2 and len(re.findall(r"[.!?]\s", line)) <= 1
            and not _CHROME_LINE.match(line))


def _is_abstract(line: str) -> bool:
    """A paragraph: long, several words."""
    return len(line) >= MIN_ABSTRACT and len(line.split()) >= 20


def _clean(line: str) -> str:
    """A line without chrome glued to its start and without runs of spaces."""
    line = " ".join(line.split())
    return _CHROME_PREFIX.sub("", line).strip()


def _pairs(lines: list[str]) -> Iterator[tuple[int, str, str]]:
    """(line number, title, abstract) for each title line directly followed by an abstract line."""
    cleaned = [(n, _clean(l)) for n, l in enumerate(lines, 1)]
    cleaned = [(n, l) for n, l in cleaned if l and not _CHROME_LINE.match(l)]
    i = 0
    while i < len(cleaned) - 1:
        n, line = cleaned[i]
        nxt = cleaned[i + 1][1]
        if _is_title(line) and _is_abstract(nxt) and len(nxt) > len(line):
            yield n, line, nxt
            i += 2
        else:
            i += 1


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """One record per title/abstract pair, positioned by the title's line."""
    for n, title, abstract in _pairs(text.splitlines()):
        yield f"line {n}", Record(title=title, abstract=abstract, source="listing")
