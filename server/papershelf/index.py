"""The in-memory index that answers lookups: a dense matrix of unit vectors and a BM25 keyword index.

The store is the truth. The index is rebuilt from it at start and whenever the library's texts change: by
the write that changed them, in its thread, while lookups keep answering from the previous view (see
Index.writing); new vectors from the embedding worker are written into their rows in place.
Exact cosine over a numpy matrix is 8 ms at 100k papers here, so no approximate index is needed.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from .models import Filters, PaperBrief
from .store import embed_text

log = logging.getLogger(__name__)

_WORD = re.compile(r"(?u)\b[^\W\d_][\w\-]*[^\W_]\b|\b[^\W\d_]{2}\b")
# Words every abstract uses: they explain nothing about why two papers are related.
_STOP = set(STOPWORDS_EN) | set("""paper papers propose proposed proposes show shows shown using based also results result
    approach approaches method methods new however well two one three use used uses present presents work works can may
    et al via different best better less more most over small large larger high higher low lower solely first second
    significantly significant existing state art achieve achieves achieved demonstrate demonstrates experiments
    experimental extensive effective effectively improve improves improved improvement performance novel various
    several many much within across without between often while thus therefore furthermore moreover including
    particular specific recent recently study studies english""".split())
_stemmer = Stemmer.Stemmer("english")

# Fusion for "related", chosen on the CiteSeer benchmark (bench/quality.py prints the alternatives):
#   DENSE_WEIGHT * (cosine - hub/2) + TFIDF_WEIGHT * TF-IDF cosine / best + BM25_WEIGHT * symmetric BM25 / best
# (best: the signal's top score with the query paper itself left out). hub is a paper's mean cosine to its
# HUB_K nearest neighbours (CSLS hubness reduction): papers close to everything stop crowding every list.
# The TF-IDF vectors hold stems and pairs of adjacent stems: "mixture of experts" and "neural network" match
# as phrases, which single words cannot tell from papers that merely mention "expert" and "network". BM25 is
# scored both ways (query terms in the paper and the paper's terms in the query): "related" is symmetric.
# Weights chosen on the 2,600 CiteSeer queries that are not in the reported 500 (seed 0).
DENSE_WEIGHT, TFIDF_WEIGHT, BM25_WEIGHT = 0.7, 0.2, 0.1
HUB_K = 5
HUB_SAMPLE = 20_000  # above this many papers, hub statistics are taken against a fixed sample of them
BM25_K1, BM25_B = 1.5, 0.75  # bm25s defaults, which its scores below are computed with
# A search query is short: it is ranked by reciprocal rank fusion, which needs no score calibration.
RRF_K = 60
# A related paper is "loosely related" when its cosine to the query is under LOOSE_COSINE or its score under
# LOOSE_SHARE of the best one's. With MiniLM, papers on one topic sit at cosine 0.5-0.7 and a paper from another
# field at 0.2-0.45 (measured on the sample library: an AlphaFold abstract's best match there is 0.43).
LOOSE_COSINE, LOOSE_SHARE = 0.45, 0.5
# A why-term is held by at most this share of the library's papers: a term most papers share explains nothing.
WHY_MAX_SHARE = 0.1


def _counts(word: str) -> bool:
    """A lower-cased token the index counts (not a stopword, longer than two letters)."""
    return word not in _STOP and len(word) > 2


def words(text: str) -> list[str]:
    """Lower-cased content words of a text (no stopwords, no numbers)."""
    return [w for w in _WORD.findall(text.lower()) if _counts(w)]


def stems(text: str) -> list[str]:
    """Stemmed content words: what BM25 counts."""
    return _stemmer.stemWords(words(text))


def terms(stemmed: list[str]) -> list[str]:
    """Stems and pairs of adjacent stems (stopwords between them dropped): what TF-IDF weighs."""
    return stemmed + [f"{a} {b}" for a, b in zip(stemmed, stemmed[1:])]


def term_key(term: str) -> int:
    """A term's key in the postings: its hash, stable while the process runs (the postings never outlive it).

    Keys instead of strings let a rebuild reuse every known paper's counts as arrays; two of a library's
    terms sharing a 64-bit hash is about a one-in-10^7 chance at a million distinct terms.
    """
    return hash(term)


@dataclass(frozen=True)
class CountedTerms:
    """One paper's distinct terms as keys with their counts: its stems first, then its stem pairs."""

    keys: np.ndarray
    counts: np.ndarray
    n_stems: int


