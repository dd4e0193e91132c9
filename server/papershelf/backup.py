"""Backups of a home: a consistent snapshot of the library, with the PDFs papershelf keeps and the tokens.

A backup is a folder under `<home>/backups/` (or anywhere `papershelf backup PATH` says):
`library.duckdb` (DuckDB's COPY FROM DATABASE, one transaction: consistent while the server writes), `files/`
(our copies of PDFs, hard-linked when on the same disk: they never change), `token`, and `backup.json` (what it
holds). It is written as `.NAME.partial` and renamed when whole, so a backup killed half-way is never taken for
one, and the ones before it are untouched.

The server makes one a day, one before migrating the schema and one before removing a followed source; it keeps
the newest of each of the last 7 days and of the last 4 weeks, the last 4 made before a change and the last 10
made by hand.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import msgspec

from . import __version__
from .pdf.files import kept_path

log = logging.getLogger("papershelf.backup")

FOLDER = "backups"
INFO = "backup.json"
KEEP_DAILY, KEEP_WEEKLY, KEEP_BEFORE, KEEP_MANUAL = 7, 4, 4, 10
HOME_FILES = ("token",)  # small files of the home a backup carries besides the database and files/
_lock = threading.Lock()  # one backup at a time (ATTACH names the snapshot database)


class BackupError(Exception):
    """A backup that cannot be made, read or put back; the message says why."""


class BackupInfo(msgspec.Struct, kw_only=True):
    """One backup: where, when, what kind, and what it holds."""

    name: str
    path: str
    kind: str
    made_at: datetime
    version: str
    schema: int
    papers: int
    files: int
    bytes: int


def folder(home: Path) -> Path:
    """Where a home's backups go."""
    return Path(home) / FOLDER


def local(t: datetime) -> datetime:
    """A time as naive local time (backup.json keeps it with its offset; the rule works in local days)."""
    return t.astimezone().replace(tzinfo=None) if t.tzinfo else t


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H%M%S")


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)  # the same bytes for free: a kept PDF is never rewritten in place
    except OSError:
        shutil.copy2(src, dst)


def _snapshot(conn: duckdb.DuckDBPyConnection, target: Path) -> None:
    """The whole database into a new file, in one transaction (consistent while others write)."""
    cur = conn.cursor()
    try:
        name = cur.execute("SELECT current_database()").fetchone()[0]
        cur.execute("ATTACH ? AS papershelf_backup", [str(target)])
        try:
            cur.execute(f'COPY FROM DATABASE "{name}" TO papershelf_backup')
        finally:
            cur.execute("DETACH papershelf_backup")
    finally:
        cur.close()


def _counts(db: Path) -> tuple[int, int, list[tuple[str, str]]]:
    """(schema, papers, kept files as (sha256, path)) of a library file, opened read-only."""
    c = duckdb.connect(str(db), read_only=True)
    try:
        schema = c.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
        papers = c.execute("SELECT count(*) FROM papers WHERE deleted_at IS NULL").fetchone()[0]
        kept = c.execute("SELECT sha256, path FROM files WHERE kept ORDER BY sha256").fetchall() if schema >= 6 else []
        return schema, papers, kept
    finally:
        c.close()


