"""A Zotero data folder made by the tests: `zotero.sqlite` with the tables and columns Zotero's documented
schema defines (resource/schema/userdata.sql and the global schema's itemTypes/fields/creatorTypes in
zotero/zotero), written for papershelf, with only the tables and columns papershelf's reader touches or that
shape what it must skip. Never a copy of Zotero's files.

`ZoteroData` writes items the way Zotero does: a local edit sets `clientDateModified` and `dateModified`
(a move to the trash or into a collection only `clientDateModified`) and `synced = 0`; `version` changes only
with `synced(…)`, as a sync with zotero.org would. `upgraded=True` numbers item types and fields as an old
database that was upgraded does (other ids than a fresh one), so a reader that hard-codes ids fails.
"""

from __future__ import annotations

import random
import sqlite3
import string
from datetime import datetime, timedelta, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE version (schema TEXT PRIMARY KEY, version INT NOT NULL);
CREATE TABLE settings (setting TEXT, key TEXT, value, PRIMARY KEY (setting, key));
CREATE TABLE itemTypes (itemTypeID INTEGER PRIMARY KEY, typeName TEXT, templateItemTypeID INT, display INT DEFAULT 1);
CREATE TABLE fields (fieldID INTEGER PRIMARY KEY, fieldName TEXT, fieldFormatID INT);
CREATE TABLE creatorTypes (creatorTypeID INTEGER PRIMARY KEY, creatorType TEXT);
CREATE TABLE itemTypeCreatorTypes (itemTypeID INT, creatorTypeID INT, primaryField INT,
    PRIMARY KEY (itemTypeID, creatorTypeID));
CREATE TABLE libraries (libraryID INTEGER PRIMARY KEY, type TEXT NOT NULL, editable INT NOT NULL,
    filesEditable INT NOT NULL, version INT NOT NULL DEFAULT 0, storageVersion INT NOT NULL DEFAULT 0,
    lastSync INT NOT NULL DEFAULT 0, archived INT NOT NULL DEFAULT 0);
CREATE TABLE groups (groupID INTEGER PRIMARY KEY, libraryID INT NOT NULL UNIQUE, name TEXT NOT NULL,
    description TEXT NOT NULL, version INT NOT NULL);
CREATE TABLE feeds (libraryID INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL UNIQUE, lastUpdate TIMESTAMP,
    lastCheck TIMESTAMP, lastCheckError TEXT, cleanupReadAfter INT, cleanupUnreadAfter INT, refreshInterval INT);
CREATE TABLE items (itemID INTEGER PRIMARY KEY, itemTypeID INT NOT NULL,
    dateAdded TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, dateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, libraryID INT NOT NULL, key TEXT NOT NULL,
    version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0, UNIQUE (libraryID, key));
CREATE TABLE feedItems (itemID INTEGER PRIMARY KEY, guid TEXT NOT NULL UNIQUE, readTime TIMESTAMP,
    translatedTime TIMESTAMP);
CREATE TABLE itemDataValues (valueID INTEGER PRIMARY KEY, value UNIQUE);
CREATE TABLE itemData (itemID INT, fieldID INT, valueID, PRIMARY KEY (itemID, fieldID));
CREATE TABLE itemNotes (itemID INTEGER PRIMARY KEY, parentItemID INT, note TEXT, title TEXT);
CREATE TABLE itemAttachments (itemID INTEGER PRIMARY KEY, parentItemID INT, linkMode INT, contentType TEXT,
    charsetID INT, path TEXT, syncState INT DEFAULT 0, storageModTime INT, storageHash TEXT,
    lastProcessedModificationTime INT);
CREATE TABLE itemAnnotations (itemID INTEGER PRIMARY KEY, parentItemID INT NOT NULL, type INTEGER NOT NULL,
    authorName TEXT, text TEXT, comment TEXT, color TEXT, pageLabel TEXT, sortIndex TEXT NOT NULL,
    position TEXT NOT NULL, isExternal INT NOT NULL);
