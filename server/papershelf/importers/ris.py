"""RIS (EndNote, Zotero, Mendeley, publishers) through rispy, one record at a time."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import rispy

from ..clean import read_year
from ..models import Record

_TAG = re.compile(r"^[A-Z][A-Z0-9]  - ?", re.M)


def sniff(text: str) -> bool:
    """Has a `TY  - ` line and RIS-shaped tags."""
    head = text[:20000]
    return bool(re.search(r"^TY  - ", head, re.M)) and len(_TAG.findall(head)) >= 2


def tagged_records(text: str, opens: Callable[[str], bool], closes: Callable[[str], bool]) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each record of a field-tagged file: from a line that `opens` one to a line
    that `closes` it (RIS: TY … ER; Web of Science: PT … ER)."""
    start, buf = None, []
    for n, line in enumerate(text.splitlines(), 1):
        if opens(line):
            if buf:
                yield start, "\n".join(buf)  # a record that never closed: still try it
            start, buf = n, [line]
        elif start is not None:
            buf.append(line)
            if closes(line):
                yield start, "\n".join(buf) + "\n"
                start, buf = None, []
    if buf:
        yield start, "\n".join(buf)


def _records(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each TY … ER block."""
    return tagged_records(text, lambda line: line.startswith("TY  -"), lambda line: line.startswith("ER  -"))


def person_name(a: str) -> str:
    fam, _, given = a.partition(",")
    return f"{given.strip()} {fam.strip()}".strip() if given else a.strip()


# RIS reference types ↔ BibTeX entry types (the common ones; any other is `misc`).
RIS_TYPES = {"JOUR": "article", "JFULL": "article", "MGZN": "article", "NEWS": "article", "CONF": "inproceedings",
             "CPAPER": "inproceedings", "CHAP": "incollection", "BOOK": "book", "EBOOK": "book", "EDBOOK": "book",
             "THES": "phdthesis", "RPRT": "techreport", "UNPB": "unpublished", "MANSCPT": "unpublished",
             "DATA": "dataset", "COMP": "software", "PAT": "patent", "VIDEO": "video", "ELEC": "online",
             "WEB": "online", "GEN": "misc"}


def to_record(e: dict) -> Record | str:
    """One rispy entry → Record; `N1` lines like `arxiv:…` are identifiers."""
    title = e.get("title") or e.get("primary_title") or e.get("translated_title") or ""
    if not title:
        return "record has no title (TI/T1)"
    refs = []
    if e.get("id"):
        refs.append(f"key:{e['id']}")
    if e.get("doi"):
        refs.append(f"doi:{e['doi']}")
    for note in e.get("notes") or []:
        for line in str(note).splitlines():
            if re.match(r"^[a-z]+:\S+$", line.strip()):
                refs.append(line.strip())
    warnings: list = []
    year = read_year(e.get("year") or e.get("publication_year") or e.get("date"), warnings)
    urls = e.get("urls") or []
    authors = e.get("authors") or e.get("first_authors") or []
    return Record(title=title, abstract=e.get("abstract") or e.get("notes_abstract") or "",
                  authors=[person_name(a) for a in authors], year=year,
                  venue=e.get("secondary_title") or e.get("journal_name") or e.get("alternate_title3") or "",
                  url=urls[0] if urls else "", tags=[k for k in e.get("keywords") or [] if k],
                  identifiers=refs, source="ris", warnings=warnings,
                  entry_type=RIS_TYPES.get(str(e.get("type_of_reference") or "").upper(), ""))


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """Records in file order; an unreadable one is a failure at its first line."""
    for line, chunk in _records(text):
        try:
            entries = rispy.loads(chunk if chunk.rstrip().endswith("-") or "ER  -" in chunk else chunk + "\nER  - \n")
        except Exception as e:  # rispy raises plain exceptions on malformed input
            yield f"line {line}", f"unreadable RIS record: {e}"
            continue
        if not entries:
            yield f"line {line}", "empty RIS record"
            continue
        yield f"line {line}", to_record(entries[0])
