"""The keyword index: each paper's stems and stem pairs, counted once, and the postings that score a text
against every paper (BM25 both ways and TF-IDF cosine) in one pass.

Papers only arrive and leave; nothing is rebuilt for a write:
- a new paper's counted terms are appended to a small delta (a dict of term → postings) and are scored at once;
- a paper that leaves is a dead row (its postings stay until the next compaction, masked out of every answer);
- document frequencies, the paper count and the mean length are kept exact on every write, so BM25 and idf
  are what a fresh build would compute. Only the TF-IDF norms of papers already compacted wait for the next
  compaction (a norm depends on every one of its terms' idf): compact() folds the delta into the main
  compressed postings and recomputes every norm, in a background thread, and is what a fresh build equals.
Term keys are 64-bit hashes that do not change between runs (blake2b of a stem; pairs mixed from their stems'
keys), so the arrays can be saved and loaded as they are.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
from dataclasses import dataclass, field

import numpy as np
import Stemmer

WORD = re.compile(r"(?u)\b[^\W\d_][\w\-]*[^\W_]\b|\b[^\W\d_]{2}\b")
# Lucene's English stop words (EnglishAnalyzer), the list bm25s uses too (test_related checks they agree; bm25s
# itself imports scipy, a fifth of a second that every command would pay for 33 words).
LUCENE_STOP = set("""a an and are as at be but by for if in into is it no not of on or such that the their then
    there these they this to was will with""".split())
# Words every abstract uses: they explain nothing about why two papers are related.
STOP = LUCENE_STOP | set("""paper papers propose proposed proposes show shows shown using based also results result
    approach approaches method methods new however well two one three use used uses present presents work works can may
    et al via different best better less more most over small large larger high higher low lower solely first second
    significantly significant existing state art achieve achieves achieved demonstrate demonstrates experiments
    experimental extensive effective effectively improve improves improved improvement performance novel various
    several many much within across without between often while thus therefore furthermore moreover including
    particular specific recent recently study studies english""".split())
stemmer = Stemmer.Stemmer("english")

BM25_K1, BM25_B = 1.5, 0.75  # Lucene's BM25 (as bm25s computes it, which the tests compare against)
_MAX_TF = np.iinfo(np.uint16).max


def counts(word: str) -> bool:
    """A lower-cased token the index counts (not a stopword, longer than two letters)."""
    return word not in STOP and len(word) > 2


def words(text: str) -> list[str]:
    """Lower-cased content words of a text (no stopwords, no numbers)."""
    return [w for w in WORD.findall(text.lower()) if len(w) > 2 and w not in STOP]  # counts(), inlined


def stems(text: str) -> list[str]:
    """Stemmed content words: what BM25 counts."""
    return stemmer.stemWords(words(text))


# -- term keys -------------------------------------------------------------------------------------------
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_A, _B = np.uint64(0x9E3779B97F4A7C15), np.uint64(0x632BE59BD9B4E019)


@functools.lru_cache(maxsize=1 << 20)
def stem_key(stem: str) -> int:
    """A stem's key: the same in every run (the saved index depends on it)."""
    return int.from_bytes(hashlib.blake2b(stem.encode(), digest_size=8).digest(), "little")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every input bit moves every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def pair_keys(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Keys of stem pairs ("neural network" is not "network neural")."""
    with np.errstate(over="ignore"):
        return _mix(first * _A ^ (second + _B))


def term_key(term: str) -> int:
    """The key of a stem, or of a pair of stems written "a b"."""
    a, _, b = term.partition(" ")
    if not b:
        return stem_key(a)
    return int(pair_keys(np.array([stem_key(a)], dtype=np.uint64), np.array([stem_key(b)], dtype=np.uint64))[0])


# -- counting --------------------------------------------------------------------------------------------
@dataclass
class Counted:
    """Several texts' distinct terms (stems and adjacent stem pairs) with their counts, text after text.

    Text i's terms are keys[ptr[i]:ptr[i + 1]] (sorted), tfs their counts, pair marks the stem pairs;
    length[i] is its number of stems (BM25's document length).
    """

    ptr: np.ndarray
    keys: np.ndarray
    tfs: np.ndarray
    pair: np.ndarray
    length: np.ndarray

    def __len__(self) -> int:
        return len(self.length)

    def doc(self, i: int) -> slice:
        """Where text i's terms are."""
        return slice(int(self.ptr[i]), int(self.ptr[i + 1]))

    @classmethod
    def concat(cls, parts: list["Counted"]) -> "Counted":
        """One Counted of several, in order."""
        parts = [p for p in parts if len(p)]
        if not parts:
            return count([])
        sizes = np.concatenate([np.diff(p.ptr) for p in parts])
        return cls(ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                   keys=np.concatenate([p.keys for p in parts]), tfs=np.concatenate([p.tfs for p in parts]),
                   pair=np.concatenate([p.pair for p in parts]), length=np.concatenate([p.length for p in parts]))


def count(texts: list[str], stemmed: list[list[str]] | None = None) -> Counted:
    """Count the terms of texts (or of their stems, when the caller has them), all at once."""
    lists = stemmed if stemmed is not None else [stems(t) for t in texts]
    length = np.fromiter(map(len, lists), dtype=np.int32, count=len(lists))
    flat = np.fromiter((stem_key(w) for ws in lists for w in ws), dtype=np.uint64, count=int(length.sum()))
    doc = np.repeat(np.arange(len(lists), dtype=np.int64), length)
    same = doc[:-1] == doc[1:]
    keys = np.concatenate([flat, pair_keys(flat[:-1][same], flat[1:][same])])
    docs = np.concatenate([doc, doc[:-1][same]])
    pair = np.concatenate([np.zeros(len(flat), dtype=bool), np.ones(int(same.sum()), dtype=bool)])
    order = np.lexsort((keys, docs))
    keys, docs, pair = keys[order], docs[order], pair[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])
    starts = np.flatnonzero(first)
    tfs = np.diff(np.append(starts, len(keys)))
    per_doc = np.bincount(docs[starts], minlength=len(lists))
    return Counted(ptr=np.concatenate([[0], np.cumsum(per_doc)]).astype(np.int64), keys=keys[starts],
                   tfs=np.minimum(tfs, _MAX_TF).astype(np.uint16), pair=pair[starts], length=length)


def tfidf_idf(df: np.ndarray, n: int) -> np.ndarray:
    """Smoothed idf (as scikit-learn's TfidfVectorizer)."""
    return np.log((1 + n) / (1 + df)) + 1


def bm25_idf(df: np.ndarray, n: int) -> np.ndarray:
    """Lucene's idf."""
    return np.log(1 + (n - df + 0.5) / (df + 0.5))


def tfidf_norms(tfs: np.ndarray, pair: np.ndarray, df: np.ndarray, live: int, doc: np.ndarray, n: int
                ) -> np.ndarray:
    """The l2 norm of each of n texts' TF-IDF weights (sublinear tf × idf over their kept terms), from postings
    given as (tf, is pair, document frequency, text number)."""
    w = (1 + np.log(tfs.astype(np.float32))) * tfidf_idf(df, live).astype(np.float32)
    w = np.where(kept(pair, df), w, 0)
    return np.sqrt(np.bincount(doc, weights=w * w, minlength=n)).astype(np.float32)


def kept(pair: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Terms the TF-IDF cosine counts: every stem, and pairs at least two papers hold (a pair held by one paper
    can only match that paper itself; leaving it out of the norm does not mark down a paper full of phrases)."""
    return ~pair | (df > 1)


@dataclass
class Scores:
    """One text's word signals for every row."""

    keyword: np.ndarray  # BM25 of the text's stems in each paper (+ of each paper's stems in the text, if asked)
    tfidf: np.ndarray  # TF-IDF cosine over stems and pairs (up to the text's own norm; zeros unless asked for)


_SUBLINEAR = (1 + np.log(np.maximum(np.arange(_MAX_TF + 1), 1))).astype(np.float32)  # 1 + log(tf), looked up


# A command scores with numba's loop (kernels.accumulate: 3x numpy's time at 100k papers) only above this many
# postings: below, numpy's loop over the query's terms takes a few milliseconds (2.5 ms on the sample, against
# numba's 0.6), and the command saves numba's import and first call, about a second of CPU. The server loads
# numba's loop in a thread: at once above the size, and at any size once its start-up is done.
COMPILED_ABOVE = 250_000
_compiled_loop = None  # kernels.accumulate, once numba has loaded its machine code in this process
_in_background = False  # the server: numba's loop is loaded in a thread, never in a lookup
_at_any_size = False  # the server, once its start-up is done: numba's loop whatever the index's size
_loading = threading.Lock()
_load_thread: threading.Thread | None = None  # the server's load of numba's loop, while it runs


def load_compiled_in_background() -> None:
    """From now on, a score above COMPILED_ABOVE starts loading numba's loop in a thread, and numpy's loop scores
    until it is ready: for the server, whose readers should never wait the second numba takes to load."""
    global _in_background
    _in_background = True


def use_compiled_at_any_size() -> None:
    """From now on, the server's next score loads numba's loop (in a thread) whatever the index's size: a small
    library's lookups then save their 2 ms too. Called once the server's start-up is done, so that a server that
    lives a few seconds (a test's) never pays numba's second of CPU."""
    global _at_any_size
    _at_any_size = True


def _load_compiled(args: tuple) -> None:
    """Import numba's loop and call it once on a score's arguments (numba loads its machine code for their types
    at the first call), into scratch sums: then make it the loop every score uses."""
    global _compiled_loop
    from .kernels import accumulate  # (compiled: imported at the first score that uses it)

    *inputs, keyword, cos, sublinear = args
    accumulate(*inputs, np.zeros_like(keyword), np.zeros_like(cos), sublinear)
    _compiled_loop = accumulate


def scoring_loop(postings: int, args: tuple):
    """The loop that scores `postings` postings with these arguments: in the server, numba's once a thread has
    loaded it (numpy's meanwhile, and below the size until start-up is done); in a command, numpy's below
    COMPILED_ABOVE and numba's above."""
    global _load_thread
    if _in_background:
        if _compiled_loop is None and (_at_any_size or postings > COMPILED_ABOVE) and \
                _loading.acquire(blocking=False):  # (never released: one load a process)
            _load_thread = threading.Thread(target=_load_compiled, args=(args,), name="numba-load", daemon=True)
            _load_thread.start()
        return _compiled_loop or accumulate_by_term
    if postings <= COMPILED_ABOVE:
        return accumulate_by_term
    if _compiled_loop is None:
        _load_compiled(args)
    return _compiled_loop


def wait_for_background_load(timeout: float | None = None) -> None:
    """Until a load of numba's loop started in a thread is done: a benchmark that times a reader's first click
    after a start waits for the start's own work first (on one core that load took the CPU of the first save)."""
    if _load_thread is not None:
        _load_thread.join(timeout)


def compile_scoring_loop() -> None:
    """Score a small made-up index with numba's loop now, which compiles it (the first time) for the types every
    score passes: search/precompile.py runs it ahead of use."""
    global COMPILED_ABOVE, _in_background
    post = Postings()
    for i in range(40):
        post.append(count([f"paper {i} on sparse experts, routing and attention number {i % 7}"]))
    frozen = post.frozen()
    post.adopt(*Postings.compact(frozen), frozen[2])  # main postings, which the loop scores
    saved = COMPILED_ABOVE, _in_background
    COMPILED_ABOVE, _in_background = -1, False  # as a command above the size: the loop is loaded here, now
    try:
        post.score(stems("sparse experts and their routing"), post.n, symmetric=True)
        # And over postings as a saved index gives them (memory-mapped read-only): numba compiles those types
        # apart, and a fresh install's server compiled them at its first lookups.
        main = post.current[0]
        for name in ("start", "rows", "tfs"):
            read_only = getattr(main, name).copy()
            read_only.setflags(write=False)
            setattr(main, name, read_only)
        post.score(stems("sparse experts and their routing"), post.n, symmetric=True)
    finally:
        COMPILED_ABOVE, _in_background = saved


def accumulate_by_term(start, tids, rows, tfs, k, b_idf, sym_w, qw, n, keyword, cos, sublinear) -> None:
    """kernels.accumulate in numpy, a term at a time: the same operations in the same order, so the same sums."""
    for i, t in enumerate(tids.tolist()):
        if t < 0:
            continue
        r, tf_raw = rows[start[t]:start[t + 1]], tfs[start[t]:start[t + 1]]
        inside = r < n
        r, tf_raw = r[inside], tf_raw[inside]
        tf = tf_raw.astype(np.float32)
        keyword[r] += b_idf[i] * tf / (k[r] + tf) + sym_w[i]  # a paper holds a term once: no row repeats
        cos[r] += qw[i] * sublinear[tf_raw]


def _grown(a: np.ndarray, need: int) -> np.ndarray:
    """`a`, or a copy with room for at least `need` items (capacity doubles: appends cost O(1) each)."""
    if need <= len(a):
        return a
    out = np.zeros(max(need, 2 * len(a), 64), dtype=a.dtype)
    out[:len(a)] = a
    return out


@dataclass
class Main:
    """The compressed postings of rows 0..m-1: by term (ukeys sorted; term t's postings are
    rows/tfs[start[t]:start[t+1]], rows ascending) and by row (row r's terms are
    fwd_tid/fwd_tf[fwd_ptr[r]:fwd_ptr[r+1]]). Never changed once published, except df going down as papers die."""

    m: int = 0
    ukeys: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))
    upair: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    df: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    start: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    tfs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint16))
    fwd_ptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    fwd_tid: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    fwd_tf: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint16))

    ARRAYS = ("ukeys", "upair", "df", "start", "rows", "tfs", "fwd_ptr", "fwd_tid", "fwd_tf")

    def tids(self, keys: np.ndarray) -> np.ndarray:
        """Term numbers of keys (-1 where these postings do not have the key)."""
        if not len(self.ukeys):
            return np.full(len(keys), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.ukeys, keys), len(self.ukeys) - 1)
        return np.where(self.ukeys[at] == keys, at, -1)

    def terms_of(self, row: int) -> np.ndarray:
        """Term numbers of a row's terms."""
        return self.fwd_tid[self.fwd_ptr[row]:self.fwd_ptr[row + 1]]

    @classmethod
    def build(cls, fwd_ptr: np.ndarray, fwd_tid: np.ndarray, fwd_tf: np.ndarray, ukeys: np.ndarray,
              upair: np.ndarray, alive: np.ndarray) -> "Main":
        """Postings by term from postings by row."""
        main = cls(m=len(fwd_ptr) - 1, ukeys=ukeys, upair=upair, fwd_ptr=fwd_ptr, fwd_tid=fwd_tid, fwd_tf=fwd_tf)
        row_of = main.row_of()
        order = np.argsort(fwd_tid, kind="stable")
        main.rows, main.tfs = row_of[order], fwd_tf[order]
        main.start = np.concatenate([[0], np.cumsum(np.bincount(fwd_tid, minlength=len(ukeys)))]).astype(np.int64)
        main.df = np.bincount(fwd_tid[alive[row_of]], minlength=len(ukeys)).astype(np.int32)
        return main

    def row_of(self) -> np.ndarray:
        """The row of every by-row posting."""
        return np.repeat(np.arange(self.m, dtype=np.int32), np.diff(self.fwd_ptr))

    def norms(self, live: int) -> np.ndarray:
        """Every row's TF-IDF norm, with these document frequencies and `live` papers."""
        return tfidf_norms(self.fwd_tf, self.upair[self.fwd_tid], self.df[self.fwd_tid], live, self.row_of(),
                           self.m)


