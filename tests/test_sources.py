"""Followed sources: a Zotero library (a database the tests write from Zotero's documented schema), a .bib that
another tool rewrites, a folder of PDFs; mirrored into the library by sync, and followed live by the server."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from conftest import FIXTURES, run_cli, start_server
from papershelf.models import PaperQuery, Record
from papershelf.sources import zotero
from zotero_db import ZoteroData

PDFS = FIXTURES / "pdfs"


def papers(lib, trashed: bool = False) -> dict[str, object]:
    """Title → paper, of the live (or trashed) papers."""
    return {p.title: p for p in lib.store.list_papers(PaperQuery(trashed=trashed), limit=500)[1]}


FILLERS = 10


def small_library(folder: Path, upgraded: bool = False, zotero6: bool = False) -> tuple[ZoteroData, dict[str, str]]:
    """A Zotero library with one item of each case the reader must get right, and FILLERS plain articles (so that
    removing two items is not a fifth of it)."""
    z = ZoteroData(folder, upgraded=upgraded, zotero6=zotero6)
    k: dict[str, str] = {}
    for i in range(FILLERS):
        k[f"filler{i}"] = z.add_item("journalArticle", creators=[("Fil", f"Ler{i}")],
                                     title=f"A plain article that fills the library, number {i}", date="2015")
    z.add_collection("Machine Learning")
    z.add_collection("Transformers", parent="Machine Learning")
    k["article"] = z.add_item(
        "journalArticle", creators=[("Ada", "Lovelace"), ("Grace", "Hopper"), ("Zed", "Editor", "editor")],
        tags=["reading", ("Neural networks", 1)], title="Attention for <i>sparse</i> graphs &amp; trees",
        abstractNote="<p>We study attention.</p> It works.", date="2023-05-00 May 2023",
        publicationTitle="Journal of Graph Learning", DOI="https://doi.org/10.5555/JGL.2023.ABC",
        url="https://example.org/jgl/abc", extra="arXiv: 2301.04567\nCitation Key: lovelace2023")
    z.put_in_collection(k["article"], "Transformers")
    z.add_note(k["article"], '<div data-schema-version="8"><p>Read the <b>proof</b>.</p><p>Compare with B.</p></div>')
    k["conference"] = z.add_item("conferencePaper", creators=[("Lab of Learning",)], title="A conference paper on retrieval",
                                 proceedingsTitle="Proceedings of RetrConf", conferenceName="RetrConf", date="2021",
                                 extra="tex.ids: retr21\nDOI: 10.5555/RETR.2021")  # Zotero 6 had no DOI field here
    k["edited"] = z.add_item("book", creators=[("Eve", "Editor", "editor")], title="An edited volume on everything",
                             publisher="Big Press", date="2019-00-00 2019")
    k["thesis"] = z.add_item("thesis", creators=[("Tom", "Student")], title="A thesis about many small things",
                             university="University of Somewhere", date="2020")
    k["preprint"] = z.add_item("preprint", creators=[("Pre", "Print")], title="A preprint that names its archive",
                               repository="arXiv", archiveID="arXiv:2405.01234", DOI="10.48550/arXiv.2405.01234",
                               **({} if zotero6 else {"citationKey": "print2024names"}))  # Zotero 7's own field
    k["linked"] = z.add_item("journalArticle", creators=[("Lin", "Ked")], title="A paper whose PDF is linked",
                             url="https://arxiv.org/abs/2402.07777")
    pdf = (PDFS / "twocol-arxiv.pdf").read_bytes()
    stored = z.add_attachment(k["article"], "lovelace.pdf", pdf)  # stored under storage/KEY/
    z.add_attachment(k["article"], "never-downloaded.pdf", None)  # synced metadata, the file never came
    gone = z.add_attachment(k["article"], "trashed.pdf", (PDFS / "ieee-conf.pdf").read_bytes())
    z.trash(gone)
    base = folder.parent / "papers-base"
    base.mkdir(exist_ok=True)
    shutil.copy(PDFS / "llncs-paper.pdf", base / "linked.pdf")
    z.add_attachment(k["linked"], "linked.pdf", None, link_mode="linked_file", path="attachments:linked.pdf")
    shutil.copy(PDFS / "elsarticle-journal.pdf", base / "absolute.pdf")
    z.add_attachment(k["thesis"], "absolute.pdf", None, link_mode="linked_file", path=str(base / "absolute.pdf"))
    group = z.add_group(4242, "Reading Group")
    k["group"] = z.add_item("journalArticle", library=group, creators=[("Gro", "Up")], title="A paper of the reading group",
                            DOI="10.5555/group.1")
    k["trashed"] = z.add_item("journalArticle", title="A paper in Zotero's trash", DOI="10.5555/trash.1")
    z.trash(k["trashed"])
    z.add_note(None, "<p>A standalone note is not a paper</p>")
    z.add_attachment(None, "standalone.pdf", (PDFS / "revtex-letter.pdf").read_bytes())
    z.add_annotation(stored, "a highlight is not a paper")
    feed = z.add_feed("arXiv cs.LG")
    z.add_feed_item(feed, "A paper in a Zotero feed")
    return z, k


def write_prefs(home: Path, data_dir: Path, base: Path) -> None:
    """A Zotero profile on Linux whose prefs.js moves the data folder and sets the linked files' base."""
    profile = home / ".zotero" / "zotero" / "abcd1234.default"
    profile.mkdir(parents=True)
    (profile / "prefs.js").write_text(
        '// Mozilla User Preferences\n'
        f'user_pref("extensions.zotero.baseAttachmentPath", "{base}");\n'
        f'user_pref("extensions.zotero.dataDir", "{data_dir}");\n'
        'user_pref("extensions.zotero.useDataDir", true);\n')


