"""The in-memory index that answers lookups: a dense matrix of unit vectors and the keyword postings.

The store is the truth; the index follows it paper by paper. Every write notes the papers it touched
(Store.take_changes); the index reads just those back and gives each a new row, kills its old one, or updates
its tags and vector in place, so a save costs one paper's work, not a rebuild (postings.py keeps the word
statistics exact as rows come and go). Lookups read a Snapshot: the rows that existed when it was taken.
What is slow to recompute (counted terms, postings, neighbour statistics, the vectors) is saved to
`index/` beside the library and checked against the store when loaded; a lost or stale copy costs time, never
data. Exact cosine over the numpy matrix is 3 ms at 100k papers here: no approximate index is needed there.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import json
import logging
import re
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ..models import Filters, PaperBrief
from ..store import embed_text
from . import binary
from .postings import STOP, WORD, Counted, Postings, count, stemmer, stems, term_key
from .postings import counts as _counts

log = logging.getLogger(__name__)

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
# A search query is short: it is ranked by reciprocal rank fusion, which needs no score calibration.
RRF_K = 60
# A related paper is "loosely related" when its cosine to the query is under LOOSE_COSINE or its score under
# LOOSE_SHARE of the best one's. With MiniLM, papers on one topic sit at cosine 0.5-0.7 and a paper from another
# field at 0.2-0.45 (measured on the sample library: an AlphaFold abstract's best match there is 0.43).
LOOSE_COSINE, LOOSE_SHARE = 0.45, 0.5
# A why-term is held by at most this share of the library's papers: a term most papers share explains nothing.
WHY_MAX_SHARE = 0.1
# Rows waiting in the postings' delta before a write folds them in itself (below: a background compaction
# COMPACT_AFTER seconds after the last write does it, so an idle library always has a fresh build's numbers).
DELTA_ROWS, DELTA_SHARE = 2_000, 0.05
COMPACT_AFTER = 20.0
CHUNK = 2_000  # papers read, counted and appended at a time
# Above this many papers the vector scan reads compressed vectors first (binary.py; exact numpy costs 3 ms at
# 100k, 30 ms at 1M): every row gets the cosine its sign bits estimate, the nearest 5% their int8 one, the
# RERANK best of those their exact one, and related() re-ranks its RERANK best by the exact fusion. Below it,
# every cosine is exact.
BINARY_ABOVE = 300_000
RERANK = 2_000
CACHE_FORMAT = 1
_WRITTEN = {"matrix", "df"}  # saved arrays changed in place after loading


def _meta(row: tuple) -> tuple:
    """What Briefs needs of a Store.texts() row: (id, title, year, tags, authors, venue, url)."""
    pid, title, _, year, tags, authors, venue, url, _ = row
    return pid, title, year, tags, authors, venue, url


def give_back_memory() -> None:
    """Return freed heap to the system (glibc keeps it otherwise: a load's or compaction's temporaries stayed
    resident, 120 MB at 100k papers). Nothing where there is no glibc."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _grown(a: np.ndarray, need: int, fill=0, exact: bool = False) -> np.ndarray:
    """`a`, or a copy with room for `need` rows (capacity doubles, so appending costs O(1) a row; `exact`: just
    `need`). Only the new rows are filled: the old ones are copied over once."""
    if need <= len(a):
        return a
    out = np.empty((need if exact else max(need, 2 * len(a), 64),) + a.shape[1:], dtype=a.dtype)
    out[:len(a)] = a
    out[len(a):] = fill
    return out


ROOM = 8  # after a load, room is made for n / ROOM more rows (at least MIN_ROOM): see Index.make_room
MIN_ROOM = 1024


class Briefs:
    """Each row's PaperBrief, made when asked for (a lookup needs ten; making 100,000 at start-up took 0.7 s)."""

    def __init__(self, meta: list[tuple], refs: dict[str, list[str]]):
        self.meta, self.refs = meta, refs  # meta: (id, title, year, tags, authors, venue, url) per row

    def __getitem__(self, r: int) -> PaperBrief:
        pid, title, year, tags, authors, venue, url = self.meta[r]
        return PaperBrief(id=pid, title=title, authors=list(authors), year=year, venue=venue, url=url,
                          tags=list(tags), identifiers=list(self.refs.get(pid, ())))


