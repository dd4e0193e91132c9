"""Export the library: every format here re-imports into an empty library as the same papers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from .ids import citation_key_base, valid_citation_key
from .models import Paper

FORMATS = {"jsonl": "application/x-ndjson", "bibtex": "application/x-bibtex", "csljson": "application/vnd.citationstyles.csl+json",
           "ris": "application/x-research-info-systems"}
EXTENSIONS = {"jsonl": "jsonl", "bibtex": "bib", "csljson": "json", "ris": "ris"}


def to_json(p: Paper, key: str = "") -> dict:
    """Our JSON shape of a paper (what the JSONL importer reads back), with its citation key when given."""
    d = {"id": p.id, "title": p.title, "abstract": p.abstract, "authors": p.authors, "year": p.year,
         "venue": p.venue, "url": p.url, "tags": p.tags, "identifiers": p.identifiers}
    if key:
        d["citation_key"] = key
    if p.entry_type:
        d["entry_type"] = p.entry_type
    if p.notes:
        d["notes"] = p.notes
    if p.files:
        d["files"] = [{"path": f.path, "sha256": f.sha256, "size": f.size} for f in p.files]
    d["added_at"] = p.added_at.isoformat()
    return d


def jsonl(papers: Iterable[Paper], keys: dict[str, str] | None = None) -> Iterator[str]:
    """One JSON object per line."""
    for p in papers:
        yield json.dumps(to_json(p, (keys or {}).get(p.id, "")), ensure_ascii=False) + "\n"


_BIB_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&", "$": r"\$",
                "#": r"\#", "_": r"\_", "~": r"\textasciitilde{}"}


def _bib_escape(text: str) -> str:
    """Characters that mean something to LaTeX, escaped (Unicode stays Unicode: biber and bibtexparser read it).

    TeX ligatures are broken with an empty group so the text comes back literally: `--` would be an en dash,
    ` `` ` and `''` curly quotes, ``?` `` and ``!` `` the inverted ¿ and ¡."""
    out = "".join(_BIB_SPECIAL.get(c, c) for c in text)
    for lig in ("--", "``", "''", "?`", "!`"):
        while lig in out:
            out = out.replace(lig, lig[0] + "{}" + lig[1])
    return out


def bibtex_key(p: Paper, used: set[str], keys: dict[str, str] | None = None) -> str:
    """The paper's citation key (`keys`: the library's, store/keys.py), else the key it was imported with, else
    one made by the library's rule (ids.citation_key_base); unique in this export."""
    key = (keys or {}).get(p.id) or next((i.split(":", 1)[1] for i in p.identifiers if i.startswith("key:")), "")
    if not valid_citation_key(key):
        key = citation_key_base(p.authors, p.year, p.title)
    base, n = key, 1
    while key in used:
        n += 1
        key = f"{base}{chr(ord('a') + n - 2)}" if n <= 27 else f"{base}{n}"
    used.add(key)
    return key


# Where each entry type keeps its venue (BibTeX's standard styles; biblatex reads them too).
VENUE_FIELD = {"article": "journal", "inproceedings": "booktitle", "incollection": "booktitle",
               "conference": "booktitle", "inbook": "booktitle", "book": "publisher", "phdthesis": "school",
               "mastersthesis": "school", "thesis": "school", "techreport": "institution", "report": "institution",
               "proceedings": "publisher"}
CSL_TYPES = {"article": "article-journal", "inproceedings": "paper-conference", "conference": "paper-conference",
             "incollection": "chapter", "inbook": "chapter", "book": "book", "phdthesis": "thesis",
             "mastersthesis": "thesis", "thesis": "thesis", "techreport": "report", "report": "report",
             "dataset": "dataset", "software": "software", "patent": "patent", "online": "webpage",
             "misc": "article", "unpublished": "manuscript"}


RIS_TYPES = {"article": "JOUR", "inproceedings": "CPAPER", "conference": "CPAPER", "incollection": "CHAP",
             "inbook": "CHAP", "book": "BOOK", "phdthesis": "THES", "mastersthesis": "THES", "thesis": "THES",
             "techreport": "RPRT", "report": "RPRT", "unpublished": "UNPB", "dataset": "DATA", "software": "COMP",
             "patent": "PAT", "video": "VIDEO", "online": "ELEC", "misc": "GEN"}


