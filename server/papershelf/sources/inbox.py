"""The inbox: a folder whose files are imported as soon as they are complete.

A file is imported once its size and modification time have stood still for a moment and no process holds
it open for writing (a file still being written is never read half-way, even by a writer that pauses), then moved to `done/` with a `<name>.report.txt`, or to `failed/` with a
`<name>.error.txt` that says why. No file is ever deleted.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

log = logging.getLogger("papershelf.inbox")
SETTLE = 0.3  # seconds a file must stand still before it is read
IGNORED_SUFFIXES = (".part", ".partial", ".crdownload", ".download", ".tmp", ".swp", ".error.txt", ".report.txt")


def _ignored(path: Path) -> bool:
    name = path.name
    return name.startswith((".", "~")) or name.endswith(IGNORED_SUFFIXES)


def open_for_writing(path: Path) -> bool:
    """Whether some process holds the file open for writing (Linux /proc; False where that is unknown)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return False
    target = os.path.realpath(path)
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            for fd in fd_dir.iterdir():
                try:
                    if os.readlink(fd) != target:
                        continue
                    flags = int((fd_dir.parent / "fdinfo" / fd.name).read_text().split("flags:")[1].split()[0], 8)
                except (OSError, IndexError, ValueError):
                    continue
                if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                    return True
        except OSError:
            continue  # a process that ended, or one we may not look at
    return False


def _write_whole(path: Path, text: str) -> None:
    """A report or error file that appears whole: whoever waits for its name (the user's file manager, a script)
    never reads it empty or cut. Written under a name the inbox ignores, then renamed."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _free_name(folder: Path, name: str) -> Path:
    """`name` in folder, or `name (2)`, `name (3)` … if taken: an earlier file of that name stays."""
    target = folder / name
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 2
    while target.exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    return target


def describe(report: dict) -> str:
    """The report file's text."""
    merged = report.get("merged", [])
    unchanged = sum(1 for m in merged if not m.get("changed"))
    lines = [f"imported {datetime.now().isoformat(timespec='seconds')} as {report.get('format') or '?'}",
             f"added {len(report.get('added', []))}, merged {len(merged)} ({unchanged} unchanged), "
             f"failed {len(report.get('failed', []))}"]
    if merged and not report.get("added") and unchanged == len(merged):
        lines.append("nothing new: every record was already in the library")
    lines += [f"failed {f['position']}: {f['reason']}" for f in report.get("failed", [])]
    lines += [f"warning {w['position']}: {w['field']} {w['value']!r} {w['reason']} (the paper is imported)"
              for w in report.get("warnings", [])]
    return "\n".join(lines) + "\n"


class Inbox:
    """Watches a folder and imports what lands in it through `import_file(path) -> report dict`."""

    def __init__(self, folder: Path, import_file: Callable[[Path], dict[str, Any]],
                 on_done: Callable[[Path, dict], None] | None = None):
        self.folder = Path(folder)
        self.done = self.folder / "done"
        self.failed = self.folder / "failed"
        for d in (self.folder, self.done, self.failed):
            d.mkdir(parents=True, exist_ok=True)
        self.import_file = import_file
        self.on_done = on_done
        self._pending: dict[Path, asyncio.Task] = {}

    def waiting(self) -> list[Path]:
        """Files in the inbox now (not in done/ or failed/)."""
        return sorted(p for p in self.folder.iterdir() if p.is_file() and not _ignored(p))

    def process(self, path: Path) -> Path | None:
        """Import one complete file and file it away; return where it went (None if it vanished)."""
        if not path.exists():
            return None
        try:
            report = self.import_file(path)
        except Exception as e:  # the library must not stop watching because one file broke something
            log.exception("import of %s failed", path)
            report = {"error": f"{type(e).__name__}: {e}", "added": [], "merged": [], "failed": []}
        nothing = not report.get("added") and not report.get("merged")
        if report.get("error") or (nothing and report.get("failed")):
            target = _free_name(self.failed, path.name)
            shutil.move(str(path), target)
            reason = report.get("error") or "no record could be read"
            detail = describe(report) if report.get("failed") else ""
            _write_whole(self.failed / f"{target.name}.error.txt", reason + "\n" + detail)
            log.warning("%s failed: %s", path.name, reason)
        else:
            target = _free_name(self.done, path.name)
            shutil.move(str(path), target)
            _write_whole(self.done / f"{target.name}.report.txt", describe(report))
            log.info("%s: %s", path.name, describe(report).splitlines()[1])
        if self.on_done:
            self.on_done(target, report)
        return target

    async def _settle_then_process(self, path: Path) -> None:
        """Wait until the file stops changing, then import it in a worker thread."""
        try:
            last = None
            while True:
                try:
                    st = path.stat()
                except FileNotFoundError:
                    return
                now = (st.st_size, st.st_mtime_ns)
                if now == last and time.time() - st.st_mtime >= SETTLE \
                        and not await asyncio.to_thread(open_for_writing, path):
                    break
                last = now
                await asyncio.sleep(SETTLE / 3)
            await asyncio.to_thread(self.process, path)
        finally:
            self._pending.pop(path, None)

    def _schedule(self, path: Path) -> None:
        if path.parent != self.folder or _ignored(path) or not path.is_file():
            return
        task = self._pending.get(path)
        if task is None or task.done():
            self._pending[path] = asyncio.create_task(self._settle_then_process(path))

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Import what is already waiting, then every file that arrives, until stop is set."""
        for path in self.waiting():
            self._schedule(path)
        async for changes in awatch(self.folder, stop_event=stop, recursive=False, debounce=150, step=30,
                                    rust_timeout=500):
            for change, raw in changes:
                if change in (Change.added, Change.modified):
                    self._schedule(Path(raw))
        for task in list(self._pending.values()):
            await task


def default_inbox(home: Path) -> Path:
    """`<home>/inbox`, or PAPERSHELF_INBOX."""
    env = os.environ.get("PAPERSHELF_INBOX")
    return Path(env).expanduser() if env else Path(home) / "inbox"
