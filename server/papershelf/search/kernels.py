"""The compiled loops of the index (numba), in a module of their own: importing numba and loading its cached
machine code costs a process about half a second, which only the processes that score often or much should pay
(the server loads postings' loop in a thread). binary.py calls them through small wrappers; postings.py chooses
its own (postings.scoring_loop)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, parallel=True)
def hamming(bits, q):  # pragma: no cover (compiled)
    """Hamming distance of every code to q (SWAR popcount, which LLVM turns into popcnt), on every core."""
    n, w = bits.shape
    out = np.empty(n, dtype=np.int32)
    for i in numba.prange(n):
        c = 0
        for j in range(w):
            x = bits[i, j] ^ q[j]
            x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
            x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
            x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
            c += np.int32((x * np.uint64(0x0101010101010101)) >> np.uint64(56))
        out[i] = c
    return out


@numba.njit(cache=True, nogil=True)
def nearest(dist, m, most):  # pragma: no cover (compiled)
    """The m rows of smallest distance, ascending by row (binary.nearest), by a histogram of the distances."""
    hist = np.zeros(most + 1, dtype=np.int64)
    for x in dist:
        hist[x] += 1
    below, cut = 0, 0
    while below + hist[cut] < m:  # rows at distance < cut are fewer than m, at <= cut at least m
        below += hist[cut]
        cut += 1
    out = np.empty(m, dtype=np.int64)
    k, edge = 0, m - below
    for i in range(len(dist)):
        x = dist[i]
        if x < cut or (x == cut and edge > 0):
            if x == cut:
                edge -= 1
            out[k] = i
            k += 1
    return out


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def int8_dots(values, scale, rows, q):  # pragma: no cover (compiled)
    """Dot products of the int8 rows `rows` with the query q (float32), each times its row's scale (in float32,
    which the CPU does 8 at a time; int8 products would need widening first)."""
    out = np.empty(len(rows), dtype=np.float32)
    d = values.shape[1]
    for i in numba.prange(len(rows)):
        r = rows[i]
        acc = np.float32(0)
        for j in range(d):
            acc += np.float32(values[r, j]) * q[j]
        out[i] = acc * scale[r]
    return out


@numba.njit(cache=True, nogil=True)
def accumulate(start, tids, rows, tfs, k, b_idf, sym_w, qw, n, keyword, cos, sublinear):  # pragma: no cover
    """Both word signals over the postings of the terms `tids`, in one pass (numba: numpy would take a
    gather and a bincount per signal, 3x the time at 100k papers)."""
    for i in range(len(tids)):
        t = tids[i]
        if t < 0:
            continue
        for e in range(start[t], start[t + 1]):
            r = rows[e]
            if r >= n:
                continue
            tf = np.float32(tfs[e])
            keyword[r] += b_idf[i] * tf / (k[r] + tf) + sym_w[i]
            cos[r] += qw[i] * sublinear[tfs[e]]