def count_terms(doc: list[str]) -> CountedTerms:
    """Count a paper's terms (stems, then pairs as terms() lists them)."""
    counts = Counter(doc)
    stems_first = sorted(counts, key=lambda t: " " in t)
    return CountedTerms(keys=np.fromiter(map(term_key, stems_first), dtype=np.int64, count=len(counts)),
                        counts=np.fromiter((counts[t] for t in stems_first), dtype=np.uint32, count=len(counts)),
                        n_stems=sum(" " not in t for t in counts))


@dataclass
class Postings:
    """Which papers hold each term, in compressed-row form, with each paper's TF-IDF weight for it.

    Weights are sublinear tf times smoothed idf, l2-normalised per paper, so a dot product is a cosine.
    Pairs held by a single paper are left out, of the postings and of the norm: they can only match the paper
    itself, so the cosine is over the terms another text could share.
    """

    vocab: dict[int, int] = field(default_factory=dict)  # term_key(term) -> term number
    start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    n: int = 0

    @classmethod
    def build(cls, docs: list[list[str]]) -> "Postings":
        """Index each paper's terms."""
        return cls.from_counts([count_terms(d) for d in docs])

    @classmethod
    def from_counts(cls, docs: list[CountedTerms]) -> "Postings":
        """Index papers whose terms were counted already (a rebuild counts only the papers it has not seen)."""
        p = cls(n=len(docs))
        if not docs:
            return p
        keys = np.concatenate([d.keys for d in docs])
        tfs = np.concatenate([d.counts for d in docs]).astype(np.float32)
        is_pair = np.concatenate([np.arange(len(d.keys)) >= d.n_stems for d in docs])
        row = np.repeat(np.arange(len(docs), dtype=np.int32), [len(d.keys) for d in docs])
        uniq, tid = np.unique(keys, return_inverse=True)
        df = np.bincount(tid, minlength=len(uniq))
        w = (1 + np.log(tfs)) * p._idf(df)[tid]
        keep = (df[tid] > 1) | ~is_pair
        keep_term = np.zeros(len(uniq), dtype=bool)
        keep_term[tid[keep]] = True
        kept = int(keep_term.sum())
        new_id = np.cumsum(keep_term) - 1
        tid, row, w = new_id[tid[keep]], row[keep], w[keep]
        # Normalised over the kept terms only: a paper full of phrases nobody else uses is not marked down
        # against every other paper for them (measured: +0.002 nDCG@10 on CiteSeer's tuning queries).
        norm = np.sqrt(np.bincount(row, weights=w.astype(np.float64) ** 2, minlength=len(docs)))
        w = (w / np.maximum(norm[row], 1e-12)).astype(np.float32)
        order = np.argsort(tid, kind="stable")
        p.rows, p.weight = row[order], w[order]
        p.start = np.concatenate([[0], np.cumsum(np.bincount(tid, minlength=kept))])
        p.vocab = dict(zip(uniq[keep_term].tolist(), range(kept)))
        return p

    def _idf(self, df: np.ndarray) -> np.ndarray:
        """Smoothed idf (as scikit-learn's TfidfVectorizer)."""
        return np.log((1 + self.n) / (1 + df)) + 1

    def df(self, term: str) -> int:
        """How many papers hold the term."""
        j = self.vocab.get(term_key(term))
        return 0 if j is None else int(self.start[j + 1] - self.start[j])

    def papers(self, term: str) -> np.ndarray:
        """Rows of the papers holding the term."""
        j = self.vocab.get(term_key(term))
        return self.rows[self.start[j]:self.start[j + 1]] if j is not None else self.rows[:0]

    def cosine(self, doc: list[str]) -> np.ndarray:
        """TF-IDF dot product of every paper with a text's terms (the text's own norm left out: a constant)."""
        found = [(j, c) for t, c in Counter(doc).items() if (j := self.vocab.get(term_key(t))) is not None]
        if not found:
            return np.zeros(self.n, dtype=np.float32)
        j = np.fromiter((t for t, _ in found), dtype=np.int64, count=len(found))
        df = self.start[j + 1] - self.start[j]
        qw = (1 + np.log(np.fromiter((c for _, c in found), dtype=np.float64, count=len(found)))) * self._idf(df)
        # Every posting of every found term: each term's span start, plus 0..df-1 within it.
        idx = np.repeat(self.start[j] - np.cumsum(df) + df, df) + np.arange(int(df.sum()))
        return np.bincount(self.rows[idx], weights=self.weight[idx] * np.repeat(qw, df),
                           minlength=self.n).astype(np.float32)


