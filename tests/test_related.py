"""Lookups over the real sample library: related papers by id, by text and for unseen papers; search;
filters; the "why" terms; the in-memory index kept in step with the store."""

import re
import threading

import numpy as np
from papershelf.library import PAGE_TOKENS
from papershelf.models import Filters, Record
from papershelf.search.index import BM25_WEIGHT, TFIDF_WEIGHT, Index, fuse_weighted
from papershelf.search.postings import Postings, count, stems
from papershelf.store import content_hash

MOE = re.compile(r"mixture[- ]of[- ]experts|\bmoe\b|experts?\b|smoe", re.I)


def test_moe_query_ranks_mixture_of_experts_papers_first(sample_lib):
    hits = sample_lib.related_text("sparse mixture of experts routing", k=5)
    assert len(hits) == 5
    for h in hits:
        assert MOE.search(h.title + " " + sample_lib.store.get(h.id).abstract[:400]), h.title
    assert all(0 < h.score <= 1 for h in hits)
    assert hits == sorted(hits, key=lambda h: -h.score)
    assert "experts" in hits[0].why or "routing" in hits[0].why


def test_related_by_id_excludes_the_paper_and_explains(sample_lib):
    pid = sample_lib.search("Consistency Trajectory Models", k=1)[0].id
    hits = sample_lib.related(pid, k=10)
    assert pid not in [h.id for h in hits] and len(hits) == 10
    # The why-terms are words both texts share.
    src = sample_lib.store.get(pid)
    for h in hits[:3]:
        other = sample_lib.store.get(h.id)
        for w in h.why:
            assert w in (src.title + src.abstract).lower() and w[:4] in (other.title + other.abstract).lower()
    assert any("diffusion" in w for h in hits[:5] for w in h.why)


def test_why_terms_are_telling_content_terms_never_filler(sample_lib):
    """Over a hundred library papers' related lists: no why-term (nor a word of a why-phrase) is an English
    function word or one of our generic words; no word is one of the library's 30 most common words, no phrase
    is held by more than a tenth of its papers; phrases come first."""
    from collections import Counter

    from papershelf.search.index import function_words
    from papershelf.search.postings import STOP, stemmer, stems

    s = sample_lib.index.snapshot()
    stemmed = [stems(t) for t in s.texts]
    df = Counter(st for row in stemmed for st in set(row))
    common = {st for st, _ in df.most_common(30)}
    pair_df = Counter(p for row in stemmed for p in set(zip(row, row[1:])))
    common_pairs = {" ".join(p) for p, n in pair_df.items() if n > len(s) / 10}
    shown = Counter()
    for pid in s.ids[:100]:
        for h in sample_lib.related(pid, k=5):
            kinds = [" " in w for w in h.why]
            assert kinds == sorted(kinds, reverse=True), h.why  # phrases before single words
            for term in h.why:
                shown[term] += 1
                parts = term.split()
                content = [parts[0], parts[-1]]  # a phrase may hold "of" between its words, never at its ends
                for w in content:
                    assert w not in function_words() and w not in STOP, (term, h.why)
                stemmed = " ".join(stemmer.stemWords(content))
                assert stemmed not in (common_pairs if len(parts) > 1 else common), (term, h.why)
    assert sum(" " in t for t in shown) >= 20, shown.most_common(20)  # phrases are found, not only words
    assert len(shown) >= 100  # and they vary: not the same few words on every paper


def test_an_unrelated_text_gets_only_loosely_related_papers(sample_lib):
    alphafold = ("Proteins are essential to life, and understanding their structure can facilitate a mechanistic "
                 "understanding of their function. Through an enormous experimental effort, the structures of "
                 "around 100,000 unique proteins have been determined, but this represents a small fraction of the "
                 "billions of known protein sequences. Here we provide the first computational method that can "
                 "regularly predict protein structures with atomic accuracy even where no similar structure is known.")
    hits = sample_lib.related_text(alphafold, k=5)
    assert hits and all(h.loose for h in hits), [(h.title, h.score) for h in hits]
    moe = sample_lib.related_text("Sparse mixture of experts: tokens are routed to a few experts by a learned gate "
                                  "with a load balancing loss, so model capacity grows at constant compute.", k=10)
    assert not any(h.loose for h in moe[:3]) and moe == sorted(moe, key=lambda h: -h.score)
    # Loose is monotone in the list: once a hit is loose by score, every later one is too.
    by_score = [h.score < 0.5 * moe[0].score for h in moe]
    assert by_score == sorted(by_score) and all(h.loose for h, low in zip(moe, by_score) if low)


