"""The passages' index: their words (Tantivy) and their vectors (a matrix), fused into one ranking.

Words are Tantivy's (tantivy-py, MIT): BM25 over stemmed words with their positions, so a quoted phrase
matches its words in order. Measured against extending postings.py at 100,000 synthetic passages of 200 words
(bench/fulltext.py, one core, same run): Tantivy indexed them in 19-22 s against 30-34 s for postings.py, and
answered a query's top 10 in 6.5 ms at p95; postings.py scores faster (0.2 ms at p95, its numba loop) but has no
positions, so a phrase would have to be checked in every candidate's text afterwards, and it holds everything in
memory, where Tantivy's index is on disk (memory-mapped: 347 bytes a passage). Phrases and the disk decide: Tantivy.

A user's query is never read as Tantivy's syntax: it is cut into words (and quoted phrases) here, and each goes to
Tantivy as a quoted term, so `AND`, `:`, `*`, `(` and `-` are words or nothing, and an unbalanced quote is text.

Meaning is the library's model (search/embed.py) over each passage; the vectors stay in memory, normalised, a row
each. The two rankings are fused by reciprocal rank (RRF_K): a passage both find comes first. A query with a quoted
phrase asks for those words in that order, so only passages that have it are ranked.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import Stemmer
import tantivy

log = logging.getLogger("papershelf.passages")
RRF_K = 60  # reciprocal rank fusion's constant (Cormack et al. 2009), not tuned here
CANDIDATES = 100  # each signal's candidates before fusion
MAX_QUERY_WORDS = 64  # a pasted page is a query of its first words
WRITER_HEAP = 20_000_000

_stem = Stemmer.Stemmer("english")  # Snowball's English, as Tantivy's en_stem
WORD = re.compile(r"\w+")


def _schema() -> tantivy.Schema:
    sb = tantivy.SchemaBuilder()
    sb.add_unsigned_field("id", stored=True, indexed=True, fast=True)
    sb.add_text_field("file", stored=False, tokenizer_name="raw")
    sb.add_text_field("body", stored=False, tokenizer_name="en_stem", index_option="position")
    return sb.build()


@dataclass
class Query:
    """A user's query as words and phrases, never as engine syntax."""

    words: list[str]
    phrases: list[list[str]]

    @classmethod
    def parse(cls, text: str) -> "Query":
        words: list[str] = []
        phrases: list[list[str]] = []
        parts = text.split('"')
        for i, part in enumerate(parts):
            tokens = WORD.findall(part)
            # odd parts stand between quotes; the last part of an unbalanced quote is plain text
            if i % 2 == 1 and i < len(parts) - 1 and len(tokens) > 1:
                phrases.append(tokens[:MAX_QUERY_WORDS])
            else:
                words += tokens
        return cls(words[:MAX_QUERY_WORDS], phrases[:8])

    def tantivy_text(self) -> str:
        """Each word and phrase quoted (only word characters inside): Tantivy analyses them, nothing else."""
        return " ".join([f'"{w}"' for w in self.words] + ['"' + " ".join(p) + '"' for p in self.phrases])

    @property
    def empty(self) -> bool:
        return not self.words and not self.phrases


# Words a reader's query has but that would mark half a passage ("a", "for"): marked only inside a quoted phrase,
# or when the query has nothing else.
STOP_WORDS = frozenset("""a an and are as at be by for from has have how in into is it its of on or that the their
    there this to was were what when where which who why with""".split())


def highlights(text: str, query: Query) -> tuple[list[tuple[int, int]], int | None]:
    """[start, end) of the words in `text` that the query has (stems alike; a quoted phrase only where its words stand
    in order), and the offset where the first phrase stands (the place to cite), if it does."""
    tokens = [(m.start(), m.end(), _stem.stemWord(m.group().lower())) for m in WORD.finditer(text)]
    marked: set[int] = set()
    anchor: int | None = None
    for phrase in query.phrases:
        stems = [_stem.stemWord(w.lower()) for w in phrase]
        for i in range(len(tokens) - len(stems) + 1):
            if all(tokens[i + j][2] == stems[j] for j in range(len(stems))):
                marked.update(range(i, i + len(stems)))
                anchor = tokens[i][0] if anchor is None else min(anchor, tokens[i][0])
    words = {_stem.stemWord(w.lower()) for w in query.words}
    content = {w for w in words if w not in STOP_WORDS} or words
    marked.update(i for i, t in enumerate(tokens) if t[2] in content)
    return [(tokens[i][0], tokens[i][1]) for i in sorted(marked)], anchor


