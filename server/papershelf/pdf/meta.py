"""A paper's metadata from its PDF alone: identifiers, title, authors, year, venue and abstract.

Read from the layout of the first pages (pdftext): the title is the largest text near the top of the title
page, the authors the name-shaped lines under it, the abstract what follows an "Abstract" heading (or,
without one, the first paragraph set apart under the authors). Identifiers come from what is printed (the
arXiv stamp, a DOI on the title page or with a "doi" label on the last one), then the file name; the PDF's
Info dictionary only where its values are plausible (producers write file names and templates there).
"""

from __future__ import annotations

import re
import statistics
from difflib import SequenceMatcher
from pathlib import Path

import msgspec

from .. import ids
from .text import Line, PdfText, fix_glyphs

ARXIV_STAMP = re.compile(r"arXiv:\s?(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?\s*\[[^\]]+\]\s*(.*)")
ARXIV_PRINTED = re.compile(r"\barXiv:\s?(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})(v\d+)?", re.I)
# The stamp of an old-style id (archive/YYMMNNN, until 2007): no category in brackets, the version apart, and a
# date with a two-digit year ("arXiv:hep-th/9901001 v2 12 Jan 99").
OLD_STAMP = re.compile(r"arXiv:\s?([a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})\s?(v\d+)?\s+\d{1,2}\s+([A-Z][a-z]{2,8})\.?\s+"
                       r"(\d{4}|\d{2})\b")
# A journal's line under the abstract: "ArXiv ePrint: 1501.01234" (IOP, SISSA).
EPRINT_LINE = re.compile(r"\barxiv\s*e-?print\s*:\s*(?:arxiv:\s?)?(\d{4}\.\d{4,5}|[a-z][a-z\-]*(?:\.[A-Z]{2})?/\d{7})"
                         r"(v\d+)?\b", re.I)
DOI_PRINTED = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>{}]+)")
DOI_LABEL = re.compile(r"\bdoi\b|doi\.org/|dx\.doi", re.I)
FILE_ARXIV = re.compile(r"^(?:arxiv[._-]?)?(\d{4}\.\d{4,5})(v\d+)?$", re.I)
FILE_DOI = re.compile(r"^(10\.\d{4,9})[_%](.+)$")
YEAR = re.compile(r"(?<![\d/.\-])(19[5-9]\d|20[0-4]\d)(?![\d/])")
CURRENT_YEAR_LIMIT = 2040

ABSTRACT_HEADING = re.compile(
    r"^\s*(?:a\s?b\s?s\s?t\s?r\s?a\s?c\s?t|summary|r[ée]sum[ée])\b\s*(?:[.:—–\-]|\s)?\s*(.*)$", re.I)
# What ends an abstract: keywords, the first section, or the front matter that publishers put after it.
ABSTRACT_END = re.compile(
    r"^\s*(?:(?:[1I]\.?|1\s)\s*)?(?:introduction|background and motivation)\s*$"
    r"|^\s*(?:key\s?words?|index terms|ccs concepts|subjects?\s*:|general terms|categories and subject"
    r"|acm reference format|additional key words|pacs|msc|jel|article history|received\b|a r t i c l e"
    r"|©|\(c\)\s|copyright|\*?\s?corresponding author|citation:|editor:|this article is"
    r"|submitted to\b|to appear in\b|accepted for publication|published in\b|preprint submitted)", re.I)
FRONT_MATTER = re.compile(r"©|copyright|licen[cs]e|creative commons|corresponding author|@|e-?mail|"
                          r"\buniversity\b|\binstitute\b|\bdepartment\b|received|accepted|this article", re.I)
SECTION_HEADING = re.compile(r"^\s*(?:\d{1,2}(?:\.\d)?\.?|[IVX]{1,4}\.)\s+[A-Z][\w\s,:&\-]{2,60}$")

# Text printed above or beside titles that is never the title.
NOT_TITLE = re.compile(
    r"arxiv:|\bjournal of\b|\bproceedings\b|\btransactions on\b|\bpreprint\b|^draft\b|\bvol(?:ume|\.)\s*\d"
    r"|https?://|www\.|\bdoi\b|@|©|\bissn\b|^article\b|^research article|^original research|^review article"
    r"|^universi|^facult|^fakult|^department|^school of|^institut|^p[óo]s-gradua|^master.?s thesis"
    r"|^disserta|^thesis|^european organization|open access|^accepted|^received|^published|^contents lists"
    r"|^letter\b|^report\b|^short paper|^technical report|^submitted|^under review|^confidential",
    re.I)
