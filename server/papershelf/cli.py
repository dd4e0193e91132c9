"""The `papershelf` command.

While `papershelf serve` runs for a home, the database file is the server's (DuckDB allows one writer
process): every other command then goes through the server's API, found via `<home>/server.json`.
Otherwise commands open the library directly.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .pairing import ensure_token, find_server, read_token, remove_server_file, write_server_file

console = Console(stderr=True)
out = Console(soft_wrap=True)
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")
FIRST_MAP_AFTER = 30  # seconds after start: a library's first map is laid out then (or when first opened)

class CLIError(Exception):
    """A problem to show the user as one message, exit status 1."""


def _home(args) -> Path:
    from .library import default_home

    return Path(args.home).expanduser() if getattr(args, "home", None) else default_home()


def _builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


# -- backends: the same operations, locally or through a running server -----------------------------------
class Local:
    """Opens the library file itself (no server running)."""

    remote = False

    def __init__(self, home: Path, model_dir: str | None):
        from .library import Library
        from .store import StoreError

        try:
            self.lib = Library(home, model_dir=model_dir)
        except StoreError as e:
            raise CLIError(str(e)) from e

    def close(self) -> None:
        self.lib.close()

    def import_file(self, path: Path, fmt: str | None, progress) -> dict:
        return _builtins(self.lib.import_path(path, fmt=fmt, progress=progress))

    def pending(self) -> int:
        return self.lib.store.count_pending(self.lib.model_id)

    def embed(self, progress) -> None:
        self.lib.embed_all(progress=progress)

    def related(self, ref: str | None, text: str | None, k: int, filters: dict) -> list[dict]:
        from .models import Filters

        f = Filters(year_min=filters.get("year_min"), year_max=filters.get("year_max"), tags=filters.get("tag") or [])
        hits = self.lib.related(ref, k=k, filters=f) if ref else self.lib.related_text(text, k=k, filters=f)
        return _builtins(hits)

    def search(self, q: str, k: int) -> list[dict]:
        return _builtins(self.lib.search(q, k=k))

    def show(self, ref: str) -> dict:
        return _builtins(self.lib.get(ref))

    def export(self, fmt: str):
        from .export import export

        return export(self.lib.store.iter_papers(), fmt)

    def stats(self) -> dict:
        return _builtins(self.lib.stats())

    def doctor(self) -> list[dict]:
        from .doctor import run_checks

        return [{"name": n, "ok": ok, "detail": d} for n, ok, d in run_checks(self.lib)]

    # the digest
    def _digest(self, fn, *a, **kw):
        from .digest import DigestError
        from .feeds import FeedError
        from .mail import MailError

        try:
            return _builtins(fn(*a, **kw))
        except (DigestError, FeedError, MailError) as e:
            raise CLIError(str(e)) from e
        except KeyError as e:
            raise CLIError(f"no digest item {e.args[0]!r}") from e

    def feeds(self) -> list[dict]:
        return self._digest(self.lib.digest.feeds)

    def add_feed(self, source: str) -> dict:
        feed, report = self._digest(self.lib.digest.add_feed, source)
        return {"feed": feed, "fetched": report}

    def remove_feed(self, source: str) -> bool:
        return self.lib.digest.remove_feed(source)

    def fetch(self) -> list[dict]:
        return self._digest(self.lib.digest.fetch_all)

    def digest(self, day: str | None, limit: int | None, tag: str | None) -> dict:
        return self._digest(self.lib.digest.day, day, limit=limit, tag=tag)

    def digest_pending(self) -> int:
        return self.lib.digest.pending()

    def rate(self, ref: str, rating: str | None) -> None:
        self._digest(lambda: self.lib.digest.rate(self.lib.digest.find(ref), rating))

    def save_candidate(self, ref: str) -> dict:
        return self._digest(lambda: self.lib.digest.save(self.lib.digest.find(ref)))

    def feedback(self) -> list[dict]:
        return self._digest(self.lib.digest.feedback)

    def send(self) -> str:
        from . import mail

        return self._digest(mail.send_digest, self.lib)

    def feed_token(self) -> str:
        return self.lib.digest.new_feed_token()

    def digest_settings(self, at: str | None, prune_days: int | None) -> dict:
        return self._digest(self.lib.digest.set_settings, at=at, prune_days=prune_days)


class Remote:
    """Talks to the running server of this home."""

    remote = True

    def __init__(self, url: str, token: str):
        self.url = url
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise CLIError(f"the server at {self.url} did not answer: {e}") from e
        if r.status_code == 404:
            raise CLIError(r.json().get("detail", "not found"))
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail") or r.text
            except ValueError:
                detail = r.text
            raise CLIError(f"server said {r.status_code}: {detail}")
        return r

    def import_file(self, path: Path, fmt: str | None, progress) -> dict:
        try:
            data = path.read_bytes()
        except OSError as e:
            return {"source": str(path), "added": [], "merged": [], "failed": [],
                    "error": f"cannot read {path}: {e.strerror or e}"}
        try:
            r = self.http.post("/api/import", files={"file": (path.name, data)})
        except httpx.HTTPError as e:
            raise CLIError(f"the server at {self.url} did not answer: {e}") from e
        if r.status_code == 400:
            return {"source": str(path), "added": [], "merged": [], "failed": [], "error": r.json().get("detail")}
        if r.status_code >= 400:
            raise CLIError(f"server said {r.status_code}: {r.text}")
        rep = r.json()
        if progress:
            progress(len(rep.get("added", [])) + len(rep.get("merged", [])) + len(rep.get("failed", [])))
        return rep

    def pending(self) -> int:
        return self._call("GET", "/api/stats").json()["stats"]["pending"]

    def embed(self, progress) -> None:
        total = self.pending()
        while True:
            st = self._call("GET", "/api/stats").json()
            p = st["stats"]["pending"]
            if st.get("embedding_error"):
                raise CLIError(f"the server cannot embed: {st['embedding_error']}")
            total = max(total, p)
            if progress:
                progress(total - p, total)
            if p == 0:
                return
            time.sleep(0.5)

    def related(self, ref: str | None, text: str | None, k: int, filters: dict) -> list[dict]:
        params: dict[str, Any] = {"k": k}
        params.update({key: v for key, v in filters.items() if v})
        if ref:
            params["id"] = ref
        else:
            params["text"] = text
        return self._call("GET", "/api/related", params=params).json()

    def search(self, q: str, k: int) -> list[dict]:
        return self._call("GET", "/api/search", params={"q": q, "k": k}).json()

    def show(self, ref: str) -> dict:
        r = self._call("GET", "/api/lookup", params={"ref": ref, "k": 0}).json()
        if not r["found"]:
            raise CLIError(f"no paper in the library for {ref!r}")
        return r["paper"]

    def export(self, fmt: str):
        with self.http.stream("GET", "/api/export", params={"format": fmt}) as r:
            if r.status_code >= 400:
                raise CLIError(f"server said {r.status_code}: {r.read().decode()}")
            yield from r.iter_text()

    def stats(self) -> dict:
        return self._call("GET", "/api/stats").json()["stats"]

    def doctor(self) -> list[dict]:
        return self._call("GET", "/api/doctor").json()

    # the digest
    def feeds(self) -> list[dict]:
        return self._call("GET", "/api/feeds").json()

    def add_feed(self, source: str) -> dict:
        return self._call("POST", "/api/feeds", json={"source": source}).json()

    def remove_feed(self, source: str) -> bool:
        r = self.http.delete("/api/feeds", params={"source": source})
        return r.status_code == 200

    def fetch(self) -> list[dict]:
        return self._call("POST", "/api/digest/fetch").json()

    def digest(self, day: str | None, limit: int | None, tag: str | None) -> dict:
        params = {k: v for k, v in (("day", day), ("limit", limit), ("tag", tag)) if v}
        return self._call("GET", "/api/digest", params=params).json()

    def digest_pending(self) -> int:
        return self._call("GET", "/api/digest", params={"limit": 1}).json()["pending"]

    def rate(self, ref: str, rating: str | None) -> None:
        self._call("POST", f"/api/digest/{ref}/rate", json={"rating": rating})

    def save_candidate(self, ref: str) -> dict:
        return self._call("POST", f"/api/digest/{ref}/save").json()

    def feedback(self) -> list[dict]:
        return self._call("GET", "/api/digest/feedback").json()

    def send(self) -> str:
        return self._call("POST", "/api/digest/send").json()["sent_to"]

    def feed_token(self) -> str:
        return self._call("POST", "/api/digest/feed-token").json()["token"]

    def digest_settings(self, at: str | None, prune_days: int | None) -> dict:
        body = {k: v for k, v in (("at", at), ("prune_days", prune_days)) if v is not None}
        return self._call("PATCH", "/api/digest/settings", json=body).json()


def connect(args) -> Local | Remote:
    """The running server of this home if there is one, else the library file."""
    home = _home(args)
    url = find_server(home)
    if url:
        token = read_token(home)
        if not token:
            raise CLIError(f"a server runs at {url} but {home}/token is missing")
        return Remote(url, token)
    return Local(home, getattr(args, "model_dir", None) or os.environ.get("PAPERSHELF_MODEL_DIR"))


# -- commands -----------------------------------------------------------------------------------------------
def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False, disable=not console.is_terminal)


def cmd_import(args) -> int:
    from .library import sample_path

    paths = [Path(p) for p in args.paths]
    if args.sample:
        paths.insert(0, sample_path())
    if not paths:
        raise CLIError("give one or more files to import, or --sample")
    be = connect(args)
    totals = {"added": [], "merged": [], "failed": [], "warnings": [], "files": []}
    try:
        with _progress() as prog:
            for path in paths:
                task = prog.add_task(f"reading {path.name}", total=None)
                rep = be.import_file(path, args.format, lambda n, t=task: prog.advance(t, n))
                prog.update(task, total=prog.tasks[task].completed or 1, completed=prog.tasks[task].completed or 1)
                totals["files"].append({"file": str(path), "format": rep.get("format", ""),
                                        "error": rep.get("error", ""), "added": len(rep.get("added", [])),
                                        "merged": len(rep.get("merged", [])), "failed": len(rep.get("failed", []))})
                totals["added"] += rep.get("added", [])
                totals["merged"] += rep.get("merged", [])
                totals["failed"] += [dict(f, file=str(path)) for f in rep.get("failed", [])]
                totals["warnings"] += [dict(w, file=str(path)) for w in rep.get("warnings", [])]
                if rep.get("error"):
                    totals["failed"].append({"file": str(path), "position": "file", "reason": rep["error"]})
            if not args.no_wait and be.pending():
                task = prog.add_task("embedding", total=be.pending())
                be.embed(lambda done, total: prog.update(task, completed=done, total=total))
        pending = be.pending()
    finally:
        be.close()
    unchanged = sum(1 for m in totals["merged"] if not m.get("changed"))
    if args.json:
        out.print_json(json.dumps({"added": len(totals["added"]), "merged": len(totals["merged"]),
                                   "unchanged": unchanged, "failed": totals["failed"],
                                   "warnings": totals["warnings"], "pending": pending,
                                   "files": totals["files"], "added_ids": totals["added"]}))
    else:
        for f in totals["failed"]:
            console.print(f"[red]failed[/red] {f['file']} {f['position']}: {f['reason']}", highlight=False)
        for w in totals["warnings"]:
            console.print(f"[yellow]warning[/yellow] {w['file']} {w['position']}: {w['field']} {w['value']!r} "
                          f"{w['reason']} (the paper is imported)", highlight=False, markup=True)
        msg = f"added {len(totals['added'])}, merged {len(totals['merged'])}"
        if unchanged:
            msg += f" ({unchanged} already in the library, unchanged)"
        msg += f", failed {len(totals['failed'])}"
        if totals["warnings"]:
            msg += f", {len(totals['warnings'])} fields dropped (warnings above)"
        if not totals["added"] and totals["merged"] and unchanged == len(totals["merged"]):
            msg += " — nothing new: every record was already in the library"
        if pending:
            msg += f"; {pending} papers waiting for vectors" + (" (the server embeds them)" if be.remote else
                                                                 " (run any command without --no-wait to embed)")
        out.print(msg, highlight=False)
    return 1 if totals["failed"] and not totals["added"] and not totals["merged"] else 0


def _filters(args) -> dict:
    return {"year_min": args.year_min, "year_max": args.year_max, "tag": args.tag}


def _print_hits(hits: list[dict], as_json: bool, what: str) -> None:
    if as_json:
        out.print_json(json.dumps([{"id": h["id"], "title": h["title"], "score": h["score"],
                                    "identifiers": h["identifiers"], "why": h["why"],
                                    **({"matched": h["matched"]} if "matched" in h else {}),
                                    "year": h["paper"]["year"], "authors": h["paper"]["authors"]} for h in hits]))
        return
    if not hits:
        out.print(f"no {what} in the library")
        return
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("score", "id", "year", "title", "why"):
        t.add_column(col, overflow="fold")
    for h in hits:
        t.add_row(f"{h['score']:.3f}", h["id"], str(h["paper"]["year"] or ""), h["title"],
                  ", ".join(h["why"] + [f"[{m}]" for m in h.get("matched", [])]))
    out.print(t)


def cmd_related(args) -> int:
    if bool(args.id) == bool(args.text):
        raise CLIError("give a paper (an id, arXiv id, DOI, URL or key) or --text TEXT, not both")
    be = connect(args)
    try:
        hits = be.related(args.id, args.text, args.limit, _filters(args))
    except LookupError as e:
        raise CLIError(f"no paper in the library for {e.args[0]!r}") from e
    finally:
        be.close()
    _print_hits(hits, args.json, "related papers")
    return 0


def cmd_search(args) -> int:
    be = connect(args)
    try:
        hits = be.search(" ".join(args.query), args.limit)
    finally:
        be.close()
    _print_hits(hits, args.json, "matches")
    return 0


def cmd_show(args) -> int:
    be = connect(args)
    try:
        p = be.show(args.id)
    except LookupError as e:
        raise CLIError(f"no paper in the library for {e.args[0]!r}") from e
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(p, default=str))
        return 0
    out.print(f"[bold]{p['title']}[/bold]")
    out.print(", ".join(p["authors"]) or "(no authors)", highlight=False)
    out.print(" · ".join(str(x) for x in (p["year"], p["venue"]) if x), highlight=False)
    out.print(f"id {p['id']}   " + "   ".join(p["identifiers"]), highlight=False)
    if p["url"]:
        out.print(p["url"], highlight=False)
    if p["tags"]:
        out.print("tags: " + ", ".join(p["tags"]), highlight=False)
    if p.get("deleted_at"):
        out.print("[yellow]in the trash[/yellow]")
    out.print()
    out.print(p["abstract"] or "(no abstract)", highlight=False)
    return 0


def cmd_export(args) -> int:
    be = connect(args)
    try:
        chunks = be.export(args.format)
        if args.output:
            tmp = Path(args.output + ".partial")
            with open(tmp, "w", encoding="utf-8") as f:
                for c in chunks:
                    f.write(c)
            tmp.replace(args.output)
        else:
            for c in chunks:
                sys.stdout.write(c)
    finally:
        be.close()
    return 0


def cmd_stats(args) -> int:
    be = connect(args)
    try:
        s = be.stats()
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(s))
    else:
        out.print(f"papers   {s['papers']}\nembedded {s['embedded']}\npending  {s['pending']}\n"
                  f"trashed  {s['trashed']}\nmodel    {s['model_id']}\ndatabase {s['db_bytes'] / 1e6:.1f} MB\n"
                  f"home     {s['home']}", highlight=False)
        if s.get("feeds"):
            failing = f", [red]{s['feeds_failing']} failing[/red] (`papershelf feeds list` says why)" \
                if s["feeds_failing"] else ""
            out.print(f"digest   {s['candidates']} new papers waiting, {s['feeds']} feeds{failing}", highlight=False)
    return 0


def cmd_doctor(args) -> int:
    be = connect(args)
    try:
        checks = be.doctor()
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(checks))
    else:
        for c in checks:
            mark = "[green]ok[/green]  " if c["ok"] else "[red]FAIL[/red]"
            out.print(f"{mark} {c['name']}: {c['detail']}", highlight=False)
    return 0 if all(c["ok"] for c in checks) else 1


def cmd_watch(args) -> int:
    import asyncio

    from .watch import Inbox

    be = connect(args)

    def import_file(path: Path) -> dict:
        return be.import_file(path, None, None)

    def filed(target: Path, report: dict) -> None:
        n = lambda k: len(report.get(k, []))  # noqa: E731
        status = "[red]failed[/red]" if target.parent.name == "failed" else "[green]done[/green]"
        out.print(f"{status} {target.name}: added {n('added')}, merged {n('merged')}, failed {n('failed')}"
                  + (f" — {report['error']}" if report.get("error") else ""), highlight=False)

    inbox = Inbox(Path(args.dir).expanduser(), import_file, filed)
    if not be.remote:
        be.lib.worker.start()  # embed in the background, as the server would
    console.print(f"watching {inbox.folder} (through {'the server at ' + be.url if be.remote else 'the library file'}"
                  "); Ctrl-C stops", highlight=False)
    try:
        asyncio.run(inbox.run())
    except KeyboardInterrupt:
        pass
    finally:
        be.close()
    return 0


def cmd_token(args) -> int:
    out.print(ensure_token(_home(args)), highlight=False)
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    # An import or an embedding batch holds the GIL for Python's default 5 ms at a time, and a lookup needs it
    # back after every database call: at 1 ms a lookup during an import waits a fifth as long.
    sys.setswitchinterval(0.001)

    from .api import EncodedSlashes, create_app
    from .library import Library
    from .store import StoreError

    home = _home(args)
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
        from .watch import Inbox, default_inbox

        def import_file(path: Path) -> dict:
            return msgspec.to_builtins(lib.import_path(path))

        def filed(target: Path, report: dict) -> None:
            lib.events.publish("inbox", file=target.name, folder=target.parent.name,
                               added=len(report.get("added", [])), merged=len(report.get("merged", [])),
                               failed=len(report.get("failed", [])), error=report.get("error", ""))

        inbox = Inbox(Path(args.inbox).expanduser() if args.inbox else default_inbox(home), import_file, filed)

    @asynccontextmanager
    async def lifespan(app):
        import asyncio

        from . import mail
        from .schedule import DailyFetch

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
        try:
            yield
        finally:
            stop.set()
            if watcher:
                await asyncio.wait_for(watcher, timeout=30)
            if fetcher:
                await asyncio.wait_for(fetcher, timeout=120)  # a fetch in flight finishes (feeds time out)
            remove_server_file(home)
            lib.close()  # waits for the write in flight: a transaction either commits or rolls back

    app = create_app(lib, token=token, port=args.port, allowed_hosts=hosts, lifespan=[lifespan])
    config = uvicorn.Config(EncodedSlashes(app), host=args.host, port=args.port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)

    def announce() -> None:
        # Only once the socket listens: a CLI that finds the file must be able to reach us.
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            write_server_file(home, url)
            s = lib.stats()
            console.print(f"papershelf {__version__} serving [bold]{home}[/bold] at {url}  "
                          f"({s.papers} papers, {s.pending} waiting for vectors)", highlight=False)
            console.print(f"library page: {url}/#token={token}", highlight=False)
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


def cmd_feeds(args) -> int:
    be = connect(args)
    try:
        if args.feeds_cmd == "add":
            got = be.add_feed(args.source)
            f, r = got["feed"], got["fetched"]
            if args.json:
                out.print_json(json.dumps(got, default=str))
            else:
                out.print(f"added {f['source']} ({f['url']}): {r['new']} new papers, {r['in_library']} already in "
                          "your library", highlight=False)
        elif args.feeds_cmd == "remove":
            if not be.remove_feed(args.source):
                raise CLIError(f"{args.source} is not a feed (`papershelf feeds list` shows them)")
            out.print(f"removed {args.source}", highlight=False)
        else:
            feeds = be.feeds()
            if args.json:
                out.print_json(json.dumps(feeds, default=str))
            elif not feeds:
                out.print("no feeds yet: `papershelf feeds add arxiv:cs.LG` (or hf:daily, or a URL)")
            for f in feeds:
                state = (f"[red]last error[/red] {str(f['last_error_at'])[:16]}: {f['last_error']}" if f["last_error"]
                         else f"last fetched {str(f['last_success_at'])[:16]} ({f['last_count']} papers)"
                         if f["last_success_at"] else "not fetched yet")
                out.print(f"{f['source']}  {state}", highlight=False)
    finally:
        be.close()
    return 0


def cmd_digest(args) -> int:
    be = connect(args)
    try:
        sub = args.digest_cmd
        if sub == "fetch":
            reports = be.fetch()
            with _progress() as prog:
                total = be.digest_pending()
                if total and not args.no_wait:
                    task = prog.add_task("embedding new papers", total=total)
                    while (left := be.digest_pending()) > 0:
                        prog.update(task, completed=total - left)
                        if not be.remote:
                            be.embed(None)
                        else:
                            time.sleep(0.5)
            if args.json:
                out.print_json(json.dumps(reports))
            for r in reports:
                if not args.json:
                    out.print(f"{r['source']}: " + (f"[red]failed[/red] {r['error']}" if r["error"] else
                              "not modified since the last fetch" if r["not_modified"] else
                              f"{r['new']} new, {r['seen']} seen before, {r['in_library']} already in your library"),
                              highlight=False)
            return 1 if reports and all(r["error"] for r in reports) else 0
        if sub == "rate":
            be.rate(args.id, None if args.rating == "none" else args.rating)
            out.print(f"{args.id}: {args.rating}", highlight=False)
            return 0
        if sub == "save":
            p = be.save_candidate(args.id)
            out.print(f"saved to your library as {p['id']}: {p['title']}", highlight=False)
            return 0
        if sub == "send":
            out.print(f"sent to {be.send()}", highlight=False)
            return 0
        if sub == "feedback":
            rows = be.feedback()
            if args.json:
                out.print_json(json.dumps(rows, default=str))
            for r in rows if not args.json else []:
                out.print(f"{'👍' if r['rating'] == 'up' else '👎'} {str(r['rated_at'])[:10]} {r['title']}", highlight=False)
            return 0
        if sub == "settings":
            st = be.digest_settings(args.at, args.prune_days)
            out.print(f"fetched daily at {st['at']} while `papershelf serve` runs; unsaved papers kept "
                      f"{st['prune_days']} days", highlight=False)
            return 0
        if sub == "feed-url":
            token = be.feed_token()
            url = find_server(_home(args)) or f"http://127.0.0.1:{DEFAULT_PORT}"
            out.print(f"{url}/digest.atom?key={token}", highlight=False)
            return 0
        page = be.digest(args.date, args.limit, args.tag)
        if args.json:
            out.print_json(json.dumps(page))
            return 0
        if page["day"] is None:
            out.print(page["note"], highlight=False)
            return 0
        out.print(f"[bold]digest of {page['day']}[/bold]: {page['total']} papers"
                  + (f" ({page['note']})" if page["note"] else ""), highlight=False)
        for n, it in enumerate(page["items"], 1):
            mark = " [green]in your library[/green]" if it["in_library"] else ""
            fb = {"up": " 👍", "down": " 👎"}.get(it["feedback"] or "", "")
            out.print(f"{n:>3}. {it['title']}{mark}{fb}  [dim]{it['id']}[/dim]", highlight=False)
            close = "; ".join(p["title"][:60] for p in it["why"]["papers"][:2])
            terms = ", ".join(it["why"]["terms"])
            out.print(f"     [dim]{it['feed']}{' ' + it['announce'] if it['announce'] else ''} · close to: {close}"
                      + (f" · {terms}" if terms else "") + "[/dim]", highlight=False)
    finally:
        be.close()
    return 0


# -- argument parsing -----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS,
                        help="library folder (default: $PAPERSHELF_HOME or the platform's user data dir)")
    common.add_argument("--model-dir", default=argparse.SUPPRESS,
                        help="a fastembed-compatible ONNX model folder instead of the built-in model "
                             "(also $PAPERSHELF_MODEL_DIR); switching re-embeds in the background")
    json_opt = argparse.ArgumentParser(add_help=False)
    json_opt.add_argument("--json", action="store_true", help="machine-readable output")
    filt = argparse.ArgumentParser(add_help=False)
    filt.add_argument("--limit", "-k", type=int, default=10, help="how many results (default 10)")
    filt.add_argument("--year-min", type=int)
    filt.add_argument("--year-max", type=int)
    filt.add_argument("--tag", action="append", help="only papers with this tag (repeatable: any of them)")

    p = argparse.ArgumentParser(prog="papershelf", parents=[common],
                                description="Your paper library, with related papers, offline.")
    p.add_argument("--version", action="version", version=f"papershelf {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("serve", parents=[common], help="run the local API server and library page")
    s.add_argument("--port", type=int, default=int(os.environ.get("PAPERSHELF_PORT", DEFAULT_PORT)))
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--allow-remote", action="store_true", help="allow a --host other than loopback")
    s.add_argument("--inbox", help="folder to watch for files to import (default: <home>/inbox)")
    s.add_argument("--no-inbox", action="store_true", help="do not watch an inbox folder")
    s.add_argument("--no-digest", action="store_true", help="do not fetch the digest's feeds on a schedule")
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("watch", parents=[common], help="import every file dropped into a folder (no server needed)")
    s.add_argument("dir", help="the folder to watch; imported files move to done/ or failed/")
    s.set_defaults(func=cmd_watch)

    s = sub.add_parser("import", parents=[common, json_opt], help="import files (format detected from content)")
    s.add_argument("paths", nargs="*", help="files to import")
    s.add_argument("--sample", action="store_true", help="import the sample library that ships with papershelf")
    s.add_argument("--format", help="force a format instead of detecting it")
    s.add_argument("--no-wait", action="store_true", help="do not wait for the new papers to be embedded")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("related", parents=[common, json_opt, filt], help="papers related to a paper or a text")
    s.add_argument("id", nargs="?", help="library id, arXiv id, DOI, URL, or the key it was imported with")
    s.add_argument("--text", help="free text instead of a paper")
    s.set_defaults(func=cmd_related)

    s = sub.add_parser("search", parents=[common, json_opt, filt], help="keyword + semantic search")
    s.add_argument("query", nargs="+")
    s.set_defaults(func=cmd_search, limit=20)

    s = sub.add_parser("show", parents=[common, json_opt], help="one paper")
    s.add_argument("id")
    s.set_defaults(func=cmd_show)

    s = sub.add_parser("export", parents=[common], help="write the library as JSONL or BibTeX")
    s.add_argument("--format", choices=["jsonl", "bibtex", "csljson", "ris"], default="jsonl")
    s.add_argument("--output", "-o", help="file to write (default: standard output)")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser("stats", parents=[common, json_opt], help="papers, vectors, model, size")
    s.set_defaults(func=cmd_stats)

    s = sub.add_parser("doctor", parents=[common, json_opt], help="check model files, database and disk")
    s.set_defaults(func=cmd_doctor)

    s = sub.add_parser("feeds", parents=[common, json_opt], help="the feeds the daily digest fetches")
    fs = s.add_subparsers(dest="feeds_cmd", metavar="add|list|remove")
    a = fs.add_parser("add", parents=[common, json_opt], help="add a feed (fetched once to check it)")
    a.add_argument("source", help="arxiv:CATEGORY (arxiv:cs.LG), hf:daily, or an http(s) URL of a feed")
    fs.add_parser("list", parents=[common, json_opt], help="feeds with their last success and last error")
    r = fs.add_parser("remove", parents=[common], help="stop fetching a feed")
    r.add_argument("source")
    s.set_defaults(func=cmd_feeds, feeds_cmd="list")

    s = sub.add_parser("digest", parents=[common, json_opt], help="today's new papers, ranked for you")
    s.add_argument("--date", help="the day (YYYY-MM-DD; default: the newest)")
    s.add_argument("--limit", "-k", type=int, help="how many papers")
    s.add_argument("--tag", help="rank for this tag's papers only")
    ds = s.add_subparsers(dest="digest_cmd", metavar="fetch|rate|save|send|feedback|feed-url|settings")
    f = ds.add_parser("fetch", parents=[common, json_opt], help="fetch every feed now (through the server if it runs)")
    f.add_argument("--no-wait", action="store_true", help="do not wait for the new papers to be embedded")
    r = ds.add_parser("rate", parents=[common], help="👍 (up) or 👎 (down) a digest item")
    r.add_argument("id", help="the item's id (or its arXiv id, DOI…)")
    r.add_argument("rating", choices=["up", "down", "none"])
    v = ds.add_parser("save", parents=[common], help="save a digest item into your library")
    v.add_argument("id")
    ds.add_parser("send", parents=[common], help="email the digest now (SMTP settings: see the README)")
    ds.add_parser("feedback", parents=[common, json_opt], help="every 👍/👎 you gave")
    ds.add_parser("feed-url", parents=[common], help="a new read-only Atom feed URL of the digest (replaces the old)")
    st = ds.add_parser("settings", parents=[common], help="when to fetch each day, how long to keep unsaved papers")
    st.add_argument("--at", help="local time of the daily fetch, HH:MM (default 07:00)")
    st.add_argument("--prune-days", type=int, help="days an unsaved paper is kept (default 30)")
    s.set_defaults(func=cmd_digest, digest_cmd=None)

    s = sub.add_parser("token", parents=[common], help="print the pairing token for the extension and scripts")
    s.set_defaults(func=cmd_token)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except CLIError as e:
        console.print(f"[red]error[/red]: {e}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