def test_related_for_a_paper_not_in_the_library(sample_lib):
    text = ("Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity. "
            "We simplify the MoE routing algorithm and design intuitive improved models.")
    hits = sample_lib.related_text(text, k=3)
    assert all(MOE.search(h.title + sample_lib.store.get(h.id).abstract[:500]) for h in hits)


def test_a_pages_text_is_embedded_once_between_its_panel_and_its_save(sample_lib):
    """The panel relates a page's paper by its text; saving it next keeps that vector instead of embedding the
    same text again, and a query asked again is not embedded again either."""
    calls = []
    embed = sample_lib.embedder.embed
    sample_lib.embedder.embed = lambda texts, *a, **kw: calls.append(list(texts)) or embed(texts, *a, **kw)
    title = "Switch Transformers: Scaling to Trillion Parameter Models"
    abstract = "We simplify the <i>MoE</i> routing algorithm and design intuitive improved models."
    from papershelf import clean
    hits = sample_lib.related_page(clean.text(title), clean.abstract(abstract), k=3)
    assert len(calls) == 1 and hits == sample_lib.related_text(f"{title}. {clean.abstract(abstract)}", k=3)
    assert all(MOE.search(h.title + sample_lib.store.get(h.id).abstract[:500]) for h in hits)
    paper, added = sample_lib.save(Record(title=title, abstract=abstract, identifiers=["arxiv:2101.03961"]))
    assert added and len(calls) == 1  # related_text above asked for the same text (kept); the save nothing
    ids, vecs = sample_lib.store.vectors(sample_lib.model_id, [paper.id])
    assert ids == [paper.id] and np.allclose(vecs[0], embed([f"{title}. {clean.abstract(abstract)}"])[0], atol=1e-5)
    # The same page again, after the save: found, so nothing to embed for it.
    sample_lib.related(paper.id, k=3)
    assert len(calls) == 1
    # A query asked again (a search paged through) is embedded once too; another query is embedded.
    sample_lib.search("sparse expert routing", k=3)
    sample_lib.search("sparse expert routing", k=3)
    sample_lib.related_text("sparse expert routing", k=3)
    assert calls[1:] == [["sparse expert routing"]]
    sample_lib.related_text("dense retrieval", k=3)
    assert len(calls) == 3


def test_a_long_page_is_related_by_its_first_tokens_and_saved_with_its_whole_texts_vector(sample_lib):
    """The panel's final list waits for a page's embedding: on one core, 100 ms for an abstract's 256 tokens, 38
    for 128. There it is ranked by the first PAGE_TOKENS; the whole text's vector follows in the background, and
    the save stores that one, embedding nothing."""
    assert sample_lib.page_tokens == (PAGE_TOKENS if sample_lib.embedder.threads == 1 else None)
    sample_lib.page_tokens = PAGE_TOKENS  # (as on one core)
    calls = []
    embed = sample_lib.embedder.embed
    sample_lib.embedder.embed = lambda texts, *a, **kw: calls.append(list(texts)) or embed(texts, *a, **kw)
    title = "Switch Transformers: Scaling to Trillion Parameter Models"
    abstract = " ".join(["We simplify the mixture of experts routing algorithm and design intuitive improved models "
                         "with reduced communication and computational costs."] * 8)
    text = f"{title}. {abstract}"
    first = sample_lib.embedder.first_tokens(text, PAGE_TOKENS)
    assert text.startswith(first) and len(sample_lib.embedder._load().model.tokenizer.encode(first).ids) == PAGE_TOKENS
    assert not sample_lib.page_vector_known(title, abstract)
    hits = sample_lib.related_page(title, abstract, k=3)
    assert calls[0] == [first] and sample_lib.page_vector_known(title, abstract)
    assert all(MOE.search(h.title + sample_lib.store.get(h.id).abstract[:500]) for h in hits)
    sample_lib._page_embedding.submit(lambda: None).result()  # (one worker: the page's job is done before this)
    assert calls[1:] == [[text]]
    assert sample_lib.related_page(title, abstract, k=3) == hits and len(calls) == 2  # the same page: kept
    paper, added = sample_lib.save(Record(title=title, abstract=abstract))
    assert added and len(calls) == 2
    _, vecs = sample_lib.store.vectors(sample_lib.model_id, [paper.id])
    assert np.allclose(vecs[0], embed([text])[0], atol=1e-5) and not np.allclose(vecs[0], embed([first])[0], atol=1e-2)