JUNK_INFO_TITLE = re.compile(
    r"^(?:microsoft (?:word|powerpoint)|untitled|anonymous|title|paper|article|manuscript|document\d*|main)\b"
    r"|\.(?:dvi|tex|docx?|pdf|eps|ps|indd|rtf|odt|qxd)\b|^10\.\d{4,9}/|^[\w\-]+_[\w\-]+$|^\S+$", re.I)

AFFILIATION = re.compile(
    r"universi|institut|department|dept\.|laborator|\blab\b|school|college|cent(?:er|re)\b|faculty|facult[ée]"
    r"|\binc\b|\bltd\b|gmbh|\bcorp|research|hospital|academy|foundation|ministry|observatory|\bbox\b"
    r"|street|\bstr\.|road|avenue|\bave\b|campus|company|google|microsoft|facebook|amazon|\bibm\b|e-?mail"
    r"|@|https?://|\d{3}|program|division|unit\b|group\b|council|agency|national|state key|key laboratory",
    re.I)
NAME_PARTICLES = {"de", "da", "do", "dos", "das", "van", "von", "der", "den", "di", "del", "della", "la", "le",
                  "du", "y", "bin", "al", "el", "ter", "ten", "zu", "af", "av"}
NAME_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
NAME_TOKEN = re.compile(r"^(?:[A-Z\u00C0-\u024F\u0370-\u03FF][\w\u00C0-\u024F'’\-]*\.?|[A-Z]\.(?:-?[A-Z]\.)*|[A-Z])$")
AUTHOR_SPLIT = re.compile(r"\s*(?:,|;|·|•|\band\b|&|\u2063|\s{2,}|[∗*†‡§¶#⋆♯♭♮⁎✝✉]+|\d+|\(\s*\)|\|)\s*")
POSTAL = re.compile(r"\d{3,}|\b[A-Z]{1,2}\d{1,2}[A-Z]?\b")
NOT_NAMES = {"preprint", "draft", "abstract", "article", "paper", "introduction", "keywords", "the", "of", "for",
             "in", "on", "with", "to", "an", "open", "access", "prof", "dr", "phd", "md", "msc", "supervisor",
             "advisor", "assessors", "presented", "submitted", "thesis", "review", "letter", "report", "edition",
             "volume", "issue", "press", "online", "version", "manuscript", "accepted", "original", "research"}
AUTHOR_LABEL = re.compile(r"^\s*(?:authors?\(s\)|authors?|by)\s*:\s*", re.I)


class PdfMeta(msgspec.Struct, omit_defaults=True):
    """What the PDF says about its paper; empty strings where it does not say."""

    title: str = ""
    authors: list[str] = []
    year: int | None = None
    venue: str = ""
    abstract: str = ""
    identifiers: list[str] = []
    has_text: bool = True
    notes: list[str] = []


def rows(lines: list[Line]) -> list[Line]:
    """Lines on the same baseline and size joined left to right (PDFium splits a line at font changes)."""
    out: list[Line] = []
    for line in lines:
        prev = out[-1] if out else None
        if (prev and not line.rotated and abs(prev.top - line.top) < 0.35 * max(prev.size, 1)
                and abs(prev.size - line.size) < 0.6 and 0 <= line.x0 - prev.x1 < 3 * prev.size):
            gap = "" if line.x0 - prev.x1 < 0.15 * prev.size else " "
            out[-1] = Line(text=prev.text + gap + line.text, plain=prev.plain + gap + line.plain,
                           marked=prev.marked + gap + line.marked, size=prev.size,
                           x0=prev.x0, x1=line.x1, top=min(prev.top, line.top), bottom=max(prev.bottom, line.bottom),
                           bold=prev.bold and line.bold, rotated=False, page=prev.page, ends_hyphen=line.ends_hyphen)
        else:
            out.append(line)
    return out


