"""The store: migrations, de-duplication on every write, merges that keep the richest fields and never drop
a user's tags, and one-writer locking between processes."""

import subprocess
import sys

import duckdb
import pytest
from papershelf.models import PaperQuery, Record
from papershelf.store import Store, StoreError
from papershelf.store.migrations import MIGRATIONS


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "library.duckdb")
    yield s
    s.close()


def put(store, *records):
    """added, merged, failed (warnings have their own tests in test_clean.py)."""
    return store.merge_records([(f"r{i}", r) for i, r in enumerate(records)])[:3]


def test_fresh_database_has_every_migration(tmp_path):
    s = Store(tmp_path / "l.duckdb")
    assert s.schema_version() == max(v for v, _, _ in MIGRATIONS)
    s.close()
    s = Store(tmp_path / "l.duckdb")  # reopening applies nothing twice
    assert s.migrate() == []
    s.close()


def test_migrations_upgrade_an_old_file(tmp_path):
    path = tmp_path / "old.duckdb"
    c = duckdb.connect(str(path))
    c.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)")
    c.execute(MIGRATIONS[0][2])
    c.execute("INSERT INTO schema_migrations VALUES (1, 'x', now())")
    c.close()
    s = Store(path)
    assert s.schema_version() == max(v for v, _, _ in MIGRATIONS)
    s.set_setting("k", "v")  # the table of migration 2 exists now
    assert s.get_setting("k") == "v"
    s.close()


def test_a_release_whose_migration_fails_leaves_the_library_as_it_was(tmp_path, monkeypatch):
    """A release's migrations are applied all together or not at all: when its second fails, its first is not
    left behind, and the library opens again with the papers and schema it had."""
    from papershelf import store as store_module

    path = tmp_path / "l.duckdb"
    s = Store(path)
    put(s, Record(title="Attention is all you need", abstract="Transformers.", year=2017))
    s.close()
    newest = max(v for v, _, _ in MIGRATIONS)
    later = [*MIGRATIONS, (newest + 1, "a new table", "CREATE TABLE later (x INTEGER);"),
             (newest + 2, "a change that fails", "ALTER TABLE no_such_table ADD COLUMN y INTEGER;")]
    monkeypatch.setattr(store_module, "MIGRATIONS", later)
    with pytest.raises(duckdb.Error, match="no_such_table"):
        Store(path)
    monkeypatch.setattr(store_module, "MIGRATIONS", MIGRATIONS)
    s = Store(path)
    assert s.schema_version() == newest and s.count_live() == 1
    assert s._cur().execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'later'"
                            ).fetchone() == (0,)
    s.close()


def test_a_newer_schema_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "new.duckdb"
    Store(path).close()
    c = duckdb.connect(str(path))
    c.execute("INSERT INTO schema_migrations VALUES (999, 'future', now())")
    c.close()
    with pytest.raises(StoreError, match="newer papershelf"):
        Store(path)


def test_arxiv_versions_are_one_paper(store):
    added, merged, failed = put(store,
                                Record(title="Attention Is All You Need", identifiers=["arxiv:1706.03762v1"]),
                                Record(title="Attention is all you need (v7)", identifiers=["arxiv:1706.03762v7"]))
    assert len(added) == 1 and len(merged) == 1 and not failed
    assert merged[0].id == added[0]


def test_arxiv_doi_is_the_arxiv_id(store):
    added, _, _ = put(store, Record(title="A", identifiers=["arxiv:2312.07559"]))
    _, merged, _ = put(store, Record(title="Another title entirely", identifiers=["doi:10.48550/arXiv.2312.07559"]))
    assert merged[0].id == added[0]
    assert store.resolve("https://doi.org/10.48550/arxiv.2312.07559") == added[0]


