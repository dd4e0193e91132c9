"""BibTeX and BibLaTeX through bibtexparser v2; LaTeX in titles, names and abstracts becomes plain Unicode."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Iterable, Iterator

import bibtexparser
from bibtexparser import model
from pylatexenc.latex2text import LatexNodes2Text

from .. import ids
from ..clean import read_year
from ..models import Record

# bibtexparser also logs each aborted block as a warning; we report it with its position instead.
logging.getLogger("bibtexparser").setLevel(logging.ERROR)
_latex = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)
# An entry of any type (a .bib holds films, patents and software too), with a key or with none (EndNote writes
# `@article{` and the fields straight after).
_ENTRY = re.compile(r"^[ \t]*@\s*([A-Za-z]+)\s*[{(]\s*(?:[^\s,={}()]*\s*,|[A-Za-z][\w\-:+]*\s*=)", re.M)
_NOT_ENTRIES = {"comment", "string", "preamble"}
def sniff(text: str) -> bool:
    """Has at least one BibTeX entry, of any type."""
    return any(m.group(1).lower() not in _NOT_ENTRIES for m in _ENTRY.finditer(text[:200_000]))


_NEEDS_LATEX = re.compile(r"[\\{}$~^_]|--|``|''")
# Boxes whose content is text (pylatexenc drops \mbox's content), and operators whose name is text.
_BOX = re.compile(r"\\(?:mbox|hbox|makebox|fbox|text|textnormal|ensuremath)\s*(?=\{)")
_OPERATOR = re.compile(r"\\(log|ln|exp|sin|cos|tan|max|min|lim|det|dim|arg|sup|inf)\b\s*")
_URL = re.compile(r"\\(?:url|path)\s*\{([^{}]*)\}")
_MATH = re.compile(r"(?<!\\)\$([^$]+)\$")
_SCRIPT = re.compile(r"([\^_])\s*(?:\{([^{}]*)\}|(\\?[A-Za-z0-9+\-=()]))")
_TEXT_SCRIPT = re.compile(r"\\text(super|sub)script\s*\{([^{}]*)\}")
SUPERSCRIPTS = dict(zip("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ"))
SUBSCRIPTS = dict(zip("0123456789+-=()aeoxhklmnpst", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜ"))


def _scripted(mark: str, content: str) -> str | None:
    """A super- or subscript in Unicode, or None when one of its characters has no such form."""
    table = SUPERSCRIPTS if mark in ("^", "super") else SUBSCRIPTS
    content = content.strip()
    if content and all(c in table for c in content):
        return "".join(table[c] for c in content)
    return None


def _math_scripts(m: re.Match) -> str:
    """Inside $...$: x^2 → x², H_2 → H₂ (as Zotero shows them); a script Unicode has no form for stays."""
    def one(s: re.Match) -> str:
        return _scripted(s.group(1), s.group(2) if s.group(2) is not None else s.group(3)) or s.group(0)
    return "$" + _SCRIPT.sub(one, m.group(1)) + "$"


def latex_to_text(value: str, long: bool = False) -> str:
    """LaTeX markup → Unicode: accents, escapes, braces, math symbols and super/subscripts, text boxes, `--`
    and `---`, spacing commands; whitespace collapsed.

    pylatexenc is exact but costs ~15 µs a character: long fields (abstracts) use the linear-time converter
    in ids.strip_latex, so a 200 MB file imports in minutes, not hours."""
    if not _NEEDS_LATEX.search(value):
        return re.sub(r"\s+", " ", value).strip()
    if long or len(value) > 1000:
        return ids.strip_latex(value)
    urls: list[str] = []

    def keep_url(m: re.Match) -> str:
        urls.append(m.group(1))
        return f"\x00url{len(urls) - 1}\x00"
    value = _URL.sub(keep_url, value)
    value = value.replace("\\%", "\x00pct\x00")  # `%` starts a LaTeX comment; an escaped one is text
    value = _TEXT_SCRIPT.sub(lambda m: _scripted(m.group(1), m.group(2)) or m.group(2), value)
    value = _BOX.sub("", value)
    value = _OPERATOR.sub(lambda m: m.group(1) + " ", value)
    value = _MATH.sub(_math_scripts, value)
    try:
        out = _latex.latex_to_text(value)
    except Exception:  # pylatexenc gives up on some malformed input; fall back to the light cleaner
        out = ids.strip_latex(value)
    out = out.replace("\x00pct\x00", "%")
    out = re.sub(r"\x00url(\d+)\x00", lambda m: urls[int(m.group(1))], out)
    return re.sub(r"\s+", " ", out).strip()


def _names(value: str) -> list[str]:
    """`A and B and others` → ["A", "B"], each name as "Given Family" in plain text."""
    out = []
    for part in re.split(r"\s+and\s+", value.strip()):
        name = latex_to_text(part)
        if not name or name.lower() == "others":
            continue
        if "," in name:  # "Family, Given" → "Given Family"
            fam, _, given = name.partition(",")
            name = f"{given.strip()} {fam.strip()}".strip()
        out.append(name)
    return out


# biblatex's names for a venue, in the order one is taken, and the fields that join a title.
_VENUE_FIELDS = ("journaltitle", "journal", "booktitle", "eventtitle", "maintitle", "school", "institution",
                 "organization", "publisher", "howpublished")
_NO_KEY = "papershelf-no-key-"  # the key given to an entry written without one (never an identifier)
_ANNOTATED = "_papershelf_annotation"  # the name a data annotation's field is given (and then left out)


def _title(f: dict[str, str]) -> str:
    """The title as biblatex prints it: title, then subtitle and titleaddon, each after a full stop unless the
    part before ends with its own punctuation."""
    out = latex_to_text(f.get("title", ""))
    for part in ("subtitle", "titleaddon"):
        more = latex_to_text(f.get(part, ""))
        if more and out:
            out = out + ("" if out[-1] in ".?!:;" else ".") + " " + more
        elif more:
            out = more
    return out


def _venue(f: dict[str, str]) -> str:
    for field in _VENUE_FIELDS:
        if f.get(field):
            venue = latex_to_text(f[field])
            sub = latex_to_text(f.get(field.replace("title", "subtitle"), "")) if field.endswith("title") else ""
            return f"{venue}: {sub}" if sub else venue
    return ""


def entry_to_record(e: model.Entry) -> Record | str:
    """One entry → Record, or why not. Every entry type is read (a film, a patent, software keep their type)."""
    f = {k.lower(): str(v.value) for k, v in e.fields_dict.items() if not k.endswith(_ANNOTATED)}
    title = _title(f)
    key = "" if e.key.startswith(_NO_KEY) else e.key
    if not title:
        return f"entry {key or e.entry_type!r} has no title"
    identifiers = [f"key:{key}"] if key else []
    if f.get("doi"):
        identifiers.append(f"doi:{f['doi'].strip()}")
    prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    eprint = f.get("eprint", "").strip()
    if eprint and (prefix == "arxiv" or (not prefix and ids.normalize_arxiv(eprint))):
        identifiers.append(f"arxiv:{eprint}")
    elif eprint and prefix in ("pubmed", "pmid"):
        identifiers.append(f"pmid:{eprint}")
    for scheme in ("pmid", "openreview", "acl", "s2", "corpusid", "openalex"):  # papershelf's export writes these
        if f.get(scheme):
            identifiers.append(f"{scheme}:{f[scheme].strip()}")
    warnings: list = []
    year = read_year(f.get("year") or f.get("date"), warnings)  # "2021a" is read; "in press" is a warning
    tags = [t.strip() for t in re.split(r"[,;]", latex_to_text(f.get("keywords", ""))) if t.strip()]
    kind = e.entry_type.lower()
    return Record(title=title, abstract=latex_to_text(f.get("abstract", ""), long=True),
                  authors=_names(f.get("author", "") or f.get("editor", "")), year=year, venue=_venue(f),
                  url=f.get("url", "").strip(), tags=tags, identifiers=identifiers, source="bibtex",
                  warnings=warnings, entry_type=kind if re.fullmatch(r"[a-z]{1,30}", kind) else "")


# A field name with a biblatex data annotation (`author+an:role = {...}`): the parser knows no `+` or `:` in a
# name and would lose the whole entry; the annotation says how to print a name, so it is set aside.
_ANNOTATION = re.compile(r"(?m)(^|,)(\s*)([A-Za-z][\w\-]*)\+an(?::[\w\-]+)?(\s*=)")
_EMPTY_KEY = re.compile(r"(?im)^([ \t]*@\s*(?!(?:string|preamble|comment)\b)[A-Za-z]+\s*\{)(\s*)(?=[A-Za-z][\w\-]*\s*=)")


def _repaired(text: str) -> str:
    """What real .bib files hold that the parser would fail on, made readable without moving a line: an entry
    with no key gets one, and data annotations are renamed out of the way."""
    text = _ANNOTATION.sub(lambda m: f"{m.group(1)}{m.group(2)}{m.group(3)}{_ANNOTATED}{m.group(4)}", text)
    count = itertools.count()
    return _EMPTY_KEY.sub(lambda m: f"{m.group(1)}{_NO_KEY}{next(count)},{m.group(2)}", text)


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """Entries in file order; a block the parser could not read is a failure at its line."""
    return parse_stream(text.splitlines(keepends=True))


def parse_stream(lines: Iterable[str], chunk_entries: int = 200) -> Iterator[tuple[str, Record | str]]:
    """Entries of a BibTeX file read line by line, parsed a bounded chunk at a time (a 200 MB file never
    sits in memory whole). Chunks are cut where a line starts with `@`; `@string` macros carry over."""
    strings: list[str] = []
    chunk: list[str] = []
    start, entries = 1, 0
    it = iter(lines)
    n = 0
    while True:
        try:
            line = next(it)
        except StopIteration:
            break
        except Exception:
            # Reading failed (bad bytes): what was read before that line is still imported.
            if chunk:
                yield from _parse_chunk("".join(chunk), start, strings)
            raise
        n += 1
        if line.lstrip().startswith("@"):
            if line.lstrip()[1:].lower().startswith("string"):
                strings.append(line)
            if entries >= chunk_entries:
                yield from _parse_chunk("".join(chunk), start, strings)
                chunk, start, entries = [], n, 0
            entries += 1
        chunk.append(line)
    if chunk:
        yield from _parse_chunk("".join(chunk), start, strings)


def _parse_chunk(text: str, first_line: int, strings: list[str]) -> Iterator[tuple[str, Record | str]]:
    """Parse one chunk (with the @string macros seen so far in front); positions are lines of the file."""
    prefix = "".join(s if s.endswith("\n") else s + "\n" for s in strings if s not in text)
    lib = bibtexparser.parse_string(prefix + _repaired(text))
    shift = prefix.count("\n")
    for block in lib.blocks:
        if block.start_line is not None and block.start_line < shift:
            continue  # one of the carried-over macros
        line = (block.start_line or 0) - shift + first_line
        if isinstance(block, model.ParsingFailedBlock):
            if isinstance(block, model.DuplicateBlockKeyBlock) and isinstance(block.ignore_error_block, model.Entry):
                # The same key twice: still a record (de-duplication decides what it is).
                yield f"line {line}", entry_to_record(block.ignore_error_block)
                continue
            first = (block.raw or "").strip().splitlines()[0][:80] if (block.raw or "").strip() else ""
            detail = (getattr(block.error, "abort_reason", "") or str(block.error)).strip() or \
                "the entry is malformed (an unclosed brace or quote?)"
            yield f"line {line}", f"unreadable BibTeX entry {first!r}: {detail}"
        elif isinstance(block, model.Entry):
            if block.entry_type.lower() in _NOT_ENTRIES:
                continue
            key = "" if block.key.startswith(_NO_KEY) else f" ({block.key})"
            yield f"line {line}{key}", entry_to_record(block)
