"""The search wing: how papers are found and compared, all in memory once the store is read.

- `embed.py`: text → vector with fastembed, offline (the model ships in a package).
- `postings.py`: the keyword index (stems and stem pairs, BM25 and TF-IDF, scored by numba).
- `binary.py`: sign-bit and int8 vectors for a fast first pass over very large libraries.
- `kernels.py`: the compiled loops both use (numba), imported at their first call.
- `index.py`: the index that answers lookups: the dense matrix, the postings, their fusion, the neighbours.
- `map.py`: the map of the library: every paper a point in 2D, in labelled clusters.
- `passages.py`: the PDFs' passages by words (Tantivy, phrases) and by meaning, fused.

The store is the truth; the index follows it (Library wires the two).
"""
