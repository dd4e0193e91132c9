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
TICKET_LIFETIME = 86400  # seconds a link that opens one PDF in a tab keeps working

# Every page this server serves runs in the origin whose localStorage holds the token: only the scripts and
# styles it ships run there, nothing is loaded from elsewhere, and no other site may frame it (a page that
# frames the library could steer a click onto "Connect this browser" or "Move to trash").
PAGE_POLICY = (b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
               b"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# A PDF is shown by the browser's own viewer, which a policy for pages would break; it may not be framed either.
FILE_POLICY = b"frame-ancestors 'none'"
SECURITY_HEADERS = [(b"x-frame-options", b"DENY"), (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer")]


def secured(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """A response's headers with the policy and the anti-framing headers every answer carries."""
    pdf = any(k.lower() == b"content-type" and v.startswith(b"application/pdf") for k, v in headers)
    return [*headers, (b"content-security-policy", FILE_POLICY if pdf else PAGE_POLICY), *SECURITY_HEADERS]

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
        # (/mcp checks the token itself, api/assistant.py: a mounted app's own path is not what this sees.)
        if path.startswith("/api/") and path != "/api/health" and scope["method"] != "OPTIONS":
            auth = headers.get(b"authorization", b"")
            given = auth[7:].strip() if auth[:7].lower() == b"bearer " else b""
            if not given and path.startswith("/api/files/") and scope["method"] == "GET":
                # A link that opens one PDF in a tab (a tab cannot send headers): its ticket opens that file
                # and nothing else, like the feed URL's token reads the digest and nothing else.
                from urllib.parse import parse_qs

                fid = path[len("/api/files/"):]
                ticket = (parse_qs(scope.get("query_string", b"").decode()).get("ticket") or [""])[0]
                if "/" not in fid and ticket_opens(self.file_key, ticket, fid):
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


class Secured:
    """The policy and anti-framing headers on every answer the server gives: the routes', the guard's refusals,
    and the router's own 404s and 405s, which no route middleware sees."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_secured(message: dict) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": secured(list(message.get("headers", [])))}
            await send(message)

        await self.app(scope, receive, send_secured)


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


def file_ticket(key: bytes, file_id: str, now: float | None = None) -> str:
    """The ticket that opens one file (GET /api/files/{id}?ticket=…) without the token, for a day: its expiry,
    then a MAC of the file id and that expiry."""
    expires = int((time.time() if now is None else now) + TICKET_LIFETIME)
    return f"{expires}-{_ticket_mac(key, file_id, expires)}"


def ticket_opens(key: bytes, ticket: str, file_id: str, now: float | None = None) -> bool:
    """Whether a ticket opens this file now (made for it, with this token, and not expired)."""
    expires, _, mac = ticket.partition("-")
    if not expires.isdigit() or not mac:
        return False
    if (time.time() if now is None else now) >= int(expires):
        return False
    return hmac.compare_digest(mac, _ticket_mac(key, file_id, int(expires)))


def _ticket_mac(key: bytes, file_id: str, expires: int) -> str:
    return hmac.new(key, f"{file_id}\n{expires}".encode(), "sha256").hexdigest()[:32]


def paper_ref(paper_id: str) -> str:
    """A paper reference from the path, its encoded slashes decoded (EncodedSlashes)."""
    return unquote(paper_id)


async def _reply(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"status_code": status, "detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *extra]})
    await send({"type": "http.response.body", "body": body})
