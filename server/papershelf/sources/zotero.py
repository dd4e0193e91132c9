"""Zotero's own database, read: every live regular item of the user's library and of group libraries, with
its tags, collections, child notes and PDF attachments.

Zotero holds `zotero.sqlite` under an exclusive lock while it runs, so the database is never opened in
place: `snapshot` copies it (with its `-wal`, which holds the latest writes) and checks the copy with
`PRAGMA integrity_check` before anything reads it. Zotero asks other programs never to write to its
database, and we only ever read a copy.

Ids of item types and fields differ between a fresh database and an upgraded one, so everything is joined
by name (`itemTypes.typeName`, `fields.fieldName`), never by number. Zotero bumps `version` only when it
syncs with zotero.org; a local edit sets `clientDateModified` (and `dateModified`, except for a move to the
trash or into a collection). An item's stamp is made of those, of its children's (notes, attachments), of
its tags and collections' names and of its PDFs on disk: a sync reads in full only the items whose stamp
changed.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

from .. import ids
from ..models import FileRef, Record, SourceItem
from ..pdf.files import sha256_of

SKIPPED_TYPES = ("note", "attachment", "annotation")
LINKED_URL = 3  # itemAttachments.linkMode: a link to a web page, no file
# Where an item type keeps its venue: the fields mapped to Zotero's base field publicationTitle first
# (a journal, proceedings, book, website…), then the conference, then those mapped to publisher (a thesis's
# university, a report's institution, a preprint's repository…).
# Zotero's item types → BibTeX's entry types (as Better BibTeX exports them).
ENTRY_TYPES = {"journalArticle": "article", "magazineArticle": "article", "newspaperArticle": "article",
               "conferencePaper": "inproceedings", "bookSection": "incollection", "encyclopediaArticle": "incollection",
               "dictionaryEntry": "incollection", "book": "book", "thesis": "phdthesis", "report": "techreport",
               "preprint": "misc", "manuscript": "unpublished", "webpage": "online", "blogPost": "online",
               "dataset": "dataset", "computerProgram": "software", "patent": "patent", "videoRecording": "video",
               "film": "video", "presentation": "misc", "document": "misc", "standard": "techreport"}
VENUE_FIELDS = ("publicationTitle", "proceedingsTitle", "bookTitle", "encyclopediaTitle", "dictionaryTitle",
                "websiteTitle", "blogTitle", "forumTitle", "programTitle", "conferenceName", "university",
                "institution", "repository", "publisher", "label", "distributor", "company", "studio", "network",
                "archive")
TITLE_FIELDS = ("title", "caseName", "nameOfAct", "subject", "shortTitle")  # case, statute and email call it so
_EXTRA_LINE = re.compile(r"^\s*(arxiv|doi|pmid)\s*:\s*(\S+)", re.I | re.M)
# Better BibTeX's pinned key, in Extra (Zotero 6); Zotero 7 has a field of its own, `citationKey`.
_CITATION_KEY = re.compile(r"^\s*Citation Key\s*:\s*(\S+)\s*$", re.I | re.M)
_PREF = re.compile(r'^user_pref\("([^"]+)",\s*(.+)\);\s*$', re.M)


class ZoteroError(Exception):
    """Zotero's data cannot be read (not there, not a Zotero database, or never consistent); says why."""


# -- where Zotero keeps its data -------------------------------------------------------------------------------
def profile_dirs(home: Path | None = None) -> list[Path]:
    """Zotero's profile folders (which hold prefs.js) on Linux, macOS and Windows."""
    home = Path(home) if home else Path.home()
    roots = [home / ".zotero" / "zotero", home / "Library" / "Application Support" / "Zotero" / "Profiles"]
    if os.environ.get("APPDATA"):
        roots.append(Path(os.environ["APPDATA"]) / "Zotero" / "Zotero" / "Profiles")
    return sorted(p for r in roots if r.is_dir() for p in r.iterdir() if (p / "prefs.js").is_file())