def test_doi_case_and_prefix_forms_merge(store):
    added, _, _ = put(store, Record(title="PNAS paper", identifiers=["doi:10.1073/PNAS.1414271111"]))
    _, merged, _ = put(store, Record(title="x", url="https://doi.org/10.1073/pnas.1414271111"))
    assert merged[0].id == added[0]


def test_same_title_and_first_author_merge_across_formats(store):
    a, _, _ = put(store, Record(title="{BERT}: Pre-training of Deep Bidirectional Transformers",
                                authors=["Devlin, Jacob", "Chang, Ming-Wei"], year=2019))
    _, m, _ = put(store, Record(title="BERT: pre-training of deep bidirectional transformers.",
                                authors=["Jacob Devlin"], year=2018, identifiers=["arxiv:1810.04805"]))
    assert m[0].id == a[0]
    p = store.get(a[0])
    assert "arxiv:1810.04805" in p.identifiers
    assert p.authors == ["Devlin, Jacob", "Chang, Ming-Wei"]  # the richer author list stays


def test_same_title_other_first_author_is_another_paper(store):
    a, _, _ = put(store, Record(title="A Survey of Graph Neural Networks", authors=["Alice Smith"]))
    b, _, _ = put(store, Record(title="A survey of graph neural networks", authors=["Bob Jones"]))
    assert a and b and a != b


def test_same_title_far_apart_years_is_another_paper(store):
    a, _, _ = put(store, Record(title="Deep Learning for Everything", year=2001))
    b, _, _ = put(store, Record(title="Deep learning for everything", year=2019))
    assert a != b and b


def test_same_title_two_arxiv_ids_is_two_papers(store):
    a, _, _ = put(store, Record(title="Language Models are Few-Shot Learners", identifiers=["arxiv:2005.14165"]))
    b, _, _ = put(store, Record(title="Language models are few-shot learners", identifiers=["arxiv:2301.00001"]))
    assert a != b and b


def test_short_generic_titles_never_merge(store):
    a, _, _ = put(store, Record(title="Introduction"))
    b, _, _ = put(store, Record(title="Introduction"))
    assert a != b and b


def test_preprint_and_published_version_are_one_paper_with_both_ids(store):
    pre, _, _ = put(store, Record(title="Chain of Thought Prompting Elicits Reasoning", authors=["Jason Wei"],
                                  year=2022, identifiers=["arxiv:2201.11903"]))
    _, m, _ = put(store, Record(title="Chain-of-Thought Prompting Elicits Reasoning", authors=["Wei, Jason"],
                                year=2022, venue="NeurIPS", identifiers=["doi:10.5555/3600270.3602070"]))
    assert m[0].id == pre[0]
    p = store.get(pre[0])
    assert {"arxiv:2201.11903", "doi:10.5555/3600270.3602070"} <= set(p.identifiers)
    assert p.venue == "NeurIPS"


def test_merge_keeps_richest_fields_and_union_of_tags(store):
    a, _, _ = put(store, Record(title="Paper One Title Here", abstract="short", tags=["to-read", "mine"],
                                identifiers=["arxiv:2101.00001"]))
    store.update(a[0], tags=["to-read", "mine", "favourite"])
    _, m, _ = put(store, Record(title="Paper One Title Here", abstract="a much longer abstract than before",
                                authors=["A B"], tags=["imported"], identifiers=["arxiv:2101.00001v2", "key:one"]))
    assert m[0].changed
    p = store.get(a[0])
    assert p.abstract == "a much longer abstract than before"
    assert p.tags == ["to-read", "mine", "favourite", "imported"]  # never drops the user's tags
    assert p.authors == ["A B"]
    _, m2, _ = put(store, Record(title="Paper One Title Here", abstract="short", identifiers=["key:one"]))
    assert not m2[0].changed  # nothing new: reported as unchanged
    assert store.get(a[0]).abstract == "a much longer abstract than before"