class Postings:
    """The keyword index over rows 0..n-1 (a row is one paper's text; rows only ever get added or die).

    Rows below main.m are in the compressed main postings; rows from there on are in the delta (term key →
    [rows, tfs, live count, is pair]), with their counted texts in delta_docs. Readers take `current`, one
    (main, delta) pair, and read it without a lock; writers (under the index's lock) append to the delta,
    and a compaction publishes a new pair in one assignment.
    """

    def __init__(self):
        self.n = 0
        self.live = 0
        self.live_length = 0  # sum of the live rows' lengths (for the mean)
        self.alive = np.zeros(0, dtype=bool)
        self.length = np.zeros(0, dtype=np.int32)
        self.norm = np.zeros(0, dtype=np.float32)
        self.current: tuple[Main, dict[int, list]] = (Main(), {})
        self.delta_docs: list[tuple[int, Counted]] = []
        self._k_cache: tuple[int, float, np.ndarray] | None = None

    @property
    def main(self) -> Main:
        return self.current[0]

    @property
    def m(self) -> int:
        return self.current[0].m

    # -- statistics --------------------------------------------------------------------------------------
    @property
    def avgdl(self) -> float:
        """Mean length of the live papers (1 when there are none)."""
        return self.live_length / self.live if self.live else 1.0

    @staticmethod
    def _doc_freqs(main: Main, delta: dict, keys: np.ndarray) -> np.ndarray:
        tids = main.tids(keys)
        df = np.where(tids >= 0, main.df[np.maximum(tids, 0)] if len(main.df) else 0, 0).astype(np.int64)
        if delta:
            df += np.fromiter((delta[k][2] if k in delta else 0 for k in keys.tolist()), dtype=np.int64,
                              count=len(keys))
        return df

    def doc_freqs(self, keys: np.ndarray) -> np.ndarray:
        """Live papers holding each key."""
        return self._doc_freqs(*self.current, keys)

    def df_of(self, term: str) -> int:
        """How many live papers hold a stem (or a pair "a b")."""
        return int(self.doc_freqs(np.array([term_key(term)], dtype=np.uint64))[0])

    # -- writes (under the index's lock) --------------------------------------------------------------------
    def append(self, c: Counted, delta: bool = True) -> range:
        """Add rows for counted texts; return their row numbers. Their norms use today's idf. With delta False
        (many rows at once) they are only staged: score() does not see them until compacted."""
        first = self.n
        rows = range(first, first + len(c))
        if not len(c):
            return rows
        n = first + len(c)
        self.alive = _grown(self.alive, n)
        self.length = _grown(self.length, n)
        self.norm = _grown(self.norm, n)
        self.alive[first:n] = True
        self.length[first:n] = c.length
        self.delta_docs.append((first, c))
        if delta:
            _add_to_delta(self.current[1], first, c, self.alive)
        self.live += len(c)
        self.live_length += int(c.length.sum())
        if delta:
            self.norm[first:n] = self._norms_of(c)
        self.n = n  # last: a reader that sees the rows sees them whole
        return rows

    def _norms_of(self, c: Counted) -> np.ndarray:
        """TF-IDF norms of counted texts (over their kept terms, with today's document frequencies)."""
        doc = np.repeat(np.arange(len(c)), np.diff(c.ptr))
        return tfidf_norms(c.tfs, c.pair, self.doc_freqs(c.keys), self.live, doc, len(c))

    def kill(self, row: int) -> None:
        """A row's paper left (deleted, trashed, or its text changed: the new text is a new row)."""
        if not self.alive[row]:
            return
        self.alive[row] = False
        self.live -= 1
        self.live_length -= int(self.length[row])
        main, delta = self.current
        if row < main.m:
            np.subtract.at(main.df, main.terms_of(row), 1)
        else:
            c, i = self._delta_doc(row)
            for key in c.keys[c.doc(i)].tolist():
                delta[key][2] -= 1

    def _delta_doc(self, row: int) -> tuple[Counted, int]:
        """The delta's counted texts holding a row, and the row's place in them."""
        for first, c in reversed(self.delta_docs):
            if row >= first:
                return c, row - first
        raise KeyError(row)

    # -- compaction ----------------------------------------------------------------------------------------
    def frozen(self) -> tuple[Main, list[tuple[int, Counted]], np.ndarray, int]:
        """What compact() reads, fixed now (under the lock; cheap: arrays are shared, and writers only append
        or lower df counts, which compact() does not read)."""
        return self.main, list(self.delta_docs), self.alive[:self.n].copy(), self.live

    @staticmethod
    def compact(frozen: tuple[Main, list[tuple[int, Counted]], np.ndarray, int]) -> tuple[Main, np.ndarray]:
        """Main postings with the delta folded in, and every row's norm recomputed: a fresh build's numbers.
        Runs outside the lock; adopt() publishes the result."""
        old, docs, alive, live = frozen
        delta = Counted.concat([c for _, c in docs])
        new_keys, first = np.unique(delta.keys, return_index=True)
        ukeys = np.union1d(old.ukeys, new_keys)
        upair = np.zeros(len(ukeys), dtype=bool)
        upair[np.searchsorted(ukeys, old.ukeys)] = old.upair
        upair[np.searchsorted(ukeys, new_keys)] = delta.pair[first]
        main_tid = np.searchsorted(ukeys, old.ukeys)[old.fwd_tid]
        fwd_ptr = np.concatenate([old.fwd_ptr, old.fwd_ptr[-1] + delta.ptr[1:]])
        fwd_tid = np.concatenate([main_tid, np.searchsorted(ukeys, delta.keys)]).astype(np.int32)
        fwd_tf = np.concatenate([old.fwd_tf, delta.tfs])
        main = Main.build(fwd_ptr, fwd_tid, fwd_tf, ukeys, upair, alive)
        return main, main.norms(live)

    def adopt(self, main: Main, norms: np.ndarray, alive_then: np.ndarray) -> None:
        """Publish compacted postings (under the lock). Rows added since they were made stay in a new, small
        delta; rows killed since (alive in `alive_then`, what they were made from) leave their counts."""
        for row in np.flatnonzero(alive_then & ~self.alive[:main.m]):
            np.subtract.at(main.df, main.terms_of(row), 1)
        since = [(first, c) for first, c in self.delta_docs if first >= main.m]
        delta: dict[int, list] = {}
        for first, c in since:
            _add_to_delta(delta, first, c, self.alive)
        self.norm[:main.m] = norms
        self.delta_docs = since
        self.current = (main, delta)

    # -- scoring -------------------------------------------------------------------------------------------
    def score(self, stemmed: list[str], n: int, symmetric: bool = False, tfidf: bool = True) -> Scores:
        """BM25 of a text's stems in every row below n (plus, if `symmetric`, each paper's stems in the text)
        and, if `tfidf`, the TF-IDF cosine over stems and pairs."""
        main, delta = self.current
        q = count([], stemmed=[stemmed])
        if not len(q.keys) or not n:
            return Scores(np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32))
        df = self._doc_freqs(main, delta, q.keys)
        use = (df > 0) & (kept(q.pair, df) if tfidf else ~q.pair)
        keys, qtf, pair, df = q.keys[use], q.tfs[use].astype(np.float64), q.pair[use], df[use]
        live, avgdl = self.live, self.avgdl
        b_idf = np.where(~pair, bm25_idf(df, live), 0).astype(np.float32)
        sym_w = np.zeros(len(keys), dtype=np.float32)
        if symmetric:
            # Each paper's stems in the text: the text is the document (its own length), a paper the query.
            norm = BM25_K1 * (1 - BM25_B + BM25_B * int(q.length.sum()) / max(avgdl, 1e-9))
            sym_w = (b_idf * qtf * (BM25_K1 + 1) / (qtf + norm)).astype(np.float32)
        qw = ((1 + np.log(qtf)) * tfidf_idf(df, live) ** 2).astype(np.float32) if tfidf else \
            np.zeros(len(keys), dtype=np.float32)
        k = self._length_norms(n, avgdl)
        keyword, cos = np.zeros(n, dtype=np.float32), np.zeros(n, dtype=np.float32)
        args = (main.start, main.tids(keys), main.rows, main.tfs, k, b_idf, sym_w, qw, n, keyword, cos, _SUBLINEAR)
        scoring_loop(len(main.rows), args)(*args)
        for t, key in enumerate(keys.tolist() if delta else ()):
            entry = delta.get(key)
            if entry:
                # tfs first: a writer appends a row, then its tf, so there are never fewer rows than tfs.
                tfs = np.asarray(entry[1], dtype=np.float32)
                rows = np.asarray(entry[0][:len(tfs)], dtype=np.int64)
                inside = rows < n
                rows, tfs = rows[inside], tfs[inside]
                keyword[rows] += b_idf[t] * tfs / (k[rows] + tfs) + sym_w[t]  # a paper holds a term once
                cos[rows] += qw[t] * (1 + np.log(tfs))
        if tfidf:
            cos /= np.maximum(self.norm[:n], 1e-12)
        return Scores(keyword=keyword, tfidf=cos)

    def _length_norms(self, n: int, avgdl: float) -> np.ndarray:
        """BM25's k1·(1 - b + b·dl/avgdl) of every row below n (kept until a write changes n or the mean)."""
        cached = self._k_cache
        if cached is not None and cached[0] == n and cached[1] == avgdl:
            return cached[2]
        k = (BM25_K1 * (1 - BM25_B + BM25_B * self.length[:n] / avgdl)).astype(np.float32)
        self._k_cache = (n, avgdl, k)
        return k

    # -- saving --------------------------------------------------------------------------------------------
    ARRAYS = (*Main.ARRAYS, "alive", "length", "norm")

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything a compacted index is, as arrays (the delta is not saved: compact first)."""
        main = self.main
        assert main.m == self.n, "only a compacted index is saved"
        out = {name: getattr(main, name) for name in Main.ARRAYS}
        out.update(alive=self.alive[:self.n], length=self.length[:self.n], norm=self.norm[:self.n])
        return out

    @classmethod
    def from_arrays(cls, a) -> "Postings":
        """A compacted index saved by arrays()."""
        p = cls()
        main = Main(**{name: np.asarray(a[name]) for name in Main.ARRAYS})
        main.m = len(main.fwd_ptr) - 1
        p.alive, p.length, p.norm = (np.array(a[name]) for name in ("alive", "length", "norm"))  # changed in place
        p.n = main.m
        p.live = int(p.alive.sum())
        p.live_length = int(p.length[p.alive].sum())
        p.current = (main, {})
        return p

    def subset(self, keep: np.ndarray) -> "Postings":
        """A compacted copy holding only these live rows, renumbered in order (what is saved)."""
        main = self.main
        assert main.m == self.n, "compact first"
        keep = np.asarray(keep, dtype=np.int64)
        sizes = np.diff(main.fwd_ptr)[keep]
        idx = np.repeat(main.fwd_ptr[keep] - np.concatenate([[0], np.cumsum(sizes)[:-1]]), sizes) + \
            np.arange(int(sizes.sum()))
        alive = np.ones(len(keep), dtype=bool)
        sub = Main.build(np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64), main.fwd_tid[idx],
                         main.fwd_tf[idx], main.ukeys, main.upair, alive)
        p = Postings()
        p.n, p.alive, p.length = len(keep), alive, self.length[keep].copy()
        p.live, p.live_length = len(keep), int(p.length.sum())
        p.norm = sub.norms(p.live)
        p.current = (sub, {})
        return p


def _add_to_delta(delta: dict[int, list], first: int, c: Counted, alive: np.ndarray) -> None:
    """Put counted texts (rows first, first+1, ...) into a delta."""
    doc_of = np.repeat(np.arange(first, first + len(c)), np.diff(c.ptr))
    live = alive[doc_of]
    for key, row, tf, pair, is_live in zip(c.keys.tolist(), doc_of.tolist(), c.tfs.tolist(), c.pair.tolist(),
                                           live.tolist()):
        entry = delta.get(key)
        if entry is None:
            delta[key] = [[row], [tf], int(is_live), pair]
        else:
            entry[0].append(row)
            entry[1].append(tf)
            entry[2] += is_live
