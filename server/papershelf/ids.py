"""Identifiers and titles: parse them from whatever a user pastes, normalise them so equal things compare equal."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qs, unquote, urlparse

# Every scheme a paper can be known by. "key" is the key it was imported with (BibTeX key, a JSONL id);
# "id" is a library id that was merged into another paper and still resolves to it.
SCHEMES = ("arxiv", "doi", "openreview", "acl", "s2", "corpusid", "openalex", "pmid", "key", "id")

_ARXIV_NEW = re.compile(r"^(\d{4}\.\d{4,5})(v\d+)?$")
_ARXIV_OLD = re.compile(r"^([a-z][a-z\-]*(?:\.[a-z]{2})?/\d{7})(v\d+)?$", re.I)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_ACL_NEW = re.compile(r"^\d{4}\.[a-z0-9\-]+\.\d+$", re.I)
_ACL_OLD = re.compile(r"^[A-Z]\d{2}-\d{4}$")
_S2 = re.compile(r"^[0-9a-f]{40}$")
_OPENALEX = re.compile(r"^W\d{4,}$", re.I)
_ARXIV_DOI = re.compile(r"^10\.48550/arxiv\.(.+)$", re.I)
_BIORXIV_DOI_IN_PATH = re.compile(r"(10\.1101/(?:\d{4}\.\d{2}\.\d{2}\.\d+|\d{6,}))")


def normalize_arxiv(value: str) -> str | None:
    """Versionless arXiv id (`1706.03762`, `hep-th/9901001`), or None if it is not one."""
    v = value.strip()
    v = re.sub(r"^(arxiv:|arxiv\s+)", "", v, flags=re.I).strip()
    m = _ARXIV_NEW.match(v)
    if m:
        yymm, number = m.group(1).split(".")
        # Four digits after the dot until 2014, five since 2015 (1501).
        if int(yymm[2:]) not in range(1, 13) or (len(number) == 5) != (int(yymm) >= 1501):
            return None
        return m.group(1)
    m = _ARXIV_OLD.match(v)
    if m:
        archive, number = m.group(1).split("/")
        # The archive is lower case; an old-style subject class stays upper case (math.GT/0309136).
        if "." in archive:
            a, cls = archive.split(".", 1)
            archive = f"{a.lower()}.{cls.upper()}"
        else:
            archive = archive.lower()
        return f"{archive}/{number}"
    return None


def normalize_doi(value: str) -> str | None:
    """Lower-cased bare DOI (no resolver prefix), or None."""
    v = unquote(value.strip())
    v = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", v, flags=re.I).strip()
    v = v.rstrip(".,;")
    if _DOI.match(v):
        return v.lower()
    return None


def normalize(scheme: str, value: str) -> tuple[str, str] | None:
    """One identifier in canonical form; an arXiv DOI becomes the arXiv id. None if the value is not valid."""
    scheme = scheme.strip().lower()
    value = str(value).strip()
    if not value:
        return None
    if scheme == "arxiv":
        a = normalize_arxiv(value)
        return ("arxiv", a) if a else None
    if scheme == "doi":
        d = normalize_doi(value)
        if not d:
            return None
        m = _ARXIV_DOI.match(d)
        if m:
            a = normalize_arxiv(m.group(1))
            if a:
                return ("arxiv", a)
        return ("doi", d)
    if scheme in ("s2",):
        return ("s2", value.lower()) if _S2.match(value.lower()) else None
    if scheme == "corpusid":
        return ("corpusid", value) if value.isdigit() else None
    if scheme == "openalex":
        v = value.rsplit("/", 1)[-1].upper()
        return ("openalex", v) if _OPENALEX.match(v) else None
    if scheme == "pmid":
        return ("pmid", value) if value.isdigit() else None
    if scheme == "acl":
        return ("acl", value)
    if scheme in ("openreview", "key", "id"):
        return (scheme, value)
    return None


def parse_url(url: str) -> list[tuple[str, str]]:
    """Identifiers that a paper page's URL carries (arXiv, DOI, OpenReview, ACL, S2, Hugging Face, bioRxiv)."""
    try:
        u = urlparse(url.strip())
    except ValueError:
        return []
    host = (u.hostname or "").lower().removeprefix("www.")
    path = unquote(u.path)
    out: list[tuple[str, str]] = []
    if host.endswith("arxiv.org"):
        m = re.match(r"^/(?:abs|pdf|html|format)/(.+?)(?:\.pdf)?/?$", path)
        if m and (a := normalize_arxiv(m.group(1))):
            out.append(("arxiv", a))
    elif host in ("doi.org", "dx.doi.org"):
        if n := normalize("doi", path.lstrip("/")):
            out.append(n)
    elif host.endswith("openreview.net"):
        q = parse_qs(u.query)
        if q.get("id"):
            out.append(("openreview", q["id"][0]))
    elif host.endswith("aclanthology.org") or host == "aclweb.org":
        m = re.match(r"^/(?:anthology/)?([^/]+?)(?:\.pdf)?/?$", path)
        if m and (_ACL_NEW.match(m.group(1)) or _ACL_OLD.match(m.group(1))):
            out.append(("acl", m.group(1)))
    elif host.endswith("semanticscholar.org"):
        m = re.search(r"/paper/(?:[^/]+/)?([0-9a-f]{40})", path)
        if m:
            out.append(("s2", m.group(1)))
        m = re.search(r"/arxiv/([^/]+)", path)
        if m and (a := normalize_arxiv(m.group(1))):
            out.append(("arxiv", a))
    elif host.endswith("huggingface.co"):
        m = re.match(r"^/papers/([^/?#]+)", path)
        if m and (a := normalize_arxiv(m.group(1))):
            out.append(("arxiv", a))
    elif host.endswith("biorxiv.org") or host.endswith("medrxiv.org"):
        m = _BIORXIV_DOI_IN_PATH.search(path)
        if m:
            out.append(("doi", m.group(1).lower()))
    elif host.endswith("openalex.org"):
        if n := normalize("openalex", path.strip("/")):
            out.append(n)
    if not out and (m := re.search(r"(10\.\d{4,9}/[^\s?#]+)", path)):
        # Publisher pages often carry the DOI in the path (/doi/10.1145/...).
        if n := normalize("doi", m.group(1)):
            out.append(n)
    return out


