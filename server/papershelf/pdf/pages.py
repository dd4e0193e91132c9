"""Every page of a PDF read into passages: what full-text search finds and cites (runs in a reader worker).

A page's text comes from PDFium in its content order, which is the reading order of what TeX, Word and the
publishers' tools write (column by column). Each line is placed with one character box and one font size, so
that, at a few calls a line, this stays within twice what `pdftotext` takes (bench/fulltext.py):

- running headers and footers (a line in the top or bottom margin that recurs, its digits aside), bare page
  numbers and a review copy's line numbers are left out;
- a line that ends in a hyphen is joined to the next without it (PDFium marks the hyphens it knows; a `-` before a
  lower-case word is taken for one too), and ligatures and odd glyphs are repaired (text.fix_glyphs);
- captions and footnotes (a smaller size than the body's) are passages of their own, never the middle of a body
  sentence;
- a section heading (numbered, or a known name, or a short bold line) ends the passage before it and names the
  ones after it;
- the reference list is kept apart, an entry each, with the page it starts on.

Passages are a few sentences, about 150 to 300 words, overlapping by a sentence or two; each names the 1-based
page it starts on. The document is read a page at a time and the text kept is bounded (MAX_CHARS), so a
1,000-page thesis costs its worker what a paper does.
"""

from __future__ import annotations

import ctypes
import re
from collections import Counter, deque
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as raw

from .text import HYPHEN_MARK, MAX_CHARS_PER_PAGE, fix_glyphs, open_document

MAX_CHARS = 20_000_000  # a file's text kept: a 1,000-page thesis has about 3 million characters
TARGET_WORDS = 200  # a passage's size: it closes at the first sentence end past this
MIN_WORDS = 150  # ... and at a heading only once it has this many, else the next section's words join it?
MAX_WORDS = 300  # ... and never runs past this (a sentence that long is cut)
OVERLAP_WORDS = 40  # the last sentences of a passage, up to this many words, open the next one
MARGIN = 0.075  # the top and bottom of a page, as a share of its height, where running heads and feet stand
WINDOW = 8  # pages held back until the running heads are known (they are counted over the pages seen)

SECTION_NAMES = re.compile(
    r"(abstract|introduction|background|related work|preliminaries|methods?|methodology|materials and methods|"
    r"experiments?|experimental setup|evaluation|results?|results and discussion|discussion|analysis|"
    r"limitations|conclusions?|conclusions? and future work|future work|summary|acknowledge?ments?|"
    r"references|bibliography|literature cited|works cited|appendix|appendices|supplementary material)",
    re.IGNORECASE)
REFERENCE_NAMES = re.compile(r"(references|bibliography|literature cited|works cited|references and notes)",
                             re.IGNORECASE)
NUMBERED_HEADING = re.compile(r"^(?:(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?)|(?:[IVX]{1,4}\.)|(?:[A-H](?:\.\d{1,2})*\.?))"
                              r"\s+([A-Z][^.!?]{1,90})$")
APPENDIX_HEADING = re.compile(r"^(?:appendix\b|appendices\b|[A-H](?:\.\d)?\s+[A-Z]|supplementary)", re.IGNORECASE)
CAPTION = re.compile(r"^(?:figure|fig\.|table|algorithm|listing)\s*[0-9IVX]+[.:|]", re.IGNORECASE)
REFERENCE_START = re.compile(r"^(?:\[\d{1,4}\]|\d{1,4}\.\s|\(\d{1,4}\)\s)")
PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—(]?\s*(?:\d{1,5}|[ivxlcdm]{1,7})\s*[-–—)]?(?:\s*(?:of|/)\s*\d{1,5})?$",
                         re.IGNORECASE)
SENTENCE_DONE = re.compile(r"[.!?:;][\"')\]]?\s*$")  # a block's text that ends a sentence (else it goes on)
SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[]?[A-Z0-9])")


@dataclass
class Line:
    """A line of a page: its text, where it starts, its font size and weight."""

    text: str
    top: float  # from the top of the page, in points
    x0: float
    size: float
    bold: bool
    hyphen: bool  # it ends in a hyphen that joins it to the next line


@dataclass
class PageLines:
    """One page's lines, and its size."""

    number: int  # 1-based
    lines: list[Line]
    height: float
    garbage: bool = False  # glyphs with no Unicode (a broken text layer): OCR reads it instead
    cut: bool = False  # it had more than MAX_CHARS_PER_PAGE characters: only those were read


