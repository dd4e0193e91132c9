"""The library as one object: import into the store, embed in the background, look up through the index.

Data flows one way: importer → Library.import_* → Store.merge_records (dedup) → EmbedWorker fills vectors
→ Index answers lookups. The CLI (without a server) and the API both use this class.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timezone
from importlib import resources
from pathlib import Path

import msgspec
import numpy as np

from . import backup, clean, importers
from .digest import DigestService, mail
from .enrich import EnrichService
from .events import EventBus
from .fulltext import FullTextService
from .export import export as export_as
from .models import (CitationKey, Facets, Filters, ImportFailure, ImportMerge, ImportReport, ImportWarning, Paper,
                     PaperBrief, PaperFile, PaperQuery, PassageHit, Record, RelatedHit, SearchHit, Stats,
                     UnreadableFile)
from .pairing import default_home, private_home
from .pdf import files
from .pdf.intake import PdfIntake
from .pdf.readers import PdfReaders
from .pdf.record import is_pdf
from .search.embed import BATCH_SIZE, Embedder, EmbeddingInterrupted, ModelError, lower_this_threads_priority
from .search.index import Index, Ranked, Snapshot, give_back_memory
from .search.map import Layout, LibraryMap
from .search.postings import load_compiled_in_background, use_compiled_at_any_size
from .sources import Sources
from .store import Store, content_hash, embed_text

log = logging.getLogger("papershelf")
SETTLE = 0.2  # seconds between a write waking the embedding worker and its first batch
IMPORT_BATCH = 500  # records per transaction: a crash loses at most the batch in flight, never half a record
UNLOAD_AFTER = 300.0  # seconds with nothing to embed before the background's model session is let go
PAGE_VECTORS_KEPT = 64  # recent pages' vectors (related_page): a save of one of them embeds nothing
QUERY_VECTORS_KEPT = 256  # recent queries' vectors (_embed_query), a few hundred KB
# On one core, a page not in the library is related by its text's first PAGE_TOKENS tokens. There the model takes
# 100 ms for an abstract's full 256 tokens and 38 ms for 128, and the panel's final list, which waits for it, came
# after its 300 ms on half the pages (docs/benchmarks.md). The ranking loses a little: on CiteSeer, nDCG@10 fell
# by 0.0041 ± 0.0036 with 128 tokens and 0.0080 ± 0.0046 with 96 (bench/query_length.py). With more cores the final
# list is in time with the whole text, which is kept there. The whole text's vector, which a save stores, is made
# after, at low priority.
PAGE_TOKENS = 128


def sample_path() -> Path:
    """The sample library shipped with the package (a pasted Hugging Face Papers search page)."""
    return Path(str(resources.files("papershelf") / "data" / "samples" / "hf-papers-search-efficient-combination.txt"))


def brief(p: Paper) -> PaperBrief:
    """The short form of a paper for result lists."""
    return PaperBrief(id=p.id, title=p.title, authors=p.authors, year=p.year, venue=p.venue, url=p.url, tags=p.tags,
                      identifiers=p.identifiers)


class RecentVectors:
    """The vectors of the last `kept` keys asked for (least recently used goes first), for any thread."""

    def __init__(self, kept: int):
        self.kept, self._vectors, self._lock = kept, OrderedDict(), threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._vectors

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
            return vector

    def put(self, key: str, vector: np.ndarray) -> None:
        with self._lock:
            self._vectors[key] = vector
            while len(self._vectors) > self.kept:
                self._vectors.popitem(last=False)


class NotFound(LookupError):
    """No paper in the library answers to that reference."""


class EmbedWorker:
    """A background thread that embeds papers that have no current vector, in batches, and reports progress."""

    def __init__(self, embedder: Embedder, embed_batch: Callable[[], int], events: EventBus):
        self.embedder = embedder  # the background's own session: let go when idle
        self.embed_batch = embed_batch  # one batch: library papers first, then digest candidates; how many
        self.events = events
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.busy = False
        self._paused = 0  # writers in bulk (a source's sync) that want the CPU first
        self._paused_lock = threading.Lock()

    @contextlib.contextmanager
    def paused(self):
        """No new batch starts while this is held (the batch in flight finishes): a first sync of 10,000 papers
        takes seconds alone and a minute beside the model; the papers are embedded right after."""
        with self._paused_lock:
            self._paused += 1
        try:
            yield
        finally:
            with self._paused_lock:
                self._paused -= 1
            self.wake()

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        """Start the thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="papershelf-embed", daemon=True)
            self._thread.start()
            self._wake.set()

    def wake(self) -> None:
        """New papers may be waiting."""
        self._wake.set()

    def stop(self, timeout: float = 30) -> None:
        """Stop, the batch in flight abandoned: its papers keep no vector and wait for the next start. (Finished,
        it could keep a server asked to stop for half a minute on a busy machine, at this thread's priority.)"""
        self._stop.set()
        self._wake.set()
        self.embedder.interrupt()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        lower_this_threads_priority()  # this thread only embeds: lookups and syncs come first
        last_work = time.monotonic()
        while not self._stop.is_set():
            woken = self._wake.wait(timeout=5)
            if not woken and self.embedder.loaded and time.monotonic() - last_work > UNLOAD_AFTER:
                self.embedder.unload()  # idle: its session's memory goes back (it reloads in a second)
                give_back_memory()  # glibc keeps freed heap otherwise: the session's 165 MB stayed resident
            # A write wakes us, and the lookups that follow it (the panel after a save, the search for what was
            # just added) should not share the CPU with the model: a moment later is soon enough for a vector.
            self._stop.wait(SETTLE)
            self._wake.clear()
            try:
                while not self._stop.is_set() and not self._paused and self.embed_batch() > 0:
                    last_work = time.monotonic()
                self.error = None
            except EmbeddingInterrupted:  # stop(): nothing of the batch was written
                break
            except ModelError as e:
                self.error = str(e)
                log.error("embedding stopped: %s", e)
                self.events.publish("embedding", error=str(e))
                self._stop.wait(30)  # do not spin on a broken model; a restart or the next wake retries
            except Exception as e:  # keep the worker alive: lookups must go on whatever one batch did
                self.error = f"{type(e).__name__}: {e}"
                log.exception("embedding batch failed")
                self._stop.wait(2)
            finally:
                self.busy = False


