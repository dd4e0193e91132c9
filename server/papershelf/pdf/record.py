"""A paper's PDF → one Record, read from the file alone (pdftext reads the pages, pdfmeta the layout).

Runs in worker processes (readers.PdfReaders): a PDF with a broken object can take PDFium a while, and the
server's own process keeps answering lookups meanwhile. Everything here is a plain function of the file.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..models import FieldWarning, Record
from . import meta as pdfmeta
from . import text as pdftext

PAGES = 2  # the title page and the next: where title, authors and abstract are (one more after a cover page)
NO_TEXT = "the PDF has no text layer (a scan?): only its file name and metadata were read"


def is_pdf(head: bytes) -> bool:
    """Whether bytes start a PDF (the header may follow a little junk, as readers allow)."""
    return b"%PDF-" in head[:1024]


def title_from_name(name: str) -> str:
    """A readable title from a file name, for a PDF that has nothing better ('deep_nets-v2.pdf' → 'deep nets v2')."""
    stem = Path(name).stem
    return re.sub(r"\s+", " ", re.sub(r"[_\-.]+", " ", stem)).strip() or stem


def record_of(source: Path | bytes, name: str) -> Record | str:
    """The Record a PDF gives, or the reason it gives none (encrypted, truncated, not a PDF)."""
    src = source if isinstance(source, bytes) else str(source)
    try:
        # The title page with its layout, the next page and the last as text; read again with the layout of
        # the first three when the first is a cover page, or when the title page has no abstract.
        text = pdftext.read(src, pages=PAGES)
        meta = pdfmeta.extract(text, name)
        cover = bool(text.pages) and pdfmeta.is_cover(text.pages[0])
        if (cover or not meta.abstract) and meta.has_text and text.page_count > 1:
            pages = PAGES + 1 if cover else PAGES
            text = pdftext.read(src, pages=pages, detail=pages)
            meta = pdfmeta.extract(text, name)
    except pdftext.PdfError as e:
        return f"{name}: {e}"
    except OSError as e:
        return f"{name}: cannot read the file ({e.strerror or e})"
    warnings = [FieldWarning(field="text", value=name, reason=note) for note in meta.notes]
    title = meta.title or title_from_name(name)
    if not meta.title and meta.has_text:
        warnings.append(FieldWarning(field="title", value=name, reason="no title found in the PDF: the file name "
                                                                         "stands in for it"))
    return Record(title=title, abstract=meta.abstract, authors=meta.authors, year=meta.year, venue=meta.venue,
                  identifiers=meta.identifiers, source="pdf", warnings=warnings, guessed=True)