@dataclass
class Passage:
    page: int  # where it starts
    section: str
    text: str
    breaks: list[int] = field(default_factory=list)  # where the text goes on to another page: offset, page, ...

    def page_at(self, offset: int) -> int:
        """The page of the character at `offset` (of the sentence it is in)."""
        return page_at(self.page, self.breaks, offset)


def page_at(first: int, breaks: list[int], offset: int) -> int:
    """The page at an offset of a passage that starts on page `first` and turns pages at `breaks`."""
    page = first
    for at, p in zip(breaks[0::2], breaks[1::2]):
        if at > offset:
            break
        page = p
    return page


@dataclass
class Reference:
    page: int
    text: str


@dataclass
class FullText:
    """What a PDF's pages give: passages, the reference list, and the pages with no text to read."""

    pages: int = 0
    passages: list[Passage] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    scanned: list[int] = field(default_factory=list)  # 1-based pages with no (usable) text layer
    notes: list[str] = field(default_factory=list)


_text_object = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)(
    ctypes.cast(raw.FPDFText_GetTextObject, ctypes.c_void_p).value)


UNREADABLE = re.compile("[\x00-\x08\x0b\x0e-\x1f\ue000-\uf8ff\ufffd]")
SPACE = re.compile(r"\s")


def _is_garbage(text: str) -> bool:
    """Glyphs that map to nothing readable: private-use code points, replacement characters, controls."""
    visible = len(text) - len(SPACE.findall(text))
    return visible >= 40 and len(UNREADABLE.findall(text)) > 0.3 * visible


def page_lines(page, number: int) -> PageLines:
    """A page as lines, each placed by its first character's box (a few PDFium calls a line, not one a char)."""
    width, height = page.get_size()
    textpage = page.get_textpage()
    try:
        tp = textpage.raw
        total = raw.FPDFText_CountChars(tp)
        n = min(total, MAX_CHARS_PER_PAGE)
        text = textpage.get_text_range(count=n) if n > 0 else ""
        out = PageLines(number=number, lines=[], height=height, cut=total > MAX_CHARS_PER_PAGE)
        if _is_garbage(text):
            out.garbage = True
            return out
        placed = len(text) == n  # (characters outside the BMP shift the indices: then no places)
        left, right, bottom, top = (ctypes.c_double() for _ in range(4))
        matrix = raw.FS_MATRIX()
        for m in re.finditer(r"[^\r\n]+", text):
            chunk = m.group()
            stripped = chunk.strip()
            if not stripped:
                continue
            hyphen = chunk.rstrip().endswith((HYPHEN_MARK, "\u00ad"))
            y, x, size, bold = 0.0, 0.0, 0.0, False
            if placed:
                i = m.start() + (len(chunk) - len(chunk.lstrip()))
                raw.FPDFText_GetCharBox(tp, i, left, right, bottom, top)
                y, x = height - top.value, left.value
                raw.FPDFText_GetMatrix(tp, i, matrix)
                scale = abs(matrix.a * matrix.d - matrix.b * matrix.c) ** 0.5 or 1.0
                size = round(raw.FPDFText_GetFontSize(tp, i) * scale, 1)
                bold = raw.FPDFText_GetFontWeight(tp, i) >= 600
            out.lines.append(Line(stripped.replace(HYPHEN_MARK, "").replace("\u00ad", ""), y, x, size, bold, hyphen))
        # The glyphs repaired once for the page (text.fix_glyphs keeps line breaks where they are).
        fixed = fix_glyphs("\n".join(line.text for line in out.lines)).split("\n")
        if len(fixed) == len(out.lines):
            for line, text in zip(out.lines, fixed):
                line.text = text.strip()
        else:
            for line in out.lines:
                line.text = fix_glyphs(line.text).strip()
        out.lines = [line for line in out.lines if line.text]
        return out
    finally:
        textpage.close()


def margin_key(line: Line, height: float) -> str | None:
    """What a running head or foot has in common from page to page (its digits aside), if the line is in a margin."""
    if height and MARGIN * height < line.top < (1 - MARGIN) * height:
        return None
    return re.sub(r"\d+", "#", line.text.lower())


class RunningHeads:
    """The lines that recur in the pages' margins, counted over the pages seen so far."""

    def __init__(self):
        self.seen: Counter[str] = Counter()
        self.pages = 0

    def count(self, page: PageLines) -> None:
        self.pages += 1
        keys = {k for line in page.lines if (k := margin_key(line, page.height))}
        self.seen.update(keys)

    def strip(self, page: PageLines) -> list[Line]:
        """The page's lines without running heads and feet, page numbers and line numbers."""
        need = 2 if self.pages <= 4 else 3
        body = _body_size(page.lines)
        kept = []
        for line in page.lines:
            if PAGE_NUMBER.match(line.text):
                continue  # a page number, a review copy's line number, a roman folio
            key = margin_key(line, page.height)
            if key is not None and (self.seen[key] >= need or line.size and line.size < body - 0.5):
                continue  # recurring, or in smaller print than the body: a running head or foot, a stamp
            kept.append(line)
        return kept


