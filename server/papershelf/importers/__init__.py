"""Importers: a source in, (position, Record or failure reason) out.

The format is detected from the content (the file name is only a hint). Text formats have
`sniff(text) -> bool` and `parse(text)`; the JSON family is one reader that maps each object by its shape
(jsonl.SHAPES). A record that cannot be read becomes a failure with its position and reason; the rest of
the file still imports. BibTeX and JSON Lines files are read a bounded piece at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from . import arxiv, bibtex, jsonl, listing, ris, wos

Item = tuple[str, object]  # (position, Record | str reason)

# Sniffed in this order after JSON: the most specific shapes first, pasted text last.
TEXT_FORMATS = {"arxiv": arxiv, "ris": ris, "wos": wos, "bibtex": bibtex, "listing": listing}
JSON_FORMATS = ("json", *jsonl.SHAPES)
FORMATS = (*JSON_FORMATS, *TEXT_FORMATS)
EXTENSIONS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".bib": "bibtex", ".bibtex": "bibtex",
              ".ris": "ris", ".txt": "listing", ".xml": "arxiv", ".atom": "arxiv"}
HEAD = 256 * 1024  # what is read to recognise a file before streaming it


class FormatError(ValueError):
    """The input is not something we can read; the message says why and what we read."""


def formats_we_read() -> str:
    """For error messages."""
    return ("paper PDFs, BibTeX/BibLaTeX, RIS, Web of Science plain text, CSL-JSON, JSON/JSON Lines (ours), arXiv API Atom feeds, OpenAlex works JSON, "
            "Semantic Scholar Graph API JSON, Hugging Face Papers API JSON, pasted listing pages "
            "(a title line, then an abstract line)")


def files_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """(files an importer reads, other files) below a folder, recursively, in name order. Hidden files and
    folders (`.git`, `.DS_Store`) are neither; symlinked folders are not followed (no loops)."""
    readable, other = [], []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith("."):
                continue
            path = Path(root) / name
            (readable if path.suffix.lower() in EXTENSIONS or path.suffix.lower() == ".pdf" else other).append(path)
    return readable, other


def _check_bytes(head: bytes, name: str) -> None:
    if not head.strip():
        raise FormatError(f"{name} is empty.")
    if head.lstrip()[:5] == b"%PDF-":
        raise FormatError(f"{name} is a PDF: import it as a file (papershelf import, the inbox, the page), "
                          "not as text.")
    if b"\x00" in head[:8192]:
        raise FormatError(f"{name} is a binary file, not text. We read: {formats_we_read()}.")


def decode(data: bytes, name: str = "input", partial: bool = False) -> str:
    """Bytes → text, refusing empty, binary and non-UTF-8 input with a clear reason."""
    _check_bytes(data, name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        if partial and e.start >= len(data) - 3:
            return data[:e.start].decode("utf-8-sig")  # a character cut by the end of the head
        line = data[:e.start].count(b"\n") + 1
        raise FormatError(f"{name} is not valid UTF-8 text (byte {e.start}, line {line}). "
                          "Save or export it as UTF-8 and import again.") from e


def detect(text: str, name: str = "") -> str:
    """The format of a text, from its content; the file extension breaks ties between text formats."""
    if jsonl.sniff(text):
        return jsonl.detect(text)
    hint = EXTENSIONS.get(Path(name).suffix.lower()) if name else None
    if hint in TEXT_FORMATS and hint != "listing" and TEXT_FORMATS[hint].sniff(text):
        return hint  # (.txt says little: a Web of Science export is a .txt too, and pasted text comes last)
    for fmt, mod in TEXT_FORMATS.items():
        if mod.sniff(text):
            return fmt
    raise FormatError(f"Could not recognise the format of {name or 'the input'}. We read: {formats_we_read()}.")


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise FormatError(f"Unknown format {fmt!r}; known: {', '.join(FORMATS)}.")


def parse(data: bytes, name: str = "input", fmt: str | None = None) -> tuple[str, Iterator[Item]]:
    """(format, items) for some bytes; raises FormatError for input that is not readable at all."""
    text = decode(data, name)
    forced = fmt
    fmt = fmt or detect(text, name)
    _check_format(fmt)
    if fmt in JSON_FORMATS:
        # Detected: each object is mapped by its own shape. Forced: every object as that format.
        return fmt, jsonl.parse(text, forced)
    return fmt, TEXT_FORMATS[fmt].parse(text)


def parse_path(path: Path, fmt: str | None = None) -> tuple[str, Iterator[Item]]:
    """(format, items) for a file; BibTeX and JSON Lines are streamed, other formats read whole."""
    path = Path(path)
    with open(path, "rb") as f:
        head_bytes = f.read(HEAD)
        whole = len(head_bytes) < HEAD
    head = decode(head_bytes, path.name, partial=not whole)
    if whole:
        return parse(head_bytes, path.name, fmt)
    forced = fmt
    fmt = fmt or detect(head, path.name)
    _check_format(fmt)

    def lines(skip_bad: bool):
        """Decoded lines; a line that is not UTF-8 is None (skip_bad) or stops the reading, exactly there."""
        with open(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                try:
                    yield raw.decode("utf-8-sig" if n == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    if not skip_bad:
                        raise ValueError(f"line {n} is not valid UTF-8 (byte {e.start} of the line)") from e
                    yield None

    if fmt == "bibtex":
        return fmt, bibtex.parse_stream(lines(skip_bad=False))
    if fmt in JSON_FORMATS and jsonl.is_json_lines(head):
        return fmt, jsonl.records(jsonl.lines(lines(skip_bad=True)), forced)
    return parse(path.read_bytes(), path.name, fmt)