def is_cover(lines: list[Line]) -> bool:
    """A download service's or repository's cover page, with the paper on the next page."""
    text = " ".join(line.text for line in lines).lower()
    return any(mark in text for mark in ("jstor is a not-for-profit", "zurich open repository", "this content downloaded",
                                         "your use of the jstor archive", "posted at the zurich"))


def find_title(lines: list[Line], height: float) -> tuple[str, int, int]:
    """(title, index of its first line, index after its last) from a page's layout; ('', -1, -1) if none.

    The largest text in the upper part of the page that is not a venue, a label or a running header; a title
    of two words only if no larger text of three words or more is there (a logo's caption is often larger)."""
    cands = [i for i, line in enumerate(lines)
             if not line.rotated and line.top < 0.75 * height and len(re.findall(r"[^\W\d_]", line.text)) >= 2
             and not NOT_TITLE.search(line.text) and not is_running_header(line, lines)]
    for min_words in (3, 2):
        for size in sorted({round(lines[i].size, 1) for i in cands}, reverse=True):
            for start in (i for i in cands if abs(lines[i].size - size) < 0.25):
                group = title_lines(lines, start, size)
                text = join_title([lines[k] for k in group])
                if len(text.split()) >= min_words and len(text) >= 8:
                    return text, group[0], group[-1] + 1
    return "", -1, -1


def title_lines(lines: list[Line], start: int, size: float) -> list[int]:
    """The lines of a title that starts at lines[start]."""
    group = [start]
    for j in range(start + 1, min(start + 8, len(lines))):
        line, last = lines[j], lines[group[-1]]
        if abs(line.size - size) < 0.6 and -0.5 * size < line.top - last.top < 2.2 * size and not line.rotated:
            group.append(j)
        elif len(line.text.strip()) <= 2 or line.size < 0.8 * size and abs(line.top - last.top) < size:
            continue  # a footnote mark or a superscript inside the title
        else:
            break
    return group


def is_running_header(line: Line, lines: list[Line]) -> bool:
    """Whether another line of the page starts with this text and goes on with a year or a volume: the
    journal's name in a running header or footer ('Nutrition and Metabolic Insights 2009:2 27')."""
    text = line.text.strip().lower()
    if len(text) < 6:
        return False
    for other in lines:
        o = other.text.strip().lower()
        if other is not line and o.startswith(text) and re.match(r"\s*[,(]?\s*(?:\d|vol)", o[len(text):]):
            return True
    return False


