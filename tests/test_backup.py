"""Backups: a snapshot that is the same library when restored, kept by its rule, made by the server each day,
before a migration and before a source is removed; a backup killed half-way leaves the others whole."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from conftest import papershelf_cmd, release_home, run_cli, start_server
from papershelf import backup


def tables(db: Path) -> dict[str, list[tuple]]:
    """Every row of every table of a library file, in a fixed order, kept files' paths cut to their names."""
    c = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for (name,) in c.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall():
            cols = [r[0] for r in c.execute(f'DESCRIBE "{name}"').fetchall()]
            rows = c.execute(f'SELECT * FROM "{name}" ORDER BY ALL').fetchall()
            if name == "files":  # a restored home keeps its PDFs in its own files/ (the rest is the same)
                at = cols.index("path")
                rows = [(*r[:at], Path(r[at]).name, *r[at + 1:]) for r in rows]
            out[name] = rows
        return out
    finally:
        c.close()


@pytest.fixture
def rich_home(tmp_path) -> Path:
    """A library with one of everything a user keeps: papers, identifiers, vectors, tags, notes, a trashed
    paper, a kept PDF, a merge, a pair kept apart, feeds, candidates, feedback, a followed source, settings
    (papershelf 0.1.0 made it: tests/fixtures/releases/)."""
    home = release_home("0.1.0", tmp_path / "rich")
    from papershelf.library import Library

    Library(home).close()  # today's code has opened it once (migrations, its PDFs found here)
    shutil.rmtree(home / "backups", ignore_errors=True)  # (the migration's own backup: each test starts with none)
    return home


def test_a_backup_restored_into_an_empty_home_is_the_same_library_field_by_field(rich_home, tmp_path):
    made = json.loads(run_cli("backup", "--json", home=rich_home).stdout)
    assert made["kind"] == "manual" and made["papers"] == 292 and made["files"] == 1
    empty = tmp_path / "new-home"
    p = run_cli("restore", made["path"], home=empty)
    assert "restored" in p.stderr and "kept in" not in p.stderr  # nothing was there to keep aside
    before, after = tables(rich_home / "library.duckdb"), tables(empty / "library.duckdb")
    assert set(before) >= {"papers", "identifiers", "embeddings", "files", "feedback", "merges", "distinct_pairs",
                           "feeds", "candidates", "sources", "source_items", "settings", "imports"}
    for name in before:
        assert after[name] == before[name], name
    assert set(after) == set(before) and sum(len(v) for v in before.values()) > 600
    pdf = next((rich_home / "files").rglob("*.pdf"))
    assert (empty / pdf.relative_to(rich_home)).read_bytes() == pdf.read_bytes()
    assert (empty / "token").read_text() == (rich_home / "token").read_text()  # the paired extension still works

    from papershelf.library import Library

    lib = Library(empty)
    try:  # the restored library works: its PDF found in the new home, searchable, related papers
        f = lib.file(before["files"][0][0])
        assert Path(f.path).is_file() and Path(f.path).is_relative_to(empty) and not f.missing
        top = lib.search("mixture of experts", k=3)
        assert top and lib.related(top[0].id, k=5)
        assert len(lib.digest.feedback()) == 2 and [s.id for s in lib.sources.list()] == ["refs"]
    finally:
        lib.close()