def test_a_paper_saved_without_a_vector_costs_the_index_no_read_of_vectors(sample_lib):
    """At 100,000 papers a read of a few vectors scans the embeddings (3-7 ms of a save): a paper this process
    created and gave no vector has none to read, and one is read again as soon as it is put."""
    sample_lib.index.snapshot()  # (loaded: a load reads every vector)
    reads = []
    vectors = sample_lib.store.vectors
    sample_lib.store.vectors = lambda model, pids=None: reads.append(pids) or vectors(model, pids)
    title, abstract = "Tracking seabirds with geolocators", "Terns carry light loggers across the Atlantic."
    paper, added = sample_lib.save(Record(title=title, abstract=abstract))
    s = sample_lib.index.snapshot()
    assert added and reads == [] and not s.has_vec[s.row(paper.id)]
    vector = sample_lib.embedder.embed_one(f"{title}. {abstract}")
    sample_lib.store.put_vectors(sample_lib.model_id, [(paper.id, content_hash(title, abstract), vector)])
    sample_lib.index.refresh()
    s = sample_lib.index.snapshot()
    assert reads == [[paper.id]] and s.has_vec[s.row(paper.id)]
    assert np.allclose(s.matrix[s.row(paper.id)], vector, atol=1e-2)  # (kept compressed in the index)
    # A paper in the trash comes back with the vector it had.
    sample_lib.trash(paper.id)
    sample_lib.restore(paper.id)
    s = sample_lib.index.snapshot()
    assert s.has_vec[s.row(paper.id)]


def test_pages_are_related_by_their_first_tokens_on_one_core_only(tmp_path):
    from papershelf.library import Library

    for threads, tokens in ((1, PAGE_TOKENS), (2, None)):
        lib = Library(tmp_path / str(threads), threads=threads)
        assert lib.page_tokens == tokens
        lib.close()


def test_a_save_with_no_vector_to_store_does_not_wait_for_the_workers_batch(sample_lib):
    """The worker holds the embedding lock for a whole batch (seconds, during an import); a save only takes it
    when it brings a vector, so a click on Save meanwhile is not kept waiting."""
    saved = []
    with sample_lib._embed_lock:  # a batch in flight
        t = threading.Thread(target=lambda: saved.append(sample_lib.save(Record(title="Tracking seabirds"))))
        t.start()
        t.join(timeout=30)
        assert not t.is_alive() and saved[0][1]


def test_filters_restrict_results(sample_lib):
    hits = sample_lib.related_text("mixture of experts", k=5)
    first = hits[0].id
    sample_lib.update(first, tags=["moe-reading"])
    sample_lib.import_items([("x", Record(title="A 1999 paper about mixture of experts routing",
                                          abstract="Experts gating networks routing.", year=1999))])
    tagged = sample_lib.related_text("mixture of experts", k=5, filters=Filters(tags=["moe-reading"]))
    assert [h.id for h in tagged] == [first]
    excluded = sample_lib.related_text("mixture of experts", k=5, filters=Filters(exclude=[first]))
    assert first not in [h.id for h in excluded]
    old = sample_lib.related_text("mixture of experts", k=5, filters=Filters(year_max=2000))
    assert [h.title for h in old] == ["A 1999 paper about mixture of experts routing"]
    assert sample_lib.related_text("mixture of experts", k=5, filters=Filters(year_min=2100)) == []


def test_search_is_hybrid_and_says_which_signal_matched(sample_lib):
    hits = sample_lib.search("speech recognition", k=10)
    assert "speech" in hits[0].title.lower()
    assert all(h.matched for h in hits)
    assert any(h.matched == ["keyword", "semantic"] for h in hits)
    # The text-to-speech paper says "speech" once and never "recognition": found by meaning, not keywords.
    tts = [h for h in hits if h.title.startswith("Speak, Read and Prompt")]
    assert tts and tts[0].matched == ["semantic"]
    para = sample_lib.search("turning written words into spoken audio", k=5)
    assert any("speech" in h.title.lower() and "semantic" in h.matched for h in para)


