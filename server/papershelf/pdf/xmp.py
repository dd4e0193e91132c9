"""The DOI a publisher wrote into a PDF's XMP metadata. PDFium has no call for XMP, but the packet is plain XML in
the file (`<x:xmpmeta>…</x:xmpmeta>`, uncompressed, as the XMP specification asks so that any tool can find it).

Only fields that name the document's own DOI are read (prism:doi, pdfx:doi, crossmark:DOI, dc:identifier,
prism:url as a doi.org address), in every packet of the file; when they disagree (a figure's packet from another
paper) none is taken: no wrong identifier."""

from __future__ import annotations

import mmap
import re
from itertools import islice
from pathlib import Path

from .. import ids

START, END = b"<x:xmpmeta", b"</x:xmpmeta>"
MAX_PACKET = 256 * 1024
MAX_PACKETS = 200  # (a PDF has one per image that carries its own; a hostile one may have millions)
MAX_PACKET_BYTES = 4 << 20  # in all
# An element or attribute that holds the document's own DOI (an element's text is found by str.find below, within
# a bounded window: a hostile packet of unclosed tags costs linear time).
NAMES = r"(prism:doi|pdfx:doi|crossmark:DOI|dc:identifier|prism:url)"
OPEN = re.compile(r"<" + NAMES + r"\b[^<>]{0,500}>", re.I)
ATTRIBUTE = re.compile(r"\b" + NAMES + r"\s*=\s*[\"']([^\"'<>]{0,500})[\"']", re.I)
WINDOW = 4096
MAX_FIELDS = 50  # of each kind, in one packet (a real one has a few)
DOI = re.compile(r"10\.\d{4,9}/[^\s\"<>&]+")
MAX_SCAN = 512 << 20  # a larger file is scanned no further than this


def _packets_in(data) -> list[str]:
    """The packets in a buffer, found in linear time whatever it holds: each `</x:xmpmeta>` closes the last
    `<x:xmpmeta` before it (a file of unclosed starts costs one pass, not one pass per start)."""
    out: list[str] = []
    pos, size, total = 0, min(len(data), MAX_SCAN), 0
    while len(out) < MAX_PACKETS:
        end = data.find(END, pos, size)
        if end < 0:
            break
        start = data.rfind(START, pos, end)
        if start >= 0 and end - start <= MAX_PACKET:
            out.append(bytes(data[start:end + len(END)]).decode("utf-8", "replace"))
            total += end - start
            if total > MAX_PACKET_BYTES:
                break
        pos = end + len(END)
    return out


def packets(source: Path | str | bytes) -> list[str]:
    """Every XMP packet in a PDF's bytes, as text."""
    if isinstance(source, (bytes, bytearray)):
        return _packets_in(source)
    with open(source, "rb") as f:
        try:
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                return _packets_in(m)
        except ValueError:  # an empty file
            return []


def doi_of(source: Path | str | bytes) -> str | None:
    """The document's DOI as its XMP says it, or None (none, or packets that disagree)."""
    found: set[str] = set()
    for packet in packets(source):
        values = [m.group(2) for m in islice(ATTRIBUTE.finditer(packet), MAX_FIELDS)]
        for m in islice(OPEN.finditer(packet), MAX_FIELDS):
            end = packet.find(f"</{m.group(1)}>", m.end(), m.end() + WINDOW)
            if end >= 0:
                values.append(re.sub(r"<[^>]*>", " ", packet[m.end():end]))
        for value in values:
            for raw in DOI.findall(value):
                doi = ids.normalize_doi(raw.rstrip(".,;"))
                if doi:
                    found.add(doi)
    return found.pop() if len(found) == 1 else None
