"""Compressed vectors for a fast first pass over very large libraries: sign bits, then int8, then exact.

One bit per dimension (48 bytes for MiniLM's 384, a 32nd of float32): the Hamming distance between codes
estimates the angle between vectors (random-hyperplane LSH: angle ≈ π · distance / dim). It is a rough
estimate: on CiteSeer's real MiniLM vectors the true top-10 is within the nearest 5% of codes (recall 0.997),
not within the nearest 1% (0.91). So the codes pick a generous shortlist (FRACTION of the library), the int8
vectors (a quarter of float32, error ~0.003) rank it, and the exact cosine re-ranks the best RERANK of those.
bench/lookup.py measures speed and recall against numpy's exact float32 scan in the same run.
"""

from __future__ import annotations

import numpy as np

FRACTION, MIN_SHORTLIST = 0.05, 2_000  # the codes' shortlist: 5% of the library, at least 2,000 rows
RERANK = 1_000  # of those, ranked by int8: the best re-ranked by the exact cosine


def codes(matrix: np.ndarray) -> np.ndarray:
    """Sign bits of each row, packed into uint64 words (rows x ceil(dim / 64))."""
    dim = matrix.shape[1]
    words = -(-dim // 64)
    packed = np.zeros((len(matrix), words * 8), dtype=np.uint8)
    packed[:, :-(-dim // 8)] = np.packbits(matrix > 0, axis=1)
    return packed.view(np.uint64)


def nearest(dist: np.ndarray, m: int) -> np.ndarray:
    """The m rows of smallest distance (ties at the edge cut by row order), ascending by row: distances are
    small integers, so a histogram finds the cut-off without sorting a million of them."""
    if m >= len(dist):
        return np.arange(len(dist))
    from .kernels import nearest  # (compiled: kernels.py)

    return nearest(dist, m, int(dist.max()))


def hamming(bits: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamming distance of every code to q, on every core (kernels.py)."""
    from .kernels import hamming

    return hamming(bits, q)


def int8(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row as int8 with its scale (row ≈ values * scale)."""
    scale = np.maximum(np.abs(matrix).max(axis=1), 1e-12) / 127
    return np.round(matrix / scale[:, None]).astype(np.int8), scale.astype(np.float32)


def int8_dots(values: np.ndarray, scale: np.ndarray, rows: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Dot products of the int8 rows `rows` with the query q, each times its row's scale (kernels.py)."""
    from .kernels import int8_dots

    return int8_dots(values, scale, rows, q)


def estimated_cosine(distance: np.ndarray, dim: int) -> np.ndarray:
    """The cosine a Hamming distance between sign codes stands for."""
    return np.cos(np.pi * distance.astype(np.float32) / dim)


class Compressed:
    """A matrix's sign bits and int8 values, kept beside (or instead of) the float32 rows."""

    def __init__(self, matrix: np.ndarray):
        self.bits = codes(matrix)
        self.values, self.scale = int8(matrix)

    def __len__(self) -> int:
        return len(self.bits)

    def grown(self, capacity: int) -> "Compressed":
        """A copy with room for `capacity` rows (Index.make_room)."""
        out = Compressed.__new__(Compressed)
        extra = max(0, capacity - len(self.bits))
        out.bits = np.concatenate([self.bits, np.zeros((extra, self.bits.shape[1]), np.uint64)])
        out.values = np.concatenate([self.values, np.zeros((extra, self.values.shape[1]), np.int8)])
        out.scale = np.concatenate([self.scale, np.zeros(extra, np.float32)])
        return out

    def put(self, rows: np.ndarray, vectors: np.ndarray, capacity: int) -> None:
        """New vectors for some rows (growing to `capacity` rows first if need be)."""
        if capacity > len(self.bits):
            grow = max(capacity, 2 * len(self.bits))
            self.bits = np.concatenate([self.bits, np.zeros((grow - len(self.bits), self.bits.shape[1]), np.uint64)])
            self.values = np.concatenate([self.values, np.zeros((grow - len(self.values), self.values.shape[1]),
                                                                np.int8)])
            self.scale = np.concatenate([self.scale, np.zeros(grow - len(self.scale), np.float32)])
        self.bits[rows] = codes(vectors)
        self.values[rows], self.scale[rows] = int8(vectors)

    def view(self, n: int) -> "Compressed":
        """The first n rows (sharing memory)."""
        out = Compressed.__new__(Compressed)
        out.bits, out.values, out.scale = self.bits[:n], self.values[:n], self.scale[:n]
        return out

    def _near(self, qvec: np.ndarray, fraction: float, least: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every row's sign-bit distance to qvec; the nearest `fraction` of rows (at least `least`); their
        int8 cosines."""
        dist = hamming(self.bits, codes(qvec[None])[0])
        near = nearest(dist, min(len(dist), max(least, int(fraction * len(dist)))))
        return dist, near, int8_dots(self.values, self.scale, near, qvec.astype(np.float32))

    def cosines(self, qvec: np.ndarray, least: int) -> tuple[np.ndarray, np.ndarray]:
        """Every row's cosine to qvec as the sign bits estimate it, with the int8 one for the nearest
        FRACTION (at least `least`); and those rows."""
        dist, near, rough = self._near(qvec, FRACTION, least)
        sims = estimated_cosine(dist, len(qvec))
        sims[near] = rough
        return sims, near

    def shortlist(self, qvec: np.ndarray, fraction: float = FRACTION, least: int = MIN_SHORTLIST,
                  rerank: int = RERANK) -> np.ndarray:
        """The `rerank` rows nearest qvec by int8, among the nearest `fraction` of the library by sign bits."""
        _, near, rough = self._near(qvec, fraction, least)
        r = min(rerank, len(near))
        return near[np.argpartition(-rough, r - 1)[:r]] if r < len(near) else near

    @property
    def nbytes(self) -> int:
        return self.bits.nbytes + self.values.nbytes + self.scale.nbytes


def top(matrix: np.ndarray, packed: Compressed, qvec: np.ndarray, k: int, **shortlist) -> tuple[np.ndarray, np.ndarray]:
    """The k rows most similar to qvec, best first, with their exact cosines (`matrix` may be a mapped file:
    only the shortlist's rows are read)."""
    cand = np.sort(packed.shortlist(qvec, **shortlist))  # in row order: a mapped file is read front to back
    exact = np.asarray(matrix[cand] @ qvec)
    order = np.argsort(-exact, kind="stable")[:k]
    return cand[order], exact[order]
