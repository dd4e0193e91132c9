"""`papershelf serve`: the API and the library page, with the jobs of api/runtime.py, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from pathlib import Path

from .. import __version__
from ..pairing import ensure_token, find_server, remove_server_file, write_server_file
from .common import DEFAULT_PORT, LOOPBACK, CLIError, Parents, console, home_of


def cmd_serve(args) -> int:
    import uvicorn

    # An import or an embedding batch holds the GIL for Python's default 5 ms at a time, and a lookup needs it
    # back after every database call: at 1 ms a lookup during an import waits a fifth as long.
    sys.setswitchinterval(0.001)

    from ..api import EncodedSlashes, Secured, create_app, runtime
    from ..api.runtime import Jobs
    from ..library import Library
    from ..sources.inbox import default_inbox
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

    inbox = None if args.no_inbox else Path(args.inbox).expanduser() if args.inbox else default_inbox(home)
    jobs = Jobs(inbox=inbox, digest=not args.no_digest, follow=not args.no_follow, backup=not args.no_backup)
    lifespan = runtime.lifespan(lib, url, jobs, on_stop=lambda: remove_server_file(home))

    def assistant():
        """What /mcp answers with: the tools `papershelf mcp` offers, on this server's library."""
        from ..assistant import Tools, make_server
        from .client import InProcess

        return make_server(Tools(lambda: contextlib.nullcontext(InProcess(lib)), CLIError),
                           allow_write=args.mcp_allow_write)

    app = create_app(lib, token=token, port=args.port, allowed_hosts=hosts, lifespan=[lifespan],
                     assistant=assistant)
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
            s = lib.stats()
            # Logged before the file is written: whoever finds the file (papershelf service status, a test)
            # finds the start in the log too (a loaded machine once read the log between the two).
            logging.getLogger("papershelf").info("papershelf %s serving %s at %s (%d papers)", __version__, home, url,
                                                 s.papers)
            write_server_file(home, url)
            console.print(f"papershelf {__version__} serving [bold]{home}[/bold] at {url}  "
                          f"({s.papers} papers, {s.pending} waiting for vectors)", highlight=False)
            # The link carries the token: to a terminal only, never to a log (a service's output is its log).
            if sys.stderr.isatty():
                console.print(f"library page: {url}/#token={token}", highlight=False)
            else:
                console.print(f"library page: {url} (papershelf open signs you in)", highlight=False)
            if inbox:
                console.print(f"inbox: files dropped into {inbox} are imported", highlight=False)

    threading.Thread(target=announce, daemon=True).start()
    # uvicorn shuts down gracefully on SIGTERM (the write in flight finishes, the database is closed), then
    # re-raises the signal to the previous handler; with this no-op one we exit 0 after a clean shutdown.
    import signal

    signal.signal(signal.SIGTERM, lambda *_: None)
    server.run()
    if not server.started:
        raise CLIError(f"could not listen on {args.host}:{args.port} (is the port in use?)")
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    common = parents.common
    s = sub.add_parser("serve", parents=[common], help="run the local API server and library page")
    s.add_argument("--port", type=int, default=int(os.environ.get("PAPERSHELF_PORT", DEFAULT_PORT)))
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--allow-remote", action="store_true", help="allow a --host other than loopback")
    s.add_argument("--inbox", help="folder to watch for files to import (default: <home>/inbox)")
    s.add_argument("--no-inbox", action="store_true", help="do not watch an inbox folder")
    s.add_argument("--no-digest", action="store_true", help="do not fetch the digest's feeds on a schedule")
    s.add_argument("--no-follow", action="store_true", help="do not sync followed sources (papershelf sources)")
    s.add_argument("--no-backup", action="store_true", help="do not back the library up each day (papershelf backup)")
    s.add_argument("--mcp-allow-write", action="store_true",
                   help="let assistants at /mcp add and tag papers too (by default they only read)")
    s.set_defaults(func=cmd_serve)