def test_restore_keeps_the_library_it_replaces_aside_and_refuses_under_a_running_server_which_makes_them(rich_home, tmp_path):
    from papershelf.library import Library

    lib = Library(rich_home)
    first = lib.backup()
    pid = lib.search("mixture of experts", k=1)[0].id
    lib.update(pid, notes="written after the backup")
    lib.close()

    srv = start_server(rich_home, "--no-inbox", "--no-digest", "--no-follow")
    try:
        db = (rich_home / "library.duckdb").read_bytes()
        p = run_cli("restore", first.name, home=rich_home, check=False)
        assert p.returncode == 1 and "Stop it first" in " ".join(p.stderr.split()) and "Nothing was changed" in p.stderr
        assert (rich_home / "library.duckdb").read_bytes() == db
        # `papershelf backup PATH` goes through the server, which holds the library, and copies it to PATH too
        elsewhere = tmp_path / "other-disk" / "papershelf-backup"
        made = json.loads(run_cli("backup", str(elsewhere), "--json", home=rich_home).stdout)
        assert made["path"] == str(elsewhere) and backup.read(elsewhere).papers == 292
        assert len(backup.listing(rich_home)) == 2
        # The API the command went through: the token only; a list, newest first.
        assert httpx.post(f"{srv.url}/api/backups").status_code == 401
        assert httpx.get(f"{srv.url}/api/backups").status_code == 401
        with srv.client() as c:
            r = c.post("/api/backups")
            assert r.status_code == 201 and r.json()["papers"] == 292 and r.json()["kind"] == "manual"
            listed = [b["name"] for b in c.get("/api/backups").json()]
            assert listed[0] == r.json()["name"] and len(listed) == 3
    finally:
        srv.stop()

    p = run_cli("restore", first.name, home=rich_home)
    replaced = [b for b in backup.listing(rich_home) if b.kind == "replaced"]
    assert len(replaced) == 1 and replaced[0].name in p.stderr.replace("\n", "")
    lib = Library(rich_home)
    try:
        assert lib.get(pid).notes != "written after the backup"  # the backup's library is back
    finally:
        lib.close()
    aside = Library(Path(replaced[0].path))  # and the one it replaced is whole, with the note
    try:
        assert aside.get(pid).notes == "written after the backup"
    finally:
        aside.close()
    bad = run_cli("restore", str(tmp_path), home=rich_home, check=False)
    assert bad.returncode == 1 and "not a papershelf backup" in bad.stderr and "Nothing was changed" in bad.stderr