@dataclass
class Snapshot:
    """The rows that existed when it was taken, for one lookup. Rows are never renumbered while the process
    runs, so the lists are shared with the index (only ever appended to); a dead row is a paper that left."""

    n: int = 0
    ids: list[str] = field(default_factory=list)
    pos: dict[str, int] = field(default_factory=dict)  # live rows (may hold newer rows: use row())
    texts: list[str] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    briefs: Briefs = field(default_factory=lambda: Briefs([], {}))
    years: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    alive: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    has_vec: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # live rows with a vector
    hub: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    codes: binary.Compressed | None = None  # the vectors compressed (libraries above BINARY_ABOVE)
    words: Postings = field(default_factory=Postings)
    version: int = 0  # changes with every write the index applies (caches key on it)

    def __len__(self) -> int:
        return self.n

    def row(self, pid: str) -> int | None:
        """The live row of a paper in this snapshot."""
        r = self.pos.get(pid)
        return r if r is not None and r < self.n and self.alive[r] else None


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

    def __init__(self, store, model_id: str, cache_dir: Path | str | None = None):
        self.store = store
        self.model_id = model_id
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._lock = threading.RLock()  # held briefly: appending rows, taking a snapshot
        self._apply_lock = threading.RLock()  # one thread at a time applies changes or compacts
        self._writers = 0  # writes under way (see writing())
        self._writers_lock = threading.Lock()
        self._loaded = False
        self._saved_version = -1
        self.loaded_from_saved = 0  # rows the last load took from the saved copy (the rest were counted again)
        self._timer: threading.Timer | None = None
        self._reset()

    def _reset(self) -> None:
        self.words = Postings()
        self.n = 0
        self.ids: list[str] = []
        self.texts: list[str] = []
        self.hashes: list[str] = []
        self.tags: list[list[str]] = []
        self.meta: list[tuple] = []
        self.refs: dict[str, list[str]] = {}
        self.briefs = Briefs(self.meta, self.refs)
        self.pos: dict[str, int] = {}
        self.years = np.zeros(0, dtype=np.int32)
        self.matrix = np.zeros((0, 0), dtype=np.float32)
        self.has_vec = np.zeros(0, dtype=bool)
        self.topsim = np.zeros((0, HUB_K), dtype=np.float32)
        self.hub = np.zeros(0, dtype=np.float32)
        self.codes: binary.Compressed | None = None  # kept once the library passes BINARY_ABOVE
        self.version = 0

    # -- keeping in step with the store ---------------------------------------------------------------
    def writing(self) -> "_Writing":
        """Around a write: lookups meanwhile use the rows from before it, and the write ends by applying its
        changes in its own thread, so a lookup never waits for an import and sees every finished write."""
        return _Writing(self)

    def snapshot(self, wait: bool = False) -> Snapshot:
        """The rows as of now: loaded first if need be, with every finished write applied (a write under way
        applies its own changes when it ends: until then, lookups see the rows from before it)."""
        if not self._loaded:
            self.refresh()  # nothing to answer from yet: wait for the load
        elif wait or not self._writers:
            # Another thread applying a write (an import's many papers) or compacting: answer from the rows
            # as they are rather than wait; that thread's own lookups see its write when it is done.
            if self._apply_lock.acquire(blocking=wait):
                try:
                    self.refresh()
                finally:
                    self._apply_lock.release()
        with self._lock:
            n = self.n
            if n > BINARY_ABOVE and self.codes is None and self.matrix.shape[1]:
                self.codes = binary.Compressed(self.matrix[:len(self.years)])
            alive = self.words.alive[:n]
            return Snapshot(n=n, ids=self.ids, pos=self.pos, texts=self.texts, tags=self.tags, briefs=self.briefs,
                            years=self.years[:n], alive=alive, matrix=self.matrix[:n],
                            has_vec=self.has_vec[:n] & alive, hub=self.hub[:n], words=self.words,
                            codes=self.codes.view(n) if self.codes is not None and n > BINARY_ABOVE else None,
                            version=self.version)

    def refresh(self) -> None:
        """Load the index if it is not, else apply the papers the store changed since the last call."""
        with self._apply_lock:
            if not self._loaded:
                self.store.take_changes()  # a load reads everything
                self._load()
                self._loaded = True
                return
            changed = self.store.take_changes()
            if changed:
                self._apply(sorted(changed))

    def _apply(self, pids: list[str]) -> None:
        """Bring these papers' rows in step with the store. Many new rows (an import) go straight into the main
        postings by a compaction before lookups see them; a few go into the delta and are seen at once."""
        bulk = len(pids) > DELTA_ROWS
        staged = []
        for a in range(0, len(pids), CHUNK):
            chunk = pids[a:a + CHUNK]
            live = {r[0]: r for r in self.store.texts(chunk)}
            refs = self.store.identifiers(chunk)
            # A vector to read: a new text, or a paper still waiting for one (a tag edit needs none).
            need = [p for p in chunk if p in live and not ((r := self.pos.get(p)) is not None and
                                                           self.hashes[r] == live[p][8] and self.has_vec[r])]
            need = self.store.may_have_vectors(need)  # (a paper just saved without one has none to read)
            vids, vecs = self.store.vectors(self.model_id, need) if need else ([], [])
            kill, same, new = [], [], []
            for pid in chunk:
                r, row = self.pos.get(pid), live.get(pid)
                if r is not None and (row is None or self.hashes[r] != row[8]):
                    kill.append(r)
                if row is not None:
                    (same if r is not None and self.hashes[r] == row[8] else new).append(row)
            counted = count([embed_text(r[1], r[2]) for r in new])  # the slow part, outside the lock
            change = (chunk, refs, kill, same, new, counted, dict(zip(vids, vecs)))
            if bulk:
                with self._lock:
                    self.words.append(counted, delta=False)  # not seen until compacted and published below
                staged.append(change)
            else:
                self._publish(*change)
        if bulk:
            self.compact()
            for change in staged:
                self._publish(*change, in_postings=True)
        elif self.words.n > self.words.m:
            if self.words.n - self.words.m > max(DELTA_ROWS, DELTA_SHARE * self.words.n):
                self.compact()
            else:
                self._compact_later()

    def _publish(self, chunk: list[str], refs: dict, kill: list[int], same: list[tuple], new: list[tuple],
                 counted: Counted, vec: dict[str, np.ndarray], in_postings: bool = False) -> None:
        """One chunk of changes, made visible to lookups at once (under the lock)."""
        with self._lock:
            for pid in chunk:
                if pid in refs:
                    self.refs[pid] = refs[pid]
                else:
                    self.refs.pop(pid, None)
            gone = [r for r in kill if self.has_vec[r]]
            for r in kill:
                self.words.kill(r)
                if self.pos.get(self.ids[r]) == r:
                    del self.pos[self.ids[r]]
            if gone:
                self._forget(self.matrix[gone])
            for row in same:
                self._set_fields(self.pos[row[0]], row)
            self._append(new, None if in_postings else counted)
            self._put_vectors([(self.pos[pid], v) for pid, v in vec.items()
                               if not self.has_vec[self.pos[pid]] or not np.array_equal(self.matrix[self.pos[pid]], v)])
            self.version += 1

    def _set_fields(self, r: int, row: tuple) -> None:
        """A row's fields other than its text (tags, authors...) from a Store.texts() row."""
        self.tags[r] = row[4]
        self.years[r] = row[3] if row[3] is not None else -1
        self.meta[r] = _meta(row)

    def _append(self, rows: list[tuple], counted: Counted | None) -> range:
        """New rows for these store rows, their texts counted already (None: in the postings already); under
        the lock."""
        first, n = self.n, self.n + len(rows)
        if not rows:
            return range(first, first)
        self.years = _grown(self.years, n, -1)
        self.has_vec = _grown(self.has_vec, n, False)
        self.topsim = _grown(self.topsim, n, np.nan)
        self.hub = _grown(self.hub, n)
        if self.matrix.shape[1]:
            self.matrix = _grown(self.matrix, n)
        if counted is not None:
            self.words.append(counted)
        for i, row in enumerate(rows, start=first):
            self.ids.append(row[0])
            self.texts.append(embed_text(row[1], row[2]))
            self.hashes.append(row[8])
            self.tags.append([])
            self.meta.append(())
            self._set_fields(i, row)
            self.pos[row[0]] = i
        self.n = n  # last: a snapshot that sees the rows sees them whole
        return range(first, n)

    def _put_vectors(self, rows: list[tuple[int, np.ndarray]]) -> None:
        """Vectors into their rows, and the neighbour statistics they change; under the lock."""
        if not rows:
            return
        dim = len(rows[0][1])
        if self.matrix.shape[1] != dim:  # the first vectors (or a new model): the matrix gets its width
            self.matrix = np.zeros((max(len(self.years), 1), dim), dtype=np.float32)
            self.has_vec[:] = False
            self.topsim[:] = np.nan
        self.matrix = _grown(self.matrix, len(self.years))
        idx = np.array([r for r, _ in rows], dtype=np.int64)
        replaced = idx[self.has_vec[idx]]
        if len(replaced):  # a paper's vector changed: its old one leaves its neighbours' lists first
            gone = self.matrix[replaced].copy()
            self.has_vec[replaced] = False
            self._forget(gone)
        self.matrix[idx] = np.stack([v for _, v in rows])
        if self.codes is not None:
            self.codes.put(idx, self.matrix[idx], len(self.years))
        self.has_vec[idx] = True
        self.topsim[idx] = np.nan
        self._update_neighbours(idx)

    def set_vectors(self, pids: list[str], vecs: np.ndarray) -> None:
        """New vectors for papers (from the embedding worker), written into their rows in place."""
        with self._apply_lock, self._lock:
            self._put_vectors([(self.pos[p], np.asarray(v, dtype=np.float32)) for p, v in zip(pids, vecs)
                               if p in self.pos])
            self.version += 1

    def make_room(self) -> bool:
        """Room for n / ROOM more rows (at least MIN_ROOM) in every per-row array, made off the lookups' path: a
        save then writes into room made beforehand. Without it, the first save after a start copied every array
        to double it (0.4-0.6 s at 100,000 papers, a user's first click each morning). The copies are made
        outside the lock and put in place only if no write came meanwhile (then it tries again). Made room?"""
        for _ in range(3):
            with self._lock:
                version, n, cap, codes = self.version, self.n, len(self.years), self.codes
                arrays = (self.years, self.has_vec, self.topsim, self.hub, self.matrix)
            want = n + max(MIN_ROOM, n // ROOM)
            if want <= cap:
                return False
            years, has_vec, topsim, hub, matrix = (
                _grown(a, want, fill, exact=True) if a.ndim == 1 or a.shape[1] else a
                for a, fill in zip(arrays, (-1, False, np.nan, 0, 0)))
            room = codes.grown(want) if codes is not None else None
            with self._lock:
                if self.version == version and self.codes is codes and len(self.years) == cap:
                    self.years, self.has_vec, self.topsim, self.hub, self.matrix = years, has_vec, topsim, hub, matrix
                    self.codes = room
                    return True
        return False

    def _forget(self, gone: np.ndarray) -> None:
        """Vectors that left the library (dead rows, replaced vectors) leave every neighbour list they were in."""
        n = self.n
        _forget_neighbours(self.matrix[:n], self.has_vec[:n] & self.words.alive[:n], self.topsim[:n], gone)
        self.hub = _grown(_hub(self.topsim[:n]), len(self.years))

    def _update_neighbours(self, rows: np.ndarray) -> None:
        """Neighbour statistics for new vectors (see _neighbour_stats_updated below)."""
        n = self.n
        live_vec = self.has_vec[:n] & self.words.alive[:n]
        self.hub = _grown(_neighbour_stats_updated(self.matrix[:n], live_vec, self.topsim[:n], rows), len(self.years))

    # -- compaction and the saved copy ----------------------------------------------------------------
    def compact(self) -> None:
        """Fold the postings' delta into its main part and refresh every norm (outside the lock)."""
        with self._apply_lock:
            if self._timer:
                self._timer.cancel()
            with self._lock:
                frozen = self.words.frozen()
            if frozen[0].m == self.words.n and not frozen[1]:
                return
            main, norms = Postings.compact(frozen)
            with self._lock:
                self.words.adopt(main, norms, frozen[2])
                self.version += 1
            del main, norms, frozen
            give_back_memory()

    def _compact_later(self) -> None:
        """A compaction COMPACT_AFTER seconds after the last write (then the saved copy is brought up to date)."""
        if self._timer:
            self._timer.cancel()
        self._timer = threading.Timer(COMPACT_AFTER, self._idle)
        self._timer.daemon = True
        self._timer.start()

    def _idle(self) -> None:
        try:
            self.compact()
            self.save()
        except Exception:  # the index in memory is right; only the saved copy is older
            log.exception("background compaction failed")

    def close(self) -> None:
        """Stop the background compaction; save the index if it changed since it was loaded or saved."""
        if self._timer:
            self._timer.cancel()
        if self._loaded and self.version != self._saved_version:
            self.compact()
            self.save()

    def save(self) -> None:
        """Write the index to cache_dir (a new directory, then renamed: a crash leaves the old copy or none)."""
        if not self.cache_dir or not self._loaded:
            return
        with self._apply_lock:
            with self._lock:
                if self.words.m != self.words.n:
                    raise RuntimeError("compact before saving")
                n, version = self.n, self.version
                arrays = self.words.arrays()
                arrays.update(matrix=self.matrix[:n], has_vec=self.has_vec[:n], topsim=self.topsim[:n],
                              ids=np.array(self.ids[:n], dtype=bytes), hashes=np.array(self.hashes[:n], dtype=bytes))
                meta = dict(format=CACHE_FORMAT, model_id=self.model_id, rows=n)
            tmp = self.cache_dir.with_name(self.cache_dir.name + ".new")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            for name, a in arrays.items():
                np.save(tmp / f"{name}.npy", a)
            (tmp / "meta.json").write_text(json.dumps(meta))
            old = self.cache_dir.with_name(self.cache_dir.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.cache_dir.exists():
                self.cache_dir.rename(old)
            tmp.rename(self.cache_dir)
            shutil.rmtree(old, ignore_errors=True)
            self._saved_version = version

    def _read_saved(self) -> dict | None:
        """The saved index, if there is one this version can read."""
        if not self.cache_dir or not (self.cache_dir / "meta.json").exists():
            return None
        try:
            meta = json.loads((self.cache_dir / "meta.json").read_text())
            if meta.get("format") != CACHE_FORMAT:
                return None
            # Mapped, not read: the pages come in as lookups touch them (the matrix copy-on-write, since rows
            # get new vectors in place), so start-up does not wait for 400 MB at 100k papers.
            out = {p.stem: np.asarray(np.load(p, mmap_mode="c" if p.stem in _WRITTEN else "r"))
                   for p in self.cache_dir.glob("*.npy")}
            out["meta"] = meta
            need = set(Postings.ARRAYS) | {"matrix", "has_vec", "topsim", "ids", "hashes"}
            if need - out.keys() or any(len(out[name]) != meta["rows"] for name in
                                        ("ids", "hashes", "alive", "has_vec", "topsim", "matrix")):
                raise ValueError(f"missing or short arrays: {sorted(need - out.keys())}")
            return out
        except (OSError, ValueError, KeyError) as e:
            log.warning("the saved index in %s is unreadable (%s): building it again", self.cache_dir, e)
            return None

    def _load(self) -> None:
        """Every live paper: from the saved index where it still matches the store, the rest read and counted."""
        # Hundreds of thousands of new tuples and lists, none of them garbage: the cyclic collector would walk
        # them again and again while they are made (a third of the load's time at 100k papers).
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load_all()
        finally:
            if collecting:
                gc.enable()

    def _load_all(self) -> None:
        t = time.perf_counter()
        self._reset()
        rows = self.store.texts()
        self.refs.update(self.store.identifiers())
        saved = self._read_saved()
        vector_hash = self.store.vector_hashes(self.model_id)
        live = {r[0]: r for r in rows}
        kept: list[int] = []
        if saved is not None:
            saved["ids"] = saved["ids"].astype(str)
            saved["hashes"] = saved["hashes"].astype(str)
            for i, (pid, h) in enumerate(zip(saved["ids"].tolist(), saved["hashes"].tolist())):
                if pid in live and live[pid][8] == h and saved["alive"][i]:
                    kept.append(i)
        with self._lock:
            if kept:
                words = Postings.from_arrays(saved)
                if len(kept) < len(saved["ids"]):
                    words = words.subset(np.array(kept))
                self.words = words
                keep = np.array(kept)
                self.n = len(kept)
                self.ids = saved["ids"][keep].tolist()
                self.hashes = saved["hashes"][keep].tolist()
                self.pos = {pid: i for i, pid in enumerate(self.ids)}
                mine = [live[pid] for pid in self.ids]
                self.texts[:] = [embed_text(r[1], r[2]) for r in mine]
                self.tags[:] = [r[4] for r in mine]
                self.meta[:] = [_meta(r) for r in mine]
                self.years = np.array([-1 if r[3] is None else r[3] for r in mine], dtype=np.int32)
                same_model = saved["meta"].get("model_id") == self.model_id and saved["matrix"].ndim == 2
                self.has_vec = np.zeros(self.n, dtype=bool)
                self.topsim = np.full((self.n, HUB_K), np.nan, dtype=np.float32)
                if same_model and saved["matrix"].shape[1]:
                    good = np.array([vector_hash.get(pid) == h for pid, h in zip(self.ids, self.hashes)]) & \
                        np.asarray(saved["has_vec"])[keep]
                    self.matrix = saved["matrix"] if len(kept) == len(saved["ids"]) else saved["matrix"][keep]
                    self.has_vec = good
                    self.topsim = np.where(good[:, None], saved["topsim"][keep], np.nan).astype(np.float32)
                    dropped = np.setdiff1d(np.flatnonzero(np.asarray(saved["has_vec"])), keep)
                    if len(dropped):  # saved papers that left: out of the neighbour lists they were in
                        self._forget(np.asarray(saved["matrix"][dropped]))
                self.hub = _hub(self.topsim)
        # Papers the saved index did not have (or had with another text): read, counted, compacted in, shown.
        missing = [r for r in rows if r[0] not in self.pos]
        for a in range(0, len(missing), CHUNK):
            part = count([embed_text(r[1], r[2]) for r in missing[a:a + CHUNK]])
            with self._lock:
                self.words.append(part, delta=False)
        self.compact()
        with self._lock:
            self._append(missing, None)
        # Vectors the saved index did not have.
        want = [pid for i, pid in enumerate(self.ids) if not self.has_vec[i] and vector_hash.get(pid) == self.hashes[i]]
        for a in range(0, len(want), 20_000):
            vids, vecs = self.store.vectors(self.model_id, want[a:a + 20_000])
            with self._lock:
                self._put_vectors([(self.pos[p], v) for p, v in zip(vids, vecs)])
        with self._lock:
            self.version += 1
        self.loaded_from_saved = len(kept)
        give_back_memory()
        log.info("index of %d papers ready in %.2f s (%d from the saved copy)", self.n, time.perf_counter() - t,
                 len(kept))
        if missing or want or len(kept) != (len(saved["ids"]) if saved else 0):
            self._compact_later()  # and save
        else:
            self._saved_version = self.version  # the saved copy is this index: closing need not write it again

    # -- scoring ----------------------------------------------------------------------------------------
    def _dense(self, s: Snapshot, qvec: np.ndarray | None) -> np.ndarray:
        """Cosine of every row to the query vector (0 for rows without a vector); above BINARY_ABOVE papers,
        estimated from sign bits, from int8 for the nearest 5%, and exact for the RERANK nearest of those."""
        if qvec is None or not s.has_vec.any() or s.matrix.shape[1] != len(qvec):
            return np.zeros(len(s), dtype=np.float32)
        qvec = qvec.astype(np.float32)
        if s.codes is None:
            sims = s.matrix @ qvec
        else:
            sims, near = s.codes.cosines(qvec, least=RERANK)
            best = near[np.argpartition(-sims[near], RERANK - 1)[:RERANK]] if len(near) > RERANK else near
            sims[best] = s.matrix[best] @ qvec
        return np.where(s.has_vec, sims, 0.0).astype(np.float32)

    def _keyword(self, s: Snapshot, toks: list[str], symmetric: bool = False) -> np.ndarray:
        """BM25 score of every row for a text's distinct stems; symmetric adds the paper→text direction."""
        return s.words.score(toks, len(s), symmetric=symmetric, tfidf=False).keyword

    def _tfidf(self, s: Snapshot, toks: list[str]) -> np.ndarray:
        """TF-IDF cosine (up to the text's own norm) of every row to a text's stems and stem pairs."""
        return s.words.score(toks, len(s)).tfidf

    def passes(self, s: Snapshot, row: int, filters: Filters) -> bool:
        """Whether a paper (a row of the snapshot) is live and allowed by the filters."""
        return bool(self._mask(s, filters, [])[row])

    def _mask(self, s: Snapshot, filters: Filters | None, exclude_rows: list[int]) -> np.ndarray:
        """Live rows allowed by the filters."""
        ok = s.alive.copy()
        for r in exclude_rows:
            ok[r] = False
        if filters:
            if filters.year_min is not None:
                ok &= s.years >= filters.year_min
            if filters.year_max is not None:
                ok &= (s.years <= filters.year_max) & (s.years >= 0)
            if filters.tags:
                want = set(filters.tags)
                ok &= np.array([bool(want.intersection(t)) for t in s.tags[:len(s)]], dtype=bool)
            for pid in filters.exclude:
                i = s.row(pid)
                if i is not None:
                    ok[i] = False
        return ok

    def related(self, text: str, qvec: np.ndarray | None, k: int = 10, filters: Filters | None = None,
                exclude: list[str] = ()) -> tuple[Snapshot, Ranked]:
        """Top-k papers most related to a paper's text (and its vector), by weighted score fusion."""
        s = self.snapshot()
        dense = self._dense(s, qvec)
        both = s.words.score(stems(text), len(s), symmetric=True)
        kw = both.keyword
        excluded = [r for p in exclude if (r := s.row(p)) is not None]
        fused = fuse_weighted(np.where(s.has_vec, dense - s.hub / 2, 0.0), both.tfidf, kw,
                              DENSE_WEIGHT if qvec is not None else 0.0, ignore=excluded, live=s.alive)
        mask = self._mask(s, filters, excluded)
        if s.codes is not None and qvec is not None:
            # Estimated cosines decided which rows come near the top: those get their exact one, and only they
            # can be returned (the exact best k are among them unless the estimates were far off).
            near = np.array(top_k(np.where(mask, fused, -np.inf), RERANK), dtype=np.int64)
            exact = np.where(s.has_vec[near], s.matrix[near] @ qvec.astype(np.float32), 0)
            fused[near] += DENSE_WEIGHT * np.where(s.has_vec[near], exact - dense[near], 0)
            dense[near] = exact
            keep = np.zeros(len(s), dtype=bool)
            keep[near] = True
            mask &= keep
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
        # Without a query vector (the model unavailable) the semantic ranking is no ranking at all: words alone.
        semantic = np.where(mask & s.has_vec, dense, -np.inf) if qvec is not None else np.full(len(s), -np.inf)
        fused = fuse_rrf(semantic, kw_ranked, depth=depth)
        if qvec is not None and not s.has_vec[mask].all():
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
        total = max(s.words.live, 1)
        limit = max(2.0, WHY_MAX_SHARE * total)  # held by more papers than this, a term explains nothing
        content, q_stems = content_words(query_text)
        d_stems = _text_stems(s.texts[row])
        d_set, d_pairs = set(d_stems), set(zip(d_stems, d_stems[1:]))
        # Document frequencies of every term the two texts share, in one lookup.
        shared = sorted({st for st in q_stems if st in d_set} |
                        {f"{a} {b}" for a, b in zip(q_stems, q_stems[1:]) if (a, b) in d_pairs})
        dfs = dict(zip(shared, s.words.doc_freqs(np.array([term_key(t) for t in shared], dtype=np.uint64))
                       .tolist())) if shared else {}

        def telling(term: str) -> bool:
            return 0 < dfs.get(term, 0) <= limit

        def idf(term: str) -> float:
            return float(np.log((total + 1) / (dfs.get(term, 0) + 0.5)))

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


@functools.lru_cache(maxsize=1024)
def _text_stems(text: str) -> list[str]:
    """A library text's stems, kept for the papers last explained (the same ones come back as related)."""
    return stems(text)


@functools.lru_cache(maxsize=64)
def content_words(text: str) -> tuple[list[tuple[int, int, str]], list[str]]:
    """A text's content words with their places, in the order the index pairs them (as words() does), and
    their stems (kept for the few texts last asked about: why() explains ten hits of the same text)."""
    toks = [(m.start(), m.end(), m.group().lower()) for m in WORD.finditer(text)]
    content = [(a, b, w) for a, b, w in toks if _counts(w)]
    return content, stemmer.stemWords([w for _, _, w in content])


@functools.cache
def function_words() -> frozenset[str]:
    """English function words (scikit-learn's list, shipped as data/stopwords_en.txt): "of" may join a phrase,
    never be one."""
    text = resources.files("papershelf").joinpath("data/stopwords_en.txt").read_text()
    return frozenset(w for w in text.split("\n") if w and not w.startswith("#"))


@functools.cache
def why_stopwords() -> frozenset[str]:
    """Words that never explain a match: function words, STOP, and what abstracts say about their code."""
    return function_words() | STOP | {"code", "available", "publicly", "github", "http", "https", "www", "com"}


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
                  ignore: list[int] = (), live: np.ndarray | None = None) -> np.ndarray:
    """dense_weight·dense + the rest shared by TF-IDF and BM25 (2:1), each divided by its best score.

    The best scores are taken without the ignored rows (and rows not `live`): the query paper itself would
    otherwise set the scale and silence the word signals. With no vector for the query (dense_weight 0) the
    words decide alone.
    """
    rest = 1 - dense_weight
    return dense_weight * dense + rest * (TFIDF_WEIGHT * _by_best(tfidf, ignore, live) +
                                          BM25_WEIGHT * _by_best(bm25, ignore, live)) / (TFIDF_WEIGHT + BM25_WEIGHT)


def _by_best(scores: np.ndarray, ignore: list[int], live: np.ndarray | None = None) -> np.ndarray:
    """Scores divided by the best one outside the ignored rows (unchanged if none is positive)."""
    out = scores.astype(np.float32)
    if len(out):
        scale = out.copy() if live is None else np.where(live, out, 0)
        scale[list(ignore)] = 0
        best = float(scale.max())
        if best > 0:
            out = out / best
    return out


def _sample(live_vec: np.ndarray) -> np.ndarray:
    """The rows neighbour lists are taken over: all with a vector, or a fixed sample above HUB_SAMPLE."""
    with_vec = np.flatnonzero(live_vec)
    return with_vec if len(with_vec) <= HUB_SAMPLE else np.random.default_rng(0).choice(
        with_vec, HUB_SAMPLE, replace=False)


def _forget_neighbours(matrix: np.ndarray, live_vec: np.ndarray, topsim: np.ndarray, gone: np.ndarray,
                       block: int = 1024) -> None:
    """Recompute (in place) the neighbour lists that may hold one of the `gone` vectors: those whose worst
    listed similarity is at most that vector's similarity to them (a handful of rows per vector)."""
    rows = np.flatnonzero(live_vec)
    if not len(rows) or not len(gone):
        return
    floor = np.nan_to_num(topsim[rows, -1], nan=-np.inf)  # a list not full yet may hold anything
    sims = matrix[rows] @ np.asarray(gone, dtype=np.float32).T
    affected = rows[(sims >= floor[:, None] - 1e-6).any(axis=1)]
    others = _sample(live_vec)
    for a in range(0, len(affected), block):
        _top_neighbours(matrix, affected[a:a + block], others, topsim)


def _top_neighbours(matrix: np.ndarray, chunk: np.ndarray, others: np.ndarray, topsim: np.ndarray) -> np.ndarray:
    """The top-HUB_K similarities of `chunk`'s rows among `others` (themselves left out), into topsim; the
    whole (chunk, others) similarity block, for the caller's other use of it."""
    sims = matrix[chunk] @ matrix[others].T
    sims[chunk[:, None] == others[None, :]] = -np.inf  # not one's own neighbour
    k = min(HUB_K, sims.shape[1])
    top = -np.sort(-np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:], axis=1)
    topsim[chunk] = np.nan
    topsim[chunk, :k] = np.where(np.isfinite(top), top, np.nan)
    return sims