@dataclass
class Block:
    """Lines that read as one paragraph, or a heading, a caption, a footnote."""

    kind: str  # body | heading | caption | note
    page: int
    text: str


# Second halves of compounds that keep their hyphen when a line breaks there ('document-' 'level'); any other word
# broken at a line's end is joined without it ('repre-' 'sentation').
COMPOUND_TAILS = frozenset("""based level levels specific aware like free wise scale art end time order grained trained
    tuned informed driven oriented dependent independent sensitive term dimensional shot supervised agnostic intensive
    efficient related world domain task step way off up out known defined consuming making""".split())


def _dehyphenate(before: str, after: str) -> str:
    """Two lines joined where the first ends in a hyphen."""
    before = before.rstrip("-")
    head = re.match(r"[A-Za-z]+", after)
    if head and head.group().lower() in COMPOUND_TAILS:
        return before + "-" + after
    return before + after


def _join(lines: list[Line]) -> str:
    out = ""
    prev: Line | None = None
    for line in lines:
        if not out:
            out = line.text
        elif prev is not None and prev.hyphen or out.endswith("-") and line.text[:1].islower() and len(out) > 1 and out[-2].isalpha():
            out = _dehyphenate(out, line.text)
        else:
            out += " " + line.text
        prev = line
    return out


def _heading(line: Line, body_size: float) -> str | None:
    """The heading a line is, or None."""
    text = line.text.strip()
    words = text.split()
    if not words or len(words) > 12 or len(text) > 100:
        return None
    bare = re.sub(r"^(?:\d{1,2}(?:\.\d{1,2})*\.?|[IVX]{1,4}\.)\s+", "", text).rstrip(":").strip()
    if SECTION_NAMES.fullmatch(bare):
        return text
    if NUMBERED_HEADING.match(text) and not text.rstrip().endswith((",", ";")) and (
            line.bold or line.size > body_size + 0.5 or len(words) <= 8):
        return text
    if line.bold and len(words) <= 8 and text[:1].isupper() and not text.endswith((".", ",", ";")) and (
            line.size >= body_size - 0.2):
        return text
    return None


def blocks_of(page: int, lines: list[Line], body_size: float) -> list[Block]:
    """A page's lines grouped into blocks: a new one at a heading, a caption, a change of size, a wide gap."""
    blocks: list[Block] = []
    run: list[Line] = []
    kind = "body"

    def close():
        if run:
            blocks.append(Block(kind, page, _join(run)))
            run.clear()

    prev: Line | None = None
    for line in lines:
        heading = _heading(line, body_size)
        if heading is not None:
            close()
            blocks.append(Block("heading", page, heading))
            kind, prev = "body", None
            continue
        # A smaller line on the line before's baseline is a subscript or a superscript PDFium set apart: it goes
        # on with that line (a footnote has lines of its own, below the body).
        inline = prev is not None and abs(line.top - prev.top) < 0.8 * max(body_size, prev.size, 6.0)
        small = body_size and line.size and line.size < body_size - 1.0 and not inline
        this_kind = "caption" if CAPTION.match(line.text) else kind if kind == "caption" or inline else \
            "note" if small else "body"
        if prev is not None:
            gap = line.top - prev.top
            spacing = max(prev.size, line.size, 6.0)
            if this_kind == "caption" and kind == "caption" and CAPTION.match(line.text):
                close()  # a new caption
            elif this_kind != kind or abs(line.size - prev.size) > 1.0 and kind != "caption" and not inline or \
                    gap > 2.2 * spacing or gap < -spacing:
                if kind == "caption" and this_kind == "caption" and (gap > 2.2 * spacing or gap < -spacing):
                    this_kind = "note" if small else "body"  # the caption ended at a wide gap
                close()
        elif this_kind != kind:
            close()
        kind = this_kind
        run.append(line)
        prev = line
        if kind == "caption" and line.text.rstrip().endswith(".") and len(run) > 3:
            close()
            kind = "body"
    close()
    return blocks


def sentences(text: str) -> list[str]:
    """Sentences of a paragraph (a period after an abbreviation may split one: passages overlap anyway)."""
    return [s for s in SENTENCE_END.split(text) if s.strip()]


