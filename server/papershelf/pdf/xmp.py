"""The DOI a publisher wrote into a PDF's XMP metadata. PDFium has no call for XMP, but the packet is plain XML in
the file (`<x:xmpmeta>…</x:xmpmeta>`, uncompressed, as the XMP specification asks so that any tool can find it).

Only fields that name the document's own DOI are read (prism:doi, pdfx:doi, crossmark:DOI, dc:identifier,
prism:url as a doi.org address), in every packet of the file; when they disagree (a figure's packet from another
paper) none is taken: no wrong identifier."""

from __future__ import annotations

import mmap
import re
from pathlib import Path

from .. import ids

PACKET = re.compile(rb"<x:xmpmeta\b.{0,262144}?</x:xmpmeta>", re.S)
# An element or attribute that holds the document's own DOI, and its text.
FIELD = re.compile(r"<(prism:doi|pdfx:doi|crossmark:DOI|dc:identifier|prism:url)\b[^>]*>(.*?)</\1>"
                   r"|\b(prism:doi|pdfx:doi|crossmark:DOI|prism:url)\s*=\s*[\"']([^\"']*)[\"']", re.S | re.I)
DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>&]+")
MAX_SCAN = 512 << 20  # a larger file is scanned no further than this


def packets(source: Path | str | bytes) -> list[str]:
    """Every XMP packet in a PDF's bytes, as text."""
    if isinstance(source, (bytes, bytearray)):
        return [m.group(0).decode("utf-8", "replace") for m in PACKET.finditer(source[:MAX_SCAN])]
    with open(source, "rb") as f:
        try:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return [p.group(0).decode("utf-8", "replace") for p in PACKET.finditer(m[:MAX_SCAN])]
        except ValueError:  # an empty file
            return []


def doi_of(source: Path | str | bytes) -> str | None:
    """The document's DOI as its XMP says it, or None (none, or packets that disagree)."""
    found: set[str] = set()
    for packet in packets(source):
        for m in FIELD.finditer(packet):
            value = re.sub(r"<[^>]+>", " ", m.group(2) or m.group(4) or "")
            for raw in DOI.findall(value):
                doi = ids.normalize_doi(raw.rstrip(".,;"))
                if doi:
                    found.add(doi)
    return found.pop() if len(found) == 1 else None
