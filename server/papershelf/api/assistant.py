"""/mcp: the assistant's tools (assistant.py) over MCP's streamable HTTP, behind the token as every /api/ route is.
The tools come from whoever starts the server (cli/serve.py gives the same ones `papershelf mcp` offers, on the
server's own library). The SDK is imported and its sessions' task group started at the first request: a server no
assistant talks to pays nothing for them."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from typing import Any

from litestar import asgi
from litestar.types import Receive, Scope, Send

from .guard import MAX_BODY


class AssistantEndpoint:
    """The MCP server from `make_server` (assistant.make_server's), answering over streamable HTTP once asked, to
    requests that carry the token. Checked here, not by the guard's path (guard.py): a mounted app is routed to from
    other spellings of its path too (`//mcp`, `/%6Dcp`), and the guard sees only the mount's rest, `/`."""

    def __init__(self, make_server: Callable[[], Any], token: str):
        self.make_server = make_server
        self.token = token.encode()
        self._manager = None  # its session manager, once the first request came
        self._lock = asyncio.Lock()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        auth = dict(scope["headers"]).get(b"authorization", b"")
        if not hmac.compare_digest(auth[7:].strip() if auth[:7].lower() == b"bearer " else b"", self.token):
            return await _plain(send, 401, b"missing or wrong token: send `Authorization: Bearer <token>`")
        manager = self._manager or await self._start()
        await manager.handle_request(scope, receive, send)

    async def _start(self):
        async with self._lock:
            if self._manager is None:
                from mcp.server.transport_security import TransportSecuritySettings

                logging.getLogger("mcp").setLevel(logging.WARNING)  # not a line per request in the server's log
                server = self.make_server()
                # Stateless, JSON answers: each request stands alone (an assistant's call is one request), and no
                # stream stays open to hold a stopping server. The Host was checked by the guard already.
                server.streamable_http_app(stateless_http=True, json_response=True, max_request_body_size=MAX_BODY,
                                           transport_security=TransportSecuritySettings(
                                               enable_dns_rebinding_protection=False))
                started = asyncio.Event()

                async def run() -> None:
                    async with server.session_manager.run():
                        started.set()
                        await self._stop.wait()

                self._task = asyncio.create_task(run())
                await started.wait()
                self._manager = server.session_manager
        return self._manager

    async def close(self) -> None:
        """At shutdown: the sessions' task group ends."""
        self._stop.set()
        if self._task is not None:
            await self._task


@asgi("/mcp", is_mount=True, copy_scope=True)
async def assistant_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    """MCP over streamable HTTP (not in the OpenAPI schema: its own protocol); 404 when the server offers none."""
    endpoint = scope["app"].state.get("assistant")
    if endpoint is None:
        return await _plain(send, 404, b"this server offers no MCP endpoint")
    await endpoint(scope, receive, send)


async def _plain(send: Send, status: int, text: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
    await send({"type": "http.response.body", "body": text})