@pytest.mark.parametrize("upgraded,zotero6", [(False, False), (True, False), (True, True)],
                         ids=["fresh-ids", "upgraded-ids", "zotero-6"])
def test_a_zotero_library_is_read_field_by_field(tmp_path, monkeypatch, upgraded, zotero6):
    data = tmp_path / "elsewhere" / "ZoteroData"
    z, k = small_library(data, upgraded=upgraded, zotero6=zotero6)
    write_prefs(tmp_path, data, data.parent / "papers-base")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert zotero.find_data_dir(home=tmp_path) == data.resolve()
    stamps, items = zotero.read_library(data, tmp_path / "copy", {}, )
    by = {it.key: it for it in items}
    assert set(by) == set(k.values()) - {k["trashed"]}
    assert all(key.startswith("u/") for n, key in k.items() if n != "group") and k["group"].startswith("g4242/")
    a = by[k["article"]].record
    assert a.title == "Attention for <i>sparse</i> graphs &amp; trees"  # markup is cleaned on the way into the store
    assert a.authors == ["Ada Lovelace", "Grace Hopper"]  # editors only when there are no authors
    assert a.year == 2023 and a.venue == "Journal of Graph Learning" and a.url == "https://example.org/jgl/abc"
    assert set(a.identifiers) == {"doi:10.5555/jgl.2023.abc", "arxiv:2301.04567", "key:lovelace2023"}  # Better BibTeX's
    assert a.tags == ["Neural networks", "reading", "Machine Learning/Transformers"]
    assert by[k["article"]].notes == "Read the proof.\nCompare with B."
    assert [Path(f.path).name for f in a.files] == ["lovelace.pdf"]  # not the trashed or never-downloaded one
    assert by[k["conference"]].record.authors == ["Lab of Learning"]
    assert by[k["conference"]].record.venue == "Proceedings of RetrConf"
    assert by[k["conference"]].record.identifiers == ["doi:10.5555/retr.2021"]
    assert by[k["edited"]].record.authors == ["Eve Editor"] and by[k["edited"]].record.year == 2019
    assert by[k["thesis"]].record.venue == "University of Somewhere"
    assert [Path(f.path).name for f in by[k["thesis"]].record.files] == ["absolute.pdf"]
    assert by[k["preprint"]].record.identifiers == ["arxiv:2405.01234"] + ([] if zotero6 else ["key:print2024names"])
    assert by[k["preprint"]].record.venue == "arXiv"
    assert [Path(f.path).name for f in by[k["linked"]].record.files] == ["linked.pdf"]  # attachments: + base folder
    assert by[k["group"]].record.tags == ["Reading Group"]
    again, none = zotero.read_library(data, tmp_path / "copy", stamps)
    assert again == stamps and none == []  # nothing changed: nothing read

    without = zotero.ZoteroReader(zotero.snapshot(data, tmp_path / "copy2"), data, None, automatic_tags=False,
                                  collections_as_tags=False, notes=False)
    s = without.stamps()
    one = next(it for it in without.read({k["article"]: s[k["article"]]}))
    assert one.record.tags == ["reading"] and one.notes == ""
    assert one.record.files  # the stored file needs no base folder
    without.close()