def read_prefs(prefs_js: Path) -> dict[str, object]:
    """The `user_pref("name", value);` lines of a prefs.js (values are JSON literals)."""
    out: dict[str, object] = {}
    try:
        text = prefs_js.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return out
    for name, raw in _PREF.findall(text):
        try:
            out[name] = json.loads(raw)
        except ValueError:
            continue
    return out


def _prefs_for(data_dir: Path | None, home: Path | None) -> list[dict[str, object]]:
    """The prefs of each profile, those that point at data_dir first."""
    found = [read_prefs(p / "prefs.js") for p in profile_dirs(home)]
    if data_dir is None:
        return found
    mine = [p for p in found if p.get("extensions.zotero.dataDir") and
            Path(str(p["extensions.zotero.dataDir"])).expanduser() == data_dir]
    return mine + [p for p in found if p not in mine]


def find_data_dir(given: str | Path | None = None, home: Path | None = None) -> Path:
    """Zotero's data folder: the one given (or the folder of a given zotero.sqlite), else the `dataDir` in a
    profile's prefs.js, else ~/Zotero. ZoteroError, saying where we looked, when none holds zotero.sqlite."""
    home = Path(home) if home else Path.home()
    if given:
        p = Path(given).expanduser()
        if p.name == "zotero.sqlite":
            p = p.parent
        if (p / "zotero.sqlite").is_file():
            return p.resolve()
        raise ZoteroError(f"{p} holds no zotero.sqlite: give Zotero's data folder (Zotero: Settings → Advanced → "
                          "Files and Folders → Data Directory Location)")
    looked = []
    for prefs in _prefs_for(None, home):
        d = prefs.get("extensions.zotero.dataDir")
        if d and prefs.get("extensions.zotero.useDataDir", True) is not False:
            p = Path(str(d)).expanduser()
            looked.append(str(p))
            if (p / "zotero.sqlite").is_file():
                return p.resolve()
    default = home / "Zotero"
    looked.append(str(default))
    if (default / "zotero.sqlite").is_file():
        return default.resolve()
    raise ZoteroError("found no Zotero data folder (looked in " + ", ".join(looked) + "); give its path: "
                      "papershelf sources add zotero DIR")


def base_attachment_dir(data_dir: Path, home: Path | None = None) -> Path | None:
    """The base folder of linked files stored relative to it (`attachments:…` paths), from prefs.js."""
    for prefs in _prefs_for(data_dir, home):
        base = prefs.get("extensions.zotero.baseAttachmentPath")
        if base:
            return Path(str(base)).expanduser()
    return None


# -- a consistent copy -----------------------------------------------------------------------------------------
def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except FileNotFoundError:
        return None


def signature(data_dir: Path) -> tuple[str, float]:
    """(sizes and times of the database and its -wal, the newest of those times in seconds): the same
    signature means no sync is needed, if it was taken well after that time (a file system's clock ticks
    coarsely: two writes in one tick look alike)."""
    db = data_dir / "zotero.sqlite"
    stats = [_stat(db), _stat(db.with_name("zotero.sqlite-wal"))]
    return json.dumps(stats), max((s[1] / 1e9 for s in stats if s), default=0.0)


def read_only(db: Path) -> str:
    """The URI that opens a database read-only (its path escaped: a space or a '#' in it is no parameter)."""
    return db.resolve().as_uri() + "?mode=ro"


