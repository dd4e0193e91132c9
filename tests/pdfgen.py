"""PDFs made for the full-text tests, by a small writer of our own (PDF 1.4, the standard Helvetica fonts): text
laid out in one or two columns, with running heads and page numbers, words hyphenated at line ends, captions and
footnotes in a smaller size, section headings in bold, a reference list; and scans (a page drawn by PDFium, kept
as an image with no text layer). Every text here is invented for papershelf.

The layout follows what TeX writes, in the order it writes it: the running head, then the left column, then the
right, then the page number at the foot. A `|` in a word marks where it may be hyphenated at a line's end.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

WIDTH, HEIGHT = 612, 792
BODY = 10.0
LEADING = 12.0
CHAR_WIDTH = 0.5  # Helvetica's mean advance, in ems: enough to wrap lines that do not run into each other


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


@dataclass
class Page:
    """What one page shows: (font, size, x, y, text, turn) runs in content order."""

    runs: list[tuple[str, float, float, float, str, int]] = field(default_factory=list)

    def text(self, x: float, y: float, text: str, size: float = BODY, bold: bool = False, turn: int = 0) -> None:
        """A run at (x, y), turned counter-clockwise by `turn` degrees (0, 90, 180, 270: a margin stamp)."""
        self.runs.append(("F2" if bold else "F1", size, x, y, text, turn))

    def stream(self) -> bytes:
        out = []
        for font, size, x, y, text, turn in self.runs:
            a, b, c, d = {0: (1, 0, 0, 1), 90: (0, 1, -1, 0), 180: (-1, 0, 0, -1), 270: (0, -1, 1, 0)}[turn]
            out.append(f"BT /{font} {size:g} Tf {a} {b} {c} {d} {x:.2f} {y:.2f} Tm ({_escape(text)}) Tj ET")
        return "\n".join(out).encode("latin-1", errors="replace")


def write_pdf(pages: list[Page | bytes], images: dict[int, tuple[int, int, bytes]] | None = None,
              xmp: str | None = None) -> bytes:
    """A PDF of these pages (a `Page` of text, or a page index into `images`: (width, height, 8-bit grey pixels)
    drawn over the whole page), with `xmp` as the document's metadata stream (uncompressed, as XMP asks)."""
    images = images or {}
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled below
    pages_obj = add(b"")
    f1 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    f2 = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
    kids = []
    for i, page in enumerate(pages):
        resources = f"<< /Font << /F1 {f1} 0 R /F2 {f2} 0 R >>"
        if i in images:
            w, h, pixels = images[i]
            data = zlib.compress(pixels)
            img = add(b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                      b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(data))
                      + data + b"\nendstream")
            resources += f" /XObject << /Im1 {img} 0 R >>"
            content = f"q {WIDTH} 0 0 {HEIGHT} 0 0 cm /Im1 Do Q".encode()
        else:
            content = zlib.compress(page.stream())
        resources += " >>"
        filt = b"" if i in images else b" /Filter /FlateDecode"
        stream = add(b"<< /Length %d%s >>\nstream\n" % (len(content), filt) + content + b"\nendstream")
        kids.append(add(f"<< /Type /Page /Parent {pages_obj} 0 R /MediaBox [0 0 {WIDTH} {HEIGHT}] "
                        f"/Resources {resources} /Contents {stream} 0 R >>".encode()))
    metadata = ""
    if xmp is not None:
        packet = xmp.encode()
        meta = add(b"<< /Type /Metadata /Subtype /XML /Length %d >>\nstream\n" % len(packet) + packet + b"\nendstream")
        metadata = f" /Metadata {meta} 0 R"
    objects[catalog - 1] = f"<< /Type /Catalog /Pages {pages_obj} 0 R{metadata} >>".encode()
    objects[pages_obj - 1] = (f"<< /Type /Pages /Count {len(kids)} /Kids ["
                              + " ".join(f"{k} 0 R" for k in kids) + "] >>").encode()
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref)
    return bytes(out)


def wrap(text: str, width: float, size: float = BODY) -> list[str]:
    """Lines of at most `width` points; a word with `|` marks is hyphenated at one that fits."""
    per_line = int(width / (size * CHAR_WIDTH))
    lines, line = [], ""
    for word in text.split():
        plain = word.replace("|", "")
        if not line:
            line = plain
        elif len(line) + 1 + len(plain) <= per_line:
            line += " " + plain
        else:
            parts = word.split("|")
            head = ""
            for k in range(len(parts) - 1, 0, -1):  # the longest head that fits, with its hyphen
                candidate = "".join(parts[:k]) + "-"
                if len(line) + 1 + len(candidate) <= per_line:
                    head = candidate
                    rest = "".join(parts[k:])
                    break
            if head:
                lines.append(line + " " + head)
                line = rest
            else:
                lines.append(line)
                line = plain
    if line:
        lines.append(line)
    return lines