def test_the_data_folder_is_found_or_the_error_says_where_we_looked(tmp_path):
    with pytest.raises(zotero.ZoteroError, match="looked in"):
        zotero.find_data_dir(home=tmp_path)
    ZoteroData(tmp_path / "Zotero").close()
    assert zotero.find_data_dir(home=tmp_path) == (tmp_path / "Zotero").resolve()
    assert zotero.find_data_dir(tmp_path / "Zotero" / "zotero.sqlite") == (tmp_path / "Zotero").resolve()
    with pytest.raises(zotero.ZoteroError, match="holds no zotero.sqlite"):
        zotero.find_data_dir(tmp_path)


def test_a_zotero_sync_mirrors_every_kind_of_edit_and_keeps_what_the_user_added(empty_lib, tmp_path):
    lib = empty_lib
    z, k = small_library(tmp_path / "Zotero")
    info, first = lib.sources.add(str(tmp_path / "Zotero"))
    assert (first.added, first.failed, first.error) == (7 + FILLERS, [], "")
    live = papers(lib)
    art = live["Attention for sparse graphs & trees"]
    assert art.notes == "Read the proof.\nCompare with B." and art.source == "zotero"
    assert [Path(f.path).name for f in art.files] == ["lovelace.pdf"]
    assert "A paper in Zotero's trash" not in live and "A paper in a Zotero feed" not in live
    assert lib.sources.get(info.id).papers == 7 + FILLERS
    # Better BibTeX's keys are the papers' citation keys: the user's LaTeX cites them.
    assert lib.citation_key(art.id).key == "lovelace2023"
    assert lib.citation_key(live["A preprint that names its archive"].id).key == "print2024names"

    lib.update(art.id, tags=art.tags + ["mine"], notes=art.notes + "\n\nMy own thought.")
    z.set_field(k["article"], "title", "Attention for sparse graphs, corrected")
    z.remove_tag(k["article"], "reading")
    z.add_tag(k["conference"], "to-read")
    z.add_collection("Retrieval")
    z.put_in_collection(k["thesis"], "Retrieval")  # Zotero leaves dateModified alone: clientDateModified says it
    z.trash(k["edited"])
    z.delete(k["preprint"])  # permanently
    new = z.add_item("journalArticle", creators=[("New", "Comer")], title="A paper added the next day", date="2026")
    z.add_note(k["conference"], "<p>A new note</p>")
    report = lib.sources.sync(info.id)
    assert (report.added, report.updated, report.removed, report.trashed, report.unchanged) == (1, 3, 2, 2, 2 + FILLERS), report
    live, trash = papers(lib), papers(lib, trashed=True)
    art = live["Attention for sparse graphs, corrected"]
    assert art.id == lib.get(art.id).id and "reading" not in art.tags and "mine" in art.tags
    assert art.notes == "Read the proof.\nCompare with B.\n\nMy own thought."
    assert lib.citation_key(art.id).key == "lovelace2023"  # the title corrected in Zotero: the key stays
    assert "to-read" in live["A conference paper on retrieval"].tags
    assert "A new note" in live["A conference paper on retrieval"].notes
    assert "Retrieval" in live["A thesis about many small things"].tags
    assert set(trash) == {"An edited volume on everything", "A preprint that names its archive"}
    assert "A paper added the next day" in live
    assert "arxiv:2402.07777" in live["A paper whose PDF is linked"].identifiers  # from its arxiv.org URL
    z.trash_collection("Retrieval")
    assert lib.sources.sync(info.id).updated == 1
    assert "Retrieval" not in papers(lib)["A thesis about many small things"].tags
    z.restore(k["edited"])  # back from Zotero's trash: the same paper, out of ours
    z.synced(new, 12)  # a sync with zotero.org changes only the version
    again = lib.sources.sync(info.id)
    assert (again.updated, again.added) == (1, 0)  # (a new version alone changes nothing of the paper)
    assert "An edited volume on everything" in papers(lib) and len(papers(lib)) == 7 + FILLERS