def parse_identifier(text: str) -> list[tuple[str, str]]:
    """Every (scheme, value) a user-typed reference could mean: `arxiv:X`, a bare arXiv id or DOI, a URL, a key."""
    t = text.strip()
    if not t:
        return []
    if re.match(r"^https?://", t, re.I):
        return parse_url(t)
    m = re.match(r"^([a-z0-9]+):(.+)$", t, re.I)
    if m and m.group(1).lower() in SCHEMES:
        n = normalize(m.group(1), m.group(2))
        return [n] if n else []
    out: list[tuple[str, str]] = []
    for scheme in ("arxiv", "doi"):
        if n := normalize(scheme, t):
            out.append(n)
    if out:
        return out
    if _S2.match(t.lower()):
        out.append(("s2", t.lower()))
    if _OPENALEX.match(t):
        out.append(("openalex", t.upper()))
    if _ACL_NEW.match(t) or _ACL_OLD.match(t):
        out.append(("acl", t))
    # Anything else may be a library id or the key a paper was imported with.
    out += [("id", t), ("key", t)]
    return out


def format_identifier(scheme: str, value: str) -> str:
    """`scheme:value`, the one textual form used in every API answer and accepted back everywhere."""
    return f"{scheme}:{value}"


def split_identifier(text: str) -> tuple[str, str] | None:
    """Inverse of format_identifier for a known scheme, normalised; None when it is not `scheme:value`."""
    m = re.match(r"^([a-z0-9]+):(.+)$", text.strip(), re.I)
    if not m or m.group(1).lower() not in SCHEMES:
        return None
    return normalize(m.group(1), m.group(2))


# Symbol accents (\"o, \'{e}) and letter accents that need a brace or a space (\c{c}, \v s, not \cite).
_LATEX_ACCENT = re.compile(r"\\([`'^\"~=.])\s*\{?\s*\\?([A-Za-z])\s*\}?|\\([uvHcdbkr])(?:\s*\{\s*\\?([A-Za-z])\s*\}|\s+([A-Za-z]))")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z]+\*?\s*")
_ACCENT_MARKS = {"`": "\u0300", "'": "\u0301", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
                 ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "d": "\u0323",
                 "b": "\u0331", "k": "\u0328", "r": "\u030a"}
_LATEX_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
                  "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "textendash": "–", "textemdash": "—", "ldots": "…",
                  "dots": "…", "textquoteright": "’", "textquoteleft": "‘"}
_LATEX_LETTERS.update(zip(
    "alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi pi rho sigma tau "
    "upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Pi Sigma Upsilon Phi Psi Omega".split(),
    "αβγδεεζηθϑικλμνξπρστυφϕχψωΓΔΘΛΞΠΣΥΦΨΩ"))
