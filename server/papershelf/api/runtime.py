"""What `papershelf serve` runs beside the API, as the app's lifespan: the embedding worker, the index and map
warmed up, the inbox, the daily digest fetch (and its email), followed sources, completion from registries (when
the user turned it on), and the daily backup.

Each job is a blocking `tick` (DailyFetch, DailyBackup) or a loop of its own (Inbox, Follower) defined in its
wing; this module only starts them, runs the ticks off the event loop, and stops them in order on shutdown.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import msgspec

from ..backup import DailyBackup
from ..digest import mail
from ..digest.schedule import DailyFetch
from ..library import Library
from ..sources.follow import Follower
from ..sources.inbox import Inbox

log = logging.getLogger("papershelf.runtime")
FIRST_MAP_AFTER = 30  # seconds after start: a library's first map is laid out then (or when first opened)
FETCH_CHECK_EVERY = 60.0  # seconds between the daily fetch's looks at the clock
ENRICH_EVERY = 5.0  # seconds between looks for papers to complete (a tick works up to 30 s)


class Jobs(msgspec.Struct, frozen=True):
    """Which jobs run: `papershelf serve`'s --no-… flags turn them off."""

    inbox: Path | None = None  # the folder watched, or None for no inbox
    digest: bool = True
    follow: bool = True
    backup: bool = True
    enrich: bool = True  # (and only when the user turned completion on: `papershelf settings enrich on`)


async def every(seconds: float, tick: Callable[[], object], stop: asyncio.Event, failed: str, first_after: float = 0
                ) -> None:
    """Run a blocking `tick` in a thread every `seconds` (the first after `first_after`) until `stop` is set; a
    tick that raises is logged with `failed` and the next one comes all the same."""
    async def pause(t: float) -> None:
        try:
            await asyncio.wait_for(stop.wait(), timeout=t)
        except asyncio.TimeoutError:
            pass

    if first_after:
        await pause(first_after)
    while not stop.is_set():
        try:
            await asyncio.to_thread(tick)
        except Exception:
            log.exception(failed)
        await pause(seconds)


def inbox_for(lib: Library, folder: Path) -> Inbox:
    """The inbox: a file dropped into `folder` is imported (a PDF kept as our own copy), and the page hears of it."""
    def import_file(path: Path) -> dict:
        return msgspec.to_builtins(lib.import_dropped(path))

    def filed(target: Path, report: dict) -> None:
        lib.events.publish("inbox", file=target.name, folder=target.parent.name,
                           added=len(report.get("added", [])), merged=len(report.get("merged", [])),
                           failed=len(report.get("failed", [])), error=report.get("error", ""))

    return Inbox(folder, import_file, filed)


def lifespan(lib: Library, url: str, jobs: Jobs, on_stop: Callable[[], None]):
    """The app's lifespan: start every job, then at shutdown stop them, call `on_stop` and close the library."""

    @asynccontextmanager
    async def run(app) -> AsyncIterator[None]:
        lib.start_embedding()
        threading.Thread(target=lib.warm_up, args=(FIRST_MAP_AFTER,), name="index-load", daemon=True).start()
        stop = asyncio.Event()
        # (task, seconds it may take to finish what it is doing when asked to stop)
        running: list[tuple[asyncio.Task, float]] = []
        if jobs.inbox is not None:
            running.append((asyncio.create_task(inbox_for(lib, jobs.inbox).run(stop)), 30))
        if jobs.digest:
            def send() -> object:
                return lib.send_digest(url) if mail.configured(lib.home) else None

            daily = DailyFetch(lib.digest, send=send)
            # A fetch in flight finishes (feeds time out).
            running.append((asyncio.create_task(every(FETCH_CHECK_EVERY, daily.tick, stop,
                                                      "daily digest fetch failed")), 120))
        if jobs.follow:  # a sync in flight finishes (one transaction)
            running.append((asyncio.create_task(Follower(lib.sources, lib.events).run(stop)), 120))
        if jobs.enrich:  # a request in flight finishes (they time out)
            running.append((asyncio.create_task(every(ENRICH_EVERY, lib.enrich.tick, stop,
                                                      "completing papers from their registries failed")), 60))
        if jobs.backup:  # a backup in flight finishes (else it is partial)
            backups = DailyBackup(lib.home, lib.backup)
            running.append((asyncio.create_task(every(backups.CHECK_EVERY, backups.tick, stop, "the daily backup failed",
                                                      first_after=backups.FIRST_AFTER)), 600))
        try:
            yield
        finally:
            stop.set()
            for task, patience in running:
                await asyncio.wait_for(task, timeout=patience)
            on_stop()
            lib.close()  # waits for the write in flight: a transaction either commits or rolls back

    return run
