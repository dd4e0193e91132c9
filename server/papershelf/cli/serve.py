"""`papershelf serve`: the API, the library page, the inbox and the daily fetch, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from pathlib import Path

import msgspec

from .. import __version__
from ..pairing import ensure_token, find_server, remove_server_file, write_server_file
from .common import LOOPBACK, CLIError, console, home_of


FIRST_MAP_AFTER = 30  # seconds after start: a library's first map is laid out then (or when first opened)


def cmd_serve(args) -> int:
    import uvicorn

    # An import or an embedding batch holds the GIL for Python's default 5 ms at a time, and a lookup needs it
    # back after every database call: at 1 ms a lookup during an import waits a fifth as long.
    sys.setswitchinterval(0.001)

    from ..api import EncodedSlashes, Secured, create_app
    from ..library import Library
    from ..store import StoreError

    home = home_of(args)
    from .. import logs

    logs.to_file(home)
    if args.host not in LOOPBACK:
        if not args.allow_remote:
            raise CLIError(f"refusing to listen on {args.host}: anyone on that network could reach your library. "
                           "Pass --allow-remote if you really mean it.")
        console.print(f"[bold red]warning[/bold red]: listening on {args.host}; the library is reachable from "
                      "other machines (the token still guards it).")
    running = find_server(home)
    if running:
        raise CLIError(f"papershelf already serves {home} at {running}")
    try:
        lib = Library(home, model_dir=getattr(args, "model_dir", None) or os.environ.get("PAPERSHELF_MODEL_DIR"))
    except StoreError as e:
        raise CLIError(str(e)) from e
    token = ensure_token(home)
    url = f"http://127.0.0.1:{args.port}" if args.host in LOOPBACK else f"http://{args.host}:{args.port}"
    hosts = None if args.host in LOOPBACK else ["127.0.0.1", "localhost", "[::1]", args.host]

    from contextlib import asynccontextmanager

    inbox = None
    if not args.no_inbox:
        from ..watch import Inbox, default_inbox

        def import_file(path: Path) -> dict:
            return msgspec.to_builtins(lib.import_dropped(path))

        def filed(target: Path, report: dict) -> None:
            lib.events.publish("inbox", file=target.name, folder=target.parent.name,
                               added=len(report.get("added", [])), merged=len(report.get("merged", [])),
                               failed=len(report.get("failed", [])), error=report.get("error", ""))

        inbox = Inbox(Path(args.inbox).expanduser() if args.inbox else default_inbox(home), import_file, filed)

    @asynccontextmanager
    async def lifespan(app):
        import asyncio

        from .. import mail
        from ..schedule import DailyFetch

        lib.worker.start()
        # The index loads now, not on the first page's lookup (a lookup meanwhile waits for it). Then the map, so
        # that opening it does not wait for a first layout (seconds at 100,000 papers): a kept one is brought up
        # to date at once (cheap), a first one is made a little later, when start-up's work is done.
        def map_up():
            try:
                lib.map.current()
            except Exception:  # a view: the library goes on without it
                logging.getLogger("papershelf").exception("laying out the map failed")

        def warm_up():
            lib.index.snapshot()
            if lib.map.kept:
                map_up()
            else:
                later = threading.Timer(FIRST_MAP_AFTER, map_up)
                later.daemon = True
                later.start()

        threading.Thread(target=warm_up, name="index-load", daemon=True).start()
        stop = asyncio.Event()
        watcher = asyncio.create_task(inbox.run(stop)) if inbox else None
        daily = DailyFetch(lib, send=lambda: mail.send_digest(lib, url) if mail.configured(home) else None)
        fetcher = asyncio.create_task(daily.run(stop)) if not args.no_digest else None
        from ..follow import Follower

        following = asyncio.create_task(Follower(lib).run(stop)) if not getattr(args, "no_follow", False) else None
        from ..backup import DailyBackup

        backing_up = asyncio.create_task(DailyBackup(lib).run(stop)) if not args.no_backup else None
        try:
            yield
        finally:
            stop.set()
            if watcher:
                await asyncio.wait_for(watcher, timeout=30)
            if fetcher:
                await asyncio.wait_for(fetcher, timeout=120)  # a fetch in flight finishes (feeds time out)
            if following:
                await asyncio.wait_for(following, timeout=120)  # a sync in flight finishes (one transaction)
            if backing_up:
                await asyncio.wait_for(backing_up, timeout=600)  # a backup in flight finishes (else it is partial)
            remove_server_file(home)
            lib.close()  # waits for the write in flight: a transaction either commits or rolls back

    app = create_app(lib, token=token, port=args.port, allowed_hosts=hosts, lifespan=[lifespan])
    from ..api.connections import KEEP_ALIVE_SECONDS, MAX_CONNECTIONS, HeadDeadline

    config = uvicorn.Config(Secured(EncodedSlashes(app)), host=args.host, port=args.port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=10, http=HeadDeadline, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                            limit_concurrency=MAX_CONNECTIONS)
    server = uvicorn.Server(config)

    def announce() -> None:
        # Only once the socket listens: a CLI that finds the file must be able to reach us.
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            write_server_file(home, url)
            s = lib.stats()
            logging.getLogger("papershelf").info("papershelf %s serving %s at %s (%d papers)", __version__, home, url,
                                                 s.papers)
            console.print(f"papershelf {__version__} serving [bold]{home}[/bold] at {url}  "
                          f"({s.papers} papers, {s.pending} waiting for vectors)", highlight=False)
            # The link carries the token: to a terminal only, never to a log (a service's output is its log).
            if sys.stderr.isatty():
                console.print(f"library page: {url}/#token={token}", highlight=False)
            else:
                console.print(f"library page: {url} (papershelf open signs you in)", highlight=False)
            if inbox:
                console.print(f"inbox: files dropped into {inbox.folder} are imported", highlight=False)

    threading.Thread(target=announce, daemon=True).start()
    # uvicorn shuts down gracefully on SIGTERM (the write in flight finishes, the database is closed), then
    # re-raises the signal to the previous handler; with this no-op one we exit 0 after a clean shutdown.
    import signal

    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
    if not server.started:
        raise CLIError(f"could not listen on {args.host}:{args.port} (is the port in use?)")
    return 0