@dataclass
class Snapshot:
    """One consistent view of the library for lookups; replaced whole, never edited except vector rows."""

    ids: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)
    stemmed: list[str] = field(default_factory=list)  # each row's stems, space-separated (counted once per text)
    years: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tags: list[list[str]] = field(default_factory=list)
    briefs: list[PaperBrief] = field(default_factory=list)
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    has_vec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    topsim: np.ndarray = field(default_factory=lambda: np.zeros((0, HUB_K), dtype=np.float32))
    hub: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    bm25: bm25s.BM25 | None = None
    postings: Postings = field(default_factory=Postings)
    avgdl: float = 1.0
    version: int = 0  # which build this is: every rebuild makes a new number (caches key on it)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Ranked:
    """A ranked list: row positions in the snapshot with their fused and per-signal scores."""

    rows: list[int]
    scores: list[float]
    dense: np.ndarray
    keyword: np.ndarray
    loose: list[bool] = field(default_factory=list)  # related(): each row only loosely related


class Index:
    """Dense + keyword lookups over the library's live papers."""

    def __init__(self, store, model_id: str):
        self.store = store
        self.model_id = model_id
        self._lock = threading.RLock()
        self._snap = Snapshot()
        self._dirty = True
        self._counted: dict[str, tuple[str, CountedTerms]] = {}  # text -> (its stems, its counted terms)
        self._built = False  # a snapshot of the store exists (before the first, lookups must wait for one)
        self._building = False
        self._writers = 0  # writes under way (see writing())
        self._writers_lock = threading.Lock()

    # -- keeping in step with the store ---------------------------------------------------------------
    def invalidate(self) -> None:
        """The library's texts changed: rebuild before the next lookup."""
        self._dirty = True

    @contextmanager
    def writing(self):
        """Around a write: lookups meanwhile use the view from before it, and the write ends by building
        the new one in its own thread, so a lookup never waits for an import and sees every finished write."""
        with self._writers_lock:
            self._writers += 1
        try:
            yield
        finally:
            with self._writers_lock:
                self._writers -= 1
            try:
                # Before any lookup (a command-line import) there is no view to keep fresh: the first lookup builds.
                if self._built:
                    self.snapshot(wait=True)
            except Exception:  # the write itself went through: the next lookup tries the rebuild again
                log.exception("index rebuild after a write failed")

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The current view, rebuilt first if the store changed since (unless a write or rebuild is under way
        and not `wait`: then the previous view, which holds every write that has finished)."""
        if self._dirty:
            if not wait and self._built and (self._writers or self._building):
                return self._snap
            with self._lock:
                if self._dirty:
                    self._dirty = False
                    self._building = True
                    try:
                        self._snap = self._build()
                        self._built = True
                    except BaseException:
                        self._dirty = True
                        raise
                    finally:
                        self._building = False
        return self._snap

    def _build(self) -> Snapshot:
        """Read every live paper and its vector from the store; reuse neighbour statistics of known papers."""
        prev = self._snap
        rows = self.store.texts()
        s = Snapshot(version=prev.version + 1)
        s.ids = [r[0] for r in rows]
        s.pos = {pid: i for i, pid in enumerate(s.ids)}
        s.texts = [embed_text(r[1], r[2]) for r in rows]
        s.years = np.array([r[3] if r[3] is not None else -1 for r in rows], dtype=np.int32)
        s.tags = [list(r[4]) for r in rows]
        s.briefs = [PaperBrief(id=r[0], title=r[1], authors=list(r[5]), year=r[3], venue=r[6], url=r[7], tags=list(r[4]),
                               identifiers=list(r[8])) for r in rows]
        vids, mat = self.store.vectors(self.model_id)
        dim = mat.shape[1] if len(vids) else 0
        s.matrix = np.zeros((len(s.ids), dim), dtype=np.float32)
        s.has_vec = np.zeros(len(s.ids), dtype=bool)
        for vid, row in zip(vids, mat):
            i = s.pos.get(vid)
            if i is not None:
                s.matrix[i] = row
                s.has_vec[i] = True
        # Stemming and counting are most of a rebuild: done once per distinct text, kept while it is in the library.
        counted: dict[str, tuple[str, CountedTerms]] = {}
        for text in s.texts:
            hit = counted.get(text) or self._counted.get(text)
            if hit is None:
                st = stems(text)
                hit = (" ".join(st), count_terms(terms(st)))
            counted[text] = hit
        self._counted = counted
        s.stemmed = [counted[t][0] for t in s.texts]
        tokens = [st.split() for st in s.stemmed]
        s.postings = Postings.from_counts([counted[t][1] for t in s.texts])
        s.avgdl = float(np.mean([len(t) for t in tokens])) if tokens else 1.0
        if s.ids:
            s.bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
            s.bm25.index([t if t else [""] for t in tokens], show_progress=False)
        # Neighbour statistics: carried over for papers whose vector we already had, computed for the rest.
        s.topsim = np.full((len(s.ids), HUB_K), np.nan, dtype=np.float32)
        known = []
        for i, pid in enumerate(s.ids):
            j = prev.pos.get(pid)
            if j is not None and s.has_vec[i] and j < len(prev.has_vec) and prev.has_vec[j] \
                    and prev.matrix.shape[1] == s.matrix.shape[1] and np.array_equal(prev.matrix[j], s.matrix[i]):
                s.topsim[i] = prev.topsim[j]
                known.append(i)
        known_rows = set(known)
        fresh = [i for i in np.flatnonzero(s.has_vec) if i not in known_rows]
        _update_neighbours(s, np.asarray(fresh, dtype=np.int64))
        return s

    def set_vectors(self, pids: list[str], vecs: np.ndarray) -> None:
        """Write new vectors into their rows (papers not in the snapshot yet come with the next rebuild)."""
        with self._lock:
            s = self._snap
            rows: list[int] = []
            for pid, v in zip(pids, vecs):
                i = s.pos.get(pid)
                if i is None:
                    continue
                if s.matrix.shape[1] != len(v):
                    # First vectors of an empty index: give the matrix its width.
                    s.matrix = np.zeros((len(s.ids), len(v)), dtype=np.float32)
                    s.has_vec = np.zeros(len(s.ids), dtype=bool)
                    s.topsim = np.full((len(s.ids), HUB_K), np.nan, dtype=np.float32)
                s.matrix[i] = v
                s.has_vec[i] = True
                s.topsim[i] = np.nan
                rows.append(i)
            _update_neighbours(s, np.asarray(rows, dtype=np.int64))

    # -- scoring ----------------------------------------------------------------------------------------
    def _dense(self, s: Snapshot, qvec: np.ndarray | None) -> np.ndarray:
        """Cosine of every row to the query vector (0 for rows without a vector)."""
        if qvec is None or not s.has_vec.any() or s.matrix.shape[1] != len(qvec):
            return np.zeros(len(s), dtype=np.float32)
        sims = s.matrix @ qvec.astype(np.float32)
        return np.where(s.has_vec, sims, 0.0).astype(np.float32)

    def _keyword(self, s: Snapshot, all_toks: list[str], symmetric: bool = False) -> np.ndarray:
        """BM25 score of every row for a text's distinct stems; symmetric adds the paper→text direction."""
        if s.bm25 is None:
            return np.zeros(len(s), dtype=np.float32)
        toks = list(dict.fromkeys(t for t in all_toks if t in s.bm25.vocab_dict))
        if not toks:
            return np.zeros(len(s), dtype=np.float32)
        scores = np.asarray(s.bm25.get_scores(toks), dtype=np.float32)
        if symmetric:
            # The text as the document and each paper's terms as the query: BM25 weight of every shared term
            # in the text (Lucene idf, the text's own length), added to every paper that has that term.
            tf = Counter(all_toks)
            n, dl = len(s), len(all_toks)
            norm = BM25_K1 * (1 - BM25_B + BM25_B * dl / max(s.avgdl, 1e-9))
            for t in toks:
                df = s.postings.df(t)
                idf = np.log(1 + (n - df + 0.5) / (df + 0.5))
                w = idf * tf[t] * (BM25_K1 + 1) / (tf[t] + norm)
                scores[s.postings.papers(t)] += w
        return scores

    def _tfidf(self, s: Snapshot, toks: list[str]) -> np.ndarray:
        """TF-IDF cosine (up to the text's own norm) of every row to a text's stems and stem pairs."""
        return s.postings.cosine(terms(toks))

    def _mask(self, s: Snapshot, filters: Filters | None, exclude_rows: list[int]) -> np.ndarray:
        """Rows allowed by the filters."""
        ok = np.ones(len(s), dtype=bool)
        for r in exclude_rows:
            ok[r] = False
        if filters:
            if filters.year_min is not None:
                ok &= s.years >= filters.year_min
            if filters.year_max is not None:
                ok &= (s.years <= filters.year_max) & (s.years >= 0)
            if filters.tags:
                want = set(filters.tags)
                ok &= np.array([bool(want.intersection(t)) for t in s.tags], dtype=bool)
            for pid in filters.exclude:
                i = s.pos.get(pid)
                if i is not None:
                    ok[i] = False
        return ok

    def related(self, text: str, qvec: np.ndarray | None, k: int = 10, filters: Filters | None = None,
                exclude: list[str] = ()) -> tuple[Snapshot, Ranked]:
        """Top-k papers most related to a paper's text (and its vector), by weighted score fusion."""
        s = self.snapshot()
        dense = self._dense(s, qvec)
        toks = stems(text)  # once for both word signals
        kw = self._keyword(s, toks, symmetric=True)
        excluded = [s.pos[p] for p in exclude if p in s.pos]
        fused = fuse_weighted(np.where(s.has_vec, dense - s.hub / 2, 0.0), self._tfidf(s, toks), kw,
                              DENSE_WEIGHT if qvec is not None else 0.0, ignore=excluded)
        mask = self._mask(s, filters, excluded)
        rows = top_k(np.where(mask, fused, -np.inf), k)
        rows = [r for r in rows if mask[r] and (fused[r] > 0 or dense[r] > 0)]
        scores = [float(np.clip(fused[r], 0, 1)) for r in rows]
        best = max(scores, default=0.0)
        loose = [bool(score < LOOSE_SHARE * best or (qvec is not None and s.has_vec[r] and dense[r] < LOOSE_COSINE))
                 for r, score in zip(rows, scores)]
        return s, Ranked(rows=rows, scores=scores, dense=dense, keyword=kw, loose=loose)

    def search(self, query: str, qvec: np.ndarray | None, k: int = 20, filters: Filters | None = None
               ) -> tuple[Snapshot, Ranked]:
        """Top-k papers for a short query: reciprocal rank fusion of keyword and semantic rankings."""
        s = self.snapshot()
        dense = self._dense(s, qvec)
        kw = self._keyword(s, stems(query))
        mask = self._mask(s, filters, [])
        depth = max(100, k * 5)
        kw_ranked = np.where(mask & (kw > 0), kw, -np.inf)
        fused = fuse_rrf(np.where(mask & s.has_vec, dense, -np.inf), kw_ranked, depth=depth)
        if qvec is not None and not s.has_vec.all():
            # A paper still waiting for its vector has no semantic rank: count its keyword rank for both, so a
            # paper saved a second ago is found by its own title.
            for rank, i in enumerate(top_k(kw_ranked, depth)):
                if not s.has_vec[i]:
                    fused[i] += 1.0 / (RRF_K + rank + 1)
        rows = [r for r in top_k(fused, k) if fused[r] > 0]
        return s, Ranked(rows=rows, scores=[float(fused[r]) for r in rows], dense=dense, keyword=kw)

    def why(self, s: Snapshot, query_text: str, row: int, n: int = 5) -> list[str]:
        """Why a paper matches a text: the content terms both hold that are rare in the library, phrases
        ("mixture of experts") before single words, as the text writes them. None rather than filler."""
        if not 0 <= row < len(s):
            return []
        stop = why_stopwords()
        limit = max(2.0, WHY_MAX_SHARE * len(s))  # held by more papers than this, a term explains nothing

        def telling(term: str) -> bool:
            return 0 < s.postings.df(term) <= limit

        # The text's content words with their places, in the order the index pairs them (as words() does).
        toks = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(query_text)]
        content = [(a, b, w) for a, b, w in toks if _counts(w)]
        q_stems = _stemmer.stemWords([w for _, _, w in content])
        d_stems = s.stemmed[row].split()
        d_set, d_pairs = set(d_stems), set(zip(d_stems, d_stems[1:]))
        total = max(len(s), 1)

        def idf(term: str) -> float:
            return float(np.log((total + 1) / (s.postings.df(term) + 0.5)))

        phrases: dict[tuple[str, str], Counter] = {}
        for i in range(len(content) - 1):
            pair = (q_stems[i], q_stems[i + 1])
            (a, _, w1), (_, b, w2) = content[i], content[i + 1]
            if pair not in d_pairs or w1 in stop or w2 in stop or not telling(" ".join(pair)):
                continue
            gap = query_text[content[i][1]:content[i + 1][0]]
            if re.search(r"[.,;:!?()\[\]]", gap) or len(gap.split()) > 2 or \
                    any(g.lower() not in function_words() for g in gap.split()):
                continue  # not one phrase: a clause boundary, or content words between ("lightweight but effective")
            phrases.setdefault(pair, Counter())[" ".join(query_text[a:b].lower().split())] += 1
        singles: dict[str, Counter] = {}
        for (_, _, w), st in zip(content, q_stems):
            if st in d_set and w not in stop and telling(st):
                singles.setdefault(st, Counter())[w] += 1
        # A word the two texts mention once each ("enormous", "specifically") is how they are written, not what
        # they are about: a single word must come back (three times in the two texts together).
        d_count = Counter(d_stems)
        singles = {st: c for st, c in singles.items() if sum(c.values()) + d_count[st] >= 3}
        best_phrases = sorted(phrases, key=lambda p: (-idf(" ".join(p)), " ".join(p)))[:n]
        covered = {st for p in best_phrases for st in p}
        weight = {st: idf(st) * (1 + np.log(sum(c.values()))) for st, c in singles.items() if st not in covered}
        best_words = sorted(weight, key=lambda st: (-weight[st], st))[:n - len(best_phrases)]
        return [phrases[p].most_common(1)[0][0] for p in best_phrases] + \
            [singles[st].most_common(1)[0][0] for st in best_words]