def test_a_removed_paper_stays_when_the_user_or_another_source_holds_it(empty_lib, tmp_path):
    lib = empty_lib
    z = ZoteroData(tmp_path / "Zotero")
    keys = [z.add_item("journalArticle", title=f"Paper number {i} of the held set", DOI=f"10.5555/held.{i}")
            for i in range(20)]
    bib = tmp_path / "refs.bib"
    bib.write_text("@article{held3, title={Paper number 3 of the held set}, doi={10.5555/held.3}}\n")
    zsrc, _ = lib.sources.add(str(tmp_path / "Zotero"))
    bsrc, rep = lib.sources.add(str(bib))
    assert (rep.added, rep.merged) == (0, 1)  # the same paper from two sources is one paper
    lib.save(Record(title="Paper number 5 of the held set", identifiers=["doi:10.5555/held.5"], source="extension"))
    for i in (3, 5, 7):
        z.delete(keys[i])
    report = lib.sources.sync(zsrc.id)
    assert (report.removed, report.trashed) == (3, 1)
    live = papers(lib)
    assert "Paper number 3 of the held set" in live  # the .bib still has it
    assert "Paper number 5 of the held set" in live  # the user saved it from a page
    assert "Paper number 7 of the held set" in papers(lib, trashed=True)
    trashed = lib.sources.remove(bsrc.id)
    assert trashed == []  # Zotero brought paper 3 in, not the .bib: removing the .bib trashes nothing
    assert "Paper number 3 of the held set" in papers(lib)
    assert len(lib.sources.remove(zsrc.id)) == 17  # the ones only Zotero held and still holds
    assert set(papers(lib)) == {"Paper number 3 of the held set", "Paper number 5 of the held set"}


def test_a_sync_that_removes_more_than_a_fifth_waits_for_confirmation(empty_lib, tmp_path):
    lib = empty_lib
    z = ZoteroData(tmp_path / "Zotero")
    keys = [z.add_item("journalArticle", title=f"Paper number {i} of the big set", DOI=f"10.5555/big.{i}")
            for i in range(10)]
    src, _ = lib.sources.add(str(tmp_path / "Zotero"))
    z.delete(keys[0])
    assert lib.sources.sync(src.id).trashed == 1  # a tenth: applied
    for key in keys[1:4]:
        z.delete(key)
    z.set_field(keys[5], "title", "An edit that waits with the removals")
    held = lib.sources.sync(src.id)
    assert held.held and "3 of the 9" in held.held and (held.trashed, held.updated) == (0, 0)
    assert lib.sources.get(src.id).held == held.held and len(papers(lib)) == 9
    assert (lib.stats().sources, lib.stats().sources_held) == (1, 1)
    assert lib.sources.sync(src.id).held  # still held, whatever the watcher does
    done = lib.sources.sync(src.id, confirm=True)
    assert (done.trashed, done.updated, done.held) == (3, 1, "")
    assert lib.sources.get(src.id).held is None and len(papers(lib)) == 6
    assert lib.stats().sources_held == 0


def test_zotero_is_read_while_it_holds_its_exclusive_lock(empty_lib, tmp_path):
    z = ZoteroData(tmp_path / "Zotero")
    key = z.add_item("journalArticle", title="A paper read under Zotero's lock", DOI="10.5555/lock.1")
    z.con.execute("PRAGMA locking_mode=EXCLUSIVE")
    z.con.execute("BEGIN EXCLUSIVE")
    z.con.execute("COMMIT")  # the lock stays with this connection, as with a running Zotero
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        sqlite3.connect(tmp_path / "Zotero" / "zotero.sqlite", timeout=0).execute(  # (not 5 s of retrying)
            "SELECT count(*) FROM items").fetchone()
    assert (tmp_path / "Zotero" / "zotero.sqlite-wal").stat().st_size > 0  # the latest writes are in the -wal
    src, rep = empty_lib.sources.add(str(tmp_path / "Zotero"))
    assert rep.added == 1
    z.set_field(key, "title", "A paper edited under Zotero's lock")
    assert empty_lib.sources.sync(src.id).updated == 1
    assert "A paper edited under Zotero's lock" in papers(empty_lib)


def test_a_damaged_copy_changes_nothing_and_says_why(empty_lib, tmp_path):
    z = ZoteroData(tmp_path / "Zotero", wal=False)
    for i in range(3):
        z.add_item("journalArticle", title=f"A paper that stays put {i}")
    z.close()
    src, _ = empty_lib.sources.add(str(tmp_path / "Zotero"))
    db = tmp_path / "Zotero" / "zotero.sqlite"
    data = bytearray(db.read_bytes())
    data[4096 * 2: 4096 * 6] = b"\xff" * 4096 * 4  # four pages of the database overwritten
    db.write_bytes(bytes(data))
    report = empty_lib.sources.sync(src.id)
    assert report.error and (report.trashed, report.added) == (0, 0)
    assert len(papers(empty_lib)) == 3 and empty_lib.sources.get(src.id).last_error == report.error