def test_search_by_identifier_puts_that_paper_first(sample_lib):
    sample_lib.import_items([("x", Record(title="Attention Is All You Need", identifiers=["arxiv:1706.03762"]))])
    hits = sample_lib.search("1706.03762v5", k=5)
    assert hits[0].title == "Attention Is All You Need" and hits[0].matched == ["identifier"]


def test_trashed_papers_leave_lookups_and_come_back(sample_lib):
    top = sample_lib.related_text("mixture of experts routing", k=1)[0].id
    sample_lib.trash(top)
    assert top not in [h.id for h in sample_lib.related_text("mixture of experts routing", k=20)]
    sample_lib.restore(top)
    assert top == sample_lib.related_text("mixture of experts routing", k=1)[0].id


def test_new_papers_are_found_before_and_after_embedding(sample_lib):
    sample_lib.import_items([("x", Record(title="Quantum error correction with surface codes",
                                          abstract="Surface codes protect logical qubits from noise."))])
    assert sample_lib.stats().pending == 1
    # Pending: found by keywords already.
    assert sample_lib.search("surface codes qubits", k=1)[0].title.startswith("Quantum error correction")
    sample_lib.embed_all()
    hits = sample_lib.related_text("protecting qubits against decoherence", k=3)
    assert hits[0].title.startswith("Quantum error correction")


def test_incremental_neighbour_statistics_equal_a_fresh_build(sample_lib):
    lib = sample_lib
    lib.index.snapshot()
    lib.import_items([(str(i), Record(title=f"Extra paper number {i} on sparse experts",
                                      abstract=f"Routing tokens to experts, variant {i}.")) for i in range(40)])
    lib.embed_all()  # vectors arrive in batches and are folded in incrementally
    inc = lib.index.snapshot()
    fresh = Index(lib.store, lib.model_id).snapshot()
    live = [pid for i, pid in enumerate(inc.ids[:inc.n]) if inc.alive[i]]
    assert sorted(live) == sorted(fresh.ids)
    np.testing.assert_allclose([inc.hub[inc.row(p)] for p in live], [fresh.hub[fresh.row(p)] for p in live], atol=1e-5)


def built(texts: list[str], compact_after: int | None = None) -> Postings:
    """Postings of texts, appended one by one (compacted after the first `compact_after`, if given)."""
    post = Postings()
    for i, t in enumerate(texts):
        if i == compact_after:
            compact(post)
        post.append(count([t]))
    return post


def compact(post: Postings) -> None:
    frozen = post.frozen()
    post.adopt(*Postings.compact(frozen), frozen[2])


def test_tfidf_postings_give_the_cosine_of_stems_and_stem_pairs():
    docs = ["Sparse mixture of experts routes tokens to experts.",
            "Experts agree: a mixture of methods works.",
            "Routing tokens through a sparse mixture of experts layer.",
            "Graph neural networks for molecules."]
    toks = [(lambda st: st + [f"{a} {b}" for a, b in zip(st, st[1:])])(stems(d)) for d in docs]
    # Brute force: sublinear tf x smoothed idf over every stem and every pair two papers hold, l2-normalised.
    vocab = sorted({t for d in toks for t in d})
    df = np.array([sum(t in d for d in toks) for t in vocab])
    vocab, df = zip(*[(t, n) for t, n in zip(vocab, df) if n > 1 or " " not in t])
    df = np.array(df)
    idf = np.log((1 + len(docs)) / (1 + df)) + 1
    mat = np.array([[(1 + np.log(d.count(t))) * idf[j] if t in d else 0 for j, t in enumerate(vocab)] for d in toks])
    mat /= np.linalg.norm(mat, axis=1, keepdims=True)
    for post in (built(docs), built(docs, compact_after=2), built(docs, compact_after=4)):
        compact(post)  # the norms of rows compacted earlier catch up with the idf of the rows after them
        checked = 0
        for i, d in enumerate(docs):
            got, want = post.score(stems(d), post.n).tfidf, mat @ mat[i]
            assert ((got == 0) == (want == 0)).all()
            shared = want > 0
            # The query side is left unnormalised: one constant factor for every paper, the query paper included.
            ratio = got[shared] / want[shared]
            np.testing.assert_allclose(ratio, ratio[:1].repeat(len(ratio)), rtol=1e-5)
            checked += len(ratio)
        assert checked >= 6
        assert post.df_of("mixtur expert") == 2 and post.df_of("graph") == 1
        # The phrase counts: the paper about a sparse mixture of experts beats the one that only shares the words.
        scores = post.score(stems("sparse mixture of experts"), post.n).tfidf
        assert scores[2] > scores[1] and scores[0] > scores[1] and scores[3] == 0
    # A pair only one paper holds can only match that paper: it is left out of the cosine.
    post = built(docs)
    assert post.df_of("graph neural") == 1
    alone = post.score(["graph", "neural"], post.n).tfidf
    np.testing.assert_allclose(alone, post.score(["graph"], post.n).tfidf + post.score(["neural"], post.n).tfidf)


