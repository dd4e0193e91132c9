"""The serve loop's part for followed sources: each is synced at start, within seconds of a change on disk,
and every few minutes in any case (a change a file watcher missed, a disk plugged back in).

Changes are debounced: Zotero writes its database many times for one edit, and a tool that rewrites a file
may do it in several steps, so a source is synced once it has been quiet for QUIET seconds, or AT_MOST
seconds after its first change if it never goes quiet. A sync runs in a worker thread: lookups go on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from watchfiles import awatch

log = logging.getLogger("papershelf.follow")
QUIET = 1.5  # seconds without a change before a sync
AT_MOST = 6.0  # seconds after the first change, quiet or not
EVERY = 300.0  # seconds between syncs of every source in any case (cheap when nothing changed)


class Follower:
    """Watches every followed source and syncs the ones that changed."""

    def __init__(self, sources, events, quiet: float = QUIET, at_most: float = AT_MOST, every: float = EVERY):
        self.sources, self.events = sources, events  # Sources, and the bus whose "sources" events name changes
        self.quiet, self.at_most, self.every = quiet, at_most, every
        self._dirty: dict[str, tuple[float, float]] = {}  # source id → (first change, last change)

    def _targets(self) -> tuple[dict[Path, list[tuple[str, str | None]]], dict[Path, str]]:
        """(folders watched alone → [(source id, the file name that matters or None for any)], folders watched
        with everything under them → source id)."""
        flat: dict[Path, list[tuple[str, str | None]]] = {}
        deep: dict[Path, str] = {}
        for s in self.sources.list():
            where = Path(s.location)
            if s.kind == "zotero":
                flat.setdefault(where, []).append((s.id, "zotero.sqlite"))  # and its -wal
            elif s.kind == "file":
                # The folder, not the file: a tool that writes a new file and renames it over the old one
                # replaces what a watch on the file itself would follow.
                flat.setdefault(where.parent, []).append((s.id, where.name))
            else:
                deep[where] = s.id
        return flat, deep

    def _mark(self, sid: str) -> None:
        t = time.monotonic()
        first = self._dirty.get(sid, (t, t))[0]
        self._dirty[sid] = (first, t)

    def _which(self, path: Path, flat, deep) -> set[str]:
        out = set()
        for sid, name in flat.get(path.parent, []):
            if name is None or path.name == name or path.name.startswith(name + "-"):
                out.add(sid)
        for folder, sid in deep.items():
            if folder == path or folder in path.parents:
                out.add(sid)
        return out

    async def _watch(self, dirs: list[Path], recursive: bool, flat, deep, stop: asyncio.Event) -> None:
        present = [d for d in dirs if d.is_dir()]
        if not present:
            await stop.wait()
            return
        try:
            async for changes in awatch(*present, stop_event=stop, recursive=recursive, debounce=200, step=50,
                                        rust_timeout=1000, ignore_permission_denied=True):
                for _, raw in changes:
                    for sid in self._which(Path(raw), flat, deep):
                        self._mark(sid)
        except Exception:  # a watched folder removed or unmounted: watch the set anew (the 5-minute syncs go on)
            log.warning("watching %s stopped; watching again", ", ".join(map(str, present)), exc_info=True)
            await asyncio.sleep(5)
            stop.set()

    async def _sync(self, sid: str) -> None:
        try:
            report = await asyncio.to_thread(self.sources.sync, sid)
            if report.added or report.updated or report.trashed:
                log.info("source %s: %d added, %d updated, %d to the trash", sid, report.added, report.updated,
                         report.trashed)
        except KeyError:
            pass  # removed meanwhile
        except Exception:  # one source's bug must not stop following the others
            log.exception("syncing source %s failed", sid)

    async def run(self, stop: asyncio.Event) -> None:
        """Sync every source now, then follow them until stop is set."""
        events = self.events.subscribe()
        try:
            for s in await asyncio.to_thread(self.sources.list):
                await self._sync(s.id)
            while not stop.is_set():
                rebuilt = asyncio.Event()
                flat, deep = await asyncio.to_thread(self._targets)
                watchers = [asyncio.create_task(self._watch(list(flat), False, flat, deep, rebuilt)),
                            asyncio.create_task(self._watch(list(deep), True, flat, deep, rebuilt))]
                last_all = time.monotonic()
                while not stop.is_set() and not rebuilt.is_set():
                    try:
                        ev = await asyncio.wait_for(events.get(), timeout=0.25)
                        if ev.type == "sources" and ev.data.get("change") in ("add", "remove"):
                            rebuilt.set()  # a source added or removed: watch the new set
                    except asyncio.TimeoutError:
                        pass
                    now = time.monotonic()
                    for sid, (first, last) in list(self._dirty.items()):
                        if now - last >= self.quiet or now - first >= self.at_most:
                            self._dirty.pop(sid, None)
                            await self._sync(sid)
                    if now - last_all >= self.every:
                        last_all = now
                        for s in await asyncio.to_thread(self.sources.list):
                            await self._sync(s.id)
                rebuilt.set()
                await asyncio.gather(*watchers, return_exceptions=True)
        finally:
            self.events.unsubscribe(events)
