"""Followed sources: a Zotero library, a file another tool rewrites (Better BibTeX's automatic export, a
CSL-JSON or RIS file), a folder of PDFs and exports. Each is mirrored: a sync reads what changed in it and
applies its additions, edits and removals to the library, and nothing else (Store.mirror).

Each record is tied to its paper by the source's own key: Zotero's library and item key, a record's citekey
(its `key:` identifier; else its DOI or arXiv id; else its title and year), a PDF's hash (a moved file is the
same record). Safety first: a source that cannot be read, or a file caught empty, changes nothing; a sync
that would remove more than a fifth of a source's papers is held until the user confirms it.

The wing: this module (Sources: follow, sync, mirror), `zotero.py` (Zotero's database, read from a copy),
`follow.py` (the serve loop's part: a sync on start, on change and every few minutes) and `inbox.py` (a
folder whose dropped files are imported).
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import msgspec

from .. import ids, importers
from ..models import ImportFailure, Record, SourceInfo, SourceItem, SyncReport
from ..pdf.files import sha256_of, with_file
from ..store import now
from . import zotero

log = logging.getLogger("papershelf.sources")
MAX_REMOVED_SHARE = 0.2  # more than this share of a source's papers gone at once waits for confirmation
BATCH = 500  # records per transaction
FULL_CHECK_EVERY = 86400.0  # seconds between full integrity checks of a Zotero copy (quick checks between)
SAME_TICK = 2.0  # seconds: a file's size and time are trusted to say "unchanged" only if it is older than this
ZOTERO_OPTIONS = {"automatic_tags": True, "collections": True, "notes": True}


class SourceError(Exception):
    """A source that cannot be added or synced; the message says why and what to do."""


class _State(msgspec.Struct, omit_defaults=True):
    """What a source remembers between syncs: what its files looked like (unchanged: nothing to read)."""

    signature: str = ""  # Zotero: its database's size and time; a file: its hash
    files: dict[str, tuple[int, int, str]] = {}  # a folder: relative path → (size, mtime_ns, sha256)
    checked_at: float = 0.0  # when they were read: a size and time seen then are trusted only if older than it
    full_check_at: float = 0.0  # Zotero: the last full integrity check of its database's copy


def record_key(rec: Record) -> str:
    """A followed file's record's own key: its citekey, else its DOI or arXiv id, else its title and year."""
    for ref in rec.identifiers:
        if ref.startswith("key:") and len(ref) > 4:
            return ref
    for ref in rec.identifiers:
        if ref.startswith(("doi:", "arxiv:")):
            return ref
    return f"title:{ids.normalize_title(rec.title)}:{rec.year or ''}"


def _stamp(rec: Record) -> str:
    return hashlib.sha1(msgspec.json.encode(rec)).hexdigest()[:20]


def _utc(t: datetime | None) -> datetime | None:
    """Stored naive UTC → aware (every API answer is valid RFC 3339)."""
    return t.replace(tzinfo=timezone.utc) if t else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30] or "source"


class Sources:
    """The followed sources of one Library: add, list, sync, remove."""

    def __init__(self, store, index, events, worker, pdf_readers, backup: Callable[[str], object], cache: Path):
        self.store, self.index, self.events, self.worker = store, index, events, worker
        self.pdf_readers = pdf_readers
        self.backup = backup  # a backup of the library now, of a kind ("before-removing-source")
        self.cache = cache  # copies of Zotero's database, read then reused
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    # -- the list --------------------------------------------------------------------------------------------
    def list(self) -> list[SourceInfo]:
        """Every followed source with its count of papers and how its last sync went."""
        return self._infos()

    def _infos(self, sid: str | None = None) -> list[SourceInfo]:
        return [SourceInfo(id=r[0], kind=r[1], location=r[2], options=msgspec.json.decode(r[3]), added_at=_utc(r[4]),
                           last_sync_at=_utc(r[5]), last_success_at=_utc(r[6]), last_error=r[7],
                           last_report=msgspec.json.decode(r[8], type=SyncReport) if r[8] else None, held=r[9],
                           papers=r[10]) for r in self.store.source_rows(sid)]

    def counts(self) -> dict[str, int]:
        """For the library's stats: sources, those whose last sync failed, those held for confirmation."""
        n, failing, held = self.store.source_counts()
        return {"sources": n, "sources_failing": failing, "sources_held": held}

    def get(self, sid: str) -> SourceInfo:
        """One source; KeyError if there is none by that id."""
        found = self._infos(sid)
        if not found:
            raise KeyError(sid)
        return found[0]

    def resolve(self, location: str, kind: str | None = None) -> tuple[str, Path]:
        """(kind, where) for what the user gave: `zotero` (found by itself) or Zotero's data folder, a file of
        records, or a folder."""
        if kind == "zotero" or (kind is None and location.strip().lower() == "zotero"):
            given = None if location.strip().lower() in ("", "zotero") else location
            try:
                return "zotero", zotero.find_data_dir(given)
            except zotero.ZoteroError as e:
                raise SourceError(str(e)) from e
        path = Path(location).expanduser()
        if not path.exists():
            raise SourceError(f"{path} does not exist")
        path = path.resolve()
        if path.is_dir():
            if kind not in (None, "folder"):
                raise SourceError(f"{path} is a folder, not a {kind}")
            if (path / "zotero.sqlite").is_file() and kind is None:
                return "zotero", path
            return "folder", path
        if kind not in (None, "file"):
            raise SourceError(f"{path} is a file, not a {kind}")
        if path.name == "zotero.sqlite":
            return "zotero", path.parent
        if path.suffix.lower() == ".pdf":
            raise SourceError(f"{path} is one PDF: import it (papershelf import), or follow the folder it is in")
        if path.suffix.lower() not in importers.EXTENSIONS:
            raise SourceError(f"{path.name}: papershelf follows files of records (.bib, .json CSL-JSON, .ris, "
                              ".jsonl) and folders, and Zotero")
        return "file", path

    def add(self, location: str, kind: str | None = None, options: dict | None = None,
            sync: bool = True) -> tuple[SourceInfo, SyncReport | None]:
        """Follow a source, then sync it once (unless sync=False)."""
        kind, path = self.resolve(location, kind)
        opts = dict(ZOTERO_OPTIONS) if kind == "zotero" else {}
        for k, v in (options or {}).items():
            if k not in opts:
                raise SourceError(f"unknown option {k!r} for a {kind} source" +
                                  (f" (options: {', '.join(opts)})" if opts else ""))
            opts[k] = bool(v)
        existing = {s.location: s.id for s in self.list()}
        if str(path) in existing:
            raise SourceError(f"{path} is already followed (source {existing[str(path)]})")
        base = "zotero" if kind == "zotero" else _slug(path.stem if kind == "file" else path.name)
        sid, n = base, 2
        taken = set(existing.values()) | {"sync"}  # (POST /api/sources/sync syncs them all)
        while sid in taken:
            sid, n = f"{base}-{n}", n + 1
        self.store.add_source(sid, kind, str(path), msgspec.json.encode(opts).decode())
        self.events.publish("sources", change="add", id=sid)
        report = self.sync(sid) if sync else None
        return self.get(sid), report

    def remove(self, sid: str, keep_papers: bool = False) -> list[str]:
        """Stop following a source; the papers only it held go to the trash (restorable) unless keep_papers.
        The library is backed up first: what the source brought (tags, notes, files) can always come back."""
        self.get(sid)
        self.backup("before-removing-source")
        with self._lock(sid), self.index.writing():
            trashed = self.store.drop_source(sid, keep_papers)
        self.events.publish("sources", change="remove", id=sid, trashed=len(trashed))
        if trashed:
            self.events.publish("library", change="trash", ids=trashed[:1000], count=len(trashed))
        return trashed

    def _lock(self, sid: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(sid, threading.Lock())

    # -- syncing ---------------------------------------------------------------------------------------------
    def sync_all(self, retry_failed: bool = False) -> list[SyncReport]:
        """Sync every source (one that fails says why and never stops the others). retry_failed: every file
        remembered as unreadable is forgotten first, and those in followed sources are read again."""
        if retry_failed:
            self.store.file_tables.forget_unreadable()
        reports = []
        for s in self.list():
            try:
                reports.append(self.sync(s.id, retry_failed=retry_failed))
            except KeyError:
                continue  # removed meanwhile
        return reports

    def sync(self, sid: str, confirm: bool = False, retry_failed: bool = False) -> SyncReport:
        """Read what changed in a source and apply it. confirm: apply a sync held for removing too much;
        retry_failed: read again the files that failed before (else they are skipped, and reported)."""
        src = self.get(sid)
        with self._lock(sid):
            t0 = time.perf_counter()
            report = SyncReport(source=sid, at=now().replace(tzinfo=timezone.utc))
            state = self._state(sid)
            known = self.store.source_stamps(sid)
            try:
                with self.worker.paused():  # the model waits (after its batch in flight) while we read
                    scanned = self._scan(src, known, state, force=confirm or bool(src.held) or retry_failed,
                                         retry_failed=retry_failed)
            except (SourceError, zotero.ZoteroError, importers.FormatError, OSError) as e:
                report.error = str(e)
                return self._finish(sid, report, None, t0)
            except Exception as e:  # a bug or a file nobody foresaw: this source fails, saying so, and no other
                log.exception("source %s: reading it failed", sid)
                report.error = f"reading the source failed ({type(e).__name__}: {e}); papershelf changed nothing"
                return self._finish(sid, report, None, t0)
            if scanned is None:  # nothing changed since the last sync: not even read
                report.unchanged = len(known)
                return self._finish(sid, report, state, t0)
            stamps, changed, failed = scanned
            report.failed = failed
            removed = [k for k in known if k not in stamps]
            if known and not stamps:
                report.error = ("the source is empty now; papershelf changed nothing (a file caught while it "
                                "was being written?). If it really is empty, remove the source.")
                return self._finish(sid, report, None, t0)
            if len(removed) > 1 and len(removed) > MAX_REMOVED_SHARE * len(known) and not confirm:
                report.held = (f"this sync would remove {len(removed)} of the {len(known)} papers this source "
                               f"holds; nothing was changed. If that is right: papershelf sources sync {sid} "
                               "--confirm")
                report.removed = len(removed)
                return self._finish(sid, report, None, t0)
            report.unchanged = len(stamps) - len(changed)
            label = "zotero" if src.kind == "zotero" else Path(src.location).name
            try:
                with self.worker.paused(), self.index.writing():
                    for i in range(0, len(changed) or bool(removed), BATCH):
                        last = i + BATCH >= len(changed)
                        added, merged, updated, trashed, bad = self.store.mirror(
                            sid, label, changed[i:i + BATCH], removed if last else [])
                        report.added += len(added)
                        report.merged += len(merged)
                        report.updated += len(updated)
                        report.trashed += len(trashed)
                        report.failed += bad
            except Exception as e:  # the batches applied stay; the state is not kept, so the next sync redoes it
                log.exception("source %s: applying the sync failed", sid)
                report.error = f"applying the sync failed ({type(e).__name__}: {e}); the next sync tries again"
                return self._finish(sid, report, None, t0)
            report.removed = len(removed)
            self.worker.wake()
            if report.added or report.merged or report.updated or report.trashed:
                self.events.publish("library", change="sync", source=sid, added=report.added,
                                        updated=report.updated, trashed=report.trashed)
            return self._finish(sid, report, state, t0)

    def _state(self, sid: str) -> _State:
        blob = self.store.source_state(sid)
        return msgspec.msgpack.decode(blob, type=_State) if blob else _State()

    def _finish(self, sid: str, report: SyncReport, state: _State | None, t0: float) -> SyncReport:
        """Record how the sync went; a new state only when it applied (an error or a hold reads again)."""
        report.seconds = round(time.perf_counter() - t0, 3)
        t = now()
        ok = not report.error and not report.held
        fields = {"last_sync_at": t, "last_report": msgspec.json.encode(report).decode(), "held": report.held or None,
                  "last_error": report.error or None}
        if ok:
            fields["last_success_at"] = t
        if state is not None and ok:
            fields["state"] = msgspec.msgpack.encode(state)
        self.store.record_sync(sid, fields)
        if report.error:
            log.warning("source %s: %s", sid, report.error)
        elif report.held:
            log.warning("source %s: %s", sid, report.held)
        self.events.publish("sources", change="sync", id=sid, added=report.added, updated=report.updated,
                                trashed=report.trashed, error=report.error, held=report.held)
        return report

    def _scan(self, src: SourceInfo, known: dict[str, str], state: _State, force: bool, retry_failed: bool = False
              ) -> tuple[dict[str, str], list[SourceItem], list[ImportFailure]] | None:
        """(every key with its stamp, the items new or changed, records that could not be read), or None if
        nothing changed since the last sync. Updates `state`."""
        where = Path(src.location)
        if src.kind == "zotero":
            signature, newest = zotero.signature(where)
            if signature == state.signature and newest < state.checked_at - SAME_TICK and not force:
                return None
            state.checked_at = time.time()
            opts = src.options
            full = time.time() - state.full_check_at > FULL_CHECK_EVERY
            stamps, items = zotero.read_library(
                where, self.cache / src.id, known, full_check=full, automatic_tags=bool(opts.get("automatic_tags", True)),
                collections_as_tags=bool(opts.get("collections", True)), notes=bool(opts.get("notes", True)))
            state.signature = signature
            if full:
                state.full_check_at = state.checked_at
            return stamps, items, []
        if src.kind == "file":
            data = self._read_settled(where)
            sha = hashlib.sha256(data).hexdigest()
            if sha == state.signature and not force:
                return None
            if not data.strip():
                raise SourceError(f"{where.name} is empty; papershelf changed nothing (it may be being "
                                  "rewritten: the next sync reads it again)")
            stamps, items, failed = self._records_of(data, where.name, "", known)
            state.signature = sha
            return stamps, items, failed
        return self._scan_folder(where, known, state, retry_failed)

    @staticmethod
    def _read_settled(path: Path, tries: int = 5) -> bytes:
        """A file's bytes once it stands still (a tool rewriting it in place is not read half-way)."""
        for _ in range(tries):
            before = path.stat()
            data = path.read_bytes()
            after = path.stat()
            if (before.st_size, before.st_mtime_ns) == (after.st_size, after.st_mtime_ns) and len(data) == after.st_size:
                return data
            time.sleep(0.2)
        raise SourceError(f"{path.name} kept changing while it was read; the next sync tries again")

    def _records_of(self, data: bytes, name: str, prefix: str, known: dict[str, str]
                    ) -> tuple[dict[str, str], list[SourceItem], list[ImportFailure]]:
        """The records of a file of records, keyed (prefix: its path inside a followed folder)."""
        _, parsed = importers.parse(data, name)
        stamps: dict[str, str] = {}
        items: list[SourceItem] = []
        failed: list[ImportFailure] = []
        for position, rec in parsed:
            if isinstance(rec, str):
                failed.append(ImportFailure(position=f"{prefix}{name} {position}", reason=rec))
                continue
            key = prefix + record_key(rec)
            n = 2
            while key in stamps:  # the same key twice in one file: both kept, told apart by order
                key, n = f"{prefix}{record_key(rec)}#{n}", n + 1
            stamps[key] = _stamp(rec)
            if known.get(key) != stamps[key]:
                items.append(SourceItem(key=key, stamp=stamps[key], record=rec))
        return stamps, items, failed

    def _scan_folder(self, folder: Path, known: dict[str, str], state: _State, retry_failed: bool
                     ) -> tuple[dict[str, str], list[SourceItem], list[ImportFailure]]:
        """A folder, recursively: each PDF keyed by its hash (hashed again only when its size or time
        changed), each file of records by its path and its records' keys. A PDF that failed before is not
        read again unless retry_failed (PdfReaders remembers it)."""
        if not folder.is_dir():
            raise SourceError(f"{folder} is not there any more (an unplugged disk?); papershelf changed nothing")
        readable, _ = importers.files_in(folder)
        stamps: dict[str, str] = {}
        items: list[SourceItem] = []
        failed: list[ImportFailure] = []
        seen: dict[str, tuple[int, int, str]] = {}
        checked, state.checked_at = state.checked_at, time.time()
        to_read: dict[str, tuple[str, int]] = {}  # path → (sha256, size)
        for path in readable:
            rel = path.relative_to(folder).as_posix()
            try:
                st = path.stat()
                old = state.files.get(rel)
                if old and old[:2] == (st.st_size, st.st_mtime_ns) and st.st_mtime < checked - SAME_TICK:
                    sha = old[2]
                elif path.suffix.lower() == ".pdf":
                    sha = sha256_of(path)[0]
                else:
                    sha = hashlib.sha256(path.read_bytes()).hexdigest()
            except OSError as e:
                failed.append(ImportFailure(position=rel, reason=f"cannot read: {e.strerror or e}"))
                continue
            seen[rel] = (st.st_size, st.st_mtime_ns, sha)
            if path.suffix.lower() == ".pdf":
                key = f"pdf:{sha}"
                stamps[key] = rel
                if known.get(key) != rel:
                    to_read[str(path)] = (sha, st.st_size)
                continue
            prefix = rel + "#"
            if old and old[2] == sha:  # unchanged: its records are as they were
                stamps.update({k: v for k, v in known.items() if k.startswith(prefix)})
                continue
            try:
                data = path.read_bytes()
                if not data.strip():
                    raise SourceError(f"{rel} is empty")
                s, i, f = self._records_of(data, path.name, prefix, known)
            except (SourceError, importers.FormatError, OSError) as e:
                # Unreadable now (caught half-written, or not records at all): what it gave stays as it was.
                failed.append(ImportFailure(position=rel, reason=str(e)))
                stamps.update({k: v for k, v in known.items() if k.startswith(prefix)})
                seen.pop(rel)
                continue
            stamps.update(s)
            items += i
            failed += f
        for path, rec in self.pdf_readers.read_files([(Path(p), sha) for p, (sha, _) in to_read.items()],
                                                         retry=retry_failed):
            sha, size = to_read[str(path)]
            key = f"pdf:{sha}"
            if isinstance(rec, str):
                # Reported at every sync; not read again (its hash, kept in `seen`, says it is the same file).
                failed.append(ImportFailure(position=Path(path).relative_to(folder).as_posix(), reason=rec))
                stamps.pop(key, None)
                continue
            items.append(SourceItem(key=key, stamp=stamps[key], record=with_file(rec, Path(path), sha, size)))
        state.files = seen
        return stamps, items, failed
