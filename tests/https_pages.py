"""Pages over HTTPS under their real host names, for the browser tests and the panel benchmark: a throwaway
self-signed certificate for the names, and one local server that answers for all of them (the browser maps
every name to it)."""

from __future__ import annotations

import http.server
import socketserver
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path


def certificate(folder: Path, hosts: list[str]) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for these host names, valid two days."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={hosts[0]}",
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{h}" for h in hosts), "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


class PageServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """Serves `page(host, path)` (bytes of HTML, or None: 404) over HTTPS on a free local port. A list of bytes
    and numbers is a page that arrives slowly: its parts, with a pause of that many seconds where a number is."""

    daemon_threads = True

    def __init__(self, page: Callable[[str, str], bytes | None], cert: Path, key: Path):
        self.page = page
        super().__init__(("127.0.0.1", 0), _Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.page(self.headers.get("Host", "").split(":")[0], self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        parts = body if isinstance(body, list) else [body]
        chunks = [p for p in parts if isinstance(p, bytes)]
        self.send_response(200)
        pdf = chunks[0].startswith(b"%PDF-")
        self.send_header("Content-Type", "application/pdf" if pdf else "text/html; charset=utf-8")
        self.send_header("Content-Length", str(sum(len(c) for c in chunks)))
        self.end_headers()
        for part in parts:
            if isinstance(part, bytes):
                self.wfile.write(part)
                self.wfile.flush()
            else:
                time.sleep(part)

    def log_message(self, *a):
        pass