def snapshot(data_dir: Path, into: Path, tries: int = 5, full_check: bool = True) -> Path:
    """Copy zotero.sqlite and its -wal into `into` while neither changes, check the copy, and return its path.
    Works while Zotero runs and holds its lock (a copy reads fine).

    full_check: SQLite's `integrity_check` (every page, row and index entry: 650 ms for a 10,000-item library
    here), else its `quick_check` (every page and row, not the indexes' contents: 90 ms). The copy is taken only
    while neither file changes, so a torn copy is already ruled out; the full check looks for a damaged
    database, which does not come and go between two syncs a minute apart (Sources runs it at the first sync
    and then once a day)."""
    src = data_dir / "zotero.sqlite"
    wal = src.with_name("zotero.sqlite-wal")
    into.mkdir(parents=True, exist_ok=True)
    copy = into / "zotero.sqlite"
    problem = "it kept changing while it was copied"
    for attempt in range(tries):
        if attempt:
            time.sleep(0.2 * attempt)
        for stale in (copy, into / "zotero.sqlite-wal", into / "zotero.sqlite-shm", into / "zotero.sqlite-journal"):
            stale.unlink(missing_ok=True)  # a -wal left from last time must never be applied to this copy
        before = (_stat(src), _stat(wal))
        if before[0] is None:
            raise ZoteroError(f"{src} is gone")
        try:
            shutil.copyfile(src, copy)
            if before[1] is not None:
                shutil.copyfile(wal, into / "zotero.sqlite-wal")
        except FileNotFoundError:
            continue  # the -wal was checkpointed away meanwhile: copy again
        except OSError as e:
            raise ZoteroError(f"cannot read {src}: {e.strerror or e}") from e
        if (_stat(src), _stat(wal)) != before:
            continue
        try:
            # Read-only: a read-write connection would checkpoint the -wal into the copy when it closes (300 ms
            # for a large -wal), which no reader needs; a read-only one sees the -wal's writes all the same.
            con = sqlite3.connect(read_only(copy), uri=True)
            try:
                result = con.execute("PRAGMA integrity_check" if full_check else "PRAGMA quick_check").fetchall()
                tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
            finally:
                con.close()
        except sqlite3.DatabaseError as e:
            problem = f"the copy is not a readable database ({e})"
            continue
        if result != [("ok",)]:
            problem = "its copy failed SQLite's integrity check: " + "; ".join(str(r[0]) for r in result[:3])
            continue
        if not {"items", "itemData", "libraries"} <= tables:
            raise ZoteroError(f"{src} is not a Zotero database (it has no items table)")
        return copy
    raise ZoteroError(f"could not read {src} consistently: {problem}; the next sync tries again")


# -- notes ------------------------------------------------------------------------------------------------------
class _NoteText(HTMLParser):
    """A Zotero note's HTML as text: blocks (paragraphs, headings, list items) on lines of their own."""

    BLOCKS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "tr", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag) -> None:
        if tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data) -> None:
        self.parts.append(data)


def note_text(html: str) -> str:
    """A note's text, one line per paragraph."""
    p = _NoteText()
    p.feed(html or "")
    p.close()
    lines = (" ".join(line.split()) for line in "".join(p.parts).splitlines())
    return "\n".join(line for line in lines if line)


# -- reading -----------------------------------------------------------------------------------------------------
def year_of(date: str) -> int | None:
    """The year of a Zotero date ("2023-05-00 May 2023", its multipart form, or a plain "2023")."""
    m = re.match(r"\s*(\d{4})", date or "")
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def creator_name(first: str | None, last: str | None, single_field: bool) -> str:
    """A creator as one name: an institution (single field) as it is, a person as "First Last"."""
    if single_field:
        return (last or first or "").strip()
    return " ".join(x.strip() for x in (first, last) if x and x.strip())