def _neighbour_stats_updated(matrix: np.ndarray, live_vec: np.ndarray, topsim: np.ndarray, rows: np.ndarray,
                       block: int = 1024) -> np.ndarray:
    """Fold the vectors of `rows` into everyone's top-HUB_K neighbour similarities (topsim, in place), and
    theirs into `rows`; return every row's hub score.

    Exact for libraries up to HUB_SAMPLE papers; above that, `rows` are compared with a fixed sample.
    """
    if len(rows) == 0 or not live_vec.any():
        return _hub(topsim)
    others = _sample(live_vec)
    rows = rows[live_vec[rows]]
    fresh = np.zeros(len(live_vec), dtype=bool)
    fresh[rows] = True
    old = np.flatnonzero(~fresh[others])
    for a in range(0, len(rows), block):
        sims = _top_neighbours(matrix, rows[a:a + block], others, topsim)
        # The new rows are also new neighbours of the papers we knew (fresh rows get theirs in full above).
        if len(old) == 0:
            continue
        targets = others[old]
        merged = np.concatenate([np.nan_to_num(topsim[targets], nan=-np.inf), sims[:, old].T], axis=1)
        best = -np.sort(-np.partition(merged, merged.shape[1] - HUB_K, axis=1)[:, -HUB_K:], axis=1)
        topsim[targets] = np.where(np.isfinite(best), best, np.nan)
    return _hub(topsim)


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


class _Writing:
    """Index.writing(): counts the writes under way; the last one out applies the changes."""

    def __init__(self, index: Index):
        self.index = index

    def __enter__(self):
        with self.index._writers_lock:
            self.index._writers += 1
        return self

    def __exit__(self, *exc):
        ix = self.index
        with ix._writers_lock:
            ix._writers -= 1
        try:
            # Before any lookup (a command-line import) there is nothing to keep in step: the first lookup loads.
            if ix._loaded:
                ix.refresh()
        except Exception:  # the write itself went through: the next lookup applies it
            log.exception("applying a write to the index failed")
        return False