def choose_title(layout: str, info: str) -> str:
    """The layout's title, or the Info dictionary's when it is the same title spelt better.

    Info wins when it only adds characters the text layer lost (a '/' drawn as a glyph with no Unicode) or
    gives the case that small capitals hid; the layout wins when it has characters Info lacks ('√s')."""
    if not plausible_info_title(info) or not layout:
        return layout or (info if plausible_info_title(info) else "")
    a = re.sub(r"\s+", "", layout.lower())
    b = re.sub(r"\s+", "", info.lower())
    if SequenceMatcher(None, a, b, autojunk=False).ratio() < 0.9:
        return layout
    ops = SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    if any(op in ("delete", "replace") for op, *_ in ops):
        return layout
    if any(op == "insert" for op, *_ in ops):
        return re.sub(r"\s+", " ", info).strip()
    letters = [c for c in layout if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.8 * len(letters) and not info.isupper():
        return re.sub(r"\s+", " ", info).strip()
    return layout


def join_title(lines: list[Line]) -> str:
    """Title lines in reading order, joined; marks after words dropped."""
    ordered = sorted(lines, key=lambda line: (round(line.top / max(line.size, 1) * 1.5), line.x0))
    parts: list[str] = []
    for line in ordered:
        part = line.plain.strip()
        if parts and parts[-1].endswith("-") and part[:1].islower():
            parts[-1] = parts[-1] + part
        else:
            parts.append(part)
    title = fix_glyphs(" ".join(parts))
    title = re.sub(r"\s+([,:;.?!])", r"\1", title)
    return re.sub(r"[\s∗*†‡§¶]+$", "", re.sub(r"\s+", " ", title)).strip()


def name_of(segment: str) -> str | None:
    """A person's name from a piece of an author line, or None if it is not one."""
    segment = AUTHOR_LABEL.sub("", segment).strip(" .,;:()[]{}'\"")
    segment = re.sub(r"^(?:and|by)\s+", "", segment, flags=re.I)
    if not segment or AFFILIATION.search(segment):
        return None
    if re.fullmatch(r"[A-Z][\w'’\-]+,\s*(?:[A-Z]\.?\s*){1,3}", segment):  # "Corti, R" / "Flammer, A J"
        surname, given = segment.split(",", 1)
        return f"{given.strip()} {surname.strip()}"
    tokens = segment.replace(".", ". ").split()
    tokens = [t for t in tokens if t]
    if not 2 <= len(tokens) <= 6:
        return None
    named = 0
    for token in tokens:
        if token.lower() in NAME_PARTICLES or token.lower() in NAME_SUFFIXES:
            continue
        if not NAME_TOKEN.match(token):
            return None
        named += 1
    if named < 2 or {t.lower().strip(".") for t in tokens} & NOT_NAMES:
        return None
    name = re.sub(r"\.\s+(?=[A-Z]\.)", ".", " ".join(tokens))  # "J. -P." spacing as printed: "J.-P."
    name = re.sub(r"\s+-", "-", name)
    return fix_glyphs(name)


def names_in(line: Line) -> tuple[list[str], int]:
    """(names, pieces that were not names) in one line."""
    names, other = [], 0
    for segment in AUTHOR_SPLIT.split(line.marked):
        if not segment.strip():
            continue
        name = name_of(segment)
        if name:
            names.append(name)
        elif len(segment.strip()) > 2:
            other += 1
    return names, other


def find_authors(lines: list[Line], start: int, stop: int, title_size: float) -> tuple[list[str], int]:
    """(names in the lines between the title and the abstract, index after the last line that had one)."""
    found: list[str] = []
    last = start
    for i in range(start, stop):
        line = lines[i]
        if ABSTRACT_END.match(line.text) or ABSTRACT_HEADING.match(line.text) and len(line.text.split()) <= 2:
            break
        if line.rotated or line.size > title_size + 0.1 or YEAR.search(line.plain) or POSTAL.search(line.plain):
            continue
        if re.search(r"\bcollaborations?\b", line.plain, re.I) and len(line.plain.split()) <= 8:
            found.append(re.sub(r"[\s∗*†‡§¶\u2063]+$", "", line.plain).strip())
            last = i + 1
            continue
        names, other = names_in(line)
        if names and other <= len(names):
            found.extend(n for n in names if n not in found)
            last = i + 1
        elif found and len(line.text.split()) > 25:
            break  # body text: the front matter is over
    return found, last


def find_abstract(lines: list[Line], after: int) -> tuple[str, int]:
    """(abstract, index of its heading or first line); ('', -1) if none was found."""
    for i in range(max(after, 0), len(lines)):
        m = ABSTRACT_HEADING.match(lines[i].text)
        if not m or (m.group(1) and not re.match(r"[\s.:—–\-]", lines[i].text[m.start(1) - 1:m.start(1)] or " ")
                     and len(lines[i].text.split()) < 4):
            continue
        rest = m.group(1).strip()
        if rest and not lines[i].text.strip().lower().startswith(("abstract", "a b s t r a c t", "summary")):
            continue
        body = collect(lines, i + 1, first=rest + ("\u0000" if rest and lines[i].ends_hyphen else ""))
        if len(body.split()) >= 20:
            return body, i
    # No heading: the first long paragraph under the front matter, in a size no smaller than the body's.
    body = body_size(lines)
    i = max(after, 0)
    while i < len(lines):
        text, n = collect(lines, i, first="", paragraph=True, count=True)
        front = FRONT_MATTER.search(text[:300])
        if len(text.split()) >= 30 and lines[i].size >= body - 1.2 and not front:
            return text, i
        i += 1 if front else max(n, 1)  # front matter run into the abstract: start again a line further
    return "", -1


def body_size(lines: list[Line]) -> float:
    """The size most of a page's text is set in."""
    weight: dict[float, int] = {}
    for line in lines:
        weight[round(line.size, 1)] = weight.get(round(line.size, 1), 0) + len(line.text)
    return max(weight.items(), key=lambda kv: kv[1])[0] if weight else 10.0


def collect(lines: list[Line], i: int, first: str, paragraph: bool = False, count: bool = False):
    """The abstract's lines from lines[i] on, up to its end, joined (and how many lines were looked at)."""
    start = i
    parts = [first.rstrip("\u0000"), "\u0000"] if first.endswith("\u0000") else [first] if first else []
    body_size = None
    sizes = [line.size for line in lines[i:i + 4] if len(line.text.split()) >= 4]
    if sizes:
        body_size = statistics.median(sizes)
    if body_size is None:
        return (first, 1) if count else first
    prev: Line | None = None
    pitch = None
    bold = None
    for i in range(start, len(lines)):
        line = lines[i]
        text = line.text.strip()
        if not text:
            continue
        if ABSTRACT_END.match(text) or (SECTION_HEADING.match(text) and len(text.split()) <= 6 and prev is not None):
            break
        if abs(line.size - body_size) > 0.8:
            if len(text) <= 3 or line.rotated:
                continue  # a page number, a mark, a margin stamp
            if paragraph or prev is None:
                break
            if line.size > body_size:
                break  # a heading
            continue  # a footnote or running header between the lines
        if prev is not None:
            step = line.top - prev.top
            if pitch is None and 0 < step < 3 * body_size:
                pitch = step
            elif pitch is None and paragraph and step > 2 * body_size:
                break  # a line standing alone above a gap: not this paragraph
            if paragraph and (bold is not None and line.bold != bold):
                break
            if paragraph and pitch and (step > 1.7 * pitch or step < -pitch and line.x0 < prev.x1):
                break  # the paragraph ended (a gap, or the next column's body)
            if not paragraph and pitch and step > 3.2 * pitch:
                break
        if paragraph and prev is None and len(text.split()) < 6:
            return ("", 1) if count else ""
        bold = line.bold if bold is None else bold
        parts.append(text)
        prev = line
        if line.ends_hyphen:
            parts.append("\u0000")
    else:
        i = len(lines)
    text = join_lines(parts)
    return (text, i - start) if count else text


def join_lines(parts: list[str]) -> str:
    """Lines → text: a word broken at a line end joined, spaces collapsed."""
    out = ""
    joined = False
    for part in parts:
        if part == "\u0000":
            joined = True
            continue
        if not out:
            out = part
        elif joined:
            out += part
        elif out.endswith("-") and part[:1].isalpha() and not out.endswith(" -"):
            out += part  # a compound broken at its hyphen ('Dzyaloshinskii-' 'Moriya')
        else:
            out += " " + part
        joined = False
    out = fix_glyphs(out)
    return re.sub(r"\s+", " ", out).strip()


def _both_ways(line: Line) -> tuple[str, str]:
    """A line's text, and the same reversed: a stamp set upside down can come out of PDFium last letter first."""
    return line.text, line.text[::-1]


def stamps(text: PdfText) -> list[tuple[str, int | None]]:
    """(id, year) of each arXiv stamp on the first two pages: today's (`arXiv:2101.01234v2 [cs.LG] 4 Jan 2021`) and
    the old one (`arXiv:hep-th/9901001 v2 12 Jan 99`), either way up."""
    found = []
    for page in text.pages[:2]:
        for line in page:
            for t in _both_ways(line):
                m = ARXIV_STAMP.search(t)
                if m:
                    y = YEAR.search(m.group(3))
                    found.append((m.group(1), int(y.group(1)) if y else None))
                    break
                m = OLD_STAMP.search(t)
                if m and ids.normalize_arxiv(m.group(1)):
                    y = int(m.group(4))
                    found.append((m.group(1), y if y > 99 else 1900 + y if y >= 91 else 2000 + y))
                    break
    return found


def printed_arxiv(text: PdfText) -> list[str]:
    """arXiv ids printed as an arXiv stamp, as a journal's "arXiv ePrint: ID" line on the title page, or as
    'arXiv:ID' in the title page's margins."""
    found = [i for i, _ in stamps(text)]
    if not found:
        for page in text.pages[:2]:
            for line in page:
                if re.match(r"^\s*(?:references|bibliography|literature cited)\s*$", line.text, re.I):
                    break
                found.extend(m.group(1) for m in EPRINT_LINE.finditer(line.text))
    if not found and text.pages:
        page, (_, height) = text.pages[0], (text.page_sizes[0] if text.page_sizes else (0, 800))
        for line in page:
            if line.top < 0.12 * height or line.top > 0.85 * height:
                found.extend(m.group(1) for m in ARXIV_PRINTED.finditer(line.text))
    return list(dict.fromkeys(found))


def clean_doi(raw: str) -> str | None:
    doi = raw.rstrip(".,;:")
    while doi.endswith(")") and doi.count("(") < doi.count(")"):
        doi = doi[:-1]
    while doi.endswith("]") and doi.count("[") < doi.count("]"):
        doi = doi[:-1]
    return ids.normalize_doi(doi.rstrip(".,;:"))


def printed_dois(text: PdfText, title_page: int) -> list[str]:
    """DOIs printed on the title page (before any references), or labelled 'doi' on the last page's front."""
    found: list[str] = []
    pages = text.pages[title_page:title_page + 1]
    if title_page:
        pages = text.pages[:title_page + 1]
    for page in pages:
        for line in page:
            if re.match(r"^\s*(?:references|bibliography|literature cited)\s*$", line.text, re.I):
                break
            for m in DOI_PRINTED.finditer(line.text):
                doi = clean_doi(m.group(1))
                if doi and doi not in found:
                    found.append(doi)
    if len(found) > 1:  # several: keep the labelled ones (the others are cited works)
        labelled = [d for d in found if any(d in (clean_doi(x.group(1)) or "") and DOI_LABEL.search(line.text)
                                            for page in pages for line in page for x in DOI_PRINTED.finditer(line.text))]
        found = labelled[:1] or found[:1]
    if not found:
        # The last page: only a DOI printed twice there (the article's own, in its closing block) and never
        # in a numbered reference.
        seen: dict[str, int] = {}
        for line in text.last_page:
            if re.match(r"^\s*\[?\d{1,3}[.\]]\s", line.text) or re.search(r"\bet al\b", line.text):
                continue
            for doi in {d for d in (clean_doi(m.group(1)) for m in DOI_PRINTED.finditer(line.text)) if d}:
                seen[doi] = seen.get(doi, 0) + 1
        found = [d for d, n in seen.items() if n >= 2][:1]
    return found


def from_file_name(name: str) -> list[str]:
    """Identifiers a file name carries: `2310.02279v2.pdf`, `10.1145_3292500.3330701.pdf`."""
    stem = Path(name).stem if name.lower().endswith(".pdf") else name
    m = FILE_ARXIV.match(stem)
    if m:
        return [f"arxiv:{m.group(1)}"]
    m = FILE_DOI.match(stem)
    if m:
        doi = ids.normalize_doi(f"{m.group(1)}/{m.group(2).replace('_', '/')}")
        return [f"doi:{doi}"] if doi else []
    return []


MONTH_YEAR = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|janeiro|fevereiro|março|abril|maio"
                        r"|junho|julho|agosto|setembro|outubro|novembro|dezembro|januar|februar|märz|juni|juli"
                        r"|oktober|dezember)[a-zé]*\.?,?\s+(?:\d{1,2},?\s+)?(?:de\s+)?(19|20)\d\d\b", re.I)