CREATE TABLE tags (tagID INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE itemTags (itemID INT NOT NULL, tagID INT NOT NULL, type INT NOT NULL, PRIMARY KEY (itemID, tagID));
CREATE TABLE creators (creatorID INTEGER PRIMARY KEY, firstName TEXT, lastName TEXT, fieldMode INT,
    UNIQUE (lastName, firstName, fieldMode));
CREATE TABLE itemCreators (itemID INT NOT NULL, creatorID INT NOT NULL, creatorTypeID INT NOT NULL DEFAULT 1,
    orderIndex INT NOT NULL DEFAULT 0, PRIMARY KEY (itemID, creatorID, creatorTypeID, orderIndex),
    UNIQUE (itemID, orderIndex));
CREATE TABLE collections (collectionID INTEGER PRIMARY KEY, collectionName TEXT NOT NULL,
    parentCollectionID INT DEFAULT NULL, clientDateModified TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    libraryID INT NOT NULL, key TEXT NOT NULL, version INT NOT NULL DEFAULT 0, synced INT NOT NULL DEFAULT 0,
    UNIQUE (libraryID, key));
CREATE TABLE collectionItems (collectionID INT NOT NULL, itemID INT NOT NULL, orderIndex INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collectionID, itemID));
CREATE TABLE deletedItems (itemID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
CREATE TABLE deletedCollections (collectionID INTEGER PRIMARY KEY, dateDeleted DEFAULT CURRENT_TIMESTAMP NOT NULL);
"""

ITEM_TYPES = ["annotation", "artwork", "attachment", "book", "bookSection", "computerProgram", "conferencePaper",
              "document", "journalArticle", "magazineArticle", "note", "preprint", "presentation", "report",
              "thesis", "webpage"]
FIELDS = ["title", "abstractNote", "date", "url", "DOI", "extra", "publicationTitle", "proceedingsTitle",
          "bookTitle", "conferenceName", "university", "institution", "repository", "publisher", "archiveID",
          "websiteTitle", "volume", "pages", "shortTitle", "language", "accessDate", "citationKey"]
CREATOR_TYPES = ["author", "contributor", "editor", "seriesEditor", "translator", "programmer", "presenter"]
PRIMARY_CREATOR = {"computerProgram": "programmer", "presentation": "presenter"}
LINK_MODES = {"imported_file": 0, "imported_url": 1, "linked_file": 2, "linked_url": 3}


def zotero_key(rng: random.Random) -> str:
    """An 8-character key in Zotero's alphabet."""
    return "".join(rng.choice("23456789ABCDEFGHIJKLMNPQRSTUVWXYZ") for _ in range(8))


class ZoteroData:
    """A Zotero data folder (`zotero.sqlite`, `storage/`) that tests edit as Zotero would."""

    def __init__(self, folder: Path, upgraded: bool = False, wal: bool = True, seed: int = 7, zotero6: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = self.folder / "zotero.sqlite"
        self.rng = random.Random(seed)
        self.clock = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
        self.con = sqlite3.connect(self.db, isolation_level=None)
        if wal and not zotero6:  # Zotero 6 kept a rollback journal; later versions write ahead
            self.con.execute("PRAGMA journal_mode=WAL")
        # Zotero 6 had no trash for collections (deletedCollections came with 7)
        self.con.executescript(SCHEMA.replace(SCHEMA[SCHEMA.index("CREATE TABLE deletedCollections"):], "")
                               if zotero6 else SCHEMA)
        self.con.execute("INSERT INTO version VALUES ('userdata', 120)")
        # A fresh database numbers types and fields in the global schema's order; an upgraded one kept the ids
        # of older versions and got new ones after them.
        types, fields = list(ITEM_TYPES), list(FIELDS)
        if upgraded:
            random.Random(3).shuffle(types)
            random.Random(4).shuffle(fields)
        base = 30 if upgraded else 1
        self.type_id = {t: base + i for i, t in enumerate(types)}
        self.field_id = {f: base * 3 + i for i, f in enumerate(fields)}
        self.creator_type = {c: i + 1 for i, c in enumerate(CREATOR_TYPES)}
        self.con.executemany("INSERT INTO itemTypes (itemTypeID, typeName) VALUES (?, ?)",
                             [(i, t) for t, i in self.type_id.items()])
        self.con.executemany("INSERT INTO fields (fieldID, fieldName) VALUES (?, ?)",
                             [(i, f) for f, i in self.field_id.items()])
        self.con.executemany("INSERT INTO creatorTypes VALUES (?, ?)", [(i, c) for c, i in self.creator_type.items()])
        self.con.executemany("INSERT INTO itemTypeCreatorTypes VALUES (?, ?, ?)", [
            (tid, self.creator_type[PRIMARY_CREATOR.get(t, "author")], 1) for t, tid in self.type_id.items()] + [
            (tid, self.creator_type["editor"], 0) for t, tid in self.type_id.items()])
        self.con.execute("INSERT INTO libraries (libraryID, type, editable, filesEditable) VALUES (1, 'user', 1, 1)")
        self.items: dict[str, int] = {}  # "u/KEY" → itemID
        self.collections: dict[str, int] = {}

    # -- plumbing ----------------------------------------------------------------------------------------------
    def tick(self) -> str:
        """Zotero's timestamp format, one second later each time (edits are told apart)."""
        self.clock += timedelta(seconds=1)
        return self.clock.strftime("%Y-%m-%d %H:%M:%S")

    def close(self) -> None:
        self.con.close()

    def _value(self, value: str) -> int:
        row = self.con.execute("SELECT valueID FROM itemDataValues WHERE value = ?", [value]).fetchone()
        if row:
            return row[0]
        return self.con.execute("INSERT INTO itemDataValues (value) VALUES (?)", [value]).lastrowid

    def _creator(self, first: str, last: str, mode: int) -> int:
        row = self.con.execute("SELECT creatorID FROM creators WHERE firstName IS ? AND lastName IS ? AND fieldMode = ?",
                               [first, last, mode]).fetchone()
        if row:
            return row[0]
        return self.con.execute("INSERT INTO creators (firstName, lastName, fieldMode) VALUES (?, ?, ?)",
                                [first, last, mode]).lastrowid

    def _tag(self, name: str) -> int:
        row = self.con.execute("SELECT tagID FROM tags WHERE name = ?", [name]).fetchone()
        return row[0] if row else self.con.execute("INSERT INTO tags (name) VALUES (?)", [name]).lastrowid

    def _new_item(self, type_name: str, library: int = 1, key: str | None = None) -> tuple[int, str]:
        key = key or zotero_key(self.rng)
        t = self.tick()
        item = self.con.execute(
            "INSERT INTO items (itemTypeID, dateAdded, dateModified, clientDateModified, libraryID, key) "
            "VALUES (?, ?, ?, ?, ?, ?)", [self.type_id[type_name], t, t, t, library, key]).lastrowid
        return item, key

    def _touched(self, item: int, date_modified: bool = True) -> None:
        t = self.tick()
        if date_modified:
            self.con.execute("UPDATE items SET dateModified = ?, clientDateModified = ?, synced = 0 WHERE itemID = ?",
                             [t, t, item])
        else:
            self.con.execute("UPDATE items SET clientDateModified = ?, synced = 0 WHERE itemID = ?", [t, item])

    def _prefix(self, library: int) -> str:
        row = self.con.execute("SELECT groupID FROM groups WHERE libraryID = ?", [library]).fetchone()
        return f"g{row[0]}" if row else "u"

    # -- what a user does in Zotero ----------------------------------------------------------------------------
    def add_group(self, group_id: int, name: str) -> int:
        """A group library; its id."""
        lid = self.con.execute("INSERT INTO libraries (type, editable, filesEditable) VALUES ('group', 1, 1)").lastrowid
        self.con.execute("INSERT INTO groups VALUES (?, ?, ?, '', 0)", [group_id, lid, name])
        return lid

    def add_feed(self, name: str) -> int:
        lid = self.con.execute("INSERT INTO libraries (type, editable, filesEditable) VALUES ('feed', 0, 0)").lastrowid
        self.con.execute("INSERT INTO feeds (libraryID, name, url) VALUES (?, ?, ?)", [lid, name, f"https://example.org/{lid}"])
        return lid

    def add_item(self, type_name: str = "journalArticle", library: int = 1, creators=(), tags=(), key=None,
                 **fields: str) -> str:
        """A regular item; its papershelf key (`u/KEY`). creators: (first, last) or (first, last, type) or
        (name,) for a single-field name; tags: names, or (name, 1) for an automatic tag."""
        item, key = self._new_item(type_name, library, key)
        for name, value in fields.items():
            self.con.execute("INSERT INTO itemData VALUES (?, ?, ?)", [item, self.field_id[name], self._value(value)])
        for i, c in enumerate(creators):
            if len(c) == 1:
                cid, ctype = self._creator("", c[0], 1), "author"
            else:
                cid, ctype = self._creator(c[0], c[1], 0), (c[2] if len(c) > 2 else
                                                           PRIMARY_CREATOR.get(type_name, "author"))
            self.con.execute("INSERT INTO itemCreators VALUES (?, ?, ?, ?)", [item, cid, self.creator_type[ctype], i])
        for tag in tags:
            name, kind = (tag, 0) if isinstance(tag, str) else tag
            self.con.execute("INSERT INTO itemTags VALUES (?, ?, ?)", [item, self._tag(name), kind])
        k = f"{self._prefix(library)}/{key}"
        self.items[k] = item
        return k

    def set_field(self, key: str, name: str, value: str) -> None:
        item = self.items[key]
        self.con.execute("INSERT OR REPLACE INTO itemData VALUES (?, ?, ?)", [item, self.field_id[name], self._value(value)])
        self._touched(item)

    def add_tag(self, key: str, name: str, automatic: bool = False) -> None:
        item = self.items[key]
        self.con.execute("INSERT INTO itemTags VALUES (?, ?, ?)", [item, self._tag(name), int(automatic)])
        self._touched(item)

    def remove_tag(self, key: str, name: str) -> None:
        item = self.items[key]
        self.con.execute("DELETE FROM itemTags WHERE itemID = ? AND tagID = (SELECT tagID FROM tags WHERE name = ?)",
                         [item, name])
        self._touched(item)

    def add_collection(self, name: str, parent: str | None = None, library: int = 1) -> str:
        key = zotero_key(self.rng)
        cid = self.con.execute("INSERT INTO collections (collectionName, parentCollectionID, clientDateModified, "
                               "libraryID, key) VALUES (?, ?, ?, ?, ?)",
                               [name, self.collections.get(parent), self.tick(), library, key]).lastrowid
        self.collections[name] = cid
        return name

    def trash_collection(self, name: str) -> None:
        """A collection to the trash (Zotero 7): its items stay, out of it."""
        self.con.execute("INSERT INTO deletedCollections VALUES (?, ?)", [self.collections[name], self.tick()])

    def rename_collection(self, name: str, new: str) -> None:
        cid = self.collections.pop(name)
        self.con.execute("UPDATE collections SET collectionName = ?, clientDateModified = ?, synced = 0 "
                         "WHERE collectionID = ?", [new, self.tick(), cid])
        self.collections[new] = cid

    def put_in_collection(self, key: str, collection: str) -> None:
        """Into a collection: Zotero leaves dateModified alone."""
        self.con.execute("INSERT INTO collectionItems VALUES (?, ?, 0)", [self.collections[collection], self.items[key]])
        self._touched(self.items[key], date_modified=False)

    def take_from_collection(self, key: str, collection: str) -> None:
        self.con.execute("DELETE FROM collectionItems WHERE collectionID = ? AND itemID = ?",
                         [self.collections[collection], self.items[key]])
        self._touched(self.items[key], date_modified=False)

    def add_note(self, parent: str | None, html: str) -> str:
        """A child note (or a standalone one with parent None)."""
        library = 1 if parent is None else self.con.execute("SELECT libraryID FROM items WHERE itemID = ?",
                                                            [self.items[parent]]).fetchone()[0]
        item, key = self._new_item("note", library)
        self.con.execute("INSERT INTO itemNotes VALUES (?, ?, ?, '')", [item, self.items.get(parent), html])
        self.items[f"note/{key}"] = item
        return f"note/{key}"

    def add_attachment(self, parent: str | None, name: str, data: bytes | None, link_mode: str = "imported_file",
                       path: str | None = None, content_type: str = "application/pdf") -> str:
        """A file attachment: stored under storage/KEY/ (imported_*), or a linked file at `path` (an absolute
        path or `attachments:REL`). data None: a stored file never downloaded (the row, no file)."""
        library = 1 if parent is None else self.con.execute("SELECT libraryID FROM items WHERE itemID = ?",
                                                            [self.items[parent]]).fetchone()[0]
        item, key = self._new_item("attachment", library)
        if link_mode.startswith("imported"):
            stored = f"storage:{name}"
            if data is not None:
                (self.folder / "storage" / key).mkdir(parents=True, exist_ok=True)
                (self.folder / "storage" / key / name).write_bytes(data)
        else:
            stored = path
        self.con.execute("INSERT INTO itemAttachments (itemID, parentItemID, linkMode, contentType, path) "
                         "VALUES (?, ?, ?, ?, ?)", [item, self.items.get(parent), LINK_MODES[link_mode],
                                                   content_type, stored])
        self.items[f"attachment/{key}"] = item
        return f"attachment/{key}"

    def add_annotation(self, attachment: str, text: str) -> None:
        item, _ = self._new_item("annotation")
        self.con.execute("INSERT INTO itemAnnotations (itemID, parentItemID, type, text, sortIndex, position, "
                         "isExternal) VALUES (?, ?, 1, ?, '00000|000000|00000', '{}', 0)",
                         [item, self.items[attachment], text])

    def add_feed_item(self, library: int, title: str) -> None:
        item, key = self._new_item("journalArticle", library)
        self.con.execute("INSERT INTO itemData VALUES (?, ?, ?)", [item, self.field_id["title"], self._value(title)])
        self.con.execute("INSERT INTO feedItems (itemID, guid) VALUES (?, ?)", [item, key])

    def trash(self, key: str) -> None:
        """To Zotero's trash: a row in deletedItems; dateModified stays."""
        self.con.execute("INSERT INTO deletedItems VALUES (?, ?)", [self.items[key], self.tick()])
        self._touched(self.items[key], date_modified=False)

    def restore(self, key: str) -> None:
        self.con.execute("DELETE FROM deletedItems WHERE itemID = ?", [self.items[key]])
        self._touched(self.items[key], date_modified=False)

    def delete(self, key: str) -> None:
        """A permanent deletion: the rows go."""
        item = self.items.pop(key)
        for table in ("itemData", "itemTags", "itemCreators", "collectionItems", "deletedItems", "itemNotes",
                      "itemAttachments"):
            self.con.execute(f"DELETE FROM {table} WHERE itemID = ?", [item])
        self.con.execute("DELETE FROM items WHERE itemID = ?", [item])

    def synced(self, key: str, version: int) -> None:
        """What a sync with zotero.org does to an item: a new version, synced."""
        self.con.execute("UPDATE items SET version = ?, synced = 1 WHERE itemID = ?", [version, self.items[key]])


def random_title(rng: random.Random, words: list[str]) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(5, 10))).capitalize()


def big_library(folder: Path, n: int, seed: int = 1) -> ZoteroData:
    """A library of n journal articles with abstracts, authors, tags and collections (for bench/sources.py)."""
    z = ZoteroData(folder, seed=seed)
    rng = random.Random(seed)
    words = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 9))) for _ in range(3000)]
    for c in ("Reading", "Thesis", "Methods"):
        z.add_collection(c)
    z.con.execute("BEGIN")
    for i in range(n):
        k = z.add_item("journalArticle", creators=[("Ann", f"Author{rng.randint(1, 5000)}"), ("Bo", "Second")],
                       tags=sorted({rng.choice(words) for _ in range(2)}), title=random_title(rng, words),
                       abstractNote=" ".join(rng.choice(words) for _ in range(150)), date=str(2000 + i % 25),
                       publicationTitle=f"Journal of {rng.choice(words)}", DOI=f"10.5555/bench.{i}")
        if i % 3 == 0:
            z.con.execute("INSERT INTO collectionItems VALUES (?, ?, 0)",
                          [z.collections[rng.choice(("Reading", "Thesis", "Methods"))], z.items[k]])
    z.con.execute("COMMIT")
    return z
