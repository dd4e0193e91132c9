"""The origin that holds the token: it runs only its own scripts, cannot be framed, keeps its data private, and
holds its connections and tickets to a bound (the headers every answer carries: test_api.py)."""

from __future__ import annotations

import os
import socket
import stat
import time

import httpx

from conftest import run_cli, start_server
from papershelf.api.guard import TICKET_LIFETIME, file_key, file_ticket, ticket_opens


def test_a_ticket_opens_its_file_for_a_day_and_nothing_else():
    key, other = file_key("t" * 32), file_key("u" * 32)
    now = time.time()
    ticket = file_ticket(key, "f1", now)
    assert ticket_opens(key, ticket, "f1", now + TICKET_LIFETIME - 1)
    assert not ticket_opens(key, ticket, "f1", now + TICKET_LIFETIME + 1)  # a day later: expired
    assert not ticket_opens(key, ticket, "f2", now) and not ticket_opens(other, ticket, "f1", now)
    expires, mac = ticket.split("-")
    assert not ticket_opens(key, f"{int(expires) + 10 ** 9}-{mac}", "f1", now)  # its date cannot be pushed out
    assert not ticket_opens(key, mac, "f1", now) and not ticket_opens(key, "", "f1", now)


def test_a_new_home_and_its_library_are_the_users_alone(tmp_path):
    from papershelf.library import Library

    home = tmp_path / "new-home"
    Library(home).close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "library.duckdb").stat().st_mode) == 0o600
    # A home made by an earlier papershelf with the usual modes is tightened when it is opened.
    os.chmod(home, 0o755)
    os.chmod(home / "library.duckdb", 0o644)
    Library(home).close()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "library.duckdb").stat().st_mode) == 0o600


def test_the_sign_in_link_stays_out_of_logs_and_slow_connections_are_closed(tmp_path):
    """Under a service manager the server's output is its log: the link with the token is not written there;
    `papershelf open` gives it. And 200 connections that send nothing or half a request head are closed after
    the head's deadline while the server answers meanwhile."""
    home = tmp_path / "home"
    os.environ["PAPERSHELF_HEAD_SECONDS"] = "2"
    try:
        srv = start_server(home, "--no-backup", "--no-digest", "--no-follow")
    finally:
        del os.environ["PAPERSHELF_HEAD_SECONDS"]
    socks = []
    try:
        opened = run_cli("open", "--print-only", home=home)
        assert opened.stdout.strip() == f"{srv.url}/#token={srv.token}"
        for i in range(200):
            s = socket.create_connection(("127.0.0.1", srv.port))
            if i % 2:
                s.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0")  # half a head, and then nothing
            socks.append(s)
        slowest = 0.0
        for _ in range(20):
            t = time.perf_counter()
            assert httpx.get(srv.url + "/api/health", timeout=10).status_code == 200
            slowest = max(slowest, time.perf_counter() - t)
        print(f"/api/health with 200 slow connections open: slowest of 20 {slowest * 1000:.0f} ms")
        for s in socks:
            s.settimeout(15)
            assert s.recv(1) == b""  # closed by the server (after the 2 s deadline), not by us
        # A connection that sends one byte at a time never gets past the deadline either.
        s = socket.create_connection(("127.0.0.1", srv.port))
        socks.append(s)
        s.settimeout(15)
        start, closed = time.monotonic(), False
        for ch in b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n":
            try:
                s.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            time.sleep(0.2)
            if time.monotonic() - start > 12:
                break
        assert closed or s.recv(1) == b""
        assert httpx.get(srv.url + "/api/health").status_code == 200
    finally:
        for s in socks:
            s.close()
        srv.stop()
    printed = next(home.parent.glob("server-*.log")).read_text()  # what the server wrote to its stdout and stderr
    assert "library page: " in printed and srv.token not in printed
    assert srv.token not in (home / "logs" / "papershelf.log").read_text()
    gone = run_cli("open", "--print-only", home=home, check=False)
    assert gone.returncode == 1 and "not serving" in gone.stderr
