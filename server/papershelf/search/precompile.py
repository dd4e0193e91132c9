"""Compile numba's machine code once, ahead of use: `python -m papershelf.search.precompile` (`make serve` and
`make test` run it, as they write the bytecode).

numba keeps what it compiles beside the code (`__pycache__`, `cache=True`), but the first process to need it pays
the compilation: PaCMAP's, for the first map, is 22 s of CPU; the index's own loops (kernels.py) 2 s. Without
this, a fresh install's first map takes that long, and every process that needs it before the first has written
it (servers and tests starting together) compiles it again. Each is run here through the code that uses it, on
small made-up data, so that numba compiles exactly the types the library passes."""

from __future__ import annotations

import time

import numpy as np


def index_loops() -> None:
    """kernels.py: the scoring loop (postings above their size) and the compressed vectors' three loops."""
    from . import binary, postings

    postings.compile_scoring_loop()
    vectors = _unit_vectors(600)
    binary.top(vectors, binary.Compressed(vectors), vectors[0], k=5, least=20)  # (a shortlist below all rows)
    binary.Compressed(vectors).cosines(vectors[1], least=20)


def map_layout() -> None:
    """PaCMAP, as the map lays the library out."""
    from .map import project

    project(_unit_vectors(60), "pacmap")


def _unit_vectors(n: int) -> np.ndarray:
    v = np.random.default_rng(0).standard_normal((n, 384)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def main() -> None:
    for step in (index_loops, map_layout):
        began = time.process_time()
        step()
        print(f"numba: {step.__name__} ready ({time.process_time() - began:.1f} s of CPU)")


if __name__ == "__main__":
    main()