BIB = """@article{alpha2020, title={Alpha: the first paper of the bibliography}, author={Ann Alpha}, year={2020},
  doi={10.5555/bib.alpha}}
@inproceedings{beta2021, title={Beta: a second paper in the bibliography}, author={Ben Beta}, year={2021}}
@article{gamma2022, title={Gamma: a third paper in the bibliography}, author={Gil Gamma}, year={2022},
  keywords={survey}}
@article{delta2023, title={Delta: a fourth paper in the bibliography}, author={Dee Delta}, year={2023}}
@article{eps2024, title={Epsilon: a fifth paper in the bibliography}, author={Eva Eps}, year={2024}}
@article{zeta2024, title={Zeta: a sixth paper in the bibliography}, author={Zoe Zeta}, year={2024}}
"""


def test_a_bib_rewritten_in_place_or_by_rename_is_mirrored_and_an_empty_one_changes_nothing(empty_lib, tmp_path):
    lib = empty_lib
    bib = tmp_path / "library.bib"
    bib.write_text(BIB)
    src, rep = lib.sources.add(str(bib))
    assert rep.added == 6 and src.kind == "file"
    assert lib.sources.sync(src.id).unchanged == 6  # the same bytes: not even parsed
    bib.write_text(BIB.replace("Beta: a second paper", "Beta: the second paper, retitled")
                   .replace("keywords={survey}", "keywords={survey, classic}"))  # in place
    r = lib.sources.sync(src.id)
    assert (r.updated, r.unchanged) == (2, 4)
    assert "classic" in papers(lib)["Gamma: a third paper in the bibliography"].tags
    new = tmp_path / ".library.bib.tmp"  # as Better BibTeX writes: a new file renamed over the old
    new.write_text(BIB.split("@article{zeta2024")[0].replace("Beta: a second paper", "Beta: the second paper, retitled"))
    os.replace(new, bib)
    r = lib.sources.sync(src.id)
    assert (r.removed, r.trashed, r.updated) == (1, 1, 1)  # zeta gone; gamma lost its new keyword again
    assert "Zeta: a sixth paper in the bibliography" in papers(lib, trashed=True)
    bib.write_text("")  # caught empty, between truncation and writing
    r = lib.sources.sync(src.id)
    assert "empty" in r.error and r.trashed == 0 and len(papers(lib)) == 5
    bib.write_text(BIB[:BIB.index("@article{delta2023")])  # caught half-written: three of five remain
    r = lib.sources.sync(src.id)
    assert r.held and len(papers(lib)) == 5
    bib.write_text(BIB)
    r = lib.sources.sync(src.id)
    assert (r.added, r.updated, r.held) == (0, 2, "") and len(papers(lib)) == 6  # beta's old title; zeta restored


def test_a_csl_json_file_is_followed_by_its_ids(empty_lib, tmp_path):
    import json

    items = [{"id": f"csl{i}", "type": "article-journal", "title": f"A CSL-JSON paper number {i} of the export",
              "author": [{"family": "Csl", "given": "Jo"}], "issued": {"date-parts": [[2022]]}} for i in range(6)]
    f = tmp_path / "export.json"
    f.write_text(json.dumps(items))
    src, rep = empty_lib.sources.add(str(f))
    assert rep.added == 6
    items[2]["title"] = "A CSL-JSON paper whose title was corrected"
    f.write_text(json.dumps(items[:5]))
    r = empty_lib.sources.sync(src.id)
    assert (r.updated, r.removed, r.trashed) == (1, 1, 1)
    assert "A CSL-JSON paper whose title was corrected" in papers(empty_lib)


