"""Web of Science's plain-text export ("Other file formats" → Plain text): field-tagged records, `FN`/`VR` at the
top, `PT` … `ER` per record, `EF` at the end, continuation lines indented by three spaces. Read with rispy's
WokParser, one record at a time (so one bad record fails alone)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import rispy

from ..clean import read_year
from ..models import Record
from .ris import person_name, tagged_records


def sniff(text: str) -> bool:
    """Starts with Web of Science's `FN` and `VR` header lines, or its `PT` record tag with two-letter tags."""
    head = text.lstrip("\ufeff \n")[:4000]
    return bool(re.match(r"FN \S.*\nVR \d", head)) or (head.startswith("PT ") and bool(re.search(r"^TI ", head, re.M)))


def _records(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, text) of each PT … ER block."""
    return tagged_records(text, lambda line: line.startswith("PT "), lambda line: line.rstrip() == "ER")


def to_record(e: dict) -> Record | str:
    """One WokParser entry → Record: full author names (AF) over short ones (AU), the DOI and PubMed id; the
    source title (SO) as Web of Science prints it (in capitals)."""
    title = e.get("document_title") or ""
    if not title:
        return "record has no title (TI)"
    refs = [f"doi:{e['doi']}"] if e.get("doi") else []
    if e.get("pubmed_id"):
        refs.append(f"pmid:{e['pubmed_id']}")
    warnings: list = []
    year = read_year(e.get("publication_year"), warnings)
    return Record(title=title, abstract=e.get("abstract") or "",
                  authors=[person_name(a) for a in e.get("author_full_name") or e.get("authors") or []], year=year,
                  venue=e.get("publication_name") or "", url=f"https://doi.org/{e['doi']}" if e.get("doi") else "",
                  identifiers=refs, source="wos", warnings=warnings)


def parse(text: str) -> Iterator[tuple[str, Record | str]]:
    """Records in file order; an unreadable one is a failure at its first line."""
    for line, chunk in _records(text):
        try:
            entries = rispy.loads(chunk if chunk.rstrip().endswith("ER") else chunk + "\nER\n",
                                  implementation=rispy.WokParser)
        except Exception as e:  # rispy raises plain exceptions on malformed input
            yield f"line {line}", f"unreadable Web of Science record: {e}"
            continue
        if not entries:
            yield f"line {line}", "empty Web of Science record"
            continue
        yield f"line {line}", to_record(entries[0])