class ZoteroReader:
    """One consistent copy of a Zotero database: `stamps()` for every live item, then `read(keys)` for those
    that changed. Keys are `<library>/<item key>`: `u` for the user's library, `g<groupID>` for a group's."""

    def __init__(self, db: Path, data_dir: Path, base_dir: Path | None = None, automatic_tags: bool = True,
                 collections_as_tags: bool = True, notes: bool = True):
        self.data_dir, self.base_dir = Path(data_dir), base_dir
        self.automatic_tags, self.collections_as_tags, self.notes = automatic_tags, collections_as_tags, notes
        self.con = sqlite3.connect(read_only(Path(db)), uri=True)
        self.tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        self.types_table = "itemTypesCombined" if "itemTypesCombined" in self.tables else "itemTypes"
        self.fields_table = "fieldsCombined" if "fieldsCombined" in self.tables else "fields"
        self._item_of: dict[str, int] = {}  # key → itemID
        self._group_of: dict[int, str] = {}  # itemID → its group library's name
        self._library: dict[int, tuple[str, str]] = {}  # libraryID → (key prefix, group name or "")
        self._tags: dict[int, list[str]] = {}
        self._collections: dict[int, list[str]] = {}
        self._pdfs: dict[int, list[tuple[Path, int, int]]] = {}  # parent itemID → (path, size, mtime_ns)

    def close(self) -> None:
        self.con.close()

    def _deleted(self) -> str:
        """SQL for the items in Zotero's trash (and feed items, which are never library items)."""
        parts = ["SELECT itemID FROM deletedItems"]
        if "feedItems" in self.tables:
            parts.append("SELECT itemID FROM feedItems")
        return " UNION ".join(parts)

    def _read_libraries(self) -> None:
        groups = dict(self.con.execute("SELECT libraryID, groupID || char(9) || name FROM groups").fetchall()
                      ) if "groups" in self.tables else {}
        for lid, kind in self.con.execute("SELECT libraryID, type FROM libraries"):
            if kind == "user":
                self._library[lid] = ("u", "")
            elif kind == "group" and lid in groups:
                gid, name = groups[lid].split("\t", 1)
                self._library[lid] = (f"g{gid}", name)

    def _read_tags(self) -> None:
        for item, name, kind in self.con.execute("SELECT it.itemID, t.name, it.type FROM itemTags it "
                                                 "JOIN tags t ON t.tagID = it.tagID ORDER BY it.itemID, t.name"):
            if kind == 1 and not self.automatic_tags:
                continue  # an automatic tag (from a site or a translator), left out by the user's setting
            self._tags.setdefault(item, []).append(name)

    def _read_collections(self) -> None:
        deleted = set()
        if "deletedCollections" in self.tables:
            deleted = {r[0] for r in self.con.execute("SELECT collectionID FROM deletedCollections")}
        rows = {cid: (name, parent) for cid, name, parent in self.con.execute(
            "SELECT collectionID, collectionName, parentCollectionID FROM collections")}

        def path(cid: int) -> str | None:
            names, seen = [], set()
            while cid is not None and cid not in seen:
                if cid in deleted or cid not in rows:
                    return None
                seen.add(cid)
                names.append(rows[cid][0].replace("/", "∕"))  # a "/" in a name is not a level of the path
                cid = rows[cid][1]
            return "/".join(reversed(names))

        paths = {cid: path(cid) for cid in rows}
        for cid, item in self.con.execute("SELECT collectionID, itemID FROM collectionItems"):
            if paths.get(cid):
                self._collections.setdefault(item, []).append(paths[cid])
        for v in self._collections.values():
            v.sort()

    def attachment_path(self, key: str, link_mode: int, path: str | None) -> Path | None:
        """Where an attachment's file is: `storage:NAME` under storage/KEY/, `attachments:REL` under the base
        folder, or a linked file's absolute path."""
        if not path or link_mode == LINKED_URL:
            return None
        if path.startswith("storage:"):
            return self.data_dir / "storage" / key / path[len("storage:"):]
        if path.startswith("attachments:"):
            if self.base_dir is None:
                return None
            return self.base_dir / path[len("attachments:"):].replace("\\", "/")
        p = Path(path)
        return p if p.is_absolute() else None

    def _read_children(self) -> dict[int, list[str]]:
        """Each parent's children's stamps; its PDFs on disk (never a trashed one or one never downloaded)."""
        deleted = self._deleted()
        children: dict[int, list[str]] = {}
        for parent, key, d, cd, v in self.con.execute(
                "SELECT n.parentItemID, c.key, c.dateModified, c.clientDateModified, c.version FROM itemNotes n "
                f"JOIN items c ON c.itemID = n.itemID WHERE n.parentItemID IS NOT NULL AND c.itemID NOT IN ({deleted})"):
            children.setdefault(parent, []).append(f"n{key}{d}{cd}{v}")
        for parent, key, d, cd, v, mode, ctype, path in self.con.execute(
                "SELECT a.parentItemID, c.key, c.dateModified, c.clientDateModified, c.version, a.linkMode, "
                "a.contentType, a.path FROM itemAttachments a JOIN items c ON c.itemID = a.itemID "
                f"WHERE a.parentItemID IS NOT NULL AND c.itemID NOT IN ({deleted}) ORDER BY c.dateAdded, c.key"):
            stamp = f"a{key}{d}{cd}{v}"
            if ctype == "application/pdf" and (p := self.attachment_path(key, mode, path)) is not None:
                st = _stat(p)
                if st is not None and os.path.isfile(p):
                    self._pdfs.setdefault(parent, []).append((p, *st))
                    stamp += f"{st}"
            children.setdefault(parent, []).append(stamp)
        return children

    def stamps(self) -> dict[str, str]:
        """Every live regular item's key and stamp (what says whether it changed since the last sync)."""
        self._read_libraries()
        self._read_tags()
        self._read_collections()
        children = self._read_children()
        options = f"{self.automatic_tags}{self.collections_as_tags}{self.notes}"
        out: dict[str, str] = {}
        skipped = ", ".join(f"'{t}'" for t in SKIPPED_TYPES)
        for item, lid, key, d, cd, v in self.con.execute(
                f"SELECT i.itemID, i.libraryID, i.key, i.dateModified, i.clientDateModified, i.version FROM items i "
                f"JOIN {self.types_table} t ON t.itemTypeID = i.itemTypeID WHERE t.typeName NOT IN ({skipped}) "
                f"AND i.itemID NOT IN ({self._deleted()})"):
            if lid not in self._library:
                continue  # a feed's library, or one Zotero no longer lists
            prefix, group = self._library[lid]
            k = f"{prefix}/{key}"
            self._item_of[k] = item
            if group:
                self._group_of[item] = group
            parts = [d, cd, v, group, options, *sorted(children.get(item, [])), *self._tags.get(item, []),
                     *self._collections.get(item, [])]
            out[k] = hashlib.sha1("\x1f".join(map(str, parts)).encode()).hexdigest()[:20]
        return out

    def read(self, stamps: dict[str, str]) -> Iterator[SourceItem]:
        """The items of these keys (with their stamps, from stamps()) in full."""
        wanted = {self._item_of[k]: k for k in stamps if k in self._item_of}
        if not wanted:
            return
        c = self.con
        c.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (itemID INTEGER PRIMARY KEY)")
        c.execute("DELETE FROM wanted")
        c.executemany("INSERT INTO wanted VALUES (?)", [(i,) for i in wanted])
        kind = dict(c.execute(f"SELECT i.itemID, t.typeName FROM items i JOIN {self.types_table} t "
                              "ON t.itemTypeID = i.itemTypeID WHERE i.itemID IN (SELECT itemID FROM wanted)"))
        fields: dict[int, dict[str, str]] = {}
        for item, name, value in c.execute(
                f"SELECT d.itemID, f.fieldName, v.value FROM itemData d JOIN {self.fields_table} f "
                "ON f.fieldID = d.fieldID JOIN itemDataValues v ON v.valueID = d.valueID "
                "WHERE d.itemID IN (SELECT itemID FROM wanted)"):
            fields.setdefault(item, {})[name] = str(value)
        primary: dict[str, str] = {}
        if "itemTypeCreatorTypes" in self.tables:
            primary = dict(c.execute(f"SELECT t.typeName, ct.creatorType FROM itemTypeCreatorTypes x "
                                     f"JOIN {self.types_table} t ON t.itemTypeID = x.itemTypeID JOIN creatorTypes ct "
                                     "ON ct.creatorTypeID = x.creatorTypeID WHERE x.primaryField = 1"))
        creators: dict[int, list[tuple[str, str]]] = {}
        for item, first, last, mode, ctype in c.execute(
                "SELECT ic.itemID, cr.firstName, cr.lastName, cr.fieldMode, ct.creatorType FROM itemCreators ic "
                "JOIN creators cr ON cr.creatorID = ic.creatorID JOIN creatorTypes ct "
                "ON ct.creatorTypeID = ic.creatorTypeID WHERE ic.itemID IN (SELECT itemID FROM wanted) "
                "ORDER BY ic.itemID, ic.orderIndex"):
            name = creator_name(first, last, mode == 1)
            if name:
                creators.setdefault(item, []).append((ctype, name))
        notes: dict[int, list[str]] = {}
        if self.notes:
            for parent, html in c.execute(
                    "SELECT n.parentItemID, n.note FROM itemNotes n JOIN items i ON i.itemID = n.itemID "
                    f"WHERE n.parentItemID IN (SELECT itemID FROM wanted) AND n.itemID NOT IN ({self._deleted()}) "
                    "ORDER BY i.dateAdded, i.key"):
                if text := note_text(html):
                    notes.setdefault(parent, []).append(text)
        hashes = _hash_all([p for item in wanted for p, _, _ in self._pdfs.get(item, [])])
        for item, key in wanted.items():
            f = fields.get(item, {})
            title = next((f[n] for n in TITLE_FIELDS if f.get(n, "").strip()), "")
            people = creators.get(item, [])
            main = primary.get(kind.get(item, ""), "author")
            authors = [n for t, n in people if t == main] or [n for t, n in people if t == "editor"]
            refs: list[str] = []
            # Better BibTeX's key is the one a user's LaTeX documents cite: kept as the paper's citation key.
            cited = [f.get("citationKey", "").strip()] + _CITATION_KEY.findall(f.get("extra", ""))
            for scheme, value in ([("doi", f.get("DOI", "")), ("arxiv", f.get("archiveID", ""))]
                                  + [(m.group(1).lower(), m.group(2)) for m in _EXTRA_LINE.finditer(f.get("extra", ""))]
                                  + [("key", k) for k in cited]):
                if value and (n := ids.normalize(scheme, value)) and ids.format_identifier(*n) not in refs:
                    refs.append(ids.format_identifier(*n))
            tags = list(self._tags.get(item, []))
            if self.collections_as_tags:
                tags += [p for p in self._collections.get(item, []) if p not in tags]
            group = self._group_of.get(item, "")
            if group and group not in tags:
                tags.append(group)
            files = [FileRef(path=str(path), sha256=hashes[path][0], size=hashes[path][1])
                     for path, _, _ in self._pdfs.get(item, []) if path in hashes]
            rec = Record(title=title, abstract=f.get("abstractNote", ""), authors=authors,
                         year=year_of(f.get("date", "")), venue=next((f[n] for n in VENUE_FIELDS if f.get(n, "").strip()), ""),
                         url=f.get("url", ""), tags=tags, identifiers=refs, source="zotero", files=files,
                         entry_type=ENTRY_TYPES.get(kind.get(item, ""), ""))
            yield SourceItem(key=key, stamp=stamps.get(key, ""), record=rec, notes="\n\n".join(notes.get(item, [])))