class Chunker:
    """Body text in, passages out: sentences gathered to about TARGET_WORDS, never across a heading. A block that
    ends mid-sentence (at a page's or a column's end, before a figure) goes on in the next body block: the sentence
    is whole, and it keeps where it turns the page."""

    def __init__(self, out: list[Passage]):
        self.out = out
        self.section = ""
        # (page, sentence, words, [offset, page, ...] where the sentence goes on to another page) for a passage
        self.held: list[tuple[int, str, int, list[int]]] = []
        self.words = 0
        self.fresh = 0  # words in `held` not yet in an emitted passage
        self.partial: list[tuple[int, str]] = []  # the unfinished sentence a block ended with: (page, text) pieces

    def heading(self, text: str) -> None:
        self.flush()
        self.section = text

    def add(self, page: int, text: str) -> None:
        pieces = [[(page, s)] for s in sentences(text)]
        if not pieces:
            return
        if self.partial:
            pieces[0] = self.partial + pieces[0]
            self.partial = []
        if not SENTENCE_DONE.search(pieces[-1][-1][1]) and sum(len(t.split()) for _, t in pieces[-1]) < MAX_WORDS:
            self.partial = pieces.pop()
        for sentence in pieces:
            self._sentence(sentence)

    def _sentence(self, pieces: list[tuple[int, str]]) -> None:
        text, inner, at = "", [], 0
        for i, (p, t) in enumerate(pieces):
            if i and p != pieces[i - 1][0]:
                inner += [at, p]
            text += (" " if text else "") + t
            at = len(text) + 1
        words = text.split()
        if len(words) <= MAX_WORDS:
            self._take(pieces[0][0], text, len(words), inner)
            return
        for i in range(0, len(words), MAX_WORDS):  # a run-on 'sentence' (a table's text): cut into pieces
            self._take(pieces[0][0], " ".join(words[i:i + MAX_WORDS]), len(words[i:i + MAX_WORDS]), [])

    def alone(self, page: int, text: str) -> None:
        """A caption or a footnote: a passage of its own (the body's passage goes on around it)."""
        words = text.split()
        for i in range(0, len(words), MAX_WORDS):
            self.out.append(Passage(page, self.section, " ".join(words[i:i + MAX_WORDS])))

    def _take(self, page: int, sentence: str, n: int, inner: list[int]) -> None:
        if self.words + n > MAX_WORDS and self.fresh:
            self._emit()
        self.held.append((page, sentence, n, inner))
        self.words += n
        self.fresh += n
        if self.words >= TARGET_WORDS:
            self._emit()

    def _emit(self) -> None:
        if not self.held:
            return
        parts, breaks, at, page = [], [], 0, self.held[0][0]
        for p, s, _, inner in self.held:
            if p != page:
                breaks += [at, p]
                page = p
            for off, ip in zip(inner[0::2], inner[1::2]):
                if ip != page:
                    breaks += [at + off, ip]
                    page = ip
            parts.append(s)
            at += len(s) + 1
        self.out.append(Passage(self.held[0][0], self.section, " ".join(parts), breaks))
        keep: list[tuple[int, str, int, list[int]]] = []
        words = 0
        for item in reversed(self.held[1:]):  # the overlap: the last sentences, never the whole passage
            if words + item[2] > OVERLAP_WORDS:
                break
            keep.insert(0, item)
            words += item[2]
        self.held, self.words, self.fresh = keep, words, 0

    def flush(self) -> None:
        if self.partial:
            self._sentence(self.partial)
            self.partial = []
        if self.fresh:
            self._emit()
        self.held, self.words, self.fresh = [], 0, 0


class References:
    """The reference list: entries split where a marker ([12], 12.) starts one, or a line stands out from an
    indented continuation (author-year lists hang their entries)."""

    def __init__(self, out: list[Reference]):
        self.out = out
        self.entry: list[str] = []
        self.page = 0
        self.prev_x: float | None = None
        self.numbered: bool | None = None
        self.size = 0.0  # the list's print size

    def add(self, page: int, lines: list[Line]) -> None:
        for line in lines:
            text = line.text
            marker = bool(REFERENCE_START.match(text))
            if self.numbered is None:
                self.numbered = marker
            starts = marker if self.numbered else (
                self.prev_x is not None and line.x0 < self.prev_x - 3
                or (self.prev_x is not None and abs(line.x0 - self.prev_x) <= 3 and self.entry
                    and self.entry[-1].rstrip().endswith(".") and re.match(r"^[A-Z][\w'’-]+,", text)))
            if starts or not self.entry:
                self.close()
                self.page = page
            self.entry.append(text[:-1] if line.hyphen and text.endswith("-") else text)
            self.prev_x = line.x0
            if line.hyphen:
                self.entry[-1] += "\u0000"  # joined to the next without a space
        return None

    def column_break(self) -> None:
        self.prev_x = None

    def close(self) -> None:
        if self.entry:
            text = re.sub(r"\s+", " ", " ".join(self.entry).replace("\u0000 ", "")).strip()
            if text:
                self.out.append(Reference(self.page, text))
        self.entry = []