def test_a_record_that_bridges_two_papers_folds_them_into_one(store):
    a, _, _ = put(store, Record(title="Paper known by arxiv", identifiers=["arxiv:2101.00002"], tags=["x"]))
    b, _, _ = put(store, Record(title="Totally different title known by doi", identifiers=["doi:10.1234/abc"],
                                tags=["y"]))
    _, m, _ = put(store, Record(title="Bridge", identifiers=["arxiv:2101.00002", "doi:10.1234/abc"]))
    assert m[0].id == a[0]
    assert store.get(b[0]) is None
    assert store.resolve(b[0]) == a[0]  # the old id still finds the paper
    assert set(store.get(a[0]).tags) == {"x", "y"}
    assert store.integrity() == []


def test_duplicates_inside_one_batch_merge(store):
    added, merged, _ = put(store, Record(title="Same paper twice in a file", identifiers=["doi:10.1234/dup"]),
                           Record(title="Same paper twice in a file", identifiers=["doi:10.1234/DUP"]))
    assert len(added) == 1 and merged[0].id == added[0]


def test_bad_records_fail_alone(store):
    added, merged, failed = put(store, Record(title=""), Record(title="Good record title"))
    assert len(added) == 1 and failed[0].position == "r0" and "title" in failed[0].reason


def test_any_identifier_resolves(store):
    a, _, _ = put(store, Record(title="Resolvable", identifiers=["arxiv:1706.03762", "key:vaswani2017",
                                                                 "doi:10.5555/x", "openreview:abcXYZ"]))
    pid = a[0]
    for ref in (pid, "1706.03762v3", "arXiv:1706.03762", "https://arxiv.org/abs/1706.03762",
                "vaswani2017", "key:vaswani2017", "10.5555/X", "https://openreview.net/forum?id=abcXYZ"):
        assert store.resolve(ref) == pid, ref
    assert store.resolve("1111.11111") is None


def test_trash_and_restore(store):
    a, _, _ = put(store, Record(title="Trash me please", identifiers=["arxiv:2101.00003"]))
    assert store.trash(a[0]) and not store.trash(a[0])
    assert store.list_papers()[0] == 0 and store.list_papers(PaperQuery(trashed=True))[0] == 1
    assert store.restore(a[0])
    assert store.list_papers()[0] == 1


def test_saving_a_trashed_paper_again_restores_it(store):
    a, _, _ = put(store, Record(title="Trash then save", identifiers=["arxiv:2101.00004"]))
    store.trash(a[0])
    _, m, _ = put(store, Record(title="Trash then save", identifiers=["arxiv:2101.00004"]))
    assert m[0].changed and store.get(a[0]).deleted_at is None