def bibtex(papers: Iterable[Paper], keys: dict[str, str] | None = None) -> Iterator[str]:
    """BibTeX entries with abstract, eprint/archivePrefix for arXiv, doi, keywords = tags."""
    used: set[str] = set()
    for p in papers:
        refs = dict(i.split(":", 1) for i in p.identifiers if not i.startswith("key:"))
        fields = [("title", "{" + _bib_escape(p.title) + "}")]
        if p.authors:
            fields.append(("author", _bib_escape(" and ".join(p.authors))))
        if p.year:
            fields.append(("year", str(p.year)))
        kind = p.entry_type or ("article" if p.venue else "misc")
        if p.venue:
            fields.append((VENUE_FIELD.get(kind, "howpublished"), _bib_escape(p.venue)))
        if "doi" in refs:
            fields.append(("doi", refs["doi"]))
        if "arxiv" in refs:
            fields += [("eprint", refs["arxiv"]), ("archiveprefix", "arXiv")]
        for scheme in ("pmid", "openreview", "acl", "s2", "corpusid", "openalex"):
            if scheme in refs:
                fields.append((scheme, refs[scheme]))
        if p.url:
            fields.append(("url", p.url))
        if p.files:  # Zotero, Better BibTeX and JabRef read `file`; several are separated by ';'
            fields.append(("file", ";".join(f.path.replace("\\", "/").replace(";", "\\;") for f in p.files)))
        if p.abstract:
            fields.append(("abstract", _bib_escape(p.abstract)))
        if p.tags:
            fields.append(("keywords", _bib_escape(", ".join(p.tags))))
        body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
        yield f"@{kind}{{{bibtex_key(p, used, keys)},\n{body}\n}}\n\n"


def _split_name(name: str) -> dict:
    """CSL name parts ("Family, Given" or "Given Family")."""
    if "," in name:
        fam, _, given = name.partition(",")
    else:
        given, _, fam = name.rpartition(" ")
    return {"family": fam.strip(), "given": given.strip()} if given.strip() else {"literal": name}


def _notes(p: Paper) -> list[str]:
    """Identifiers other formats have no field for, as `scheme:value` lines (read back on import)."""
    return [i for i in p.identifiers if not i.startswith(("doi:", "key:"))]


def csljson(papers: Iterable[Paper], keys: dict[str, str] | None = None) -> Iterator[str]:
    """A CSL-JSON array (Zotero, Mendeley, pandoc read it); identifiers go to `note`."""
    used: set[str] = set()
    yield "["
    for n, p in enumerate(papers):
        refs = dict(i.split(":", 1) for i in p.identifiers)
        item = {"id": bibtex_key(p, used, keys), "type": CSL_TYPES.get(p.entry_type, "article-journal" if p.venue else "article"), "title": p.title,
                "author": [_split_name(a) for a in p.authors]}
        if p.abstract:
            item["abstract"] = p.abstract
        if p.year:
            item["issued"] = {"date-parts": [[p.year]]}
        if p.venue:
            item["container-title"] = p.venue
        if "doi" in refs:
            item["DOI"] = refs["doi"]
        if p.url:
            item["URL"] = p.url
        if p.tags:
            item["keyword"] = ", ".join(p.tags)
        if notes := _notes(p):
            item["note"] = "\n".join(notes)
        yield ("," if n else "") + "\n" + json.dumps(item, ensure_ascii=False)
    yield "\n]\n"


def ris(papers: Iterable[Paper], keys: dict[str, str] | None = None) -> Iterator[str]:
    """RIS records; identifiers without an RIS tag go to N1 lines."""
    used: set[str] = set()
    for p in papers:
        refs = dict(i.split(":", 1) for i in p.identifiers)
        kind = RIS_TYPES.get(p.entry_type) or ("JOUR" if p.venue else "GEN")
        lines = [("TY", kind), ("ID", bibtex_key(p, used, keys)), ("TI", p.title)]
        lines += [("AU", a) for a in p.authors]
        if p.year:
            lines.append(("PY", str(p.year)))
        if p.venue:
            lines.append(("T2", p.venue))
        if "doi" in refs:
            lines.append(("DO", refs["doi"]))
        if p.url:
            lines.append(("UR", p.url))
        lines += [("L1", f.path) for f in p.files]
        if p.abstract:
            lines.append(("AB", p.abstract))
        lines += [("KW", t) for t in p.tags]
        lines += [("N1", n) for n in _notes(p)]
        lines.append(("ER", ""))
        yield "".join(f"{tag}  - {' '.join(str(v).split())}\n" for tag, v in lines) + "\n"


def export(papers: Iterable[Paper], fmt: str, keys: dict[str, str] | None = None) -> Iterator[str]:
    """Chunks of the export in a format (`keys`: the papers' citation keys, by library id)."""
    writers = {"jsonl": jsonl, "bibtex": bibtex, "csljson": csljson, "ris": ris}
    if fmt in writers:
        return writers[fmt](papers, keys)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
