"""The HTTP connections the server keeps open, bounded: every request's head must arrive within HEAD_SECONDS.

uvicorn closes a connection that stays idle after a response (its keep-alive timeout), but not one that opens
and sends nothing, nor one that sends half a request line and then a byte now and then: any page the user has
open can make hundreds of those to 127.0.0.1, and each holds a socket and a slot for as long as it likes. Here a
connection waiting for a request's head is closed once HEAD_SECONDS have passed since it opened or since its
last response ended.
"""

from __future__ import annotations

import asyncio
import os

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_SECONDS = float(os.environ.get("PAPERSHELF_HEAD_SECONDS") or 10)
KEEP_ALIVE_SECONDS = 5  # an idle connection after a response (uvicorn's own timeout, said here)
MAX_CONNECTIONS = 1000  # then new requests get 503 at once instead of piling up


class HeadDeadline(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's head."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in: the rest is the request's own time
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's head, if any, has as long

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(HEAD_SECONDS, self._head_too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
