"""Feeds: where the daily digest's new papers come from, fetched politely over HTTP and read into Records.

A feed is `arxiv:CAT` (arXiv's daily RSS for a category: new, cross-list and replacement announcements),
`hf:daily` (Hugging Face's daily papers JSON), or any URL that returns arXiv RSS/Atom, an arXiv API response,
Hugging Face daily papers, OpenAlex or Semantic Scholar works, or a generic RSS/Atom feed of papers. JSON and
the arXiv API go through the importers; RSS and Atom through feedparser.

Polite: a User-Agent that says who we are, conditional GET (ETag / If-Modified-Since), timeouts, retries with
backoff on 429/5xx/network errors (Retry-After honoured), and 3 s between requests to arXiv's API.
"""

from __future__ import annotations

import re
import threading
import time
import xml.sax
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from .. import __version__, clean, ids, importers
from ..models import Record

if TYPE_CHECKING:  # (annotations only: see where it is imported)
    import httpx

USER_AGENT = (f"papershelf/{__version__} (a researcher's local paper library fetching its daily digest; "
              "one request per feed per day)")
TIMEOUT = (10.0, 30.0, 30.0, 30.0)  # httpx's (connect, read, write, pool)
RETRIES = 3  # attempts after the first
BACKOFF = 2.0  # seconds before the first retry, doubled each time
MAX_BYTES = 32 << 20  # a feed larger than this is not a day's papers
# Hosts that ask for spacing between requests (arXiv's API terms: one request every 3 seconds).
SPACING = {"export.arxiv.org": 3.0}
_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$")
_last_request: dict[str, float] = {}
_spacing_lock = threading.Lock()


class FeedError(Exception):
    """A feed could not be fetched or is not a feed of papers; the message says which and why."""


@dataclass
class Feed:
    """A source as the user wrote it and the URL it is fetched from."""

    source: str
    url: str


@dataclass
class Fetched:
    """One fetch: the papers read (with their arXiv announce type where the feed says it), or not modified."""

    records: list[Record] = field(default_factory=list)
    announce: list[str] = field(default_factory=list)  # per record: "new", "cross", "replace" or ""
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False


def resolve(source: str) -> Feed:
    """`arxiv:cs.LG`, `hf:daily` or an http(s) URL → Feed; anything else is a FeedError saying what works."""
    source = source.strip()
    if source.lower().startswith("arxiv:"):
        cat = source.split(":", 1)[1].strip()
        if not _CATEGORY.match(cat):
            raise FeedError(f"{cat!r} is not an arXiv category (like cs.LG, math.PR, hep-th)")
        return Feed(f"arxiv:{cat}", f"https://rss.arxiv.org/rss/{cat}")
    if source.lower() == "hf:daily":
        return Feed("hf:daily", "https://huggingface.co/api/daily_papers")
    u = urlparse(source)
    if u.scheme in ("http", "https") and u.netloc:
        return Feed(source, source)
    raise FeedError(f"{source!r} is not a feed: give arxiv:CATEGORY (arxiv:cs.LG), hf:daily, or an http(s) URL")


def _wait_for_spacing(host: str, sleep: Callable[[float], None]) -> None:
    gap = SPACING.get(host)
    if not gap:
        return
    with _spacing_lock:
        wait = _last_request.get(host, -1e9) + gap - time.monotonic()
        if wait > 0:
            sleep(wait)
        _last_request[host] = time.monotonic()


def fetch(feed: Feed, client: httpx.Client, etag: str | None = None, last_modified: str | None = None,
          sleep: Callable[[float], None] = time.sleep, timeout: httpx.Timeout | float = TIMEOUT) -> Fetched:
    """GET the feed (conditionally) with retries, and read it whole: papers, or a FeedError. Nothing partial."""
    import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, application/json, "
                                                     "application/xml;q=0.9, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    host = urlparse(feed.url).netloc
    delay = BACKOFF
    for attempt in range(RETRIES + 1):
        _wait_for_spacing(host, sleep)
        try:
            r = client.get(feed.url, headers=headers, timeout=timeout, follow_redirects=True)
        except httpx.HTTPError as e:
            problem = f"could not reach {host}: {type(e).__name__}{': ' + str(e) if str(e) else ''}"
            retry_after = None
        else:
            if r.status_code == 304:
                return Fetched(not_modified=True, etag=etag, last_modified=last_modified)
            if r.status_code == 200:
                if len(r.content) > MAX_BYTES:
                    raise FeedError(f"{feed.url} sent {len(r.content) >> 20} MB: not a day's papers")
                got = read(r.content, r.headers.get("content-type", ""), feed.url)
                got.etag, got.last_modified = r.headers.get("etag"), r.headers.get("last-modified")
                return got
            problem = f"{host} answered HTTP {r.status_code}"
            if r.status_code not in (408, 429) and r.status_code < 500:
                raise FeedError(problem)  # 404, 403…: asking again will not help
            retry_after = _retry_after(r.headers.get("retry-after"))
        if attempt == RETRIES:
            raise FeedError(f"{problem} (tried {RETRIES + 1} times)")
        sleep(min(retry_after if retry_after is not None else delay, 60.0))
        delay *= 2
    raise AssertionError("unreachable")


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: back off as usual


