"""Lookups over the real sample library: related papers by id, by text and for unseen papers; search;
filters; the "why" terms; the in-memory index kept in step with the store."""

import re

import numpy as np

from papershelf.index import Index
from papershelf.models import Filters, Record

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
    assert any("diffusion" in h.why for h in hits[:5])


def test_related_for_a_paper_not_in_the_library(sample_lib):
    text = ("Switch Transformers: Scaling to Trillion Parameter Models with Simple and Efficient Sparsity. "
            "We simplify the MoE routing algorithm and design intuitive improved models.")
    hits = sample_lib.related_text(text, k=3)
    assert all(MOE.search(h.title + sample_lib.store.get(h.id).abstract[:500]) for h in hits)


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
    fresh = Index(lib.store, lib.model_id)._build()
    assert inc.ids == fresh.ids
    np.testing.assert_allclose(inc.hub, fresh.hub, atol=1e-5)
