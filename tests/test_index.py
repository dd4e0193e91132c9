"""The index's fast paths against the slow exact one: a fresh build from the store.

Saved and loaded, bulk-imported, or followed write by write, the index must answer as a fresh build does.
"""

import numpy as np
import pytest
from corpus import generated_papers
from papershelf.library import Library
from papershelf.models import Record
from papershelf.search.index import DELTA_ROWS, Index
from papershelf.search.postings import stems
from papershelf.store import Store


def assert_same_as_fresh(lib: Library, queries: int = 15) -> None:
    """Live rows, word scores, vectors and related() lists equal those of an index built from the store now."""
    lib.index.compact()
    inc = lib.index.snapshot()
    fresh_index = Index(lib.store, lib.model_id)  # no saved copy: built from the store
    fresh = fresh_index.snapshot()
    live = [pid for i, pid in enumerate(inc.ids[:inc.n]) if inc.alive[i]]
    assert sorted(live) == sorted(fresh.ids) and len(set(live)) == len(live)
    a, b = np.array([inc.row(p) for p in live]), np.array([fresh.row(p) for p in live])
    np.testing.assert_array_equal(inc.has_vec[a], fresh.has_vec[b])
    if fresh.has_vec.any():
        np.testing.assert_array_equal(inc.matrix[a], fresh.matrix[b])
        np.testing.assert_allclose(inc.hub[a], fresh.hub[b], atol=1e-5)
    assert [inc.briefs[r] for r in a] == [fresh.briefs[r] for r in b]
    for pid in live[:queries]:
        text = fresh.texts[fresh.row(pid)]
        got, want = inc.words.score(stems(text), inc.n, symmetric=True), fresh.words.score(stems(text), fresh.n,
                                                                                             symmetric=True)
        np.testing.assert_allclose(got.keyword[a], want.keyword[b], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(got.tfidf[a], want.tfidf[b], rtol=1e-5, atol=1e-6)
        qvec = fresh.matrix[fresh.row(pid)] if fresh.has_vec[fresh.row(pid)] else None
        got = lib.index.related(text, qvec, k=8, exclude=[pid])[1]
        want = fresh_index.related(text, qvec, k=8, exclude=[pid])[1]
        # The same list; papers whose scores tie (a text imported twice) may come in either order.
        np.testing.assert_allclose(got.scores, want.scores, atol=1e-5)
        assert {inc.ids[r] for r, sc in zip(got.rows, got.scores) if sc > want.scores[-1] + 1e-5} == \
            {fresh.ids[r] for r, sc in zip(want.rows, want.scores) if sc > want.scores[-1] + 1e-5}


def test_a_saved_index_loads_as_a_fresh_build(sample_copy):
    lib = Library(sample_copy)
    first = lib.index.snapshot()
    lib.trash(first.ids[0])
    lib.update(first.ids[1], tags=["kept"])
    lib.close()  # saves the index
    assert (sample_copy / "index" / "meta.json").exists()
    lib = Library(sample_copy)
    try:
        s = lib.index.snapshot()
        assert lib.index.loaded_from_saved == s.n == first.n - 1  # every row came from the saved copy
        assert s.tags[s.row(first.ids[1])] == ["kept"] and s.row(first.ids[0]) is None
        assert_same_as_fresh(lib)
    finally:
        lib.close()


def test_a_stale_saved_index_catches_up_with_the_store(sample_copy):
    lib = Library(sample_copy)
    before = lib.index.snapshot()
    lib.close()
    # Written while no server ran (a command-line import): the saved index knows nothing of it.
    store = Store(sample_copy / "library.duckdb")
    store.trash(before.ids[2])
    changed = store.get(before.ids[3])
    store.merge_records([("1", Record(title=changed.title, abstract=changed.abstract + " Now with routing."))])
    store.merge_records([("2", Record(title="Holographic tensor networks and error correction",
                                      abstract="Tensor networks as holographic quantum codes."))])
    store.close()
    lib = Library(sample_copy)
    try:
        s = lib.index.snapshot()
        assert s.row(before.ids[2]) is None and s.texts[s.row(changed.id)].endswith("Now with routing.")
        assert lib.search("holographic tensor networks", k=1)[0].title.startswith("Holographic")
        assert lib.index.loaded_from_saved == before.n - 2  # the other rows came from the saved copy
        assert_same_as_fresh(lib)
    finally:
        lib.close()


@pytest.mark.parametrize("damage", ["truncated", "missing", "garbage meta"])
def test_a_damaged_saved_index_is_built_again(sample_copy, damage):
    lib = Library(sample_copy)
    n = lib.index.snapshot().n
    lib.close()
    saved = sample_copy / "index"
    if damage == "truncated":
        data = (saved / "rows.npy").read_bytes()
        (saved / "rows.npy").write_bytes(data[:len(data) // 2])
    elif damage == "missing":
        (saved / "fwd_tid.npy").unlink()
    else:
        (saved / "meta.json").write_text("{not json")
    lib = Library(sample_copy)
    try:
        assert lib.index.snapshot().n == n and lib.index.loaded_from_saved == 0
        assert_same_as_fresh(lib, queries=5)
    finally:
        lib.close()


def test_a_crash_while_saving_keeps_the_previous_copy(sample_copy, monkeypatch):
    lib = Library(sample_copy)
    lib.index.snapshot()
    lib.close()
    lib = Library(sample_copy)
    lib.index.snapshot()
    lib.save(Record(title="A paper saved before the crash", abstract="Sparse experts and routing."))
    calls = []

    def dying_save(path, arr, *a, **k):
        calls.append(path)
        if len(calls) == 5:
            raise OSError("disk full")
        return real_save(path, arr, *a, **k)

    real_save = np.save
    monkeypatch.setattr(np, "save", dying_save)
    lib.close()  # the save fails half-way; the library itself is closed and kept
    monkeypatch.setattr(np, "save", real_save)
    assert (sample_copy / "index" / "meta.json").exists()
    lib = Library(sample_copy)
    try:
        assert lib.search("paper saved before the crash", k=1)[0].title == "A paper saved before the crash"
        assert_same_as_fresh(lib, queries=5)
    finally:
        lib.close()


def test_an_import_of_many_papers_into_a_loaded_index_equals_a_fresh_build(empty_lib):
    lib = empty_lib
    texts = [r["text"] for r in generated_papers(1500)]

    def records(start: int, stop: int):  # more papers than the fixture has: each text twice, as two papers
        for i in range(start, stop):
            t = texts[i % len(texts)]
            yield str(i), Record(title=f"{t.split('.')[0][:150]} (part {i})", abstract=f"{t} Variant {i}.")

    lib.import_items(records(0, 300))
    lib.index.snapshot()  # loaded: what follows is applied to it
    lib.import_items(records(300, 300 + DELTA_ROWS + 200))  # more than DELTA_ROWS at once: the bulk path
    s = lib.index.snapshot()
    assert s.words.m == s.n  # folded straight into the main postings
    lib.import_items([("x", Record(title="One more paper on graph kernels", abstract="Graph kernels compare graphs."))])
    assert lib.index.snapshot().words.m < lib.index.snapshot().n  # a small write goes to the delta
    assert lib.search("graph kernels compare graphs", k=1)[0].title == "One more paper on graph kernels"
    assert_same_as_fresh(lib, queries=10)


def test_compressed_vectors_find_the_exact_nearest_ones(sample_lib):
    from papershelf.search import binary

    s = sample_lib.index.snapshot()
    mat = s.matrix[s.has_vec]
    packed = binary.Compressed(mat)
    assert packed.bits.shape == (len(mat), 6) and packed.bits.dtype == np.uint64  # 384 bits
    # The popcount kernel against numpy's bit counting; the int8 dots against float32 within int8's error.
    bits = packed.bits
    want = np.unpackbits((bits ^ bits[0]).view(np.uint8), axis=1).sum(axis=1)
    np.testing.assert_array_equal(binary.hamming(bits, bits[0]), want)
    rows = np.arange(len(mat))
    np.testing.assert_allclose(binary.int8_dots(packed.values, packed.scale, rows, mat[0]), mat @ mat[0], atol=0.01)
    assert sorted(binary.nearest(want.astype(np.int32), 20).tolist()) == \
        sorted(np.argsort(want, kind="stable")[:20].tolist())
    # Real MiniLM vectors of one field: the nearest 17% by sign bits (50 of 289), ranked by int8, hold the exact
    # top-5 of nearly every paper (measured: 0.97 of the top-10 over all 289; 0.997 with 5% on CiteSeer's 3,131).
    found = []
    for q in range(len(mat)):
        exact = np.argsort(-(mat @ mat[q]), kind="stable")[:5]
        got, sims = binary.top(mat, packed, mat[q], 5, fraction=0.17, least=10, rerank=30)
        found.append(len(set(got.tolist()) & set(exact.tolist())) / 5)
        np.testing.assert_allclose(sims, np.sort(mat[got] @ mat[q])[::-1], atol=1e-6)  # exact, best first
    assert np.mean(found) >= 0.97


def test_related_over_compressed_vectors_equals_the_exact_ranking(sample_lib, monkeypatch):
    import papershelf.search.index as index_module
    from papershelf.search import binary

    lib = sample_lib
    exact = {pid: [h.id for h in lib.related(pid, k=5)] for pid in lib.index.snapshot().ids[:60:3]}
    # As a library above the threshold would: sign bits first, int8 for the nearest third, exact for 60 of 289.
    monkeypatch.setattr(index_module, "BINARY_ABOVE", 50)
    monkeypatch.setattr(index_module, "RERANK", 60)
    monkeypatch.setattr(binary, "FRACTION", 0.33)
    assert lib.index.snapshot().codes is not None
    same = sum([h.id for h in lib.related(pid, k=5)] == want for pid, want in exact.items())
    assert same == len(exact)
    # A vector that arrives later is in the compressed copy too.
    paper, _ = lib.save(Record(title="Sparse mixture of experts routing", abstract="Experts and routing."))
    lib.embed_all()
    assert lib.related(paper.id, k=3) and lib.index.codes.bits[lib.index.snapshot().row(paper.id)].any()


def test_a_save_writes_into_room_made_after_the_load_not_into_a_copy_of_every_array(sample_copy):
    """At 100,000 papers the first save after a start took 0.4-0.6 s: the index's arrays were loaded at their exact
    size, and the first new row copied every one of them to double it. warm_up makes the room beforehand."""
    def arrays(idx):
        return idx.matrix, idx.years, idx.has_vec, idx.topsim

    lib = Library(sample_copy)
    try:
        lib.index.snapshot()  # loaded, no room made: as every start was
        before = arrays(lib.index)
        lib.save(Record(title="A paper saved before any room was made", abstract="About room.", source="extension"))
        assert all(a is not b for a, b in zip(arrays(lib.index), before))  # the copy this test guards against
    finally:
        lib.close()
    lib = Library(sample_copy)
    try:
        lib.warm_up(1e9)  # as `papershelf serve` starts (its map timer never fires here)
        room = arrays(lib.index)
        assert len(room[1]) >= lib.index.n + 1024
        for i in range(3):
            p, _ = lib.save(Record(title=f"A paper saved after the start, number {i}", abstract="About room.",
                                   identifiers=[f"arxiv:2501.0000{i}"], source="extension"))
            assert lib.search(f"saved after the start number {i}", k=3)[0].id == p.id
        assert all(a is b for a, b in zip(arrays(lib.index), room))  # written into the room, nothing copied
    finally:
        lib.close()


def test_precompile_compiles_what_the_library_runs(sample_copy):
    """`make serve` and `make test` compile numba's machine code ahead (search/precompile.py: PaCMAP's is 22 s
    of CPU). Every function, with the types, that a library runs when it scores with the compiled loop, over
    compressed vectors, and lays out its map, precompile compiles too; and after it, a fresh process running
    them compiles nothing."""
    import json
    import subprocess
    import sys

    compiled = """
        import gc, json
        from numba.core.registry import CPUDispatcher
        used = [d for d in gc.get_objects() if isinstance(d, CPUDispatcher) and d.signatures]
        print(json.dumps({"used": {d.py_func.__module__ + "." + d.py_func.__name__: sorted(map(str, d.signatures))
                                   for d in used},
                          "compiled now": sorted(d.py_func.__name__ for d in used if d.stats.cache_misses)}))
    """
    ahead = """if True:
        from papershelf.search import precompile
        precompile.index_loops()
        precompile.map_layout()
    """ + compiled
    library = """if True:
        import sys
        from papershelf.search import index, postings
        index.BINARY_ABOVE, index.RERANK, postings.COMPILED_ABOVE = 0, 10, -1  # every compiled path, on the sample
        from papershelf.library import Library
        lib = Library(sys.argv[1])
        assert lib.related_text("sparse mixture of experts", k=3) and lib.index.snapshot().codes is not None
        lib.map.current()
        lib.map.wait()
        assert lib.map.current().method == "pacmap"
        lib.close()
        lib = Library(sys.argv[1])  # and from the index it saved, memory-mapped (read-only arrays: other types)
        assert lib.related_text("sparse mixture of experts", k=3)
        lib.close()
    """ + compiled
    got = []
    for code in (ahead, library):
        p = subprocess.run([sys.executable, "-c", code, str(sample_copy)], capture_output=True, text=True,
                           timeout=600)
        assert p.returncode == 0, p.stderr
        got.append(json.loads(p.stdout.splitlines()[-1]))
    by_precompile, by_library = got[0]["used"], got[1]["used"]
    kernels = {f"papershelf.search.kernels.{f}" for f in ("accumulate", "hamming", "nearest", "int8_dots")}
    assert kernels <= set(by_library) and any(f.startswith("pacmap.") for f in by_library), by_library
    missed = {f: sorted(set(sigs) - set(by_precompile.get(f, []))) for f, sigs in by_library.items()}
    assert not any(missed.values()), missed
    assert got[1]["compiled now"] == [], got[1]
