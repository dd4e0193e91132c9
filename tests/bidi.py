"""A small WebDriver BiDi client for Firefox (built in since Firefox 129): enough to install the extension, open
tabs, navigate, click like a user and read the page. Nothing is downloaded: it drives Debian's firefox-esr.

Firefox resolves host names itself, so the tests' real host names go through a local CONNECT proxy
(`Tunnel`) to the one HTTPS server that answers for all of them; the papershelf server on 127.0.0.1 is
reached directly.
"""

from __future__ import annotations

import json
import queue
import re
import select
import socket
import socketserver
import subprocess
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

FIREFOX = "/usr/bin/firefox-esr"


class BiDiError(Exception):
    pass


class Firefox:
    """A headless firefox-esr with a fresh profile, driven over WebDriver BiDi."""

    def __init__(self, profile: Path, prefs: dict[str, object]):
        profile.mkdir(parents=True, exist_ok=True)
        (profile / "user.js").write_text("".join(f"user_pref({json.dumps(k)}, {json.dumps(v)});\n"
                                                 for k, v in prefs.items()))
        self.proc = subprocess.Popen([FIREFOX, "--headless", "--no-remote", "--profile", str(profile),
                                      "--remote-debugging-port", "0"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        url = None
        deadline = time.time() + 60
        while time.time() < deadline and url is None:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise BiDiError(f"firefox-esr exited {self.proc.returncode}")
            m = re.search(r"WebDriver BiDi listening on (ws://\S+)", line)
            if m:
                url = m.group(1)
        if url is None:
            self.proc.kill()
            raise BiDiError("firefox-esr did not open its WebDriver BiDi port in 60 s")
        threading.Thread(target=self._drain, daemon=True).start()
        self.ws = connect(url.rstrip("/") + "/session", max_size=None, open_timeout=30).__enter__()
        self._id = 0
        self.events: queue.Queue = queue.Queue()
        self.send("session.new", {"capabilities": {"alwaysMatch": {"acceptInsecureCerts": True}}})

    def _drain(self) -> None:
        for _ in self.proc.stderr:  # keep the pipe from filling up
            pass

    def send(self, method: str, params: dict | None = None, timeout: float = 60) -> dict:
        """One command; its result (events that arrive meanwhile are kept in self.events)."""
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params or {}}))
        deadline = time.time() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.time())))
            if msg.get("id") == self._id:
                if msg.get("type") == "error":
                    raise BiDiError(f"{method}: {msg.get('error')}: {msg.get('message')}")
                return msg["result"]
            self.events.put(msg)

    def install(self, path: Path) -> str:
        """Install an unpacked extension (temporarily, as about:debugging does); its id."""
        return self.send("webExtension.install", {"extensionData": {"type": "path", "path": str(path)}})["extension"]

    def tab(self) -> "Tab":
        return Tab(self, self.send("browsingContext.create", {"type": "tab"})["context"])

    def wait_for_tab(self, matches, timeout: float = 60) -> "Tab":
        """The first top-level tab whose URL `matches` (say, a page the extension opened), once there is one."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for c in self.send("browsingContext.getTree", {"maxDepth": 0})["contexts"]:
                if matches(c["url"]):
                    return Tab(self, c["context"])
            time.sleep(0.1)
        raise BiDiError("no tab with a matching URL opened")

    def close(self) -> None:
        try:
            self.send("browser.close", timeout=10)
        except Exception:
            pass
        try:
            self.ws.close()
        finally:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Tab:
    def __init__(self, ff: Firefox, context: str):
        self.ff, self.context = ff, context

    def goto(self, url: str) -> None:
        self.ff.send("browsingContext.navigate", {"context": self.context, "url": url, "wait": "interactive"})

    def close(self) -> None:
        self.ff.send("browsingContext.close", {"context": self.context})

    def eval(self, expression: str):
        """The value of a JavaScript expression in the page (promises awaited; JSON-able values only)."""
        r = self.ff.send("script.evaluate", {"expression": f"(async () => JSON.stringify(await ({expression})))()",
                                             "target": {"context": self.context}, "awaitPromise": True})
        if r.get("type") == "exception":
            raise BiDiError(r["exceptionDetails"].get("text", "exception in the page"))
        value = r["result"].get("value")
        return None if value is None else json.loads(value)

    def wait(self, expression: str, timeout: float = 60) -> object:
        """Poll until the expression is truthy; its value. (An element is not JSON: wait for `!!element`.)"""
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = self.eval(expression)
            if v:
                return v
            time.sleep(0.1)
        raise BiDiError(f"timed out waiting for {expression}")

    def screenshot(self, path: Path) -> None:
        """The visible part of the page, as PNG."""
        import base64

        data = self.ff.send("browsingContext.captureScreenshot", {"context": self.context})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))

    def click(self, expression: str) -> None:
        """A real (trusted) click in the middle of the element the expression gives."""
        r = self.ff.send("script.evaluate", {"expression": expression, "target": {"context": self.context},
                                             "awaitPromise": False, "resultOwnership": "root"})
        node = r["result"]
        if node.get("type") != "node":
            raise BiDiError(f"{expression} is not an element")
        self.ff.send("input.performActions", {"context": self.context, "actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"}, "actions": [
                {"type": "pointerMove", "x": 0, "y": 0, "origin": {"type": "element", "element": {
                    "sharedId": node["sharedId"]}}},
                {"type": "pointerDown", "button": 0}, {"type": "pointerUp", "button": 0}]}]})


class Tunnel(socketserver.ThreadingTCPServer):
    """An HTTP CONNECT proxy that sends every tunnel to one local port (the tests' HTTPS server)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target_port: int):
        self.target_port = target_port
        super().__init__(("127.0.0.1", 0), _TunnelHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _TunnelHandler(socketserver.BaseRequestHandler):
    def handle(self):
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            head += chunk
        if not head.startswith(b"CONNECT "):
            self.request.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        upstream = socket.create_connection(("127.0.0.1", self.server.target_port))
        self.request.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        ends = [self.request, upstream]
        try:
            while True:
                ready, _, _ = select.select(ends, [], [], 30)
                if not ready:
                    return
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.request else self.request).sendall(data)
        finally:
            upstream.close()