class PassageIndex:
    """Passages by words (on disk under `folder`) and by meaning (in memory), for one model."""

    def __init__(self, folder: Path, dim: int = 384):
        self.folder = folder
        self.schema = _schema()
        self._lock = threading.RLock()
        self.index = self._open()
        self.dim = dim
        self._reset_vectors()

    def _reset_vectors(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.files: list[str] = []
        self.matrix = np.zeros((0, self.dim), dtype=np.float32)
        self._n = 0  # rows used in ids/matrix (they grow by doubling)
        self._alive = np.zeros(0, dtype=bool)
        self._row_of: dict[int, int] = {}
        self._rows_of_file: dict[str, list[int]] = {}

    def _open(self) -> tantivy.Index:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            return tantivy.Index(self.schema, path=str(self.folder), reuse=True)
        except Exception as e:  # a broken or older index: it is a copy of the store, built again
            log.warning("the passages' index at %s cannot be opened (%s): building it again", self.folder, e)
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            return tantivy.Index(self.schema, path=str(self.folder), reuse=False)

    def _writer(self, heap: int = WRITER_HEAP):
        """Tantivy's writer; if the folder went away under it (deleted by hand, a disk unmounted), the index is
        opened anew, empty: the caller finds it behind the store and builds it again."""
        try:
            return self.index.writer(heap_size=heap, num_threads=1)
        except (ValueError, OSError) as e:
            log.warning("the passages' index at %s cannot be written (%s): opening it anew", self.folder, e)
            self.index = self._open()
            return self.index.writer(heap_size=heap, num_threads=1)

    # -- words --------------------------------------------------------------------------------------------
    def size(self) -> int:
        self.index.reload()
        return self.index.searcher().num_docs

    def add_texts(self, file: str, rows: list[tuple[int, str]]) -> None:
        """Index (id, text) passages of a file, searchable when this returns."""
        with self._lock:
            writer = self._writer()
            for pid, text in rows:
                doc = tantivy.Document()
                doc.add_unsigned("id", pid)
                doc.add_text("file", file)
                doc.add_text("body", text)
                writer.add_document(doc)
            writer.commit()
            writer.wait_merging_threads()
            self.index.reload()

    def rebuild(self, batches) -> int:
        """Index every passage again from (id, file, text) batches (the index was lost or is behind the store)."""
        with self._lock:
            writer = self._writer(WRITER_HEAP * 5)
            writer.delete_all_documents()
            n = 0
            for batch in batches:
                for pid, file, text in batch:
                    doc = tantivy.Document()
                    doc.add_unsigned("id", pid)
                    doc.add_text("file", file)
                    doc.add_text("body", text)
                    writer.add_document(doc)
                    n += 1
            writer.commit()
            writer.wait_merging_threads()
            self.index.reload()
            return n

    def remove_files(self, files: list[str]) -> None:
        """Forget the passages of these files (by their sha256), words and vectors."""
        if not files:
            return
        with self._lock:
            writer = self._writer()
            for f in files:
                writer.delete_documents_by_term("file", f)
            writer.commit()
            writer.wait_merging_threads()
            self.index.reload()
            for f in files:
                for r in self._rows_of_file.pop(f, []):
                    self._alive[r] = False
                    self._row_of.pop(int(self.ids[r]), None)

    def by_words(self, query: Query, limit: int, files: list[str] | None = None) -> list[tuple[int, float]]:
        """(passage id, BM25) of the passages with the query's words (all of a phrase's, in order), best first."""
        if query.empty:
            return []
        q = self.index.parse_query(query.tantivy_text(), ["body"])
        if query.phrases:  # a phrase is a must: the loose words only rank what has it
            phrase_text = " ".join('"' + " ".join(p) + '"' for p in query.phrases)
            must = [(tantivy.Occur.Must, self.index.parse_query(phrase_text, ["body"]))]
            q = tantivy.Query.boolean_query(must + [(tantivy.Occur.Should, q)])
        if files is not None:
            q = tantivy.Query.boolean_query([(tantivy.Occur.Must, q), (tantivy.Occur.Must, tantivy.Query.term_set_query(
                self.schema, "file", list(files)))])
        searcher = self.index.searcher()
        hits = searcher.search(q, limit).hits
        return [(searcher.doc(addr)["id"][0], score) for score, addr in hits]

    # -- meaning ------------------------------------------------------------------------------------------
    def add_vectors(self, ids: list[int], files: list[str], vectors: np.ndarray) -> None:
        """Passages' vectors (normalised here): they are found by meaning from now on."""
        if not len(ids):
            return
        with self._lock:
            vectors = np.asarray(vectors, dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.where(norms == 0, 1, norms)
            need = self._n + len(ids)
            if need > len(self.ids):
                cap = max(need, 2 * len(self.ids), 1024)
                ids_, m, alive = np.zeros(cap, dtype=np.int64), np.zeros((cap, vectors.shape[1]), np.float32), \
                    np.zeros(cap, dtype=bool)
                ids_[:self._n], m[:self._n], alive[:self._n] = self.ids[:self._n], self.matrix[:self._n], \
                    self._alive[:self._n]
                self.ids, self.matrix, self._alive = ids_, m, alive
            for k, (pid, f) in enumerate(zip(ids, files)):
                r = self._row_of.get(int(pid))
                if r is None:
                    r = self._n
                    self._n += 1
                    self.files.append(f)
                    self._rows_of_file.setdefault(f, []).append(r)
                    self._row_of[int(pid)] = r
                self.ids[r], self.matrix[r], self._alive[r] = pid, vectors[k], True

    def clear_vectors(self) -> None:
        """Forget every vector (the model changed: they are made again in the background)."""
        with self._lock:
            self._reset_vectors()

    def vector_count(self) -> int:
        return int(self._alive[:self._n].sum())

    def by_meaning(self, vector: np.ndarray, limit: int, files: list[str] | None = None) -> list[tuple[int, float]]:
        """(passage id, cosine) of the passages closest to a vector, best first."""
        with self._lock:
            n = self._n
            if n == 0:
                return []
            if files is not None:
                rows = np.array(sorted(r for f in files for r in self._rows_of_file.get(f, [])), dtype=np.int64)
                if not len(rows):
                    return []
                rows = rows[self._alive[rows]]
                sims = self.matrix[rows] @ vector.astype(np.float32)
            else:
                rows = None
                sims = self.matrix[:n] @ vector.astype(np.float32)
                sims[~self._alive[:n]] = -2
            ids = self.ids if rows is None else self.ids[rows]
        limit = min(limit, len(sims))
        top = np.argpartition(-sims, limit - 1)[:limit]
        top = top[np.argsort(-sims[top])]
        return [(int(ids[i]), float(sims[i])) for i in top if sims[i] > -2]

    def closest_of(self, ids: list[int], vector: np.ndarray) -> list[tuple[int, float]]:
        """(passage id, cosine) of these passages that have a vector, closest first."""
        with self._lock:
            rows = [(pid, self._row_of[pid]) for pid in ids if pid in self._row_of]
            if not rows:
                return []
            sims = self.matrix[[r for _, r in rows]] @ vector.astype(np.float32)
        return sorted(((pid, float(x)) for (pid, _), x in zip(rows, sims)), key=lambda kv: -kv[1])

    # -- both ---------------------------------------------------------------------------------------------
    def search(self, text: str, vector: np.ndarray | None, limit: int, files: list[str] | None = None
               ) -> list[tuple[int, float, list[str]]]:
        """(passage id, fused score, signals) best first: BM25 and meaning fused by reciprocal rank."""
        query = Query.parse(text)
        words = self.by_words(query, CANDIDATES, files)
        if query.phrases:  # the phrase decides what is found; meaning only orders it (its hits alone are scored)
            meaning = [] if vector is None else self.closest_of([pid for pid, _ in words], vector)
        else:
            meaning = [] if vector is None else self.by_meaning(vector, CANDIDATES, files)
        fused: dict[int, float] = {}
        signals: dict[int, list[str]] = {}
        for name, ranked in (("words", words), ("meaning", meaning)):
            for rank, (pid, _) in enumerate(ranked):
                fused[pid] = fused.get(pid, 0.0) + 1.0 / (RRF_K + rank + 1)
                signals.setdefault(pid, []).append(name)
        best = sorted(fused.items(), key=lambda kv: -kv[1])[:limit]
        return [(pid, score, signals[pid]) for pid, score in best]
