"""Progress and change events, published from worker threads, consumed by server-sent-event streams."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import msgspec


class Event(msgspec.Struct):
    """One thing that happened: `import`, `embedding`, `library`."""

    seq: int
    type: str
    data: dict[str, Any]
    at: float


class EventBus:
    """Fan-out of events to every subscriber's asyncio queue; thread-safe publish; keeps the last few."""

    def __init__(self, keep: int = 50):
        self._subs: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.recent: list[Event] = []
        self._keep = keep

    def publish(self, type_: str, **data: Any) -> Event:
        """Send an event to every subscriber (safe from any thread)."""
        ev = Event(seq=next(self._seq), type=type_, data=data, at=time.time())
        with self._lock:
            self.recent = (self.recent + [ev])[-self._keep:]
            subs = list(self._subs)
        for loop, q in subs:
            try:
                loop.call_soon_threadsafe(_put_nowait, q, ev)
            except RuntimeError:
                pass  # that loop is closed; its subscriber is going away
        return ev

    def subscribe(self, maxsize: int = 1000) -> asyncio.Queue:
        """A queue that receives every event from now on (call from the event loop)."""
        q: asyncio.Queue = asyncio.Queue(maxsize=maxsize)
        with self._lock:
            self._subs.append((asyncio.get_running_loop(), q))
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        """Stop delivering to a queue."""
        with self._lock:
            self._subs = [(l, s) for l, s in self._subs if s is not q]


def _put_nowait(q: asyncio.Queue, ev: Event) -> None:
    """Deliver, dropping the oldest event for a subscriber that does not keep up."""
    if q.full():
        try:
            q.get_nowait()
        except asyncio.QueueEmpty:
            pass
    q.put_nowait(ev)
