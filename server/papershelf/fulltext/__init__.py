"""The full-text wing: every page of the library's PDFs, as passages found by words and by meaning.

It follows the one flow: the files the store has (whatever brought them: an import, a followed folder or Zotero,
the inbox, a PDF tab) → read page by page in a worker (pdf/pages.py; scans by OCR, pdf/ocr.py) → passages in the
store (store/passages.py) → the background embeds them → the passages' index answers (search/passages.py).

The work is done in the background thread that embeds papers (library.EmbedWorker), after the papers and the
digest's candidates: reading a file in a worker at a lower priority, then a batch of vectors, then OCR. Lookups
never wait for it. A file is read once per version of the reader (READER); its passages go with the file.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..models import PaperFile, PassageHit, PassageRow, TextState
from ..pdf import ocr
from ..pdf.pages import page_at, read_full
from ..pdf.sandbox import Limits, Sandbox, TaskFailed
from ..search.passages import PassageIndex, Query, highlights

log = logging.getLogger("papershelf.fulltext")
READER = 1  # the version of pdf/pages.py's reading: a new one reads every file again
# A file's whole reading is one task: a 1,000-page thesis takes a few seconds, and a 5,000-page file well under
# a minute; memory stays that of a page at a time (pages.MAX_CHARS bounds the text kept).
READ_LIMITS = Limits(memory_mb=768, seconds=300.0)
REASON_WORDS = 30  # a related paper's passage: a few sentences, not a title line
OCR_PAGES_PER_TASK = 8  # a scan's pages are read a few at a time: a task stays short, and the next file gets its turn
OCR_LIMITS = Limits(memory_mb=768, seconds=OCR_PAGES_PER_TASK * ocr.PAGE_SECONDS + 30)


def _lower_priority() -> None:
    """In each reading worker: below the server's lookups and the user's other work."""
    from ..pdf import pages  # noqa: F401  (PDFium, loaded before the limits)

    try:
        os.nice(10)
    except OSError:
        pass


def scan_note(unsearchable: int, ocr_outcome: str = "") -> str:
    """What a paper (and stats, and doctor) says of pages no search can find."""
    if not unsearchable:
        return ""
    pages = "page cannot" if unsearchable == 1 else "pages cannot"
    why = f"OCR {ocr_outcome}" if ocr_outcome else "a scan (install tesseract-ocr)" if not ocr.available() else \
        "a scan, waiting for OCR"
    return f"{unsearchable} {pages} be searched: {why}"


class FullTextService:
    """Reads the library's files into passages, embeds them, and finds them."""

    def __init__(self, store, folder: Path, events, embedder, model_id: str):
        self.tables = store.passage_tables
        self.events = events
        self.embedder = embedder  # the background's session (bulk): passages are embedded below lookups
        self.model_id = model_id
        self.index = PassageIndex(folder)
        self._sandbox: Sandbox | None = None
        self._loaded = False
        self._load_lock = threading.Lock()
        self.ocr_enabled = ocr.available()
        # (sha256, path) of files not where their row says: read when an import, a sync or a move finds them
        # (another path), or at the next start; skipped meanwhile, so the background does not spin on them.
        self._missing: set[tuple[str, str]] = set()

    @property
    def sandbox(self) -> Sandbox:
        if self._sandbox is None:  # one worker: reading never takes both cores from lookups
            self._sandbox = Sandbox(workers=1, limits=READ_LIMITS, warm=_lower_priority)
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()

    def ready(self, wait: bool) -> bool:
        """Whether the index is loaded; if not, load it now (`wait`) or in the background (a lookup never waits
        for it: a server loads it at its start, and a related list before then comes without passages)."""
        if self._loaded or wait:
            self.load()
            return True
        if not self._load_lock.locked():
            threading.Thread(target=self.load, name="papershelf-passages-load", daemon=True).start()
        return False

    def load(self) -> None:
        """Bring the index up to the store: words (rebuilt if the copy on disk is behind) and vectors."""
        with self._load_lock:
            if self._loaded:
                return
            if dropped := self.tables.forget_other_models(self.model_id):
                log.info("dropped %d passages' vectors of another model: they are made again", dropped)
            if self.index.size() != self.tables.count():
                n = self.index.rebuild(self.tables.texts())
                log.info("indexed the words of %d passages", n)
            for ids, files, vectors in self.tables.vectors(self.model_id):
                self.index.add_vectors(ids, files, vectors)
            self._loaded = True

    # -- the background's work ------------------------------------------------------------------------------
    def work(self, batch: int) -> int:
        """One step: forget removed files, read one file, embed a batch of passages, or OCR a scan's pages (at the
        lowest priority, so last); how much was done (0: nothing waits)."""
        self.load()
        gone = self.tables.forget_orphans()
        if gone:
            self.index.remove_files(gone)
        todo = [t for t in self.tables.files_to_read(READER, limit=len(self._missing) + 1)
                if (t[0], t[1]) not in self._missing]
        if todo:
            self.read(*todo[0])
            return 1
        if embedded := self.embed_batch(batch):
            return embedded
        if self.ocr_enabled and (scans := self.tables.files_to_ocr(limit=1)):  # the slowest, so the last
            self.ocr(*scans[0])
            return 1
        return 0

    def read(self, sha256: str, path: str, name: str) -> None:
        """Read one file's pages into passages (in a worker): searchable by words when this returns."""
        if not Path(path).is_file():
            self._missing.add((sha256, path))
            return
        try:
            outcome: object = self.sandbox.run(read_full, path)
        except TaskFailed as e:
            outcome = str(e)
        if isinstance(outcome, str):
            log.warning("could not read the pages of %s: %s", name, outcome)
            self.tables.put_text(sha256, READER, 0, [], [], [], note=f"its pages could not be read: {outcome}")
            return
        passages = [(p.page, p.section, p.text, p.breaks) for p in outcome.passages]
        rows = self.tables.put_text(sha256, READER, outcome.pages, passages,
                                    [(r.page, r.text) for r in outcome.references], outcome.scanned,
                                    note="; ".join(outcome.notes))
        self.index.remove_files([sha256])
        self.index.add_texts(sha256, rows)
        if self.index.size() != self.tables.count():  # the index was lost meanwhile: all of it again
            self.index.rebuild(self.tables.texts())
        self.events.publish("fulltext", read=name, pages=outcome.pages, passages=len(rows))

    def ocr(self, sha256: str, path: str, pages: list[int]) -> None:
        """Read a scan's pages with Tesseract, a few at a time, in the worker (at its lower priority)."""
        passages, failed, why = [], [], ""
        old_limits, self.sandbox.limits = self.sandbox.limits, OCR_LIMITS
        try:
            for i in range(0, len(pages), OCR_PAGES_PER_TASK):
                chunk = pages[i:i + OCR_PAGES_PER_TASK]
                try:
                    got, bad, why_now = self.sandbox.run(ocr.ocr_passages, path, chunk)
                except TaskFailed as e:
                    got, bad, why_now = [], chunk, str(e)
                passages += got
                failed += bad
                why = why_now or why
        finally:
            self.sandbox.limits = old_limits
        if failed:
            outcome = f"failed on {len(failed)} of {len(pages)} pages: {why}"
        elif not passages:
            outcome = "found no words on them"
        else:
            outcome = "read"
        rows = self.tables.add_ocr(sha256, [(p.page, p.section, p.text, p.breaks) for p in passages], outcome)
        self.index.add_texts(sha256, rows)
        self.events.publish("fulltext", ocr=Path(path).name, pages=len(pages), passages=len(rows))

    def embed_batch(self, size: int) -> int:
        """Embed a batch of passages that have no vector yet; how many."""
        rows = self.tables.pending_vectors(self.model_id, size)
        if not rows:
            return 0
        vectors = self.embedder.embed([text for _, text in rows])
        ids = [pid for pid, _ in rows]
        self.tables.put_vectors(self.model_id, ids, vectors)
        found = self.tables.rows(ids)
        self.index.add_vectors(ids, [found[i].sha256 if i in found else "" for i in ids], vectors)
        self.events.publish("fulltext", embedded=len(rows))
        return len(rows)

    def state(self) -> TextState:
        s = self.tables.state(self.model_id, READER)
        s.files_waiting = max(0, s.files_waiting - len(self._missing))  # (they wait for their files, not for us)
        return s

    def describe(self, files: list[PaperFile]) -> None:
        """What reading each file's pages gave, set on it: pages, passages, and what cannot be searched."""
        states = self.tables.file_states([f.sha256 for f in files])
        for f in files:
            if f.sha256 in states:
                pages, scanned, ocr_done, note, passages = states[f.sha256]
                f.pages, f.passages = pages, passages
                unsearchable = 0 if ocr_done == "read" else len(scanned)
                f.text_note = "; ".join(n for n in (scan_note(unsearchable, ocr_done), note) if n)

    def waiting(self) -> int:
        """Files to read and passages to embed: 0 when every passage is searchable both ways."""
        s = self.state()
        return s.files_waiting + s.passages_waiting

    # -- finding ------------------------------------------------------------------------------------------
    def search(self, text: str, vector: np.ndarray | None, k: int = 10, files: list[str] | None = None,
               per_paper: int = 1) -> list[PassageHit]:
        """Passages for a query, best first, at most `per_paper` of each paper."""
        self.load()
        ranked = self.index.search(text, vector, limit=max(k * 5, 50) if per_paper else k, files=files)
        rows = self.tables.rows([pid for pid, _, _ in ranked])
        query = Query.parse(text)
        top = ranked[0][1] if ranked else 1.0
        out: list[PassageHit] = []
        per: dict[str, int] = {}
        for pid, score, signals in ranked:
            row = rows.get(pid)
            if row is None:
                continue
            if per_paper and per.get(row.paper_id, 0) >= per_paper:
                continue
            per[row.paper_id] = per.get(row.paper_id, 0) + 1
            out.append(self.hit(row, score / top, signals, query))
            if len(out) >= k:
                break
        return out

    @staticmethod
    def hit(row: PassageRow, score: float, signals: list[str], query: Query) -> PassageHit:
        """A passage as found: its page is the one where its quoted phrase, else its first matched word, stands (a
        passage that turns a page names the page it starts on, and the words found may be on the next)."""
        marks, anchor = highlights(row.text, query)
        if anchor is None and marks:
            anchor = marks[0][0]
        page = page_at(row.page, row.breaks, anchor) if anchor is not None else row.page
        return PassageHit(paper_id=row.paper_id, title=row.title, file=row.path, page=page, text=row.text,
                          highlights=marks, score=round(score, 4), matched=signals, file_id=row.file_id,
                          section=row.section)

    def closest(self, vector: np.ndarray, files: list[str], words: str = "") -> PassageHit | None:
        """The passage of these files closest in meaning to a vector (a paper's title and abstract): of the closest
        few, the first with a few sentences (a title page's title line or a caption is no reason in its own words)."""
        self.load()
        found = self.index.by_meaning(vector, 5, files=files)
        rows = self.tables.rows([pid for pid, _ in found])
        ranked = [(rows[pid], score) for pid, score in found if pid in rows]
        if not ranked:
            return None
        row, score = next(((r, s) for r, s in ranked if len(r.text.split()) >= REASON_WORDS), ranked[0])
        return self.hit(row, score, ["meaning"], Query.parse(words))

    def files_of(self, pids: list[str]) -> dict[str, list[str]]:
        return self.tables.files_of(pids)

    def forget_vectors(self) -> None:
        """The model changed: vectors are made again in the background (words stay searchable)."""
        self.index.clear_vectors()
        self._loaded = False