class _ImportOutcome(msgspec.Struct):
    """Where an imported file's records went (Store.record_import)."""

    placed: list[tuple[str, str]]
    failed: list[ImportFailure]
    warnings: list[ImportWarning]


class Library:
    """A papershelf home: `library.duckdb`, the model cache, the inbox."""

    def __init__(self, home: Path | str | None = None, model_dir: Path | str | None = None,
                 threads: int | None = None):
        self.home = private_home(Path(home).expanduser() if home else default_home())
        self.db_path = self.home / "library.duckdb"
        # A schema change is the riskiest thing an upgrade does: the library as it was is backed up first.
        self.store = Store(self.db_path, before_migrating=lambda conn: backup.make(self.home, conn, "before-migration"))
        self.embedder = Embedder(cache_dir=self.home / "cache", model_dir=Path(model_dir) if model_dir else None,
                                 threads=threads)
        # The background embedding has its own session, at a lower priority (see Embedder: bulk).
        self.bulk_embedder = Embedder(cache_dir=self.home / "cache", model_dir=Path(model_dir) if model_dir else None,
                                      threads=threads, bulk=True)
        self.model_id = self.embedder.model_id
        self.index = Index(self.store, self.model_id, cache_dir=self.home / "index")
        self.events = EventBus()
        self.worker = EmbedWorker(self.bulk_embedder, self.embed_batch, self.events)
        self._embed_lock = threading.Lock()
        self._page_vectors = RecentVectors(PAGE_VECTORS_KEPT)  # content hash → vector (related_page)
        self._query_vectors = RecentVectors(QUERY_VECTORS_KEPT)  # query text → vector (_embed_query)
        # Pages' whole texts, embedded after their panel (related_page), one at a time, below lookups' priority.
        self._page_embedding = ThreadPoolExecutor(1, "page-vector", initializer=lower_this_threads_priority)
        self.page_tokens = PAGE_TOKENS if self.embedder.threads == 1 else None  # (None: the whole text)
        self._page_jobs: dict[str, Future] = {}  # content hash → its job, while it waits or runs
        self.files_dir = self.home / "files"  # our copies of PDFs that came as bytes (pdf/files.py)
        self.pdf_readers = PdfReaders(self.store)  # in limited worker processes, never here
        self.pdfs = PdfIntake(self.store, self.pdf_readers, self.files_dir, self.home / "cache")  # (pdf/intake.py)
        self.digest = self.make_digest()  # feeds and candidates beside the library (digest/)
        # Libraries papershelf follows: Zotero, a .bib, a folder (sources/).
        self.sources = Sources(self.store, self.index, self.events, self.worker, self.pdf_readers, self.backup,
                               self.home / "cache" / "sources")
        # Every page of the library's PDFs, as passages (fulltext/): read, embedded and indexed in the background.
        # (Its words' index has a folder of its own: the papers' index replaces <home>/index whole when it saves.)
        self.fulltext = FullTextService(self.store, self.home / "passages", self.events, self.bulk_embedder,
                                        self.model_id)
        # Papers completed from Crossref, DataCite or arXiv when the user turns it on (enrich/; off by default).
        # PAPERSHELF_REGISTRIES ({"crossref": "http://…"}) points it at a mirror, or at a test's own server.
        self.enrich = EnrichService(self.store, self._complete,
                                    endpoints=msgspec.json.decode(os.environ.get("PAPERSHELF_REGISTRIES") or "{}"))
        # The library in 2D (search/map.py).
        self.map = LibraryMap(self.index, self.events, self.model_id, self.home / "map")
        files.rehome(self.store, self.files_dir)  # a home restored or moved elsewhere still finds its PDFs
        previous = self.store.get_setting("model_id")
        if previous != self.model_id:
            # A new model: every paper is pending for it, and the worker re-embeds in the background.
            self.store.set_setting("model_id", self.model_id)
            if previous:
                log.warning("model changed from %s to %s: re-embedding the library", previous, self.model_id)

    def make_digest(self, **options) -> DigestService:
        """The digest over this library (options: DigestService's http client, sleep and timeout, for tests)."""
        return DigestService(self.store, self.index, self.events, self.bulk_embedder, self.model_id,
                             self.worker.wake, self.save, **options)

    def send_digest(self, page_url: str) -> str:
        """Email today's digest (SMTP settings in the home: digest/mail.py); the address it went to."""
        return mail.send_digest(self.home, self.digest, page_url)

    def backup(self, kind: str = "manual") -> backup.BackupInfo:
        """A backup of this home now, into <home>/backups/, which is then pruned by its rule (backup.py)."""
        info = backup.make(self.home, self.store.snapshot_connection(), kind)
        backup.prune(self.home)
        return info

    def close(self) -> None:
        """Stop the worker, save the index and close the database."""
        self._page_embedding.shutdown(wait=True, cancel_futures=True)
        self.worker.stop()
        self.pdf_readers.close()
        self.fulltext.close()
        try:
            self.index.close()
        except Exception:  # a copy of what the store holds: the next start rebuilds it
            log.exception("saving the index failed")
        self.store.close()

    # -- writing ------------------------------------------------------------------------------------------
    def import_items(self, items: Iterable[tuple[str, Record | str]], source: str = "",
                     progress: Callable[[int], None] | None = None,
                     placed: list[tuple[str, str]] | None = None) -> ImportReport:
        """Merge parsed items into the store in batches; failures are collected, never fatal. `placed`, if given,
        gets (position, paper id) for every record that went in."""
        with self.index.writing():  # lookups meanwhile answer from the library as it was
            report = self._import_items(items, source, progress, placed)
        self.store.user_holds([m.id for m in report.merged])  # a followed source no longer decides alone
        # Announced once lookups can see it: a page that refreshes on this event gets the new papers.
        if not report.error and (report.added or any(m.changed for m in report.merged)):
            self.events.publish("library", change="import", source=source, added=report.added)
        return report

    def _import_items(self, items: Iterable[tuple[str, Record | str]], source: str,
                      progress: Callable[[int], None] | None, placed: list[tuple[str, str]] | None
                      ) -> ImportReport:
        """import_items(), inside the index's write bracket."""
        report = ImportReport(source=source)
        batch: list[tuple[str, Record]] = []

        def flush() -> None:
            if not batch:
                return
            added, merged, failed, warnings = self.store.merge_records(batch, source=source, placed=placed)
            report.added += added
            report.merged += merged
            report.failed += failed
            report.warnings += warnings
            if progress:
                progress(len(batch))
            batch.clear()
            self.worker.wake()
            self.events.publish("import", source=source, added=len(report.added), merged=len(report.merged),
                                failed=len(report.failed))

        try:
            for position, item in items:
                if isinstance(item, str):
                    report.failed.append(ImportFailure(position=position, reason=item))
                    continue
                batch.append((position, item))
                if len(batch) >= IMPORT_BATCH:
                    flush()
        except importers.FormatError:
            raise
        except Exception as e:  # a parser that dies half-way: keep what it gave, say where it stopped
            flush()
            report.error = f"reading stopped after {len(report.added) + len(report.merged)} records: {e}"
            return report
        flush()
        return report

    def import_pdfs(self, paths: list[Path], progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import PDFs where they are (linked, not copied), read in worker processes. A PDF whose bytes the
        library already has at the same place is not read again; one that moved gets its new place. One that
        failed before is read again: an import is the user asking."""
        report = ImportReport(source=str(paths[0]) if len(paths) == 1 else f"{len(paths)} PDFs", format="pdf")
        failed, known, read = self.pdfs.at_paths(paths)
        report.failed += failed
        report.extend(self.import_items(known, source="pdf", progress=progress))
        report.extend(self.import_items(read, source="pdf", progress=progress))
        return report

    def import_pdf_bytes(self, data: bytes, name: str, at: Path | None = None) -> ImportReport:
        """A PDF that came as bytes (the inbox, a drop on the page, the extension, the CLI through the server):
        linked `at` the place the sender says it is if the file there has these very bytes, else kept under
        <home>/files/ and imported from there."""
        sha = hashlib.sha256(data).hexdigest()  # once: a PDF may be hundreds of MB
        if at is not None and self.pdfs.holds(at, sha):
            return self.import_pdfs([at])
        if (owner := self.pdfs.owner_of(sha)) is not None:  # the library has this very file, where it was
            return ImportReport(source=name, format="pdf", merged=[ImportMerge(position=name, id=owner, changed=False)])
        rec = self.pdfs.kept(data, sha, name)
        if isinstance(rec, str):
            return ImportReport(source=name, format="pdf", error=rec)
        report = self.import_items([(name, rec)], source="pdf")
        report.source, report.format = name, "pdf"
        return report

    def import_dropped(self, path: Path) -> ImportReport:
        """A file dropped into the inbox, which moves it away after: a PDF is kept as our own copy."""
        try:
            with open(path, "rb") as f:
                head = f.read(1024)
            if is_pdf(head):  # (a drop is the user's request; the inbox moves the file away after, read or not)
                return self.import_pdf_bytes(path.read_bytes(), path.name)
        except OSError as e:
            return ImportReport(source=str(path), error=f"cannot read {path}: {e.strerror or e}")
        return self.import_path(path)

    def import_bytes(self, data: bytes, name: str = "input", fmt: str | None = None,
                     progress: Callable[[int], None] | None = None) -> ImportReport:
        """Detect the format of some bytes and import them. Unreadable input gives a report with `error`."""
        if fmt == "pdf" or (fmt is None and is_pdf(data[:1024])):
            return self.import_pdf_bytes(data, name)
        digest = hashlib.sha256(data).hexdigest()
        if (again := self._imported_before(digest, name)) is not None:
            return again
        try:
            fmt, items = importers.parse(data, name, fmt)
        except importers.FormatError as e:
            return ImportReport(source=name, error=str(e))
        return self._import_file(digest, items, name, fmt, progress)

    def import_path(self, path: Path | str, fmt: str | None = None,
                    progress: Callable[[int], None] | None = None) -> ImportReport:
        """Import one file."""
        path = Path(path)
        try:
            with open(path, "rb") as f:
                head = f.read(1024)
        except OSError as e:
            return ImportReport(source=str(path), error=f"cannot read {path}: {e.strerror or e}")
        if fmt == "pdf" or (fmt is None and is_pdf(head)):
            return self.import_pdfs([path], progress)
        try:
            digest = files.sha256_of(path)[0]
            if (again := self._imported_before(digest, path.name)) is not None:
                return again
            fmt, items = importers.parse_path(path, fmt)
        except OSError as e:
            return ImportReport(source=str(path), error=f"cannot read {path}: {e.strerror or e}")
        except importers.FormatError as e:
            return ImportReport(source=str(path), error=str(e))
        return self._import_file(digest, items, path.name, fmt, progress)

    def _import_file(self, digest: str, items, name: str, fmt: str, progress) -> ImportReport:
        """Import a parsed file and remember where each of its records went."""
        placed: list[tuple[str, str]] = []
        report = self.import_items(items, source=name, progress=progress, placed=placed)
        report.format = fmt
        if not report.error:
            self.store.record_import(digest, fmt, msgspec.json.encode(
                {"placed": placed, "failed": report.failed, "warnings": report.warnings}))
        return report

    def _imported_before(self, digest: str, name: str) -> ImportReport | None:
        """The report of an earlier import of the same bytes if none of its papers changed since (importing
        them again would change nothing), else None."""
        prior = self.store.prior_import(digest)
        if prior is None:
            return None
        fmt, at, blob = prior
        outcome = msgspec.json.decode(blob, type=_ImportOutcome)
        if not self.store.unchanged_since([pid for _, pid in outcome.placed], at):
            return None
        return ImportReport(source=name, format=fmt, failed=outcome.failed, warnings=outcome.warnings,
                            merged=[ImportMerge(position=p, id=pid, changed=False) for p, pid in outcome.placed],
                            unchanged_since=at.replace(tzinfo=timezone.utc).isoformat())

    def save(self, record: Record, vector: np.ndarray | None = None) -> tuple[Paper, bool]:
        """Save one paper (from a page, or a digest candidate with the `vector` it was embedded with); returns
        it and whether it was new."""
        candidate = None
        if vector is None:  # a paper the digest brought, saved from its page: it keeps the digest's vector
            candidate, vector = self.digest.adopt(record)
        # With a vector (the digest's, or one its page's panel made: related_page), the worker must not embed
        # the paper between the merge and its vector's arrival. Without one, the save does not wait for the
        # worker's batch in flight (seconds, during an import).
        page = content_hash(clean.text(record.title), clean.abstract(record.abstract))
        with self.index.writing(), (self._embed_lock if vector is not None or page in self._page_vectors
                                    else contextlib.nullcontext()):
            added, merged, failed, _ = self.store.merge_records([("paper", record)], source=record.source or "api")
            if failed:
                raise ValueError(failed[0].reason)
            pid = added[0] if added else merged[0].id
            if merged:
                self.store.user_holds([pid])  # saved by the user: a source's removal no longer trashes it
            p = self.store.get(pid)
            stored = content_hash(p.title, p.abstract)
            if vector is None:  # a vector of the text now stored (a merge may keep another abstract), if any
                vector = self._page_vectors.get(stored)
            if vector is not None:
                self.store.put_vectors(self.model_id, [(pid, stored, vector)])
        if candidate:
            self.digest.mark_saved(candidate, pid)
        self.worker.wake()
        self.events.publish("library", change="save", id=pid, added=bool(added))
        return p, bool(added)  # (a vector put since changes nothing a Paper shows: read once, not twice)

    def update(self, pid: str, tags: list[str] | None = None, notes: str | None = None) -> Paper:
        """Change a paper's tags/notes."""
        with self.index.writing():
            p = self.store.update(pid, tags=tags, notes=notes)
            if p is None:
                raise NotFound(pid)
        self.events.publish("library", change="update", id=pid)
        return p

    def edit(self, pid: str, fields: dict, identifiers: list[str] | None = None, release: Iterable[str] = ()
             ) -> Paper:
        """The user's corrections of a paper's fields (store.EDITABLE; see Store.edit): what they edit is theirs.
        A new title or abstract gets its vector here and now, so its related list and search follow at once."""
        with self.index.writing(), self._embed_lock:
            before = self.store.get(pid)
            p = self.store.edit(pid, fields, identifiers, release)
            if p is None or before is None:
                raise NotFound(pid)
            stored = content_hash(p.title, p.abstract)
            if stored != content_hash(before.title, before.abstract):
                try:
                    vector = self.embedder.embed_one(embed_text(p.title, p.abstract))
                except ModelError as e:  # the worker tries again; the words are indexed meanwhile
                    log.error("could not embed an edited paper now: %s", e)
                else:
                    self.store.put_vectors(self.model_id, [(pid, stored, vector)])
        self.worker.wake()
        self.events.publish("library", change="edit", id=pid)
        return self.get(pid)

    def _complete(self, pid: str, rec: Record) -> list[str]:
        """A registry's answer for a paper (enrich/): the fields it completed, never the user's own."""
        with self.index.writing():
            changed = self.store.complete(pid, rec)
        if changed:
            self.worker.wake()  # a new abstract: a new vector
            self.events.publish("library", change="complete", id=pid, fields=changed)
        return changed

    def merge(self, keep: str, gone: str) -> str:
        """Merge a duplicate the user confirmed into the paper they keep; the merge's id (for undo)."""
        with self.index.writing():
            mid = self.store.merge_pair(keep, gone)
        self.worker.wake()  # the kept paper's text may have grown: a new vector
        self.events.publish("library", change="merge", id=keep, merged=gone, merge=mid)
        return mid

    def undo_merge(self, mid: str) -> tuple[str, str]:
        """Both papers as they were before that merge."""
        with self.index.writing():
            keep, gone = self.store.undo_merge(mid)
        self.worker.wake()
        self.events.publish("library", change="unmerge", id=keep, restored=gone, merge=mid)
        return keep, gone

    def bulk(self, pids: list[str], action: str, tags: list[str] = ()) -> list[str]:
        """Tag, untag, trash or restore many papers at once; the ids that changed."""
        with self.index.writing():
            changed = self.store.bulk(pids, action, tags)
        if changed:
            self.events.publish("library", change=action, ids=changed[:1000], count=len(changed))
        return changed

    def trash(self, pid: str) -> bool:
        """Move to the trash."""
        with self.index.writing():
            ok = self.store.trash(pid)
        if ok:
            self.events.publish("library", change="trash", id=pid)
        return ok

    def restore(self, pid: str) -> bool:
        """Back from the trash."""
        with self.index.writing():
            ok = self.store.restore(pid)
        if ok:
            self.worker.wake()
            self.events.publish("library", change="restore", id=pid)
        return ok

    # -- embedding ----------------------------------------------------------------------------------------
    def embed_batch(self, size: int = BATCH_SIZE) -> int:
        """Embed one batch of pending papers; return how many were embedded (0: nothing pending)."""
        with self._embed_lock:
            rows = self.store.pending(self.model_id, limit=size)
            if not rows:
                done = self.digest.embed_batch(size)  # library papers first, then the digest's candidates
            else:
                self.worker.busy = True
                vecs = self.bulk_embedder.embed([text for _, text, _ in rows])
                n = self.store.put_vectors(self.model_id, [(pid, h, v) for (pid, _, h), v in zip(rows, vecs)])
                self.index.set_vectors([pid for pid, _, _ in rows], vecs)
                pending = self.store.count_pending(self.model_id)
                self.events.publish("embedding", embedded=n, pending=pending)
                return max(n, 1)
        if done:
            return done
        # Then the PDFs' pages: a file read, a scan's pages OCR'd, or a batch of passages embedded (outside the
        # lock: a save with its page's vector never waits for a thesis being read).
        return self.fulltext.work(size)

    def embed_all(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Embed everything pending, then read the PDFs' pages and embed their passages, in this thread;
        progress(done, total), where a paper, a file read and a passage each count one (the total grows as the
        files read give passages)."""
        total = self.store.count_pending(self.model_id) + self.fulltext.waiting()
        done = 0
        while True:
            n = self.embed_batch()
            if n == 0:
                break
            done += n
            if progress:
                total = max(total, done + self.store.count_pending(self.model_id) + self.fulltext.waiting())
                progress(min(done, total), total)
        return done

    # -- lookups ------------------------------------------------------------------------------------------
    def resolve(self, ref: str) -> str:
        """Library id for any identifier/URL/key, or NotFound."""
        pid = self.store.resolve(ref)
        if pid is None:
            raise NotFound(ref)
        return pid

    def get(self, ref: str) -> Paper:
        """A paper by any reference."""
        p = self.store.get(self.resolve(ref))
        if p is None:
            raise NotFound(ref)
        s = self.index.snapshot()
        r = s.row(p.id)
        p.embedded = r is not None and bool(s.has_vec[r])
        p.mirrors = self.store.mirrored_by(p.id)  # (here, not in every read of a paper: a save needs none)
        self.fulltext.describe(p.files)
        return p

    def _vector_for(self, s: Snapshot, pid: str, text: str) -> np.ndarray | None:
        """A library paper's vector: from the index, or computed now if it is still pending."""
        i = s.row(pid)
        if i is not None and s.has_vec[i]:
            return s.matrix[i]
        return self._embed_query(text)

    def _embed_query(self, text: str) -> np.ndarray | None:
        """A query vector, or None (keyword only) if the model cannot be used. Recent ones are kept: a search
        paged through, or the same words asked again, is embedded once."""
        vector = self._query_vectors.get(text)
        if vector is not None:
            return vector
        try:
            vector = self.embedder.embed_one(text)
        except ModelError as e:
            log.error("semantic lookup unavailable: %s", e)
            return None
        vector.setflags(write=False)  # shared by every caller that asks the same
        self._query_vectors.put(text, vector)
        return vector

    def _hits(self, s: Snapshot, ranked: Ranked, query_text: str, vector: np.ndarray | None = None
              ) -> list[RelatedHit]:
        """Ranked rows → RelatedHit with paper briefs (from the snapshot: no database round trip) and why-terms;
        with the query's `vector`, each paper that has a PDF gets its passage closest to it."""
        out = []
        for r, score, loose in zip(ranked.rows, ranked.scores, ranked.loose):
            b = s.briefs[r]
            out.append(RelatedHit(id=b.id, title=b.title, score=round(score, 4), identifiers=b.identifiers,
                                  why=self.index.why(s, query_text, r), paper=b, loose=loose))
        if vector is not None and out and self.fulltext.ready(wait=not self.worker.started):
            files = self.fulltext.files_of([h.id for h in out])
            for h in out:
                if h.id in files:
                    h.passage = self.fulltext.closest(vector, files[h.id], words=" ".join(h.why))
        return out

    def related(self, ref: str, k: int = 10, filters: Filters | None = None) -> list[RelatedHit]:
        """Papers related to one in the library (the paper itself excluded)."""
        s = self.index.snapshot()
        pid = ref if s.row(ref) is not None else self.resolve(ref)
        if s.row(pid) is not None:
            text = s.texts[s.row(pid)]  # the same "title. abstract" the vector was made of
        else:  # in the trash: still answerable
            p = self.get(pid)
            text = embed_text(p.title, p.abstract)
        qvec = self._vector_for(s, pid, text)
        s, ranked = self.index.related(text, qvec, k=k, filters=filters, exclude=[pid])
        return self._hits(s, ranked, text, qvec)

    def related_text(self, text: str, k: int = 10, filters: Filters | None = None,
                     exclude: list[str] = ()) -> list[RelatedHit]:
        """Papers related to a text (a description, or a paper's title and abstract not in the library)."""
        vector = self._embed_query(text)
        s, ranked = self.index.related(text, vector, k=k, filters=filters, exclude=list(exclude))
        return self._hits(s, ranked, text, vector)

    def page_vector_known(self, title: str, abstract: str) -> bool:
        """Was this page's text embedded a moment ago (related_page keeps it)? (Nothing was before the model
        was loaded, and the page's first list does not wait for it to load.)"""
        return self.embedder.loaded and self._page_query(embed_text(title, abstract)) in self._query_vectors

    def _page_query(self, text: str) -> str:
        """What a page's text is related by: on one core its first PAGE_TOKENS tokens, else all of it (all of it
        too if the model cannot be loaded: the lookup then goes by words, as any other)."""
        if self.page_tokens is None:
            return text
        try:
            return self.embedder.first_tokens(text, self.page_tokens)
        except ModelError:
            return text

    def related_page(self, title: str, abstract: str, k: int = 10, words_only: bool = False) -> list[RelatedHit]:
        """Papers related to a page's paper that is not in the library (on one core, by its text's first
        PAGE_TOKENS tokens: _page_query). The whole text's vector is kept for a while (made after, in the
        background, if the first tokens were used): saving the paper next stores it instead of embedding the same
        text again. words_only: by the page's words alone (the served ranking without its semantic part),
        embedding nothing."""
        text = embed_text(title, abstract)
        if words_only:
            s, ranked = self.index.related(text, None, k=k)
            return self._hits(s, ranked, text)
        query = self._page_query(text)
        vector = self._embed_query(query)
        if vector is not None:
            key = content_hash(title, abstract)
            if query == text:
                self._page_vectors.put(key, vector)
            elif key not in self._page_jobs and self._page_vectors.get(key) is None:
                self._page_jobs[key] = self._page_embedding.submit(self._embed_page, key, text)
        s, ranked = self.index.related(text, vector, k=k)
        return self._hits(s, ranked, text, vector)

    def _embed_page(self, key: str, text: str) -> None:
        """A page's whole text embedded (related_page's background job) and kept for its save."""
        try:
            self._page_vectors.put(key, self.embedder.embed_one(text))
        except ModelError as e:  # the paper, if saved, is embedded by the worker instead
            log.error("could not embed a page's text: %s", e)
        finally:
            self._page_jobs.pop(key, None)

    def search(self, query: str, k: int = 20, filters: Filters | None = None) -> list[SearchHit]:
        """Hybrid keyword + semantic search; an identifier in the query puts its paper first."""
        hits: list[SearchHit] = []
        exact = self.store.resolve(query) if len(query) < 300 else None
        if exact:
            p = self.store.get(exact)
            if p and p.deleted_at is None:
                hits.append(SearchHit(id=p.id, title=p.title, score=1.0, identifiers=p.identifiers, why=[],
                                      matched=["identifier"], paper=brief(p)))
        qvec = self._embed_query(query)
        s, ranked = self.index.search(query, qvec, k=k, filters=filters)
        # A signal "matched" a paper when the paper scores at least half of that signal's best score.
        kw_best = float(ranked.keyword.max()) if len(ranked.keyword) else 0.0
        dense_best = float(np.where(s.has_vec, ranked.dense, 0).max()) if s.has_vec.any() else 0.0
        top = max(ranked.scores, default=1.0) or 1.0
        for r, score in zip(ranked.rows, ranked.scores):
            p = s.briefs[r]
            if exact and p.id == exact:
                continue
            matched = [m for m, ok in (("keyword", kw_best > 0 and ranked.keyword[r] >= kw_best / 2),
                                       ("semantic", dense_best > 0 and s.has_vec[r] and ranked.dense[r] >= dense_best / 2))
                       if ok]
            hits.append(SearchHit(id=p.id, title=p.title, score=round(score / top, 4), identifiers=p.identifiers,
                                  why=self.index.why(s, query, r), matched=matched, paper=p))
        return self._body_hits(query, qvec, hits, k, filters)[:k]

    def _body_hits(self, query: str, qvec: np.ndarray | None, hits: list[SearchHit], k: int,
                   filters: Filters | None) -> list[SearchHit]:
        """A search's papers, with those whose PDFs have the query's words in their body only placed after every
        title and abstract match and before the rest, each with that passage as the reason ("fulltext")."""
        by_words = {h.id for h in hits if {"keyword", "identifier"} & set(h.matched)}
        body = [p for p in self.fulltext.search(query, qvec, k=k) if "words" in p.matched
                and p.paper_id not in by_words]
        if not body:
            return hits
        s = self.index.snapshot()
        found = {h.id: h for h in hits}
        lowest = min((h.score for h in hits if h.id in by_words), default=1.0)
        extra: list[SearchHit] = []
        for rank, p in enumerate(body):
            r = s.row(p.paper_id)
            if r is None or not self.index.passes(s, r, filters or Filters()):
                continue
            b = s.briefs[r]
            before = found.get(b.id)
            extra.append(SearchHit(id=b.id, title=b.title, score=round(lowest * 0.5 / (rank + 1), 4),
                                   identifiers=b.identifiers, why=before.why if before else [],
                                   matched=(before.matched if before else []) + ["fulltext"], paper=b, passage=p))
        moved = {h.id for h in extra}
        return [h for h in hits if h.id in by_words] + extra + [h for h in hits if h.id not in by_words | moved]

    def stats(self) -> Stats:
        """Counts, model, database size."""
        c = self.store.counts(self.model_id)
        size = sum(f.stat().st_size for f in self.home.glob("library.duckdb*") if f.is_file())
        d = self.digest.counts()
        return Stats(papers=c["papers"], embedded=c["embedded"], pending=c["pending"], trashed=c["trashed"],
                     model_id=self.model_id, db_bytes=size, home=str(self.home), **d, **self.sources.counts(),
                     text=self.fulltext.state())

    # -- the full text of the PDFs (fulltext/) ---------------------------------------------------------------
    def passages(self, query: str, k: int = 10, paper: str | None = None, per_paper: int = 1) -> list[PassageHit]:
        """Passages of the library's PDFs for a query (words, "a phrase", or a question), best first, at most
        `per_paper` of each paper (0: any number); `paper`: inside that paper's PDFs only."""
        files = None
        if paper:
            pid = self.resolve(paper)
            files = self.fulltext.files_of([pid]).get(pid, [])
            if not files:
                return []
        return self.fulltext.search(query, self._embed_query(query), k=k, files=files, per_paper=per_paper)

    def text_waiting(self) -> int:
        """Files still to read and passages still to embed (0: every passage is searchable both ways)."""
        return self.fulltext.waiting()

    # -- what the faces read (api/, cli/): through these, never through the store or the index ---------------
    def paper(self, pid: str) -> Paper | None:
        """A paper by its library id, in the trash or not; None if there is none."""
        return self.store.get(pid)

    def papers(self, pids: list[str]) -> dict[str, Paper]:
        """Papers by library id (those that exist)."""
        return self.store.get_many(pids)

    def find(self, ref: str) -> str | None:
        """Library id for any identifier/URL/key, or None."""
        return self.store.resolve(ref)

    def find_many(self, refs: list[str]) -> dict[str, str]:
        """Reference → library id, for the references the library knows."""
        return self.store.resolve_many(refs)

    def find_by_title(self, title: str) -> str | None:
        """A live paper with this title (normalised), or None."""
        return self.store.find_by_title(title)

    def known_ids(self, pids: list[str]) -> set[str]:
        """Which of these library ids exist."""
        return self.store.known_ids(pids)

    def size(self) -> int:
        """Live papers (not in the trash)."""
        return self.store.count_live()

    def pending(self) -> int:
        """Papers waiting for a vector of this library's model."""
        return self.store.count_pending(self.model_id)

    def list_papers(self, query: PaperQuery, *, offset: int, limit: int, sort: str) -> tuple[int, list[Paper]]:
        """A page of the papers a query selects, and how many it selects."""
        return self.store.list_papers(query, offset=offset, limit=limit, sort=sort, model_id=self.model_id)

    def ids_matching(self, query: PaperQuery, limit: int) -> list[str]:
        """Library ids of the papers a query selects, at most `limit`."""
        return self.store.ids_matching(query, self.model_id, limit)

    def facets(self, query: PaperQuery) -> Facets:
        """Counts by year, tag, venue… of the papers a query selects."""
        return self.store.facets(query, self.model_id)

    def export(self, fmt: str, pids: list[str] | None = None) -> Iterator[str]:
        """The papers (all, or these) in an export format (export.py), each under its citation key. A generator:
        nothing is read until it is first asked (the API asks from a worker thread)."""
        keys = self.store.citation_keys.of(pids)
        yield from export_as(self.iter_papers(pids), fmt, keys)

    def citation_key(self, ref: str) -> CitationKey:
        """A paper's citation key and its aliases."""
        pid = self.resolve(ref)
        return CitationKey(id=pid, key=self.store.citation_keys.of([pid]).get(pid, ""),
                           aliases=self.store.citation_keys.aliases(pid))

    def set_citation_key(self, ref: str, key: str) -> CitationKey:
        """The user's key for a paper (ValueError: not a key LaTeX accepts, or another paper's)."""
        pid = self.resolve(ref)
        self.store.citation_keys.set(pid, key.strip())
        self.events.publish("library", change="update", id=pid)
        return self.citation_key(pid)

    def iter_papers(self, pids: list[str] | None = None) -> Iterator[Paper]:
        """Every live paper (or these), in batches: for exports of any size."""
        return self.store.iter_papers(pids)

    def duplicate_pairs(self, limit: int) -> list[tuple[Paper, Paper, str]]:
        """Pairs of papers that are probably one, with why."""
        return self.store.duplicate_pairs(limit)

    def keep_apart(self, a: str, b: str) -> None:
        """Two papers the user says are not duplicates: never proposed again."""
        self.store.keep_apart(a, b)

    def file(self, fid: str) -> PaperFile | None:
        """A paper's file by its id (never by a path)."""
        return self.store.file_tables.file(fid)

    def unreadable_files(self) -> list[UnreadableFile]:
        """Files that failed to read, remembered until read again."""
        return self.store.file_tables.unreadable_files()

    def embedding_state(self) -> tuple[bool, str | None]:
        """Whether the background embedding is at work, and why it stopped if it did."""
        return self.worker.busy, self.worker.error

    def map_points(self) -> tuple[Layout, dict[str, list[int]], int]:
        """The map's layout, each tag's points (indices into its ids), and how many live papers it lacks (not
        embedded yet)."""
        m = self.map.current()
        s = self.index.snapshot()
        tagged: dict[str, list[int]] = {}
        for i, pid in enumerate(m.ids):
            r = s.row(pid)
            for t in s.tags[r] if r is not None else ():
                tagged.setdefault(t, []).append(i)
        return m, tagged, int(s.alive[: s.n].sum()) - len(m.ids)

    def place_on_map(self, vectors: np.ndarray) -> np.ndarray:
        """Where papers outside the library (these vectors) would sit on the map."""
        return self.map.place_others(vectors) if len(vectors) else np.zeros((0, 2), dtype=np.float32)

    # -- the background: what `papershelf serve` (api/runtime.py) and `papershelf watch` start ----------------
    def start_embedding(self) -> None:
        """Embed pending papers in the background from now on."""
        self.worker.start()

    def warm_up(self, first_map_after: float) -> None:
        """Load the index now (a lookup meanwhile waits for it), then the map: a kept one is brought up to date
        at once (cheap), a first one is laid out `first_map_after` seconds later, when start-up's work is done
        (numba's scoring loop too, for a library below its size). Blocking: run it in a thread."""
        load_compiled_in_background()  # numba's scoring loop: loaded in a thread, never in a lookup
        s = self.index.snapshot()
        self.index.make_room()  # the first save after a start writes into room made now, not a copy of every array
        if len(s.texts):  # one score now: a library above the size starts loading numba's loop at once
            self.index.related(s.texts[0], None, k=1)
        any_size = threading.Timer(first_map_after, use_compiled_at_any_size)  # a smaller one once start-up is done
        any_size.daemon = True
        any_size.start()
        if self.map.kept:
            self._map_up()
        else:
            later = threading.Timer(first_map_after, self._map_up)
            later.daemon = True
            later.start()
        self.fulltext.load()  # the passages' words and vectors: related lists carry their passages from now on

    def _map_up(self) -> None:
        try:
            self.map.current()
        except Exception:  # a view: the library goes on without it
            log.exception("laying out the map failed")