def _seal(partial: Path, target: Path, info: BackupInfo) -> None:
    """Write backup.json, put every file on disk, then rename the partial folder: only now is it a backup."""
    (partial / INFO).write_bytes(msgspec.json.format(msgspec.json.encode(info)))
    for f in partial.rglob("*"):
        if f.is_file():
            fd = os.open(f, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    os.replace(partial, target)


def make(home: Path, conn: duckdb.DuckDBPyConnection, kind: str = "manual") -> BackupInfo:
    """A backup of the home whose library `conn` holds open, into `<home>/backups/`."""
    home = Path(home)
    t = datetime.now()
    target, n = folder(home) / f"{_stamp(t)}-{kind}", 2
    while target.exists():  # two in one second
        target, n = folder(home) / f"{_stamp(t)}-{kind}-{n}", n + 1
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with _lock:
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(mode=0o700)  # it holds the token: on another disk too, for the user's eyes only
        _snapshot(conn, partial / "library.duckdb")
        schema, papers, kept = _counts(partial / "library.duckdb")
        files_dir = home / "files"
        n = 0
        for sha, path in kept:
            src = Path(path)
            if not src.is_file():  # our copy is under this home's files/ even when the row says another home
                src = kept_path(files_dir, sha, src.name)
            if src.is_file():
                _link_or_copy(src, kept_path(partial / "files", sha, src.name))
                n += 1
            else:
                log.warning("backup: the kept file %s is missing; the backup goes on without it", path)
        for name in HOME_FILES:
            if (home / name).is_file():
                shutil.copy2(home / name, partial / name)
        info = BackupInfo(name=target.name, path=str(target), kind=kind, made_at=local(t).astimezone(), version=__version__,
                          schema=schema, papers=papers, files=n, bytes=_size(partial))
        _seal(partial, target, info)
    log.info("backup %s: %d papers, %d files, %.1f MB", target, papers, n, info.bytes / 1e6)
    return info


def read(path: Path) -> BackupInfo:
    """A backup's description, after checking that its library opens and holds what it says."""
    path = Path(path)
    try:
        info = msgspec.json.decode((path / INFO).read_bytes(), type=BackupInfo)
    except FileNotFoundError:
        raise BackupError(f"{path} is not a papershelf backup (no {INFO})") from None
    except msgspec.DecodeError as e:
        raise BackupError(f"{path / INFO} is damaged: {e}") from e
    try:
        schema, papers, kept = _counts(path / "library.duckdb")
    except duckdb.Error as e:
        raise BackupError(f"the library in {path} does not open: {e}") from e
    if (schema, papers) != (info.schema, info.papers):
        raise BackupError(f"the library in {path} holds {papers} papers at schema {schema}, but {INFO} says "
                          f"{info.papers} at {info.schema}")
    missing = [p for sha, p in kept if not kept_path(path / "files", sha, Path(p).name).is_file()]
    if len(kept) - len(missing) < info.files:
        raise BackupError(f"{path} misses {len(missing)} of its {len(kept)} files")
    return msgspec.structs.replace(info, name=path.name, path=str(path))


def listing(home: Path) -> list[BackupInfo]:
    """The home's backups, newest first (partial ones, and folders that are not backups, left out)."""
    out = []
    for p in folder(home).glob("*"):
        if p.is_dir() and not p.name.startswith(".") and (p / INFO).is_file():
            try:
                info = msgspec.json.decode((p / INFO).read_bytes(), type=BackupInfo)
            except msgspec.DecodeError:
                continue
            out.append(msgspec.structs.replace(info, name=p.name, path=str(p)))
    return sorted(out, key=lambda b: local(b.made_at), reverse=True)


def to_keep(backups: list[BackupInfo]) -> set[str]:
    """Names kept: of the daily backups, the newest of each of the last 7 days and of the last 4 ISO weeks; the
    last 4 made before a change; the last 10 someone asked for (`papershelf backup`); every library a restore
    replaced (removed by hand only)."""
    keep: set[str] = set()
    regular = [b for b in backups if b.kind == "daily"]  # newest first
    for key, count in ((lambda b: local(b.made_at).date(), KEEP_DAILY),
                       (lambda b: local(b.made_at).isocalendar()[:2], KEEP_WEEKLY)):
        seen: list = []
        for b in regular:
            k = key(b)
            if k not in seen:
                if len(seen) == count:
                    break
                seen.append(k)
                keep.add(b.name)
    keep |= {b.name for b in [b for b in backups if b.kind.startswith("before-")][:KEEP_BEFORE]}
    keep |= {b.name for b in [b for b in backups if b.kind == "manual"][:KEEP_MANUAL]}
    keep |= {b.name for b in backups if b.kind == "replaced"}
    return keep


def prune(home: Path) -> list[str]:
    """Remove the backups the rule does not keep, and partial ones a crash left; return what went."""
    gone = []
    for p in folder(home).glob(".*.partial"):
        if not _lock.locked():
            shutil.rmtree(p, ignore_errors=True)
            gone.append(p.name)
    backups = listing(home)
    keep = to_keep(backups)
    for b in backups:
        if b.name not in keep:
            shutil.rmtree(b.path, ignore_errors=True)
            gone.append(b.name)
    return gone


def newest(home: Path) -> BackupInfo | None:
    """The newest backup of the home, or None."""
    found = listing(home)
    return found[0] if found else None


def due(home: Path, now: datetime) -> bool:
    """Make the day's backup now? No backup yet today (local time), of any kind."""
    last = newest(home)
    return last is None or local(last.made_at).date() < local(now).date()


def restore(home: Path, source: Path) -> tuple[BackupInfo, Path | None]:
    """Put a backup back into a home whose library is closed; the current library goes aside first, as a backup
    of kind "replaced" (returned). The index and the map are made again from the restored library."""
    home, source = Path(home), Path(source)
    info = read(source)
    aside = None
    db = home / "library.duckdb"
    if db.exists():
        t = datetime.now()
        aside = folder(home) / f"{_stamp(t)}-replaced"
        partial = aside.with_name(f".{aside.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True, mode=0o700)
        for name in ("library.duckdb", "library.duckdb.wal", "files", *HOME_FILES):
            if (home / name).exists():
                shutil.move(str(home / name), str(partial / name))
        try:
            schema, papers, _ = _counts(partial / "library.duckdb")
        except duckdb.Error:
            schema, papers = 0, 0  # a damaged library is kept aside all the same
        kept = partial / "files"
        _seal(partial, aside, BackupInfo(
            name=aside.name, path=str(aside), kind="replaced", made_at=t.astimezone(), version=__version__,
            schema=schema, papers=papers, bytes=_size(partial),
            files=sum(1 for f in kept.rglob("*") if f.is_file()) if kept.exists() else 0))
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / "library.duckdb.restoring"
    shutil.copy2(source / "library.duckdb", tmp)
    if (source / "files").exists():
        shutil.copytree(source / "files", home / "files", dirs_exist_ok=True)
    for name in HOME_FILES:
        if (source / name).is_file() and not (home / name).exists():
            shutil.copy2(source / name, home / name)
    os.replace(tmp, db)
    for derived in ("index", "map", "passages"):
        shutil.rmtree(home / derived, ignore_errors=True)
    return info, aside


def age(info: BackupInfo, now: datetime) -> str:
    """How old a backup is, in words."""
    d = local(now) - local(info.made_at)
    if d < timedelta(hours=1):
        return f"{int(d.total_seconds() // 60)} minutes old"
    if d < timedelta(days=2):
        return f"{d.total_seconds() / 3600:.0f} hours old"
    return f"{d.days} days old"


class DailyBackup:
    """The serve loop's job: the day's backup (api/runtime.py runs it; failures logged, never raised)."""

    CHECK_EVERY = 600.0  # seconds between looks at the clock
    FIRST_AFTER = 60.0  # not during start-up, while the index loads and the first pages are looked up

    def __init__(self, home: Path, make_backup: Callable[[str], BackupInfo],
                 clock: Callable[[], datetime] = datetime.now):
        self.home = home
        self.make_backup = make_backup  # Library.backup: it prunes after
        self.clock = clock

    def tick(self) -> BackupInfo | None:
        """Back up if today has no backup yet; the new backup, or None."""
        return self.make_backup("daily") if due(self.home, self.clock()) else None
