"""The one cleaning step every record passes on its way into the store, whatever brought it (an importer, a
saved page, the inbox): markup becomes text, identifiers are normalised, and a field that cannot be read is
dropped with a warning instead of losing the paper.

Publisher pages and APIs put HTML and JATS in their metadata (bioRxiv's `citation_abstract` holds
`<h3>ABSTRACT</h3> <p>…`, Crossref's abstracts are `<jats:title>Abstract</jats:title><jats:p>…`). Markup is
read with the standard library's HTML parser, never with patterns over tags.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from html.parser import HTMLParser
from typing import Any

import msgspec

from . import ids
from .models import FieldWarning, Record

# Elements that end a run of text: their boundaries are a space. Everything else (sub, sup, i, b, span, a,
# jats:italic, mml:mi …) is inline and joins its text to its neighbours, so H<sub>2</sub>O stays "H2O".
_BLOCK = {"address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "div", "dl", "dt",
          "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "head", "header", "hr", "html",
          "label", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th",
          "thead", "title", "tr", "ul", "abstract", "sec", "list", "list-item", "list-item", "disp-quote",
          "disp-formula", "def-list", "boxed-text", "fig", "table-wrap"}
_SECTION_HEADING = {"h1", "h2", "h3", "h4", "h5", "h6", "title"}
_HEADING = _SECTION_HEADING | {"label"}
_SKIPPED = {"script", "style", "noscript", "template", "object", "svg"}
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font", "i", "img",
           "ins", "kbd", "mark", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt",
           "u", "var", "wbr", "math", "mi", "mn", "mo", "ms", "mtext", "mrow", "msub", "msup", "msubsup", "mfrac",
           "msqrt", "mroot", "mover", "munder", "mstyle", "mspace", "semantics", "annotation", "italic", "bold",
           "underline", "monospace", "sc", "named-content", "inline-formula", "xref", "ext-link", "uri", "email",
           "tex-math", "alternatives", "styled-content", "break"}
_KNOWN = _BLOCK | _HEADING | _SKIPPED | _INLINE
# One set of limits for every way into the library (an importer, a saved page, a followed source; the API's
# PaperIn declares the same numbers): a longer text is cut to its limit, a longer list keeps its first items, an
# identifier or address past its limit is dropped, each with a warning; the paper is kept.
LIMITS = {"title": 2000, "abstract": 50_000, "author": 500, "authors": 2000, "venue": 1000, "url": 4000,
          "identifier": 500, "identifiers": 100, "tag": 200, "tags": 200}
WEB_URL = re.compile(r"https?://[^\s]+", re.I)  # a paper's address: http(s) only (never javascript:, data:, file:)

_VOID = {"br", "hr", "img", "wbr", "col", "mspace", "break"}  # elements with no content: complete when opened
# A first heading that only says what follows ("Abstract", "ABSTRACT:", "Summary.") is dropped.
_HEADING_WORDS = re.compile(r"^\s*(abstract|summary)\s*[.:\-–—]?\s*$", re.I)
# The same heading in plain text: on its own line, or followed by a colon/dot/dash, or in capitals.
_PLAIN_HEADING = re.compile(r"^\s*(?:(?i:abstract|summary)\s*(?:[.:\-–—]\s*|\n\s*)|(?:ABSTRACT|SUMMARY)\b\s*)")
_TAG_START = re.compile(r"<[A-Za-z!/?]")
_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[A-Za-z]{2,8});")


class _Text(HTMLParser):
    """Collects the text of a fragment; notes whether it opened with a heading that only says 'Abstract'."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0
        self.heading: list[str] | None = None  # text of the first block while inside it
        self.dropped_heading = False
        self.section_start: int | None = None  # where the text of the heading we are in began
        self.saw_elements = False  # met an element of HTML, JATS or MathML (not only entities or stray "<")
        # ...and one that is surely markup: closed after it opened (<h3>…</h3>), or empty (<br>, <br/>).
        # "&lt;A &gt;" read twice gives an <a> that never closes: that is someone writing "<A >".
        self.closed_elements = 0
        self._open: Counter = Counter()

    @staticmethod
    def _local(tag: str) -> str:
        return tag.rsplit(":", 1)[-1].lower()  # jats:p → p, mml:math → math

    @staticmethod
    def _is_markup(tag: str) -> bool:
        """An element of HTML, JATS or MathML (namespaced tags are); 'x<y and y>z' in a formula is text."""
        return ":" in tag or tag.lower() in _KNOWN

    def handle_starttag(self, tag: str, attrs) -> None:
        if not self._is_markup(tag):
            self.handle_data(self.get_starttag_text() or "")
            return
        self.saw_elements = True
        name = self._local(tag)
        self._open[name] += 1
        if name in _VOID:
            self.closed_elements += 1
        if name in _SKIPPED:
            self.skip += 1
        elif name in _BLOCK:
            self.parts.append(" ")
        if name in _SECTION_HEADING:
            self.section_start = len(self.parts)
        if name in _BLOCK | _HEADING and self.heading is None and not self.dropped_heading \
                and not "".join(self.parts).strip():
            self.heading = []  # the first block: is it a heading that only says "Abstract"?

    def handle_startendtag(self, tag: str, attrs) -> None:
        if not self._is_markup(tag):
            self.handle_data(self.get_starttag_text() or "")
            return
        self.saw_elements = True
        self.closed_elements += 1
        if self._local(tag) in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not self._is_markup(tag):
            self.handle_data(f"</{tag}>")
            return
        self.saw_elements = True
        name = self._local(tag)
        if self._open[name] > 0:
            self._open[name] -= 1
            self.closed_elements += 1
        if name in _SECTION_HEADING and self.section_start is not None:
            # A section heading of a structured abstract reads as one: "Significance: The inadequate …".
            said = "".join(self.parts[self.section_start:]).strip()
            if said and said[-1] not in ".:!?":
                self.parts.append(":")
            self.section_start = None
        if name in _SKIPPED:
            self.skip = max(0, self.skip - 1)
        elif name in _BLOCK:
            self.parts.append(" ")
        if name in _BLOCK | _HEADING and self.heading is not None:
            words = "".join(self.heading)
            if _HEADING_WORDS.match(words):
                self.parts = [" "]  # only "Abstract" was said so far: drop it
                self.dropped_heading = True
            self.heading = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.parts.append(data)
        if self.heading is not None:
            self.heading.append(data)