CITATION = re.compile(r"et al|\(\D{0,40}(?:19|20)\d\d[a-z]?\)|\b(?:19|20)\d\d[a-z]?\)|\[\d+\]")


def find_year(lines: list[Line], height: float, stamp_year: int | None) -> int | None:
    """The publication year printed on the title page: the dated lines first, then the margins, then the
    arXiv stamp's. Years inside the text (citations) and on download stamps are not the paper's."""
    body = body_size(lines)
    dated: list[int] = []
    margins: list[int] = []
    for line in lines:
        text = line.text
        margin = line.top < 0.12 * height or line.top > 0.88 * height
        if re.search(r"download|accessed|retrieved|printed on", text, re.I) or line.rotated:
            continue
        if CITATION.search(text) and not (margin and abs(line.size - body) > 0.4):
            continue  # a citation in the text (a running footer citing the paper itself is kept)
        years = [int(y) for y in YEAR.findall(text) if int(y) <= CURRENT_YEAR_LIMIT]
        if not years:
            continue
        if re.search(r"©|copyright|\(c\)|published|accepted|received|revised|proceedings|volume|\bvol\b|\bno\.|"
                     r"journal|conference|press|\bpp\.|pages|issue|year:|date", text, re.I) or MONTH_YEAR.search(text):
            dated.extend(years)
        elif margin and (
                abs(line.size - body) > 0.4 or len(text.split()) <= 6):
            margins.extend(years)
    if dated:
        return max(dated)
    if margins:
        return max(margins)
    return stamp_year


