"""The command line as a user runs it: import with a summary, related/search/show/export/stats/doctor, clear
errors, and going through the server's API while `papershelf serve` holds the library."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FIXTURES, run_cli, start_server


def test_sample_imports_offline_with_no_network(sample_import, tmp_path):
    """The README's first step, in a network namespace with no network at all: 289 papers, all embedded.
    (The session's shared sample library is built this way: conftest.sample_import.)"""
    if not sample_import.offline:
        pytest.skip("needs root and unshare to cut the network")
    out = sample_import.report
    assert out["added"] == 289 and out["pending"] == 0 and out["failed"] == []
    home = tmp_path / "copy"
    shutil.copytree(sample_import.home, home)
    stats = json.loads(run_cli("stats", "--json", home=home).stdout)
    assert stats["papers"] == 289 and stats["embedded"] == 289
    hits = json.loads(run_cli("related", "--text", "sparse mixture of experts routing", "--json", home=home).stdout)
    assert "Mixture-of-Experts" in hits[0]["title"] or "MoE" in hits[0]["title"]


def test_import_summary_and_failures(tmp_path):
    home = tmp_path / "h"
    p = run_cli("import", str(FIXTURES / "mixed.jsonl"), "--json", home=home)
    out = json.loads(p.stdout)
    assert out["added"] == 3 and out["pending"] == 0
    assert {f["position"] for f in out["failed"]} == {"line 2", "line 3"}
    assert [(w["position"], w["field"], w["value"]) for w in out["warnings"]] == [("line 5", "year", "soon")]
    p = run_cli("import", str(FIXTURES / "mixed.jsonl"), home=home)
    assert "added 0" in p.stdout and "nothing new" in p.stdout and "line 3" in p.stderr
    assert "warning" in p.stderr and "'soon'" in p.stderr


def test_related_json_shape_and_identifiers(sample_copy):
    run_cli("import", str(FIXTURES / "mixed.jsonl"), home=sample_copy)
    hits = json.loads(run_cli("related", "arxiv:2301.00001v1", "--json", "--limit", "3", home=sample_copy).stdout)
    assert len(hits) == 3
    for h in hits:
        assert set(h) >= {"id", "title", "score", "identifiers", "why"}
    # The imported key resolves too, and results carry every identifier including that key.
    by_key = json.loads(run_cli("related", "p1", "--json", "--limit", "3", home=sample_copy).stdout)
    assert [h["id"] for h in by_key] == [h["id"] for h in hits]
    found = json.loads(run_cli("search", "Diffusion Models Beat GANs", "--json", home=sample_copy).stdout)
    assert found[0]["identifiers"] == ["arxiv:2105.05233", "key:p3"]
    text = run_cli("related", "--text", "sparse mixture of experts routing", "--limit", "3", home=sample_copy).stdout
    assert "score" in text and "Experts" in text


def test_show_stats_doctor(sample_copy):
    run_cli("import", str(FIXTURES / "mixed.jsonl"), home=sample_copy)
    shown = json.loads(run_cli("show", "10.48550/arXiv.2105.05233", "--json", home=sample_copy).stdout)
    assert shown["title"] == "Diffusion Models Beat GANs"
    assert "Diffusion wins." in run_cli("show", "p3", home=sample_copy).stdout
    stats = json.loads(run_cli("stats", "--json", home=sample_copy).stdout)
    assert stats["papers"] == 292 and stats["pending"] == 0 and stats["model_id"].startswith("all-MiniLM-L6-v2")
    assert stats["db_bytes"] > 0
    checks = json.loads(run_cli("doctor", "--json", home=sample_copy).stdout)
    assert all(c["ok"] for c in checks), checks
    assert {"model weights", "database integrity", "disk", "model loads offline"} <= {c["name"] for c in checks}


@pytest.mark.parametrize("fmt", ["jsonl", "bibtex"])
def test_export_round_trip(sample_copy, tmp_path, fmt):
    run_cli("import", str(FIXTURES / "zotero.bib"), str(FIXTURES / "mixed.jsonl"), home=sample_copy)
    out = tmp_path / f"export.{fmt}"
    run_cli("export", "--format", fmt, "-o", str(out), home=sample_copy)
    fresh = tmp_path / "fresh"
    rep = json.loads(run_cli("import", str(out), "--json", "--no-wait", home=fresh).stdout)
    assert rep["failed"] == [] and rep["added"] == 295

    def papers(home):
        rows = [json.loads(l) for l in run_cli("export", "--format", "jsonl", home=home).stdout.splitlines()]
        return {r["title"]: (r["abstract"], r["authors"], r["year"], r["tags"],
                             sorted(i for i in r["identifiers"] if not i.startswith("key:"))) for r in rows}

    assert papers(fresh) == papers(sample_copy)


def test_clear_errors(tmp_path, sample_copy):
    p = run_cli("related", "nope-not-a-paper", home=sample_copy, check=False)
    assert p.returncode == 1 and "no paper in the library" in p.stderr
    p = run_cli("related", "x", "--text", "y", home=sample_copy, check=False)
    assert p.returncode == 1 and "not both" in p.stderr
    p = run_cli("import", str(tmp_path / "missing.bib"), home=sample_copy, check=False)
    assert p.returncode == 1 and "cannot read" in p.stderr
    blob = tmp_path / "x.bin"
    blob.write_bytes(b"\x00\x01binary")
    p = run_cli("import", str(blob), home=sample_copy, check=False)
    assert p.returncode == 1 and "binary" in p.stderr
    assert json.loads(run_cli("stats", "--json", home=sample_copy).stdout)["papers"] == 289  # nothing lost


def test_cli_goes_through_the_running_server(sample_copy):
    srv = start_server(sample_copy)
    try:
        # The server holds the database: these would fail on the lock if they opened the file themselves.
        stats = json.loads(run_cli("stats", "--json", home=sample_copy).stdout)
        assert stats["papers"] == 289
        rep = json.loads(run_cli("import", str(FIXTURES / "mixed.jsonl"), "--json", home=sample_copy).stdout)
        assert rep["added"] == 3 and rep["pending"] == 0  # waited for the server's worker to embed them
        with srv.client() as c:
            assert c.get("/api/stats").json()["stats"]["papers"] == 292
        hits = json.loads(run_cli("related", "p1", "--json", home=sample_copy).stdout)
        assert hits and all(h["id"] for h in hits)
        assert "Diffusion wins." in run_cli("show", "arxiv:2105.05233", home=sample_copy).stdout
        bib = run_cli("export", "--format", "bibtex", home=sample_copy).stdout
        assert len(re.findall(r"^@\w+\{", bib, re.M)) == 292
    finally:
        assert srv.stop() == 0
    assert not (sample_copy / "server.json").exists()
    # After the server stopped, the CLI opens the file directly again.
    assert json.loads(run_cli("stats", "--json", home=sample_copy).stdout)["papers"] == 292


def test_a_command_piped_into_head_stops_quietly(sample_copy):
    """`papershelf export | head`: the reader goes away after one line; no traceback, as `git log | head`."""
    import os
    import subprocess

    from conftest import papershelf_cmd

    p = subprocess.Popen([*papershelf_cmd(), "export", "--format", "jsonl", "--home", str(sample_copy)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert p.stdout.readline()
    p.stdout.close()  # what head does once it has its lines
    err = p.stderr.read().decode()
    assert p.wait(120) in (0, 141), err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err, err


def test_a_folder_is_imported_recursively_with_one_report(tmp_path):
    lib = tmp_path / "papers"
    (lib / "2024" / "nested").mkdir(parents=True)
    (lib / ".git").mkdir()
    shutil.copy(FIXTURES / "zotero.bib", lib / "zotero.bib")
    shutil.copy(FIXTURES / "mixed.jsonl", lib / "2024" / "mixed.jsonl")
    shutil.copy(FIXTURES / "zotero.ris", lib / "2024" / "nested" / "export.ris")
    (lib / "2024" / "broken.json").write_text('{"title": ')  # read by an importer, and fails
    (lib / "2024" / "notes.docx").write_bytes(b"PK\x03\x04 not ours")  # no importer reads it
    (lib / ".git" / "config.json").write_text('{"title": "not a paper"}')  # hidden: never read
    home = tmp_path / "h"
    p = run_cli("import", str(lib), "--json", "--no-wait", home=home)
    out = json.loads(p.stdout)
    assert sorted(f["file"].removeprefix(str(lib) + "/") for f in out["files"]) == \
        ["2024/broken.json", "2024/mixed.jsonl", "2024/nested/export.ris", "zotero.bib"]
    assert out["skipped"] == [str(lib / "2024" / "notes.docx")]
    assert out["added"] >= 5 and any(f["file"].endswith("broken.json") for f in out["failed"])
    p = run_cli("import", str(lib), "--no-wait", home=tmp_path / "h2")
    assert p.returncode == 0 and "Is a directory" not in p.stderr + p.stdout
    assert "4 files: added" in p.stdout and "skipped 1 file in no format" in p.stderr


# Every operation the CLI can ask for, with arguments that work on a copy of the sample, in an order where each
# finds what the one before left (a feed, its papers, a followed folder). A callable argument is given what the
# same side answered so far.
def _first_item(answers: dict) -> str:
    return answers["digest"]["items"][0]["identifiers"][0]


BOTH_WAYS = [
    ("stats", ()), ("pending", ()), ("search", ("diffusion models", 5)),
    ("related", ("arxiv:2105.05233", None, 5, {"year_min": 2015})), ("related", (None, "sparse attention", 3, {})),
    ("show", ("arxiv:2105.05233",)), ("show", ("arxiv:1111.11111",)),
    ("edit", ("arxiv:2105.05233", {"venue": "NeurIPS", "entry_type": "inproceedings", "year": 2021})),
    ("edit", ("arxiv:2105.05233", {"year": 1200})), ("edit", ("arxiv:1111.11111", {"title": "x"})),
    ("recent", (2,)), ("save", ({"title": "Counting Fish by Their Shadows", "identifiers": ["doi:10.5555/cli.1"]},)),
    ("save", ({"title": "Counting Fish by Their Shadows", "year": 2024, "identifiers": ["doi:10.5555/cli.1"]},)),
    ("recent", (1,)), ("citation_key", (lambda a: a["search"][0]["id"],)), ("citation_key", ("arxiv:1111.11111",)),
    ("set_citation_key", (lambda a: a["search"][0]["id"], "mine2024")),
    ("set_citation_key", (lambda a: a["search"][1]["id"], "mine2024")),
    ("set_citation_key", (lambda a: a["search"][0]["id"], "not a key")), ("show", ("mine2024",)),
    ("enrich_state", ()), ("set_enrich", (True, None)), ("set_enrich", (None, "not an address")),
    ("set_enrich", (False, "me@example.org")), ("doctor", ()), ("backup", ()),
    ("passages", ("diffusion models", 3)), ("passages", ("diffusion", 3, "arxiv:1111.11111")), ("text_waiting", ()),
    ("feeds", ()), ("add_feed", (lambda a: a["feed_url"],)), ("add_feed", ("ftp://example.org/feed",)),
    ("fetch", ()), ("digest_pending", ()), ("digest", (None, 5, None)), ("rate", (_first_item, "up")),
    ("rate", ("arxiv:1111.11111", "up")), ("feedback", ()), ("save_candidate", (_first_item,)),
    ("digest_settings", ("08:30", 14)), ("digest_settings", ("noon", None)), ("feed_token", ()), ("send", ()),
    ("remove_feed", (lambda a: a["feed_url"],)), ("remove_feed", ("hf:daily",)),
    ("sources", ()), ("add_source", (lambda a: a["folder"], None, {})), ("sync_all", (False,)),
    ("sync_source", ("nowhere", False)), ("sync_source", (lambda a: a["add_source"]["source"]["id"], False, True)),
    ("remove_source", (lambda a: a["add_source"]["source"]["id"], False)),
]
# What differs by nature between two homes: the ids the store makes, clocks, paths, tokens, the time things took
# and the size of a backup's files.
VOLATILE = {"id", "candidate_id", "path", "name", "home", "db_bytes", "bytes", "url", "location", "at", "seconds"}
NEW_ID = re.compile(r"^[a-z2-9]{10}$")  # store.new_paper_id


def _comparable(value, home: Path):
    """An answer with what differs by nature between two homes left out or made the same."""
    if isinstance(value, dict):
        return {k: _comparable(v, home) for k, v in value.items() if k not in VOLATILE and not k.endswith("_at")}
    if isinstance(value, list):
        return [_comparable(v, home) for v in value]
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, str):
        return "<new id>" if NEW_ID.match(value) else value.replace(str(home), "<home>")
    return value


def _run_all(backend, home: Path, wait_for_embedding, context: dict) -> list:
    from papershelf.cli.common import CLIError

    answers, out = dict(context), []
    for name, args in BOTH_WAYS:
        args = tuple(a(answers) if callable(a) else a for a in args)
        try:
            got = getattr(backend, name)(*args)
            answers[name] = got
            if name == "feed_token":  # a new random token each time: its length
                got = len(got)
            elif name == "doctor":  # the disk's free space moves between the two runs: what each check concluded
                got = [(c["name"], c["ok"]) for c in got]
            out.append((name, "answer", _comparable(got, home)))
        except CLIError as e:
            out.append((name, "error", _comparable(re.sub(r"server said \d+: ", "", str(e)), home)))
        if name == "fetch":
            wait_for_embedding()
    return out


def test_every_operation_answers_the_same_locally_and_through_the_server(sample_copy, tmp_path):
    """One contract for the command line: each operation, written once in cli/client.py's Backend, gives the same
    answer (or the same error) on the library file and through a running server."""
    from papershelf.cli.client import Local, Remote, operations
    from papershelf.pairing import read_token
    from test_digest import FeedServer

    assert {name for name, _ in BOTH_WAYS} == {op.name for op in operations()}  # every one is tried
    folder = tmp_path / "followed"
    folder.mkdir()
    (folder / "refs.bib").write_text("@article{knuth1984, title={Literate Programming}, author={Knuth, Donald E.},"
                                     " journal={The Computer Journal}, year={1984}}\n")
    served = tmp_path / "served"
    shutil.copytree(sample_copy, served)
    feeds = FeedServer()
    context = {"feed_url": feeds.url + "/rss", "folder": str(folder)}
    local = Local(sample_copy, None)
    try:
        here = _run_all(local, sample_copy, lambda: local.embed(None), context)
    finally:
        local.close()
    srv = start_server(served, "--no-digest", "--no-follow", "--no-backup", "--no-inbox")
    remote = Remote(f"http://127.0.0.1:{srv.port}", read_token(served))

    def served_embedding_done():
        deadline = time.time() + 60
        while remote.digest_pending() and time.time() < deadline:
            time.sleep(0.2)

    try:
        there = _run_all(remote, served, served_embedding_done, context)
    finally:
        remote.close()
        srv.stop()
        feeds.close()
    assert [(n, kind) for n, kind, _ in here] == [(n, kind) for n, kind, _ in there]
    differ = [(name, a, b) for (name, _, a), (_, _, b) in zip(here, there) if a != b]
    assert differ == []


def test_a_local_command_loads_no_http_client(sample_copy):
    """A command on a home with no server running sends nothing: httpx (and its 0.05-0.1 s of imports) stays out."""
    code = ("import sys; from papershelf.cli import main\n"
            f"sys.argv = ['papershelf', 'stats', '--json', '--home', {str(sample_copy)!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('httpx' in sys.modules)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("False"), p.stdout[-300:]