@functools.cache
def function_words() -> frozenset[str]:
    """English function words (scikit-learn's list): "of" may join a phrase, never be one."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # imported late: 0.6 s a command otherwise

    return frozenset(ENGLISH_STOP_WORDS)


@functools.cache
def why_stopwords() -> frozenset[str]:
    """Words that never explain a match: function words, _STOP, and what abstracts say about their code."""
    return function_words() | _STOP | {"code", "available", "publicly", "github", "http", "https", "www", "com"}


def top_k(scores: np.ndarray, k: int) -> list[int]:
    """Indices of the k highest finite scores, best first (argpartition, then sort the few)."""
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    k = min(k, n)
    idx = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    idx = idx[np.isfinite(scores[idx])]
    return [int(i) for i in idx[np.argsort(-scores[idx], kind="stable")]]


def fuse_weighted(dense: np.ndarray, tfidf: np.ndarray, bm25: np.ndarray, dense_weight: float = DENSE_WEIGHT,
                  ignore: list[int] = ()) -> np.ndarray:
    """dense_weight·dense + the rest shared by TF-IDF and BM25 (2:1), each divided by its best score.

    The best scores are taken without the ignored rows: the query paper itself would otherwise set the scale
    and silence the word signals. With no vector for the query (dense_weight 0) the words decide alone.
    """
    rest = 1 - dense_weight
    return dense_weight * dense + rest * (TFIDF_WEIGHT * _by_best(tfidf, ignore) +
                                          BM25_WEIGHT * _by_best(bm25, ignore)) / (TFIDF_WEIGHT + BM25_WEIGHT)


def _by_best(scores: np.ndarray, ignore: list[int]) -> np.ndarray:
    """Scores divided by the best one outside the ignored rows (unchanged if none is positive)."""
    out = scores.astype(np.float32)
    if len(out):
        scale = out.copy()
        scale[list(ignore)] = 0
        best = float(scale.max())
        if best > 0:
            out = out / best
    return out


def _update_neighbours(s: Snapshot, rows: np.ndarray, block: int = 1024) -> None:
    """Fold the vectors of `rows` into everyone's top-HUB_K neighbour similarities, and theirs into `rows`.

    Exact for libraries up to HUB_SAMPLE papers; above that, `rows` are compared with a fixed sample.
    """
    if len(rows) == 0 or not s.has_vec.any():
        s.hub = _hub(s.topsim)
        return
    with_vec = np.flatnonzero(s.has_vec)
    others = with_vec if len(with_vec) <= HUB_SAMPLE else np.random.default_rng(0).choice(
        with_vec, HUB_SAMPLE, replace=False)
    fresh = set(rows.tolist())
    for a in range(0, len(rows), block):
        chunk = rows[a:a + block]
        sims = s.matrix[chunk] @ s.matrix[others].T  # (chunk, others)
        sims[chunk[:, None] == others[None, :]] = -np.inf  # not one's own neighbour
        k = min(HUB_K, sims.shape[1])
        top = -np.sort(-np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:], axis=1)
        s.topsim[chunk] = np.nan
        s.topsim[chunk, :k] = np.where(np.isfinite(top), top, np.nan)
        # The new rows are also new neighbours of the papers we knew (fresh rows get theirs in full above).
        old = np.array([j for j, o in enumerate(others) if int(o) not in fresh], dtype=np.int64)
        if len(old) == 0:
            continue
        targets = others[old]
        merged = np.concatenate([np.nan_to_num(s.topsim[targets], nan=-np.inf), sims[:, old].T], axis=1)
        best = -np.sort(-np.partition(merged, merged.shape[1] - HUB_K, axis=1)[:, -HUB_K:], axis=1)
        s.topsim[targets] = np.where(np.isfinite(best), best, np.nan)
    s.hub = _hub(s.topsim)


def _hub(topsim: np.ndarray) -> np.ndarray:
    """Mean of each row's known neighbour similarities (0 where none is known yet)."""
    known = np.isfinite(topsim)
    count = known.sum(axis=1)
    total = np.where(known, topsim, 0).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), 0).astype(np.float32)


def fuse_rrf(a: np.ndarray, b: np.ndarray, depth: int = 100, k: int = RRF_K) -> np.ndarray:
    """Reciprocal rank fusion of two score arrays (-inf = not ranked), over each one's top `depth`."""
    out = np.zeros(len(a), dtype=np.float64)
    for scores in (a, b):
        for rank, i in enumerate(top_k(scores, depth)):
            out[i] += 1.0 / (k + rank + 1)
    return out