def _hash_all(paths: list[Path]) -> dict[Path, tuple[str, int]]:
    """(sha256, size) of each file that can be read, on every core (hashlib lets go of the GIL): a first sync of
    a library with thousands of PDFs is mostly this. A file gone since the stamp was taken is left out (the
    next sync sees it)."""

    def one(p: Path):
        try:
            return p, sha256_of(p)
        except OSError:
            return p, None

    if len(paths) < 4:
        got = [one(p) for p in paths]
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
            got = list(pool.map(one, paths))
    return {p: h for p, h in got if h is not None}


def read_library(data_dir: Path, into: Path, known: dict[str, str], full_check: bool = True, **options
                 ) -> tuple[dict[str, str], list[SourceItem]]:
    """(every live key with its stamp, the items that are new or changed since `known`) from a fresh copy."""
    copy = snapshot(data_dir, into, full_check=full_check)
    reader = ZoteroReader(copy, data_dir, base_attachment_dir(data_dir), **options)
    try:
        stamps = reader.stamps()
        return stamps, list(reader.read({k: s for k, s in stamps.items() if known.get(k) != s}))
    except sqlite3.DatabaseError as e:
        raise ZoteroError(f"{data_dir / 'zotero.sqlite'} could not be read: {e}") from e
    finally:
        reader.close()

