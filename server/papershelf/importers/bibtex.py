"""BibTeX and BibLaTeX through bibtexparser v2; LaTeX in titles, names and abstracts becomes plain Unicode."""

from __future__ import annotations

import re
from collections.abc import Iterator

import bibtexparser
from bibtexparser import model
from pylatexenc.latex2text import LatexNodes2Text

from .. import ids
from ..models import Record

_latex = LatexNodes2Text(math_mode="verbatim", strict_latex_spaces=True)
_ENTRY = re.compile(r"@\s*(article|inproceedings|incollection|misc|book|phdthesis|mastersthesis|techreport|"
                    r"unpublished|online|inbook|proceedings|conference|report|thesis|preprint|software|dataset)\s*[{(]",
                    re.I)


def sniff(text: str) -> bool:
    """Has at least one BibTeX entry."""
    return bool(_ENTRY.search(text[:200_000]))


def latex_to_text(value: str) -> str:
    """LaTeX markup → Unicode (accents, escapes, braces), whitespace collapsed."""
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
    for key, scheme in (("pmid", "pmid"), ("openreview", "openreview")):
        if f.get(key):
            identifiers.append(f"{scheme}:{f[key].strip()}")
    year = None
    m = re.search(r"\b(1[5-9]\d\d|20\d\d)\b", f.get("year", "") or f.get("date", ""))
    if m:
        year = int(m.group(1))
    tags = [t.strip() for t in re.split(r"[,;]", latex_to_text(f.get("keywords", ""))) if t.strip()]
    venue = latex_to_text(f.get("journal") or f.get("journaltitle") or f.get("booktitle") or f.get("publisher")
                          or "")
    return Record(title=title, abstract=latex_to_text(f.get("abstract", "")), authors=_names(f.get("author", "")),
                  year=year, venue=venue, url=f.get("url", "").strip(), tags=tags, identifiers=identifiers,
                  source="bibtex")


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """Entries in file order; a block the parser could not read is a failure at its line."""
    lib = bibtexparser.parse_string(text)
    for block in lib.blocks:
        line = (block.start_line or 0) + 1
        if isinstance(block, model.ParsingFailedBlock):
            if isinstance(block, model.DuplicateBlockKeyBlock) and isinstance(block.ignore_error_block, model.Entry):
                # The same key twice: still a record (de-duplication decides what it is).
                yield f"line {line}", entry_to_record(block.ignore_error_block)
                continue
            yield f"line {line}", f"unreadable BibTeX: {block.error}"
        elif isinstance(block, model.Entry):
            if block.entry_type.lower() in ("comment", "string", "preamble"):
                continue
            yield f"line {line} ({block.key})", entry_to_record(block)
