"""BibTeX and BibLaTeX through bibtexparser v2; LaTeX in titles, names and abstracts becomes plain Unicode."""

from __future__ import annotations

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
_latex = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_ENTRY = re.compile(r"@\s*(article|inproceedings|incollection|misc|book|phdthesis|mastersthesis|techreport|"
                    r"unpublished|online|inbook|proceedings|conference|report|thesis|preprint|software|dataset)\s*[{(]",
                    re.I)


def sniff(text: str) -> bool:
    """Has at least one BibTeX entry."""
    return bool(_ENTRY.search(text[:200_000]))


_NEEDS_LATEX = re.compile(r"[\\{}$~]|--|``|''")


def latex_to_text(value: str, long: bool = False) -> str:
    """LaTeX markup → Unicode (accents, escapes, braces), whitespace collapsed.

    pylatexenc is exact but costs ~15 µs a character: long fields (abstracts) use the linear-time converter
    in ids.strip_latex, so a 200 MB file imports in minutes, not hours."""
    if not _NEEDS_LATEX.search(value):
        return re.sub(r"\s+", " ", value).strip()
    if long or len(value) > 1000:
        return ids.strip_latex(value)
    value = value.replace("\\%", "\x00pct\x00")  # `%` starts a LaTeX comment; an escaped one is text
    try:
        out = _latex.latex_to_text(value)
    except Exception:  # pylatexenc gives up on some malformed input; fall back to the light cleaner
        out = ids.strip_latex(value)
    out = out.replace("\x00pct\x00", "%")
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


def entry_to_record(e: model.Entry) -> Record | str:
    """One entry → Record, or why not."""
    f = {k.lower(): str(v.value) for k, v in e.fields_dict.items()}
    title = latex_to_text(f.get("title", ""))
    if not title:
        return f"entry {e.key!r} has no title"
    identifiers = [f"key:{e.key}"]
    if f.get("doi"):
        identifiers.append(f"doi:{f['doi'].strip()}")
    prefix = (f.get("archiveprefix") or f.get("eprinttype") or "").lower()
    eprint = f.get("eprint", "").strip()
    if eprint and (prefix == "arxiv" or ids.normalize_arxiv(eprint)):
        identifiers.append(f"arxiv:{eprint}")
    for scheme in ("pmid", "openreview", "acl", "s2", "corpusid", "openalex"):  # papershelf's export writes these
        if f.get(scheme):
            identifiers.append(f"{scheme}:{f[scheme].strip()}")
    warnings: list = []
    year = read_year(f.get("year") or f.get("date"), warnings)  # "2021a" is read; "in press" is a warning
    tags = [t.strip() for t in re.split(r"[,;]", latex_to_text(f.get("keywords", ""))) if t.strip()]
    venue = latex_to_text(f.get("journal") or f.get("journaltitle") or f.get("booktitle") or f.get("publisher")
                          or "")
    return Record(title=title, abstract=latex_to_text(f.get("abstract", ""), long=True), authors=_names(f.get("author", "")),
                  year=year, venue=venue, url=f.get("url", "").strip(), tags=tags, identifiers=identifiers,
                  source="bibtex", warnings=warnings)


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
    lib = bibtexparser.parse_string(prefix + text)
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
            if block.entry_type.lower() in ("comment", "string", "preamble"):
                continue
            yield f"line {line} ({block.key})", entry_to_record(block)