def has_markup(value: str) -> bool:
    """Something a parser must read: a tag or an entity (plain text passes through untouched and fast)."""
    return bool(_TAG_START.search(value) or _ENTITY.search(value))


def _unmarked(value: str) -> str:
    """The text of a fragment. A fragment escaped once more (&lt;p&gt;…) is read again, but only when that
    second reading finds real elements, closed or empty: a text that says "&lt;/ &gt;" means "</ >", and one
    that says "&lt;A &gt;" means "<A >"."""
    for second in (False, True):
        if not has_markup(value):
            break
        p = _Text()
        p.feed(value)
        p.close()
        read = "".join(p.parts)
        if read == value or (second and not p.closed_elements):
            break
        value = read
    return value


def text(value: str) -> str:
    """Markup → plain text: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(_unmarked(value).split())


def abstract(value: str) -> str:
    """An abstract as plain text, without a leading 'Abstract'/'Summary' heading."""
    return " ".join(_PLAIN_HEADING.sub("", _unmarked(value), count=1).split())


# -- fields that may not read -----------------------------------------------------------------------------
_YEAR = re.compile(r"(?<!\d)(1[5-9]\d\d|2[01]\d\d)(?!\d)")


def year(value: Any) -> tuple[int | None, str | None]:
    """(year, None) for a readable year ('2021', '2021a', 'March 2021', 2021.0); (None, why) otherwise."""
    if value is None or value == "":
        return None, None
    if isinstance(value, bool):
        return None, "not a year"
    if isinstance(value, (int, float)) and float(value).is_integer():
        found = int(value)
    elif isinstance(value, str):
        m = _YEAR.search(value)
        found = int(m.group(1)) if m else None
    else:
        return None, "not a year"
    if found is None or not 1500 <= found <= date.today().year + 5:
        return None, "not a year"
    return found, None


def read_year(value: Any, warnings: list[FieldWarning]) -> int | None:
    """A source's year field for a Record: the year, or None with a warning (the field dropped, not the paper)."""
    found, why = year(value)
    if why:
        warnings.append(FieldWarning(field="year", value=str(value)[:200], reason=f"{why}: dropped"))
    return found