def read(body: bytes, content_type: str = "", name: str = "feed") -> Fetched:
    """A feed's body → the papers in it; a FeedError if it is not a feed of papers (an HTML page, broken XML)."""
    try:
        text = importers.decode(body, name) if body.strip() else ""
    except importers.FormatError as e:  # binary, or not UTF-8
        raise FeedError(f"{name} is not a feed of papers: {e}") from e
    if not text.strip():
        raise FeedError(f"{name} sent an empty response, not a feed")
    head = text.lstrip()[:2000].lower()
    if head.startswith(("<!doctype html", "<html")) or "text/html" in content_type:
        raise FeedError(f"{name} sent an HTML page, not a feed of papers")
    if head[:1] in ("{", "["):
        return _from_importer(text, name)
    if "<feed" in head and "arxiv" in head and "opensearch" in text[:4000].lower():
        return _from_importer(text, name)  # an arXiv API response: the importer reads its ids and DOIs
    return _from_rss(body, name)


def _from_importer(text: str, name: str) -> Fetched:
    try:
        fmt, items = importers.parse(text.encode(), name)
        records = [r for _, r in items if isinstance(r, Record)]
    except importers.FormatError as e:
        raise FeedError(f"{name} is not a feed of papers: {e}") from e
    if fmt == "json" and not any(r.identifiers for r in records):
        raise FeedError(f"{name} is JSON but not papers (no Hugging Face, OpenAlex or Semantic Scholar works)")
    return Fetched(records=records, announce=[""] * len(records))


_ARXIV_DESCRIPTION = re.compile(r"^\s*arXiv:\S+\s+Announce Type:\s*(\S+)\s*(?:Abstract:\s*)?", re.I)


def _from_rss(body: bytes, name: str) -> Fetched:
    import feedparser  # imported when a feed is read: most commands never need it

    parsed = feedparser.parse(body)
    if parsed.bozo and isinstance(parsed.bozo_exception, xml.sax.SAXException):
        # Cut off or broken XML: storing the entries read before the break would be half a day's papers.
        raise FeedError(f"{name} is not well-formed XML (cut off?): {parsed.bozo_exception}")
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"{name} is not a readable RSS/Atom feed ({type(parsed.bozo_exception).__name__}: "
                        f"{parsed.bozo_exception})")
    if not parsed.entries and not parsed.feed.get("title"):
        raise FeedError(f"{name} is not an RSS/Atom feed")
    out = Fetched()
    for e in parsed.entries:
        title = clean.text(e.get("title", ""))
        if not title:
            continue
        summary = e.get("summary", "") or ""
        announce = e.get("arxiv_announce_type", "")
        m = _ARXIV_DESCRIPTION.match(clean.text(summary))
        if m:  # arXiv RSS: "arXiv:2401.00001v1 Announce Type: new Abstract: …"
            announce = announce or m.group(1)
            summary = clean.text(summary)[m.end():]
        refs: list[str] = []
        for link in [e.get("link", ""), e.get("id", ""), *(l.get("href", "") for l in e.get("links", []))]:
            refs += [ids.format_identifier(s, v) for s, v in ids.parse_url(link) if link.startswith("http")]
            if m2 := re.match(r"^oai:arXiv\.org:(.+)$", link or ""):
                refs.append(f"arxiv:{m2.group(1)}")
        if doi := e.get("prism_doi") or e.get("dc_identifier", ""):
            if ids.normalize_doi(doi):
                refs.append(f"doi:{doi}")
        authors = [a.get("name", "") for a in e.get("authors", []) if a.get("name")]
        if len(authors) == 1 and "," in authors[0]:  # arXiv RSS: one dc:creator "A, B, C"
            authors = [a.strip() for a in authors[0].split(",") if a.strip()]
        year = None
        if e.get("published_parsed"):
            year = e.published_parsed.tm_year
        out.records.append(Record(title=title, abstract=summary, authors=authors, year=year,
                                  url=e.get("link", ""), identifiers=list(dict.fromkeys(refs)), source="feed"))
        out.announce.append(str(announce).lower())
    return out
