"""Citation keys (store/keys.py): given once when a paper arrives, kept through corrections, merges and
re-imports, unique, the user's own winning, and the key an export writes."""

from __future__ import annotations

import json

import pytest
from conftest import run_cli
from papershelf.models import Record

ATTENTION = Record(title="Attention Is All You Need", authors=["Ashish Vaswani", "Noam Shazeer"], year=2017,
                   identifiers=["arxiv:1706.03762"])


def key_of(lib, ref: str) -> str:
    return lib.citation_key(ref).key


def test_a_readable_key_is_given_once_and_kept_when_the_title_or_year_is_corrected(empty_lib):
    paper, _ = empty_lib.save(ATTENTION)
    assert key_of(empty_lib, paper.id) == "vaswani2017attention"
    empty_lib.edit(paper.id, {"title": "Attention Is (Not Quite) All You Need", "year": 2018}, None, [])
    assert key_of(empty_lib, "arxiv:1706.03762") == "vaswani2017attention"
    assert empty_lib.resolve("vaswani2017attention") == paper.id  # a \cite{} key finds its paper
    # Seen again (a page, a re-import): the paper merges, its key stays.
    again, added = empty_lib.save(Record(title="Attention Is All You Need", authors=["A. Vaswani"], year=2017,
                                         identifiers=["arxiv:1706.03762"]))
    assert not added and key_of(empty_lib, again.id) == "vaswani2017attention"
    # The default skips words that say nothing, folds accents and survives a paper with no author or year.
    on, _ = empty_lib.save(Record(title="On the Éxpressive Power of Deep Networks", authors=["Müller, Jörg"]))
    assert key_of(empty_lib, on.id) == "mullerexpressive"
    bare, _ = empty_lib.save(Record(title="A B"))
    assert key_of(empty_lib, bare.id) == "anonpaper"


def test_a_clash_gets_a_letter_and_an_imported_key_is_kept_unless_another_paper_has_it(empty_lib, tmp_path):
    keys = []
    for title in ("Attention Is All You Need", "Attention Heads Disagree", "Attention Sinks in Practice"):
        paper, _ = empty_lib.save(Record(title=title, authors=["Ashish Vaswani"], year=2017))
        keys.append(key_of(empty_lib, paper.id))
    assert keys == ["vaswani2017attention", "vaswani2017attentiona", "vaswani2017attentionb"]
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{lecun98gradient, title={Gradient-Based Learning Applied to Document Recognition},\n"
                   " author={LeCun, Yann and Bottou, L{\\'e}on}, journal={Proceedings of the IEEE}, year={1998}}\n"
                   "@inproceedings{vaswani2017attention, title={Transformers for Tides},\n"
                   " author={Okafor, Ada}, booktitle={Ocean ML}, year={2021}}\n")
    report = empty_lib.import_path(bib)
    assert len(report.added) == 2
    assert key_of(empty_lib, "lecun98gradient") == "lecun98gradient"  # the key it came with
    tides = empty_lib.resolve(report.added[1])
    assert key_of(empty_lib, tides) == "okafor2021transformers"  # its own was another paper's
    assert empty_lib.resolve("vaswani2017attention") != tides
    # Imported again, and the library's own export imported back: nothing moves, no two papers become one.
    before = {p.id: key_of(empty_lib, p.id) for p in empty_lib.iter_papers()}
    empty_lib.import_path(bib)
    mine = tmp_path / "mine.bib"
    mine.write_text("".join(empty_lib.export("bibtex")))
    again = empty_lib.import_path(mine)
    assert again.added == [] and len(again.merged) == len(before)
    assert {p.id: key_of(empty_lib, p.id) for p in empty_lib.iter_papers()} == before


def test_the_users_key_wins_and_the_old_one_still_finds_the_paper(empty_lib):
    paper, _ = empty_lib.save(ATTENTION)
    other, _ = empty_lib.save(Record(title="Deep Residual Learning", authors=["Kaiming He"], year=2016))
    got = empty_lib.set_citation_key(paper.id, "transformer")
    assert (got.key, got.aliases) == ("transformer", ["vaswani2017attention"])
    assert empty_lib.resolve("vaswani2017attention") == empty_lib.resolve("transformer") == paper.id
    for bad in ("two words", "a,b", "{x}", "-dash", "x" * 101, "transformer"):  # the last: another paper's
        with pytest.raises(ValueError):
            empty_lib.set_citation_key(other.id, bad)
    assert key_of(empty_lib, other.id) == "he2016deep"
    bib = "".join(empty_lib.export("bibtex"))
    assert "@misc{transformer," in bib and "@misc{he2016deep," in bib and "vaswani2017attention" not in bib
    csl = json.loads("".join(empty_lib.export("csljson")))
    assert {item["id"] for item in csl} == {"transformer", "he2016deep"}