def _body_size(lines: list[Line]) -> float:
    """The font size most of a page's text has."""
    sizes: Counter[float] = Counter()
    for line in lines:
        if line.size:
            sizes[line.size] += len(line.text)
    return sizes.most_common(1)[0][0] if sizes else 0.0


def read_full(source) -> FullText:
    """Every page of a PDF file (or bytes) as passages and references; pages with no text are listed."""
    doc = open_document(source)
    out = FullText(pages=len(doc))
    chunker = Chunker(out.passages)
    refs = References(out.references)
    heads = RunningHeads()
    window: deque[PageLines] = deque()
    state = {"refs": False, "chars": 0}

    def lay_out(page: PageLines) -> None:
        lines = heads.strip(page)
        if state["chars"] >= MAX_CHARS:
            return
        state["chars"] += sum(len(line.text) for line in lines)
        if state["chars"] >= MAX_CHARS:
            out.notes.append(f"only the first {MAX_CHARS:,} characters were read (to page {page.number})")
        body = _body_size(lines)
        refs.column_break()
        if state["refs"]:
            rest = _references_until_appendix(page.number, lines, body, refs, chunker)
            if rest is None:
                return
            state["refs"] = False
            chunker.heading(rest[0].text)
            lines = rest[1]
        for block in blocks_of(page.number, lines, body):
            if block.kind == "heading":
                if REFERENCE_NAMES.fullmatch(re.sub(r"^[\dIVX.]+\s+", "", block.text).strip().rstrip(":")):
                    chunker.flush()
                    state["refs"] = True
                    # what follows the heading on this page is the list
                    after = lines[_index_after(lines, block.text):]
                    rest = _references_until_appendix(page.number, after, body, refs, chunker)
                    if rest is None:
                        return
                    state["refs"] = False
                    chunker.heading(rest[0].text)
                    for b in blocks_of(page.number, rest[1], body):
                        _place(b, chunker)
                    return
                chunker.heading(block.text)
            else:
                _place(block, chunker)

    try:
        for i in range(len(doc)):
            try:
                page = doc[i]
            except pdfium.PdfiumError as e:
                out.notes.append(f"page {i + 1} cannot be loaded: {e}")
                continue
            try:
                lines = page_lines(page, i + 1)
            finally:
                page.close()
            if lines.garbage or not lines.lines:
                out.scanned.append(i + 1)
            if lines.cut:
                out.notes.append(f"page {i + 1} holds {MAX_CHARS_PER_PAGE:,}+ characters: only its first "
                                 f"{MAX_CHARS_PER_PAGE:,} characters were read")
            heads.count(lines)
            window.append(lines)
            if len(window) > WINDOW:
                lay_out(window.popleft())
        while window:
            lay_out(window.popleft())
        chunker.flush()
        refs.close()
        return out
    finally:
        doc.close()


def _place(block: Block, chunker: Chunker) -> None:
    if block.kind == "body":
        chunker.add(block.page, block.text)
    else:  # captions and footnotes stand alone
        chunker.alone(block.page, block.text)


def _index_after(lines: list[Line], heading: str) -> int:
    for i, line in enumerate(lines):
        if line.text.strip() == heading:
            return i + 1
    return len(lines)


def _references_until_appendix(page: int, lines: list[Line], body: float, refs: References, chunker: Chunker
                               ) -> tuple[Line, list[Line]] | None:
    """Reference entries from these lines, up to an appendix's heading: (that heading, the lines after it), or
    None when the list runs on to the page's end. Lines in smaller print than the list's are the page's footnotes
    (TeX writes them at the page's end, after the list's column): passages of their own."""
    size = refs.size or next((line.size for line in lines if line.size), 0.0)
    refs.size = size
    entries = [line for line in lines if not (size and line.size and line.size < size - 0.5)]
    notes = [line for line in lines if size and line.size and line.size < size - 0.5]
    if notes:
        chunker.alone(page, _join(notes))
    for i, line in enumerate(entries):
        if _heading(line, body) and APPENDIX_HEADING.match(line.text) and (line.bold or line.size > body + 0.5):
            refs.add(page, entries[:i])
            refs.close()
            return line, entries[i + 1:]
    refs.add(page, entries)
    return None