_LATEX_LETTER = re.compile(r"\\(" + "|".join(sorted(_LATEX_LETTERS, key=len, reverse=True)) + r")(?![A-Za-z])(\{\})?")
_LATEX_ESCAPES = {"\\textbackslash": "\\", "\\textasciitilde": "~", "\\&": "&", "\\%": "%", "\\_": "_", "\\$": "$",
                  "\\#": "#", "\\{": "{", "\\}": "}"}
_LIGATURES = (("---", "—"), ("--", "–"), ("``", "“"), ("''", "”"))
_MATH = re.compile(r"(?<!\\)\$[^$]+(?<!\\)\$")


def paper_link(identifiers: list[str], url: str) -> str:
    """Where a paper lives: arXiv for arXiv papers, else its own URL or its DOI ("" when none is known)."""
    ax = next((i[6:] for i in identifiers if i.startswith("arxiv:")), None)
    if ax:
        return f"https://arxiv.org/abs/{ax}"
    doi = next((i[4:] for i in identifiers if i.startswith("doi:")), None)
    return url or (f"https://doi.org/{doi}" if doi else "")


def strip_latex(text: str) -> str:
    """Plain Unicode from LaTeX, in linear time: accents (\\"o → ö), letters (\\ss → ß), escapes (\\% → %),
    ligatures (-- → –; an empty group -{}- breaks one), other commands dropped, braces removed, inline math
    ($\\alpha$) kept verbatim."""
    out, last = [], 0
    for m in _MATH.finditer(text):
        out += [_strip_latex_text(text[last:m.start()]), m.group(0)]
        last = m.end()
    out.append(_strip_latex_text(text[last:]))
    return re.sub(r"\s+", " ", "".join(out)).strip()


def _strip_latex_text(text: str) -> str:
    def accent(m: re.Match) -> str:
        cmd, letter = m.group(1) or m.group(3), m.group(2) or m.group(4) or m.group(5)
        return unicodedata.normalize("NFC", letter + _ACCENT_MARKS[cmd])

    t = _LATEX_ACCENT.sub(accent, text)
    t = _LATEX_LETTER.sub(lambda m: _LATEX_LETTERS[m.group(1)], t)
    kept = {}
    for i, (esc, char) in enumerate(_LATEX_ESCAPES.items()):
        marker = chr(0xF8F0 + i)  # one private-use character: markers cannot run into each other or into digits
        if esc in t:
            t = t.replace(esc, marker)
            kept[marker] = char
    for lig, char in _LIGATURES:  # before braces go, so the exporter's -{}- stays two hyphens
        t = t.replace(lig, char)
    t = _LATEX_COMMAND.sub("", t)
    t = t.replace("{", "").replace("}", "").replace("$", "").replace("~", " ")
    for marker, char in kept.items():
        t = t.replace(marker, char)
    return t


def normalize_title(title: str) -> str:
    """Title for equality: LaTeX and accents stripped, case-folded, punctuation dropped, spaces collapsed."""
    t = strip_latex(title or "")
    t = unicodedata.normalize("NFKD", t)
    t = "".join(c for c in t if not unicodedata.combining(c))
    t = t.casefold()
    t = re.sub(r"[^\w\s]|_", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def author_key(name: str) -> str:
    """A surname key for comparing first authors across formats ("Vaswani, Ashish" == "Ashish Vaswani")."""
    n = strip_latex(name or "").strip()
    if not n:
        return ""
    surname = n.split(",", 1)[0] if "," in n else n.split()[-1]
    surname = unicodedata.normalize("NFKD", surname)
    surname = "".join(c for c in surname if not unicodedata.combining(c))
    return re.sub(r"[^a-z]", "", surname.casefold())


# Citation keys (store/keys.py gives them; export.py falls back to the same rule for a paper without one).
CITATION_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:.+/-]{0,99}")  # what BibTeX, biber and LaTeX's \cite all accept
_KEY_TITLE_STOP = frozenset("a an the on of in for and or to with from towards toward into via using is are do does "
                            "what when why how can be by at as its our we".split())


def _ascii(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode())


def citation_key_base(authors: list[str], year: int | None, title: str) -> str:
    """`vaswani2017attention`: surname, year, first title word of three letters or more that is not a stop word."""
    first = authors[0] if authors else ""
    surname = first.split(",")[0] if "," in first else (first.split() or [""])[-1]
    word = next((w for w in (_ascii(t).lower() for t in re.split(r"[\s\-–—:/]+", title))
                 if len(w) >= 3 and w not in _KEY_TITLE_STOP), "paper")
    return f"{_ascii(surname).lower()[:20] or 'anon'}{year if year and 0 < year < 10000 else ''}{word[:20]}"


def valid_citation_key(key: str) -> bool:
    return bool(CITATION_KEY.fullmatch(key))
