"""Upgrades: the library each earlier release wrote (tests/fixtures/releases/, made with that release's code)
opens with today's code, with everything in it, searchable and related. Each release adds its own folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from conftest import RELEASES, release_home, run_cli

RELEASED = sorted(p.name for p in RELEASES.iterdir() if (p / "expected.json").is_file())


def make_library():
    """The script that made the fixtures: its read_back is how a release's library is compared."""
    spec = importlib.util.spec_from_file_location("make_library", RELEASES / "make_library.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_release_has_a_fixture_made_by_its_own_code():
    assert RELEASED and RELEASED[0] == "0.1.0"
    for version in RELEASED:
        expected = json.loads((RELEASES / version / "expected.json").read_text())
        assert expected["version"] == version and len(expected["commit"]) == 40


@pytest.mark.parametrize("version", RELEASED)
def test_a_library_an_earlier_release_wrote_opens_with_everything_in_it(version, tmp_path):
    from papershelf.library import Library

    expected = json.loads((RELEASES / version / "expected.json").read_text())
    home = release_home(version, tmp_path / "home")
    lib = Library(home)  # the migrations since that release run here
    try:
        assert lib.store.schema_version() >= expected["schema"]
        papers = {p[0]: p for p in expected["papers"]}
        top = sorted((p for p in papers.values() if not p[9]), key=lambda p: p[1])[0]
        hits = lib.search(top[1], k=5)
        assert hits and hits[0].id == top[0]  # searchable: its own title finds it first
        related = lib.related(top[0], k=5)
        assert len(related) == 5 and top[0] not in {h.id for h in related}  # related: its vectors are there
        f = lib.file(expected["files"][0][0])
        assert Path(f.path) == home / expected["kept_files"][0] and not f.missing  # its kept PDF, in this home
        assert [s.id for s in lib.sources.list()] == [s[0] for s in expected["sources"]]
        assert lib.stats().pending == 0  # nothing to embed again: the same model
    finally:
        lib.close()
    got = make_library().read_back(home)
    for key in ("papers", "identifiers", "embedded", "feedback", "merges", "distinct_pairs", "feeds", "settings",
                "kept_files", "token"):
        assert got[key] == expected[key], key
    assert [r[:2] + r[3:] for r in got["files"]] == [r[:2] + r[3:] for r in expected["files"]]  # (the path: above)
    assert [s[:2] for s in got["sources"]] == [s[:2] for s in expected["sources"]]
    # And through the command line, as a user who upgraded would look.
    shown = json.loads(run_cli("show", top[0], "--json", home=home).stdout)
    assert shown["title"] == top[1] and shown["tags"] == top[7] == ["to-read", "moe"] and shown["notes"] == top[8]