def read_authors(value: Any, warnings: list[FieldWarning]) -> list[str]:
    """A source's author field for a Record: a list of names, or [] with a warning when it is neither a list of
    names nor one string of them."""
    found = author_list(value)
    if found is None:
        warnings.append(FieldWarning(field="authors", value=str(value)[:200], reason="not a list of names: dropped"))
        return []
    return [a.strip() for a in found if a.strip()]


def _strings(value: Any, split: str | None = None) -> list[str] | None:
    """A list of strings from a list (of strings, or of objects with a name) or one string; None if neither."""
    if value is None:
        return []
    if isinstance(value, str):
        if split is None:
            return [value]
        return [p for p in re.split(split, value) if p.strip()]
    if isinstance(value, (list, tuple)):
        out = []
        for v in value:
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, dict) and isinstance(v.get("name"), str):
                out.append(v["name"])
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(str(v))
            else:
                return None
        return out
    return None


def author_list(value: Any) -> list[str] | None:
    """Authors from a list or one string ("A and B", "A; B", "A, B"); None when unreadable."""
    if isinstance(value, str) and not (" and " in value or ";" in value):
        return _strings(value, r",")
    return _strings(value, r"\s+and\s+|;")


def record(rec: Record) -> tuple[Record, list[tuple[str, str]], list[FieldWarning]]:
    """A record ready for the store: text fields cleaned, identifiers normalised (with pairs), unreadable
    fields dropped with a warning each. A record whose title is empty once cleaned has no usable title."""
    warnings = list(rec.warnings)

    def warn(field: str, value: Any, reason: str) -> None:
        warnings.append(FieldWarning(field=field, value=str(value)[:200], reason=reason))

    def string(field: str, value: Any, clean=text) -> str:
        if isinstance(value, str):
            return clean(value)
        if value is None:
            return ""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        warn(field, value, "not text: dropped")
        return ""

    def cut(field: str, value: str) -> str:
        if len(value) <= LIMITS[field]:
            return value
        warn(field, value, f"longer than {LIMITS[field]:,} characters: cut")
        return value[:LIMITS[field]].rstrip()

    def first(field: str, items: list) -> list:
        if len(items) <= LIMITS[field]:
            return items
        warn(field, f"{len(items)} items", f"more than {LIMITS[field]:,}: the first {LIMITS[field]:,} kept")
        return items[:LIMITS[field]]

    title = cut("title", string("title", rec.title))
    abstract_text = cut("abstract", string("abstract", rec.abstract, abstract))
    authors = first("authors", [cut("author", a) for a in (text(a) for a in read_authors(rec.authors, warnings)) if a])
    y = read_year(rec.year, warnings)
    tags = _strings(rec.tags, r"[,;]")
    if tags is None:
        warn("tags", rec.tags, "not a list of tags: dropped")
        tags = []
    tags = first("tags", [cut("tag", t) for t in tags])
    url = string("url", rec.url).strip()
    if len(url) > LIMITS["url"]:
        warn("url", url, f"longer than {LIMITS['url']:,} characters: dropped")
        url = ""
    pairs: list[tuple[str, str]] = []
    refs = _strings(rec.identifiers)
    if refs is None:
        warn("identifiers", rec.identifiers, "not a list of identifiers: dropped")
        refs = []
    for ref in first("identifiers", refs):
        if len(ref) > LIMITS["identifier"]:
            warn("identifier", ref, f"longer than {LIMITS['identifier']} characters: dropped")
            continue
        n = ids.split_identifier(ref)
        if n is None:
            if not ref.startswith("key:"):  # an empty key is simply no key
                warn("identifier", ref, "not a valid identifier: dropped")
            continue
        if n not in pairs:
            pairs.append(n)
    for n in ids.parse_url(url) if url else []:
        if n not in pairs:
            pairs.append(n)
    if url and not WEB_URL.fullmatch(url):
        warn("url", url, "not an http(s) address: dropped")
        url = ""
    rec = msgspec.structs.replace(
        rec, title=title, abstract=abstract_text, authors=authors, year=y, tags=clean_tags(tags),
        venue=cut("venue", string("venue", rec.venue)), url=url, identifiers=[ids.format_identifier(s, v) for s, v in pairs],
        warnings=warnings)
    return rec, pairs, warnings


def clean_tags(tags: list[str]) -> list[str]:
    """Tags trimmed, empty ones dropped, duplicates removed, order kept."""
    out: list[str] = []
    for t in tags:
        t = str(t).strip()
        if t and t not in out:
            out.append(t)
    return out