VENUE_WORDS = re.compile(r"journal|proceedings|conference|symposium|workshop|transactions|letters|review|annals"
                         r"|bulletin|\bproc\b|\bacad|\bnatl\b|\bsci\b", re.I)


def find_venue(lines: list[Line], subject: str) -> str:
    """Where the paper is printed: a 'Proceedings of …' line on the title page, or an Info Subject that names
    a journal or a conference (Subject also holds plot programs' names and templates' boilerplate)."""
    for line in lines:
        m = re.match(r"^\s*(?:in\s+)?(proceedings of .+?)(?:,\s*(?:pages|pp\.|vol).*)?$", line.text, re.I)
        if m and len(m.group(1)) < 200:
            return m.group(1).strip(" ,.")
    subject = subject.strip()
    if subject and len(subject) < 160 and (VENUE_WORDS.search(subject) or re.search(r"\b(?:19|20)\d\d\b", subject)) \
            and not re.search(r"doi|https?:|\.tex\b", subject, re.I):
        return subject
    return ""


def plausible_info_title(title: str) -> bool:
    title = title.strip()
    return len(title.split()) >= 3 and len(title) >= 12 and not JUNK_INFO_TITLE.search(title)


def extract(text: PdfText, file_name: str = "") -> PdfMeta:
    """Everything the PDF tells about its paper."""
    meta = PdfMeta(has_text=text.has_text)
    identifiers = [f"arxiv:{ids.normalize_arxiv(a) or a}" for a in printed_arxiv(text)]
    title_page = 0
    if len(text.pages) > 1 and is_cover(text.pages[0]):
        title_page = 1
    dois = printed_dois(text, title_page)
    identifiers += [f"doi:{d}" for d in dois or ([text.xmp_doi] if text.xmp_doi else [])]
    for found in from_file_name(file_name):
        if found.split(":")[0] not in {i.split(":")[0] for i in identifiers}:
            identifiers.append(found)
    meta.identifiers = list(dict.fromkeys(identifiers))
    info_title = (text.info.get("Title") or "").strip()
    if not text.has_text:
        meta.title = info_title if plausible_info_title(info_title) else ""
        meta.notes = ["the PDF has no text layer (a scan?): only its file name and metadata were read"]
        return meta
    page = rows(text.pages[title_page]) if text.pages else []
    height = text.page_sizes[title_page][1] if text.page_sizes else 800
    title, start, end = find_title(page, height)
    if title_page and not title:
        page, height = rows(text.pages[0]), text.page_sizes[0][1]
        title, start, end = find_title(page, height)
    meta.title = choose_title(title, info_title)
    after = end if end > 0 else 0
    if start >= 0:
        heading = next((i for i in range(end, len(page)) if ABSTRACT_HEADING.match(page[i].text)), len(page))
        meta.authors, after = find_authors(page, end, min(heading, end + 30), page[start].size)
    abstract, at = find_abstract(page, after)
    if not abstract and len(text.pages) > title_page + 1:
        abstract, _ = find_abstract(rows(text.pages[title_page + 1]), 0)
    meta.abstract = abstract
    if not meta.authors:
        author = (text.info.get("Author") or "").strip()
        if author and not re.search(r"^(?:user|admin|owner|\w+)$", author, re.I):
            meta.authors = [n for n in (name_of(a) for a in re.split(r"\s*(?:;|,|\band\b)\s*", author)) if n]
    stamp_year = next((y for _, y in stamps(PdfText(pages=text.pages[:1])) if y), None)
    meta.year = find_year([line for line in page if not ARXIV_STAMP.search(line.text)
                           and not OLD_STAMP.search(line.text)], height, stamp_year)
    if meta.year is None and title_page:
        meta.year = find_year(rows(text.pages[0]), text.page_sizes[0][1], None)
    meta.venue = find_venue(page, text.info.get("Subject") or "")
    return meta