def test_the_stop_words_are_lucenes_as_bm25s_has_them():
    from bm25s.stopwords import STOPWORDS_EN
    from papershelf.search.postings import LUCENE_STOP, STOP

    assert LUCENE_STOP == set(STOPWORDS_EN) and LUCENE_STOP < STOP


def test_numbas_scoring_loop_and_numpys_give_the_same_sums(monkeypatch):
    """Below COMPILED_ABOVE postings a score runs numpy's loop (a command then never imports numba); above it,
    or in the server, numba's. Both add the same terms in the same order."""
    from corpus import generated_papers
    from papershelf.search import postings

    texts = [r["text"] for r in generated_papers(400)]
    post = built(texts, compact_after=300)  # main postings and a delta
    monkeypatch.setattr(postings, "_in_background", False)  # as in a command: numba's loop is loaded at once
    for q in (stems(texts[10]), stems(texts[350]), ["spars", "expert", "unseenword"]):
        monkeypatch.setattr(postings, "COMPILED_ABOVE", 10**12)
        by_numpy = post.score(q, post.n, symmetric=True)
        monkeypatch.setattr(postings, "COMPILED_ABOVE", -1)
        by_numba = post.score(q, post.n, symmetric=True)
        assert by_numpy.keyword.any() and by_numpy.tfidf.any()
        np.testing.assert_array_equal(by_numpy.keyword, by_numba.keyword)
        np.testing.assert_array_equal(by_numpy.tfidf, by_numba.tfidf)


def test_the_server_scores_with_numpy_while_numbas_loop_loads_in_a_thread(monkeypatch):
    """In the server, a small library is scored by numpy's loop until start-up is done; then the next score starts
    loading numba's loop in a thread and is answered by numpy's meanwhile (no lookup waits the second numba takes
    to load); after it, every score is numba's, whatever the size."""
    import threading

    from corpus import generated_papers
    from papershelf.search import postings

    texts = [r["text"] for r in generated_papers(200)]
    post = built(texts)
    q = stems(texts[10])
    monkeypatch.setattr(postings, "_in_background", False)
    monkeypatch.setattr(postings, "_at_any_size", False)
    by_numpy = post.score(q, post.n, symmetric=True)  # (a small index: numpy's loop, as in a command)
    monkeypatch.setattr(postings, "_compiled_loop", None)
    monkeypatch.setattr(postings, "_loading", threading.Lock())
    monkeypatch.setattr(postings, "_load_thread", None)
    held, load = threading.Event(), postings._load_compiled
    monkeypatch.setattr(postings, "_load_compiled", lambda args: (held.wait(60), load(args)))
    postings.load_compiled_in_background()  # (both flags are put back after the test: monkeypatch saved them)
    post.score(q, post.n, symmetric=True)
    assert not any(t.name == "numba-load" for t in threading.enumerate())  # below the size, start-up not done
    postings.use_compiled_at_any_size()
    while_loading = post.score(q, post.n, symmetric=True)  # returns although the load is held
    assert postings._compiled_loop is None
    loader = next(t for t in threading.enumerate() if t.name == "numba-load")
    np.testing.assert_array_equal(while_loading.keyword, by_numpy.keyword)
    postings.wait_for_background_load(0.2)  # (what bench/ingest.py waits on: the load is still held here)
    assert loader.is_alive() and postings._compiled_loop is None
    held.set()
    postings.wait_for_background_load(60)
    assert not loader.is_alive()
    from papershelf.search.kernels import accumulate

    assert postings._compiled_loop is accumulate
    assert postings.scoring_loop(10, ()) is accumulate  # at any size, in the server
    np.testing.assert_array_equal(post.score(q, post.n, symmetric=True).keyword, by_numpy.keyword)
    assert sum(t.name == "numba-load" for t in threading.enumerate()) == 0  # loaded once, no second thread