def test_a_backup_killed_half_way_leaves_the_ones_before_it_whole(rich_home):
    from papershelf.library import Library

    lib = Library(rich_home)
    before = [lib.backup(), lib.backup("daily")]
    lib.close()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    killed = False
    for _ in range(10):  # until the kill lands while the backup is being written
        proc = subprocess.Popen([*papershelf_cmd(), "backup", "--home", str(rich_home)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while proc.poll() is None and not list(backup.folder(rich_home).glob(".*.partial")):
            time.sleep(0.0005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if list(backup.folder(rich_home).glob(".*.partial")):
            killed = True
            break
    assert killed, "the kill never landed while a backup was being written"
    names = [b.name for b in backup.listing(rich_home)]
    assert not [n for n in names if "partial" in n]  # a half-written backup is never taken for one
    for b in before:
        assert backup.read(Path(b.path)).papers == 292  # opens, and holds what it says
    checks = {c["name"]: c for c in json.loads(run_cli("doctor", "--json", home=rich_home, check=False).stdout)}
    assert checks["backup"]["ok"], checks["backup"]
    lib = Library(rich_home)  # the library itself was only read
    try:
        assert lib.stats().papers == 292
        lib.backup()  # the next backup clears what the killed one left
    finally:
        lib.close()
    assert not list(backup.folder(rich_home).glob(".*.partial"))


def test_the_rule_keeps_the_last_seven_days_four_weeks_four_before_a_change_and_ten_by_hand():
    start = datetime(2026, 12, 2, 9, 0)
    made = []
    for day in range(60):
        for hour in (9, 18):  # two a day: the newest of each day is the one kept
            t = start - timedelta(days=day) + timedelta(hours=hour - 9)
            made.append(backup.BackupInfo(name=f"{t:%m%d-%H}", path="", kind="daily", made_at=t, version="",
                                          schema=7, papers=0, files=0, bytes=0))
    for i in range(12):
        made.append(backup.BackupInfo(name=f"manual-{i}", path="", kind="manual", made_at=start - timedelta(hours=i),
                                      version="", schema=7, papers=0, files=0, bytes=0))
    for i in range(6):
        t = start - timedelta(days=i, minutes=30)
        made.append(backup.BackupInfo(name=f"before-{i}", path="", kind="before-migration", made_at=t, version="",
                                      schema=7, papers=0, files=0, bytes=0))
    made.append(backup.BackupInfo(name="replaced", path="", kind="replaced", made_at=start - timedelta(days=300),
                                  version="", schema=7, papers=0, files=0, bytes=0))
    made.sort(key=lambda b: b.made_at, reverse=True)
    keep = backup.to_keep(made)
    days = {f"{start - timedelta(days=d):%m%d}-18" for d in range(7)}  # 2026-12-02 is a Wednesday
    weeks = {"1202-18", "1129-18", "1122-18", "1115-18"}  # the newest of this week and the 3 Sundays before
    assert keep == days | weeks | {f"before-{i}" for i in range(4)} | {f"manual-{i}" for i in range(10)} | {"replaced"}


def test_the_server_backs_up_once_a_day_before_a_migration_and_before_a_source_is_removed(rich_home, monkeypatch):
    from papershelf import store
    from papershelf.library import Library
    from papershelf.store import migrations

    lib = Library(rich_home)
    try:
        clock = [datetime.now()]
        daily = backup.DailyBackup(lib.home, lib.backup, clock=lambda: clock[0])
        assert daily.tick() is not None and daily.tick() is None  # once a day
        clock[0] += timedelta(days=1)
        assert daily.tick().kind == "daily"
        removed = [b for b in backup.listing(rich_home) if b.kind == "before-removing-source"]
        assert removed == []
        lib.sources.remove("refs")
        removed = [b for b in backup.listing(rich_home) if b.kind == "before-removing-source"]
        assert len(removed) == 1  # and it holds the source as it was
        c = duckdb.connect(str(Path(removed[0].path) / "library.duckdb"), read_only=True)
        assert c.execute("SELECT id FROM sources").fetchall() == [("refs",)]
        c.close()
    finally:
        lib.close()
    # The next release adds a migration: the library as it was is backed up before it is applied.
    later = [*migrations.MIGRATIONS, (99, "a later release's change", "CREATE TABLE later (x INTEGER);")]
    monkeypatch.setattr(store, "MIGRATIONS", later)
    lib = Library(rich_home)
    try:
        assert lib.store.schema_version() == 99
    finally:
        lib.close()
    pre = [b for b in backup.listing(rich_home) if b.kind == "before-migration"]
    assert len(pre) == 1 and backup.read(Path(pre[0].path)).schema == migrations.MIGRATIONS[-1][0]
    lib = Library(rich_home)  # nothing more to migrate: no second backup
    lib.close()
    assert len([b for b in backup.listing(rich_home) if b.kind == "before-migration"]) == 1


def test_doctor_says_when_there_is_no_backup_and_how_old_the_newest_is(rich_home):
    from papershelf.doctor import backup_check
    from papershelf.library import Library

    name, ok, detail = backup_check(rich_home, datetime.now(), datetime.now() - timedelta(days=3))
    assert not ok and "no backup" in detail
    assert backup_check(rich_home, datetime.now(), datetime.now() - timedelta(hours=3))[1]  # a new library
    assert backup_check(rich_home, datetime.now(), None)[1]  # an empty one
    lib = Library(rich_home)
    info = lib.backup()
    lib.close()
    assert backup_check(rich_home, datetime.now())[1]
    name, ok, detail = backup_check(rich_home, datetime.now() + timedelta(days=5))
    assert not ok and "5 days old" in detail
    (Path(info.path) / "library.duckdb").write_bytes(b"not a database")
    name, ok, detail = backup_check(rich_home, datetime.now())
    assert not ok and "does not open" in detail
