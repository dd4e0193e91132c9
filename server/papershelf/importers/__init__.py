"""Importers: bytes of some format in, (position, Record or failure reason) out.

The format is detected from the content (the file name is only a hint). Each importer module has
`sniff(text) -> bool` and `parse(text) -> Iterator[Item]`. A record that cannot be read becomes a failure
with its position and reason; the rest of the file still imports.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from . import bibtex, jsonl, listing

Item = tuple[str, "object"]  # (position, Record | str reason)

# Tried in this order when sniffing: the most specific shapes first, pasted text last.
IMPORTERS = {
    "json": jsonl,
    "bibtex": bibtex,
    "listing": listing,
}
EXTENSIONS = {".jsonl": "json", ".ndjson": "json", ".json": "json", ".bib": "bibtex", ".bibtex": "bibtex",
              ".txt": "listing"}


class FormatError(ValueError):
    """The input is not something we can read; the message says why and what we read."""


def formats_we_read() -> str:
    """For error messages."""
    return ("JSON Lines / JSON (objects with title and abstract), BibTeX/BibLaTeX (.bib), "
            "pasted listing pages (a title line, then an abstract line)")


def decode(data: bytes, name: str = "input") -> str:
    """Bytes → text, refusing empty, binary and non-UTF-8 input with a clear reason."""
    if not data.strip():
        raise FormatError(f"{name} is empty.")
    head = data[:8192]
    if b"\x00" in head:
        raise FormatError(f"{name} is a binary file, not text. We read: {formats_we_read()}.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise FormatError(f"{name} is not valid UTF-8 text (byte {e.start}, line {line}). "
                          "Save or export it as UTF-8 and import again.") from e
    return text


def detect(text: str, name: str = "") -> str:
    """The format of a text, from its content; the file extension breaks ties."""
    hint = EXTENSIONS.get(Path(name).suffix.lower()) if name else None
    if hint and IMPORTERS[hint].sniff(text):
        return hint
    for fmt, mod in IMPORTERS.items():
        if mod.sniff(text):
            return fmt
    raise FormatError(f"Could not recognise the format of {name or 'the input'}. We read: {formats_we_read()}.")


def parse(data: bytes, name: str = "input", fmt: str | None = None) -> tuple[str, Iterator[Item]]:
    """(format, items) for some bytes; raises FormatError for input that is not readable at all."""
    text = decode(data, name)
    if fmt is None:
        fmt = detect(text, name)
    elif fmt not in IMPORTERS:
        raise FormatError(f"Unknown format {fmt!r}; known: {', '.join(IMPORTERS)}.")
    return fmt, IMPORTERS[fmt].parse(text)
