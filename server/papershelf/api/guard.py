"""The guard in front of every route: every web page the user opens can send requests to localhost, so the
server answers only requests for our own Host names (DNS rebinding) that carry the pairing token (except the
health ping); CORS allows only the extension's origin; bodies and query strings are size-limited."""

from __future__ import annotations

import hmac
import json
import time
from urllib.parse import unquote

from litestar.config.cors import CORSConfig
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send

from ..pairing import EXTENSION_ORIGIN_REGEX


MAX_BODY = 1 << 20  # 1 MiB for ordinary JSON bodies
MAX_IMPORT_BODY = 256 << 20  # uploads of whole libraries
MAX_QUERY_STRING = 4096

# Cross-origin requests only from the extension's own pages and worker; every web page is refused.
EXTENSION_ONLY = CORSConfig(allow_origins=[], allow_origin_regex=EXTENSION_ORIGIN_REGEX,
                            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
                            allow_headers=["authorization", "content-type"], max_age=600)


class Guard(ASGIMiddleware):
    """Host check, token check and query-string cap, in front of every route."""

    scopes = ("http",)  # type: ignore[assignment]

    def __init__(self, token: str, port: int, allowed_hosts: list[str] | None = None):
        self.token = token.encode()
        self.file_key = file_key(token)
        hosts = allowed_hosts or ["127.0.0.1", "localhost", "[::1]"]
        self.hosts = {h.lower() for h in hosts} | {f"{h}:{port}".lower() for h in hosts}

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        headers = dict(scope["headers"])
        host = headers.get(b"host", b"").decode("latin-1").lower()
        if host not in self.hosts:
            # Another name for 127.0.0.1 means DNS rebinding: a web page posing as us. Say nothing else.
            return await _reply(send, 421, "this server answers only to 127.0.0.1, localhost or [::1]")
        if len(scope.get("query_string", b"")) > MAX_QUERY_STRING:
            return await _reply(send, 414, f"query string longer than {MAX_QUERY_STRING} bytes")
        path = scope["path"]
        if path.startswith("/api/") and path != "/api/health" and scope["method"] != "OPTIONS":
            auth = headers.get(b"authorization", b"")
            given = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
            if not given and path.startswith("/api/files/") and scope["method"] == "GET":
                # A link that opens one PDF in a tab (a tab cannot send headers): its ticket opens that file
                # and nothing else, like the feed URL's token reads the digest and nothing else.
                from urllib.parse import parse_qs

                fid = path[len("/api/files/"):]
                ticket = (parse_qs(scope.get("query_string", b"").decode()).get("ticket") or [""])[0]
                if "/" not in fid and ticket and hmac.compare_digest(ticket, file_ticket(self.file_key, fid)):
                    given = self.token
            if not given and path == "/api/events":
                # EventSource cannot send headers: the event stream alone takes the token as a query parameter.
                from urllib.parse import parse_qs

                given = (parse_qs(scope.get("query_string", b"").decode()).get("token") or [""])[0].encode()
            if not hmac.compare_digest(given, self.token):
                return await _reply(send, 401, "missing or wrong token: send `Authorization: Bearer <token>` "
                                               "(`papershelf token` prints it)",
                                    extra=[(b"www-authenticate", b"Bearer")])
        started = time.perf_counter()

        async def send_timed(message: dict) -> None:
            # Server-Timing: how long the server took, so a client can tell it from the network and itself.
            if message["type"] == "http.response.start":
                took = f"app;dur={(time.perf_counter() - started) * 1000:.1f}".encode()
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", took)]}
            await send(message)

        await next_app(scope, receive, send_timed)


class EncodedSlashes:
    """A paper's identifier in /api/papers/{id} may hold a slash (a DOI). Clients send it percent-encoded
    (`doi:10.1038%2Fnature14539`, as encodeURIComponent does), but ASGI servers decode the path before any
    router sees it, and the slash would end the segment. This keeps an encoded slash encoded in those paths;
    the handlers decode their id (`paper_ref`)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path") or b""
        if scope["type"] == "http" and raw.startswith(b"/api/papers/") and b"%2f" in raw.lower():
            path = raw.decode("latin-1").replace("%2F", "%252F").replace("%2f", "%252F")
            scope = {**scope, "path": unquote(path)}
        await self.app(scope, receive, send)


def file_key(token: str) -> bytes:
    """The key file tickets are made with: derived from the token, so a new token voids every ticket."""
    return hmac.new(token.encode(), b"papershelf file tickets", "sha256").digest()


def file_ticket(key: bytes, file_id: str) -> str:
    """The ticket that opens one file (GET /api/files/{id}?ticket=…) without the token."""
    return hmac.new(key, file_id.encode(), "sha256").hexdigest()[:32]


def paper_ref(paper_id: str) -> str:
    """A paper reference from the path, its encoded slashes decoded (EncodedSlashes)."""
    return unquote(paper_id)


async def _reply(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
