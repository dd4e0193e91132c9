"""JSON and JSON Lines: our own records, and the JSON that OpenAlex, Semantic Scholar, Hugging Face and CSL
exporters write. Containers are unwrapped (`results`, `data`, `papers`, a list, one object, one object per
line); each object is mapped by its shape, so a file mixing shapes still imports.

Our own shape: objects with title, abstract, and optionally id, authors, year, arxiv_id, doi, url, tags,
venue, identifiers (`scheme:value`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from ..clean import read_authors, read_year
from ..models import FieldWarning, FileRef, Record
from . import csljson, hf, openalex, s2

# Checked in this order: the most specific shapes first; anything else is ours.
SHAPES = {"openalex": openalex, "s2": s2, "hf": hf, "csljson": csljson}


class _Bad(str):
    """A reason, not an object (so a JSON string value is not mistaken for a failure)."""


def _loads(text: str) -> Any:
    """json.loads; a document nested deeper than Python recurses (`[[[[…`) is not valid JSON either."""
    try:
        return json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None


def sniff(text: str) -> bool:
    """Looks like JSON or JSON Lines."""
    return text.lstrip()[:1] in ("{", "[")


def shape_of(obj: Any) -> str:
    """Which mapping an object needs."""
    if isinstance(obj, dict):
        for name, mod in SHAPES.items():
            if mod.matches(obj):
                return name
    return "json"


def _unwrap(doc: Any) -> Any:
    """The list of papers inside an API response or export."""
    if isinstance(doc, dict):
        if isinstance(doc.get("message"), dict):  # Crossref: {"status": "ok", "message": work or {"items": […]}}
            doc = doc["message"]
        for key in ("results", "data", "papers", "items"):
            if isinstance(doc.get(key), list):
                return doc[key]
    return doc


def objects(text: str) -> Iterator[tuple[str, Any]]:
    """(position, object) of a JSON document or JSON Lines; what is not JSON comes as a _Bad reason."""
    try:
        doc = _loads(text)
    except json.JSONDecodeError as whole:
        first = next((l for l in text.splitlines() if l.strip()), "")
        try:
            _loads(first)
        except json.JSONDecodeError:
            yield f"line {whole.lineno}", _Bad(f"not valid JSON ({whole.msg} at line {whole.lineno}, "
                                               f"column {whole.colno})")
            return
        yield from lines(text.splitlines())
        return
    doc = _unwrap(doc)
    if isinstance(doc, list):
        for n, obj in enumerate(doc, 1):
            yield f"item {n}", obj
    else:
        yield "item 1", doc


def lines(stream: Iterable[str]) -> Iterator[tuple[str, Any]]:
    """(position, object) of JSON Lines, read one line at a time (bounded memory for big files)."""
    for n, line in enumerate(stream, 1):
        if line is None:
            yield f"line {n}", _Bad("not valid UTF-8 text")
            continue
        if not line.strip():
            continue
        try:
            yield f"line {n}", _loads(line)
        except json.JSONDecodeError as e:
            yield f"line {n}", _Bad(f"not valid JSON ({e.msg} at column {e.colno})")


def is_json_lines(head: str) -> bool:
    """The first non-empty line is a whole JSON object (so the file can be read a line at a time)."""
    first = next((l for l in head.splitlines() if l.strip()), "")
    try:
        return isinstance(_loads(first), dict)
    except json.JSONDecodeError:
        return False


def detect(text: str) -> str:
    """The shape of the first object (the format reported for the file)."""
    for _, obj in objects(text[:2_000_000] if len(text) > 2_000_000 else text):
        if isinstance(obj, dict):
            return shape_of(obj)
    return "json"


def records(items: Iterable[tuple[str, Any]], fmt: str | None = None) -> Iterator[tuple[str, Record | str]]:
    """Objects → Records (by their own shape, or all by `fmt`)."""
    for pos, obj in items:
        if isinstance(obj, _Bad):
            yield pos, str(obj)
            continue
        if obj is None:
            yield pos, "null (an id the source did not find)"
            continue
        if not isinstance(obj, dict):
            yield pos, "expected a JSON object"
            continue
        shape = fmt if fmt in SHAPES else (shape_of(obj) if fmt is None else "json")
        try:
            yield pos, SHAPES[shape].to_record(obj) if shape in SHAPES else to_record(obj)
        except (AttributeError, TypeError, ValueError, KeyError) as e:
            yield pos, f"unexpected {shape} record: {type(e).__name__}: {e}"


def parse(text: str, fmt: str | None = None) -> Iterator[tuple[str, Record | str]]:
    """Records from a JSON document or JSON Lines text."""
    return records(objects(text), fmt)


def _authors(value: Any) -> Any:
    """Authors with given/family objects as names; strings and other lists as they came (clean reads them)."""
    if isinstance(value, list):
        return [a.get("name") or " ".join(str(x) for x in (a.get("given"), a.get("family")) if x)
                if isinstance(a, dict) else a for a in value]
    return value


def to_record(obj: dict) -> Record | str:
    """One object of our own shape → Record, or the reason it is not one. Only a missing title fails: an odd
    year, author list or identifier is left for clean.record to repair or drop with a warning."""
    title = obj.get("title")
    if isinstance(title, list):
        title = title[0] if title else ""
    if not isinstance(title, str) or not title.strip():
        return "record has no title"
    identifiers = obj.get("identifiers") or []
    identifiers = [str(i) for i in identifiers] if isinstance(identifiers, list) else [str(identifiers)]
    for key, scheme in (("arxiv_id", "arxiv"), ("arxiv", "arxiv"), ("doi", "doi"),
                        ("openreview_id", "openreview"), ("acl_id", "acl"), ("s2_id", "s2")):
        if obj.get(key):
            identifiers.append(f"{scheme}:{obj[key]}")
    if isinstance(obj.get("citation_key"), str) and obj["citation_key"].strip():  # ours: the paper's \cite key
        identifiers.insert(0, f"key:{obj['citation_key'].strip()}")
    if obj.get("id") not in (None, ""):
        identifiers.append(f"key:{obj['id']}")
    warnings: list[FieldWarning] = []
    abstract = obj.get("abstract") or obj.get("summary") or ""
    if not isinstance(abstract, str):
        warnings.append(FieldWarning(field="abstract", value=str(abstract)[:200], reason="not text: dropped"))
        abstract = ""
    tags = obj.get("tags") or []
    if isinstance(tags, str):
        tags = re.split(r"[,;]", tags)
    elif not isinstance(tags, list):
        warnings.append(FieldWarning(field="tags", value=str(tags)[:200], reason="not a list of tags: dropped"))
        tags = []
    entry_type = obj.get("entry_type")
    return Record(title=title, abstract=abstract, authors=read_authors(_authors(obj.get("authors")), warnings),
                  year=read_year(obj.get("year"), warnings), venue=str(obj.get("venue") or ""),
                  url=str(obj.get("url") or ""), tags=[str(t) for t in tags], identifiers=identifiers,
                  source="json", warnings=warnings, files=_files(obj.get("files"), warnings),
                  entry_type=entry_type if isinstance(entry_type, str) and re.fullmatch(r"[a-z]{1,30}", entry_type)
                  else "")


def _files(listed: Any, warnings: list[FieldWarning]) -> list[FileRef]:
    """The files our export lists for a paper, linked again where they still are, with the same bytes. A path in
    a file is never trusted alone: it must be a PDF whose content has the sha256 the export wrote (so an import
    cannot make papershelf serve some other file of the disk); one that is gone or changed is a warning."""
    out: list[FileRef] = []
    for f in listed if isinstance(listed, list) else []:
        if not (isinstance(f, dict) and isinstance(f.get("path"), str) and isinstance(f.get("sha256"), str)):
            continue
        path, sha = f["path"], f["sha256"].lower()
        try:
            with open(path, "rb") as fh:
                if fh.read(5) != b"%PDF-":
                    raise ValueError("not a PDF")
                fh.seek(0)
                digest, size = hashlib.sha256(), 0
                while chunk := fh.read(1 << 20):
                    digest.update(chunk)
                    size += len(chunk)
            if digest.hexdigest() != sha:
                raise ValueError("its content changed since the export")
        except (OSError, ValueError) as e:
            reason = "no longer there" if isinstance(e, FileNotFoundError) else \
                str(e) if isinstance(e, ValueError) else f"cannot be read ({e.strerror})"
            warnings.append(FieldWarning(field="files", value=path[:200], reason=f"{reason}: not linked"))
            continue
        out.append(FileRef(path=path, sha256=sha, size=size))
    return out