def test_a_command_on_a_small_library_never_imports_numba(sample_copy):
    import json
    import subprocess
    import sys

    probe = ("import json, sys; from papershelf.library import Library; lib = Library(sys.argv[1]); "
             "hits = lib.related_text('sparse mixture of experts', k=3); lib.close(); "
             "print(json.dumps([len(hits), 'numba' in sys.modules]))")
    p = subprocess.run([sys.executable, "-c", probe, str(sample_copy)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == [3, False]


def test_bm25_equals_bm25s_however_the_postings_were_built():
    import bm25s
    from corpus import generated_papers

    texts = [r["text"] for r in generated_papers(400)]
    stemmed = [stems(t) for t in texts]
    for post in (built(texts), built(texts, compact_after=150)):
        dead = [3, 200, 399]
        for r in dead:
            post.kill(r)
        live = [i for i in range(len(texts)) if i not in dead]
        oracle = bm25s.BM25(k1=1.5, b=0.75)
        oracle.index([stemmed[i] for i in live], show_progress=False)
        for q in (stemmed[10], stemmed[250], ["spars", "expert", "unseenword"]):
            want = oracle.get_scores(list(dict.fromkeys(t for t in q if t in oracle.vocab_dict)))
            got = post.score(q, post.n, tfidf=False).keyword[live]
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        compact(post)
        got = post.score(stemmed[10], post.n, tfidf=False).keyword[live]
        np.testing.assert_allclose(got, oracle.get_scores(list(dict.fromkeys(stemmed[10]))), rtol=1e-4, atol=1e-4)


def test_fusion_scales_each_word_signal_by_its_best_other_score():
    dense = np.array([0.9, 0.5, 0.1], dtype=np.float32)
    tfidf = np.array([5.0, 1.0, 0.5], dtype=np.float32)  # row 0 is the query paper itself
    bm25 = np.array([20.0, 4.0, 8.0], dtype=np.float32)
    fused = fuse_weighted(dense, tfidf, bm25, dense_weight=0.7, ignore=[0])
    words_share = 0.3 / (TFIDF_WEIGHT + BM25_WEIGHT)
    np.testing.assert_allclose(fused[1], 0.7 * 0.5 + words_share * (TFIDF_WEIGHT * 1.0 + BM25_WEIGHT * 0.5))
    np.testing.assert_allclose(fused[2], 0.7 * 0.1 + words_share * (TFIDF_WEIGHT * 0.5 + BM25_WEIGHT * 1.0))
    # No vector for the query: the words decide alone, on the same 0..1 scale.
    words_only = fuse_weighted(dense, tfidf, bm25, dense_weight=0.0, ignore=[0])
    total = TFIDF_WEIGHT + BM25_WEIGHT
    np.testing.assert_allclose(words_only[1:], [(TFIDF_WEIGHT + BM25_WEIGHT * 0.5) / total,
                                                (TFIDF_WEIGHT * 0.5 + BM25_WEIGHT) / total], rtol=1e-6)
    assert words_only[1:].max() <= 1


def test_writes_apply_paper_by_paper_and_equal_a_fresh_build(sample_lib):
    lib = sample_lib
    before = lib.index.snapshot()
    gone = before.ids[0]
    changed = lib.get(before.ids[1])
    lib.trash(gone)
    lib.save(Record(title=changed.title, abstract=changed.abstract + " Sparse experts route every token twice."))
    lib.import_items([(str(i), Record(title=f"Extra paper {i} on sparse experts",
                                      abstract=f"Routing tokens to sparse experts, variant {i}.")) for i in range(5)])
    lib.update(before.ids[2], tags=["moe"])
    inc = lib.index.snapshot()
    # Nothing was rebuilt: the old rows are where they were, the new texts came as new rows.
    assert inc.ids[:before.n] == before.ids[:before.n] and inc.n == before.n + 6
    assert inc.row(gone) is None and "twice" in inc.texts[inc.row(changed.id)]
    assert inc.tags[inc.row(before.ids[2])] == ["moe"] and inc.briefs[inc.row(before.ids[2])].tags == ["moe"]
    fresh = Index(lib.store, lib.model_id).snapshot()
    live = [pid for i, pid in enumerate(inc.ids[:inc.n]) if inc.alive[i]]
    assert sorted(live) == sorted(fresh.ids)
    a, b = np.array([inc.row(p) for p in live]), np.array([fresh.row(p) for p in live])
    for text in ("sparse experts route tokens", inc.texts[inc.row(changed.id)], "twice variant"):
        # BM25 both ways is exact at once; the TF-IDF norms of older rows catch up at the next compaction.
        got, want = inc.words.score(stems(text), inc.n, symmetric=True), fresh.words.score(stems(text), fresh.n,
                                                                                               symmetric=True)
        np.testing.assert_allclose(got.keyword[a], want.keyword[b], rtol=1e-5)
        np.testing.assert_allclose(got.tfidf[a], want.tfidf[b], rtol=0.05)
    lib.index.compact()
    inc = lib.index.snapshot()
    for text in ("sparse experts route tokens", inc.texts[inc.row(changed.id)], "twice variant"):
        got, want = inc.words.score(stems(text), inc.n), fresh.words.score(stems(text), fresh.n)
        np.testing.assert_allclose(got.tfidf[a], want.tfidf[b], rtol=1e-5)
    assert inc.words.df_of("spars expert") == fresh.words.df_of("spars expert") >= 6
    # And the lookups themselves agree.
    for pid in live[:20]:
        assert [h.id for h in lib.related(pid, k=5)] == \
            [fresh.ids[r] for r in lib.index.__class__(lib.store, lib.model_id).related(
                fresh.texts[fresh.row(pid)], fresh.matrix[fresh.row(pid)] if fresh.has_vec[fresh.row(pid)] else None,
                k=5, exclude=[pid])[1].rows]


def test_lookups_during_an_import_use_the_library_as_it_was_and_see_it_once_finished(sample_lib):
    import threading

    from papershelf.library import IMPORT_BATCH

    lib = sample_lib
    lib.index.snapshot()
    half_way, go_on = threading.Event(), threading.Event()

    def items():
        for i in range(IMPORT_BATCH):  # one whole batch: merged into the store before the pause
            yield str(i), Record(title=f"Holographic tensor networks, part {i}",
                                 abstract="Holographic codes built from tensor networks.")
        half_way.set()
        go_on.wait(30)

    importer = threading.Thread(target=lib.import_items, args=(items(),))
    importer.start()
    try:
        assert half_way.wait(30)
        assert lib.stats().papers == 289 + IMPORT_BATCH  # the batch is in the store, the import goes on
        # A lookup now neither waits for the import nor sees half of it.
        assert not any(h.title.startswith("Holographic") for h in lib.search("holographic tensor networks", k=5))
    finally:
        go_on.set()
        importer.join(30)
    assert not importer.is_alive()
    # The import returns only once lookups can see it.
    assert lib.search("holographic tensor networks", k=1)[0].title.startswith("Holographic")


def test_the_shipped_function_words_are_scikit_learns():
    from papershelf.search.index import function_words
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    assert function_words() == ENGLISH_STOP_WORDS


def test_search_without_a_query_vector_ranks_by_words_alone(sample_lib):
    """When the model cannot embed the query, search falls back to keywords: the zero 'semantic' scores of
    every paper must not push the keyword hits down."""
    s, ranked = sample_lib.index.search("mixture of experts routing", None, k=5)
    kw = sample_lib.index._keyword(s, __import__("papershelf.search.postings", fromlist=["stems"]).stems(
        "mixture of experts routing"))
    assert ranked.rows == [int(r) for r in np.argsort(-kw, kind="stable")[:5]]