def test_a_merge_keeps_both_keys_and_an_undo_gives_each_its_own_back(empty_lib):
    keep, _ = empty_lib.save(ATTENTION)
    gone, _ = empty_lib.save(Record(title="Attention Is All You Need (preprint)", authors=["A. Vaswani"], year=2017,
                                    identifiers=["doi:10.5555/attention"]))
    assert key_of(empty_lib, gone.id) == "vaswani2017attentiona"
    merge = empty_lib.merge(keep.id, gone.id)
    assert key_of(empty_lib, keep.id) == "vaswani2017attention"
    assert empty_lib.resolve("vaswani2017attentiona") == keep.id  # the merged paper's \cite{} still works
    assert empty_lib.citation_key(keep.id).aliases == ["vaswani2017attentiona"]
    empty_lib.undo_merge(merge)
    assert key_of(empty_lib, gone.id) == "vaswani2017attentiona" and key_of(empty_lib, keep.id) == \
        "vaswani2017attention"


def test_every_export_carries_the_keys_into_another_library(empty_lib, tmp_path):
    from papershelf.library import Library

    paper, _ = empty_lib.save(ATTENTION)
    other, _ = empty_lib.save(Record(title="Deep Residual Learning", authors=["Kaiming He"], year=2016))
    empty_lib.set_citation_key(other.id, "resnet")
    for fmt in ("jsonl", "bibtex", "csljson", "ris"):
        (tmp_path / f"lib.{fmt}").write_text("".join(empty_lib.export(fmt)))
        there = Library(tmp_path / f"home-{fmt}")
        try:
            there.import_path(tmp_path / f"lib.{fmt}")
            keys = {there.citation_key(p.id).key for p in there.iter_papers()}
            assert keys == {"vaswani2017attention", "resnet"}, fmt
        finally:
            there.close()


def test_undoing_a_merge_made_before_keys_were_kept_gives_the_paper_back_a_key(empty_lib):
    import msgspec

    keep, _ = empty_lib.save(ATTENTION)
    gone, _ = empty_lib.save(Record(title="Attention Heads Disagree", authors=["Ashish Vaswani"], year=2017))
    merge = empty_lib.merge(keep.id, gone.id)
    c = empty_lib.store._cur()  # the merge as an earlier papershelf recorded it: nothing about keys
    before = msgspec.json.decode(c.execute("SELECT before FROM merges WHERE id = ?", [merge]).fetchone()[0])
    del before["gone_keys"]
    c.execute("UPDATE merges SET before = ? WHERE id = ?", [msgspec.json.encode(before), merge])
    empty_lib.undo_merge(merge)
    assert key_of(empty_lib, gone.id) == "vaswani2017attentionb"  # its old key stays the kept paper's alias


def test_a_library_from_before_keys_gets_them_once_oldest_first(tmp_path):
    from papershelf.library import Library

    lib = Library(tmp_path / "home")
    first, _ = lib.save(Record(title="Attention Is All You Need", authors=["Ashish Vaswani"], year=2017))
    second, _ = lib.save(Record(title="Attention Heads Disagree", authors=["Ashish Vaswani"], year=2017))
    c = lib.store._cur()  # as a library written before keys were kept: no table, its migration not applied
    c.execute("DROP TABLE citation_keys")
    c.execute("DELETE FROM schema_migrations WHERE version = 11")
    lib.close()
    lib = Library(tmp_path / "home")
    try:
        assert (key_of(lib, first.id), key_of(lib, second.id)) == ("vaswani2017attention", "vaswani2017attentiona")
        assert lib.store.citation_keys.give_missing() == 0  # given once
    finally:
        lib.close()


def test_the_key_command_shows_and_sets_a_key(sample_copy):
    hit = json.loads(run_cli("search", "diffusion models", "--json", home=sample_copy).stdout)[0]
    shown = json.loads(run_cli("key", hit["id"], "--json", home=sample_copy).stdout)
    assert shown["id"] == hit["id"] and shown["key"] and shown["aliases"] == []
    p = run_cli("key", hit["id"], "ho2020ddpm", home=sample_copy)
    assert p.stdout.strip() == "ho2020ddpm" and shown["key"] in p.stderr
    assert json.loads(run_cli("show", shown["key"], "--json", home=sample_copy).stdout)["id"] == hit["id"]
    bad = run_cli("key", hit["id"], "not a key", home=sample_copy, check=False)
    assert bad.returncode == 1 and "not a citation key LaTeX accepts" in bad.stderr
    assert "@misc{ho2020ddpm," in run_cli("export", "--format", "bibtex", home=sample_copy).stdout \
        or "{ho2020ddpm," in run_cli("export", "--format", "bibtex", home=sample_copy).stdout