@dataclass
class Block:
    kind: str  # title | heading | body | caption | note | reference
    text: str


class Layout:
    """Blocks flowed into pages of `columns` columns, each page with a running head and its number."""

    def __init__(self, columns: int = 2, head: str = "", first_head: bool = False):
        self.columns = columns
        self.head = head
        self.first_head = first_head
        self.margin = 54.0
        self.gap = 24.0
        self.col_width = (WIDTH - 2 * self.margin - (columns - 1) * self.gap) / columns
        self.top = HEIGHT - 72.0
        self.bottom = 72.0
        self.pages: list[Page] = []
        self.notes: list[str] = []
        self.drawn: list[tuple[int, str]] = []  # (page, line) of every line of text, in order
        self._new_page()

    def _new_page(self) -> None:
        page = Page()
        n = len(self.pages) + 1
        if self.head and (n > 1 or self.first_head):
            page.text(self.margin, HEIGHT - 40, f"{self.head}", size=8)
        self.pages.append(page)
        self.col = 0
        self.y = self.top

    def _finish_page(self) -> None:
        page = self.pages[-1]
        y = self.bottom + 20
        for note in self.notes:  # footnotes at the foot of the left column, small, above the bottom margin
            for line in wrap(note, self.col_width, 8):
                page.text(self.margin, y, line, size=8)
                y -= 9.5
        self.notes = []
        page.text(WIDTH / 2 - 5, 36, str(len(self.pages)), size=9)

    def _next_column(self) -> None:
        if self.col + 1 < self.columns:
            self.col += 1
            self.y = self.top
        else:
            self._finish_page()
            self._new_page()

    def _line(self, text: str, size: float = BODY, bold: bool = False, leading: float = LEADING) -> None:
        if self.y < self.bottom + (45 if self.notes and self.col == 0 else 30):
            self._next_column()
        x = self.margin + self.col * (self.col_width + self.gap)
        self.pages[-1].text(x, self.y, text, size=size, bold=bold)
        self.drawn.append((len(self.pages), text))
        self.y -= leading

    def page_of(self, words: str) -> int:
        """The page where these words (the start of a sentence) were drawn, as the text reads on."""
        joined, starts = "", []
        for page, line in self.drawn:
            starts.append((len(joined), page))
            joined += line + " "
        at = joined.index(words)
        return max(page for start, page in starts if start <= at)

    def add(self, block: Block) -> None:
        if block.kind == "title":
            for line in wrap(block.text, self.col_width, 16):
                self._line(line, size=16, bold=True, leading=19)
            self.y -= 8
        elif block.kind == "heading":
            self.y -= 6
            self._line(block.text, size=11, bold=True, leading=15)
        elif block.kind == "note":
            self.notes.append(block.text)
        elif block.kind == "reference":  # an entry; its lines after the first hang indented
            for k, line in enumerate(wrap(block.text, self.col_width - 10, 9)):
                if self.y < self.bottom + 30:
                    self._next_column()
                x = self.margin + self.col * (self.col_width + self.gap) + (10 if k else 0)
                self.pages[-1].text(x, self.y, line, size=9)
                self.drawn.append((len(self.pages), line))
                self.y -= 11
        else:
            size = 8.5 if block.kind == "caption" else BODY
            for line in wrap(block.text, self.col_width, size):
                self._line(line, size=size, leading=LEADING if size == BODY else 10)
            self.y -= 6  # the gap between paragraphs

    def pdf(self) -> bytes:
        self._finish_page()
        return write_pdf(self.pages)


def paper(blocks: list[Block], columns: int = 2, head: str = "") -> bytes:
    """A paper laid out from blocks."""
    layout = Layout(columns, head)
    for b in blocks:
        layout.add(b)
    return layout.pdf()


def scan_of(pdf: bytes, scale: float = 2.0, pages: list[int] | None = None) -> bytes:
    """The same pages (or these 0-based ones) as pictures: a scan with no text layer."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    images = {}
    for k, i in enumerate(pages if pages is not None else range(len(doc))):
        bitmap = doc[i].render(scale=scale, grayscale=True)
        pixels = bitmap.to_numpy()
        if pixels.ndim == 3:
            pixels = pixels[:, :, 0]
        images[k] = (pixels.shape[1], pixels.shape[0], pixels.astype("uint8").tobytes())
    pages = [b""] * len(images)
    doc.close()
    return write_pdf(pages, images)