def test_a_second_process_gets_a_clear_lock_error(tmp_path):
    path = tmp_path / "locked.duckdb"
    s = Store(path)
    code = ("import sys; from papershelf.store import Store, StoreError\n"
            f"try:\n    Store({str(path)!r})\nexcept StoreError as e:\n    print(e); sys.exit(3)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    s.close()
    assert p.returncode == 3
    assert "open in another process" in p.stdout and "papershelf serve" in p.stdout


def _state(store):
    """The library as comparable data (random paper ids left out): each paper by its sorted identifiers."""
    out = {}
    for p in store.iter_papers():
        refs = tuple(sorted(i for i in p.identifiers if not i.startswith("id:")))
        out[refs or (p.title,)] = (p.title, p.abstract, tuple(p.authors), p.year, p.venue, tuple(p.tags),
                                   p.deleted_at is None)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_bulk_merge_equals_merging_one_record_at_a_time(tmp_path, seed, monkeypatch):
    """The bulk path (new papers queued, unchanged ones skipped) leaves exactly the library and the report that
    one-at-a-time merging does: duplicates in a batch, by identifier or title, re-imports, richer fields,
    records that join two papers, trashed papers coming back."""
    import random

    from papershelf import ids
    from papershelf import store as store_mod

    rng = random.Random(seed)
    titles = [f"A study of topic number {i} in depth" for i in range(40)]

    def record():
        i = rng.randrange(40)
        refs = rng.sample([f"arxiv:2101.{i:05d}", f"doi:10.1234/p{i}", f"key:k{i}", f"doi:10.1234/q{rng.randrange(40)}"],
                          k=rng.randrange(0, 3))
        return Record(title=titles[i] if rng.random() < .9 else titles[i].upper(), abstract="x" * rng.randrange(0, 30),
                      authors=rng.choice([[], ["Ada Smith"], ["Ada Smith", "Bo Li"], ["Cy Park"]]),
                      year=rng.choice([None, 2020, 2021, 2024]), tags=rng.sample(["a", "b", "c"], k=rng.randrange(0, 2)),
                      identifiers=refs)

    batches = [[(f"r{b}-{j}", record()) for j in range(rng.randrange(1, 60))] for b in range(6)]
    results = {}
    for name in ("bulk", "one at a time"):
        if name == "one at a time":
            monkeypatch.setattr(store_mod._BatchMerge, "merge",
                                lambda self, rec, pairs: self._one_at_a_time(
                                    rec, pairs, [ids.format_identifier(s, v) for s, v in pairs],
                                    ids.normalize_title(rec.title)))
        s = Store(tmp_path / f"{name}.duckdb")
        reports = []
        for n, batch in enumerate(batches):
            added, merged, failed, _ = s.merge_records(batch)
            reports.append((len(added), sorted((m.position, m.changed) for m in merged), len(failed)))
            if n == 2 and added:
                s.trash(added[0])  # a trashed paper that a later batch brings back
        results[name] = (reports, _state(s))
        s.close()
    assert results["bulk"] == results["one at a time"]



def test_duplicates_review_offers_what_the_merge_left_apart_and_merges_undoably(tmp_path):
    """Same title with another first author, a preprint and its published version: offered side by side. A
    merge takes everything into the kept paper; undoing it gives both back exactly; "keep both" is final."""
    import numpy as np
    from papershelf.store import Store, content_hash

    store = Store(tmp_path / "lib.duckdb")
    recs = [Record(title="Attention Is All You Need", authors=["Ashish Vaswani"], year=2017, identifiers=["arxiv:1706.03762"],
                   tags=["transformers"]),
            Record(title="Attention is all you need", authors=["Jane Other"], year=2017, abstract="Another paper.",
                   identifiers=["doi:10.5555/other"]),
            Record(title="Deep residual learning for image recognition", authors=["Kaiming He"], year=2015,
                   identifiers=["arxiv:1512.03385"]),
            Record(title="Deep residual learning for image recognition (CVPR)", authors=["Kaiming He"], year=2016,
                   abstract="We present a residual learning framework.", identifiers=["doi:10.1109/cvpr.2016.90"],
                   tags=["vision"]),
            Record(title="Something else entirely, on sparse experts", authors=["A. Person"])]
    added, _, failed, _ = store.merge_records([("t", r) for r in recs], source="test")
    assert not failed and len(added) == 5
    attention_a, attention_b, resnet_pre, resnet_pub, _ = added
    pub = store.get(resnet_pub)
    assert store.put_vectors("m", [(resnet_pub, content_hash(pub.title, pub.abstract), np.ones(4, dtype=np.float32))]) == 1
    ids_, vecs = store.vectors("m", [attention_a, resnet_pub, "nonesuch"])
    assert ids_ == [resnet_pub] and vecs.tolist() == [[1.0] * 4] and store.vectors("m")[0] == [resnet_pub]
    pairs = {(a.id, b.id): why for a, b, why in store.duplicate_pairs()}
    assert set(pairs) == {tuple(sorted((attention_a, attention_b))), tuple(sorted((resnet_pre, resnet_pub)))}
    assert "another first author" in pairs[tuple(sorted((attention_a, attention_b)))]
    assert "nearly the same title" in pairs[tuple(sorted((resnet_pre, resnet_pub)))]
    assert "one is an arXiv preprint" in pairs[tuple(sorted((resnet_pre, resnet_pub)))]
    before = {pid: store.get(pid) for pid in added}
    vectors_before = store._rows(store._cur(), "embeddings", "paper_id", resnet_pub)
    mid = store.merge_pair(resnet_pre, resnet_pub)
    kept = store.get(resnet_pre)
    assert store.get(resnet_pub) is None and store.resolve(f"id:{resnet_pub}") == resnet_pre
    assert set(kept.identifiers) == {"arxiv:1512.03385", "doi:10.1109/cvpr.2016.90"}
    # The merged paper's `id:` alias resolves (above) and is never shown, by any of the reads of identifiers.
    assert kept.identifiers == ["arxiv:1512.03385", "doi:10.1109/cvpr.2016.90"]
    assert store.identifiers([resnet_pre]) == {resnet_pre: kept.identifiers} == {
        resnet_pre: store.identifiers()[resnet_pre]}
    assert store.get_many([resnet_pre, resnet_pub]) == {resnet_pre: kept}
    assert kept.abstract == "We present a residual learning framework." and kept.tags == ["vision"]
    assert store.resolve("doi:10.1109/cvpr.2016.90") == resnet_pre
    assert len(store.duplicate_pairs()) == 1
    assert store.undo_merge(mid) == (resnet_pre, resnet_pub)
    for pid in added:
        assert store.get(pid) == before[pid], pid
    assert store.resolve("doi:10.1109/cvpr.2016.90") == resnet_pub and store.resolve(f"id:{resnet_pub}") == resnet_pub
    assert len(vectors_before) == 1
    assert store._rows(store._cur(), "embeddings", "paper_id", resnet_pub) == vectors_before
    with pytest.raises(ValueError, match="already undone"):
        store.undo_merge(mid)
    store.keep_apart(attention_b, attention_a)
    assert [tuple(sorted((a.id, b.id))) for a, b, _ in store.duplicate_pairs()] == [tuple(sorted((resnet_pre, resnet_pub)))]
    store.close()


def test_facets_count_what_a_query_finds_as_the_papers_themselves_say(store):
    """Facets against counts made here from the papers the same query lists: tags, years, venues and sources,
    each most frequent first (then by value) and cut at `top`, and the papers with no abstract."""
    import collections
    import random

    rng = random.Random(3)
    venues, tags, sources = ["ICML", "NeurIPS", "ACL", "Nature", ""], ["moe", "to-read", "vision", "rl"], ["zotero", "api"]
    put(store, *[Record(title=f"A facet paper number {i} on topic {rng.random():.6f}", abstract=rng.choice(["", "Text."]),
                        year=rng.choice([None, 2019, 2020, 2021]), venue=rng.choice(venues),
                        tags=rng.sample(tags, rng.randint(0, 3)), source=rng.choice(sources)) for i in range(120)])
    for query in (PaperQuery(), PaperQuery(year_min=2020), PaperQuery(tags=["moe"]), PaperQuery(text="number 1")):
        total, papers = store.list_papers(query, limit=1000)
        got = store.facets(query, "no-model", top=3)
        assert got.total == total == len(papers) and got.without_pdf == total and got.not_embedded == total
        assert got.no_abstract == sum(not p.abstract for p in papers)

        def top(values, n=3):
            counted = collections.Counter(v for v in values if v not in (None, ""))
            return [(str(v), c) for v, c in sorted(counted.items(), key=lambda vc: (-vc[1], vc[0]))[:n]]

        assert [(c.value, c.count) for c in got.tags] == top(t for p in papers for t in p.tags)
        assert [(c.value, c.count) for c in got.venues] == top(p.venue for p in papers)
        assert [(c.value, c.count) for c in got.sources] == top(p.source for p in papers)
        assert [(c.value, c.count) for c in got.years] == sorted(top((p.year for p in papers), n=99))