def test_a_followed_folder_follows_pdfs_added_moved_and_removed(empty_lib, tmp_path):
    lib = empty_lib
    folder = tmp_path / "Papers"
    (folder / "2024").mkdir(parents=True)
    for name in ("twocol-arxiv.pdf", "ieee-conf.pdf", "llncs-paper.pdf", "revtex-letter.pdf", "elsarticle-journal.pdf"):
        shutil.copy(PDFS / name, folder / name)
    (folder / "refs.bib").write_text(BIB.split("@inproceedings")[0])
    src, rep = lib.sources.add(str(folder))
    assert (src.kind, rep.added, rep.error) == ("folder", 6, ""), rep
    title = "Sparse Retrieval Heads for Efficient Long-Context Question Answering"
    pid = papers(lib)[title].id
    shutil.move(folder / "twocol-arxiv.pdf", folder / "2024" / "nwosu-sparse.pdf")  # moved: the same paper
    shutil.copy(PDFS / "word-export.pdf", folder / "2024" / "new.pdf")
    (folder / "ieee-conf.pdf").unlink()
    r = lib.sources.sync(src.id)
    assert (r.added, r.removed, r.trashed) == (1, 1, 1), r
    moved = lib.get(pid)
    assert [f.path for f in moved.files] == [str(folder / "2024" / "nwosu-sparse.pdf")] and not moved.files[0].missing
    assert lib.sources.sync(src.id).unchanged == 6  # nothing hashed or read again


def test_the_sources_api_and_the_live_server_follow_zotero_by_themselves(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    z, k = small_library(tmp_path / "Zotero")
    z.con.execute("PRAGMA locking_mode=EXCLUSIVE")  # Zotero runs all along
    z.con.execute("BEGIN EXCLUSIVE")
    z.con.execute("COMMIT")
    srv = start_server(home, "--no-inbox", "--no-digest")
    try:
        p = run_cli("sources", "add", "zotero", str(tmp_path / "Zotero"), home=home)
        assert "following zotero" in p.stdout and f"{7 + FILLERS} added" in p.stdout
        c = srv.client()
        assert [s["id"] for s in c.get("/api/sources").json()] == ["zotero"]
        assert c.get("/api/sources/zotero").json()["papers"] == 7 + FILLERS
        assert c.get("/api/sources/nope").status_code == 404
        bad = c.post("/api/sources", json={"location": str(tmp_path / "missing.bib")})
        assert bad.status_code == 400 and "does not exist" in bad.json()["detail"]
        again = c.post("/api/sources", json={"location": str(tmp_path / "Zotero")})
        assert again.status_code == 400 and "already followed" in again.json()["detail"]
        assert httpx.get(f"{srv.url}/api/sources").status_code == 401

        def titles() -> set[str]:
            return {p["title"] for p in c.get("/api/papers", params={"limit": 200}).json()["papers"]}

        def trashed() -> set[str]:
            return {p["title"] for p in c.get("/api/papers", params={"limit": 200, "trashed": True}).json()["papers"]}

        t0 = time.monotonic()
        z.set_field(k["article"], "title", "Attention for sparse graphs, edited in Zotero")
        z.add_tag(k["conference"], "live-tag")
        z.trash(k["edited"])
        z.add_collection("Live")
        z.put_in_collection(k["thesis"], "Live")
        z.delete(k["linked"])
        z.add_item("journalArticle", title="A paper added while the server runs", DOI="10.5555/live.1")
        while time.monotonic() - t0 < 20:
            got = c.get("/api/papers", params={"limit": 200}).json()["papers"]
            by = {p["title"]: p for p in got}
            if "A paper added while the server runs" in by and "Attention for sparse graphs, edited in Zotero" in by \
                    and "An edited volume on everything" in trashed() and "A paper whose PDF is linked" in trashed():
                break
            time.sleep(0.3)
        else:
            raise AssertionError(f"not synced within 20 s: {sorted(titles())}")
        assert "live-tag" in by["A conference paper on retrieval"]["tags"]
        edited = by["Attention for sparse graphs, edited in Zotero"]
        assert [Path(f["path"]).name for f in edited["files"]] == ["lovelace.pdf"]  # its PDF came along
        assert "Machine Learning/Transformers" in edited["tags"]
        pdf = c.get(f"/api/files/{edited['files'][0]['id']}")
        assert pdf.status_code == 200 and pdf.content == (PDFS / "twocol-arxiv.pdf").read_bytes()
        assert "Live" in by["A thesis about many small things"]["tags"]
        assert c.post("/api/sources/zotero/sync", json={}).json()["unchanged"] == 6 + FILLERS
        p = run_cli("sources", "list", home=home)
        assert "zotero" in p.stdout and f"{6 + FILLERS} papers" in p.stdout
        removed = c.delete("/api/sources/zotero", params={"keep_papers": True}).json()
        assert removed == {"id": "zotero", "trashed": []} and c.get("/api/sources").json() == []
        assert "A paper added while the server runs" in titles()
    finally:
        srv.stop()
