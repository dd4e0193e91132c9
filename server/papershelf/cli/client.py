"""The same operations, locally or through a running server: while `papershelf serve` runs for a home, the
database file is the server's (DuckDB allows one writer process), and every other command goes through its
API (`Remote`), found via `<home>/server.json`; otherwise commands open the library file (`Local`).

Each operation is written once, in `Backend`: what it does on the Library, and the API route that does the
same (`@operation`). Local and Remote differ only in how they run one, and in the four transfers where the
two ways truly differ: a file read where it is or sent, embedding done here or awaited, an export streamed.
tests/test_cli.py runs every operation both ways. Always speaking the API instead (to the server, or to the
same app in this process) was measured and not chosen: it adds Litestar's import and the app's set-up to every
command (0.35 s, a third of `papershelf stats`), and the local import of a PDF links it where it is.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..pairing import find_server, read_token
from .common import CLIError, builtins, home_of

if TYPE_CHECKING:  # (annotations only: see where it is imported)
    import httpx


def _reply(r: httpx.Response) -> Any:
    return r.json()


class Operation:
    """One thing a command asks of the library. Decorates what it does locally, given what its first parameter
    names (as the API's dependency injection gives a controller): `lib` the Library, `digest` or `sources` the
    service the Library wires. It says which route of the API does the same:
    `method` and `path` (formatted with the arguments, each quoted),
    `request` (the arguments → httpx's `params`/`json`), `answer` (the response → what `local` returns), and
    `missing` (the message for a KeyError, the name it did not find in {}), and `not_found_answers`."""

    def __init__(self, method: str, path: str, request: Callable[..., dict] | None = None,
                 answer: Callable[[httpx.Response], Any] = _reply, missing: str = "{!r} not found",
                 not_found_answers: bool = False):
        self.method, self.path, self.request, self.answer, self.missing = method, path, request, answer, missing
        self.not_found_answers = not_found_answers  # a 404 is an answer (`answer` reads it), not an error

    def __call__(self, local: Callable[..., Any]) -> Operation:
        self.local, self.name = local, local.__name__
        self.signature = inspect.signature(local)
        self.target = next(iter(self.signature.parameters))  # lib, digest or sources: what it works on
        return self

    def arguments(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """The call's arguments by name (defaults filled), the Library left out."""
        bound = self.signature.bind(None, *args, **kwargs)
        bound.apply_defaults()
        return dict(list(bound.arguments.items())[1:])

    def __get__(self, backend: Backend | None, owner: type) -> Any:
        if backend is None:
            return self
        return lambda *args, **kwargs: backend.run(self, self.arguments(args, kwargs))


operation = Operation


def _filters(f: dict) -> Any:
    from ..models import Filters

    return Filters(year_min=f.get("year_min"), year_max=f.get("year_max"), tags=f.get("tag") or [])


class Backend:
    """Every operation a command can ask for, each written once. Subclasses say how one runs."""

    remote = False

    def run(self, op: Operation, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- the library --------------------------------------------------------------------------------------------
    @operation("GET", "/api/related", missing="no paper in the library for {!r}", request=lambda ref, text, k, filters: {"params": {
        "k": k, **{key: v for key, v in filters.items() if v}, **({"id": ref} if ref else {"text": text})}})
    def related(lib, ref: str | None, text: str | None, k: int, filters: dict) -> list[dict]:
        f = _filters(filters)
        return lib.related(ref, k=k, filters=f) if ref else lib.related_text(text, k=k, filters=f)

    @operation("GET", "/api/search", lambda q, k: {"params": {"q": q, "k": k}})
    def search(lib, q: str, k: int) -> list[dict]:
        return lib.search(q, k=k)

    @operation("POST", "/api/passages", lambda q, k, paper=None, per_paper=1: {
        "json": {"q": q, "k": k, "per_paper": per_paper, **({"paper": paper} if paper else {})}},
        missing="no paper in the library for {!r}")
    def passages(lib, q: str, k: int, paper: str | None = None, per_paper: int = 1) -> list[dict]:
        return lib.passages(q, k=k, paper=paper, per_paper=per_paper)

    @operation("GET", "/api/lookup", lambda ref: {"params": {"ref": ref, "k": 0}}, answer=lambda r: _found(r.json()),
               missing="no paper in the library for {!r}")
    def show(lib, ref: str) -> dict:
        return lib.get(ref)

    @operation("PATCH", "/api/papers/{ref}", lambda ref, changes: {"json": changes},
               missing="no paper in the library for {!r}")
    def edit(lib, ref: str, changes: dict) -> dict:
        from ..store import EDITABLE

        pid = lib.resolve(ref)
        fields = {k: v for k, v in changes.items() if k in EDITABLE and k != "identifiers"}
        if fields or "identifiers" in changes or changes.get("release"):
            try:
                lib.edit(pid, fields, changes.get("identifiers"), changes.get("release", []))
            except ValueError as e:  # the server's 400 and 409 say the same
                raise CLIError(str(e)) from e
        if "tags" in changes or "notes" in changes:
            lib.update(pid, tags=changes.get("tags"), notes=changes.get("notes"))
        return lib.get(pid)

    @operation("GET", "/api/papers", lambda n: {"params": {"limit": n, "sort": "-added"}},
               answer=lambda r: r.json()["papers"])
    def recent(lib, n: int) -> list[dict]:
        from ..models import PaperQuery

        return lib.list_papers(PaperQuery(), offset=0, limit=n, sort="-added")[1]

    @operation("POST", "/api/papers", lambda paper: {"json": paper})
    def save(lib, paper: dict) -> dict:
        from ..models import Record

        fields = ("title", "abstract", "authors", "year", "venue", "url", "identifiers", "tags")
        try:
            saved, added = lib.save(Record(**{k: v for k, v in paper.items() if k in fields}, source="api"))
        except ValueError as e:  # the server's 400 says the same
            raise CLIError(str(e)) from e
        return {"paper": saved, "added": added}

    @operation("GET", "/api/papers/{ref}/key", missing="no paper in the library for {!r}")
    def citation_key(lib, ref: str) -> dict:
        return lib.citation_key(ref)

    @operation("PUT", "/api/papers/{ref}/key", lambda ref, key: {"json": {"key": key}},
               missing="no paper in the library for {!r}")
    def set_citation_key(lib, ref: str, key: str) -> dict:
        try:
            return lib.set_citation_key(ref, key)
        except ValueError as e:  # the server's 400 says the same
            raise CLIError(str(e)) from e

    @operation("GET", "/api/settings/enrich")
    def enrich_state(lib) -> dict:
        return lib.enrich.state()

    @operation("PATCH", "/api/settings/enrich", lambda on, contact: {"json": {
        k: v for k, v in (("on", on), ("contact", contact)) if v is not None}})
    def set_enrich(lib, on: bool | None, contact: str | None) -> dict:
        try:
            lib.enrich.configure(on=on, contact=contact)
        except ValueError as e:  # the server's 400 says the same
            raise CLIError(str(e)) from e
        return lib.enrich.state()

    @operation("GET", "/api/stats", answer=lambda r: r.json()["stats"])
    def stats(lib) -> dict:
        return lib.stats()

    @operation("GET", "/api/stats", answer=lambda r: r.json()["stats"]["pending"])
    def pending(lib) -> int:
        return lib.pending()

    @operation("GET", "/api/stats", answer=lambda r: r.json()["stats"]["text"]["files_waiting"] +
               r.json()["stats"]["text"]["passages_waiting"])
    def text_waiting(lib) -> int:
        return lib.text_waiting()

    @operation("GET", "/api/doctor")
    def doctor(lib) -> list[dict]:
        from ..doctor import run_checks

        return [{"name": n, "ok": ok, "detail": d} for n, ok, d in run_checks(lib)]

    @operation("POST", "/api/backups")
    def backup(lib) -> dict:
        return lib.backup("manual")

    # -- the digest ---------------------------------------------------------------------------------------------
    @operation("GET", "/api/feeds")
    def feeds(digest) -> list[dict]:
        return digest.feeds()

    @operation("POST", "/api/feeds", lambda source: {"json": {"source": source}})
    def add_feed(digest, source: str) -> dict:
        feed, report = digest.add_feed(source)
        return {"feed": feed, "fetched": report}

    @operation("DELETE", "/api/feeds", lambda source: {"params": {"source": source}},
               answer=lambda r: r.status_code == 200, not_found_answers=True)
    def remove_feed(digest, source: str) -> bool:
        return digest.remove_feed(source)

    @operation("POST", "/api/digest/fetch")
    def fetch(digest) -> list[dict]:
        return digest.fetch_all()

    @operation("GET", "/api/digest", lambda day, limit, tag: {"params": {
        k: v for k, v in (("day", day), ("limit", limit), ("tag", tag)) if v}})
    def digest(digest, day: str | None, limit: int | None, tag: str | None) -> dict:
        return digest.day(day, limit=limit, tag=tag)

    @operation("GET", "/api/digest", lambda: {"params": {"limit": 1}}, answer=lambda r: r.json()["pending"])
    def digest_pending(digest) -> int:
        return digest.pending()

    @operation("POST", "/api/digest/{ref}/rate", lambda ref, rating: {"json": {"rating": rating}},
               answer=lambda r: None, missing="no digest item {!r}")
    def rate(digest, ref: str, rating: str | None) -> None:
        digest.rate(digest.find(ref), rating)

    @operation("POST", "/api/digest/{ref}/save", missing="no digest item {!r}")
    def save_candidate(digest, ref: str) -> dict:
        return digest.save(digest.find(ref))

    @operation("GET", "/api/digest/feedback")
    def feedback(digest) -> list[dict]:
        return digest.feedback()

    @operation("POST", "/api/digest/send", answer=lambda r: r.json()["sent_to"])
    def send(lib) -> str:
        return lib.send_digest("http://127.0.0.1:8765")

    @operation("POST", "/api/digest/feed-token", answer=lambda r: r.json()["token"])
    def feed_token(digest) -> str:
        return digest.new_feed_token()

    @operation("PATCH", "/api/digest/settings", lambda at, prune_days: {"json": {
        k: v for k, v in (("at", at), ("prune_days", prune_days)) if v is not None}})
    def digest_settings(digest, at: str | None, prune_days: int | None) -> dict:
        return digest.set_settings(at=at, prune_days=prune_days)

    # -- followed sources ---------------------------------------------------------------------------------------
    @operation("GET", "/api/sources")
    def sources(sources) -> list[dict]:
        return sources.list()

    @operation("POST", "/api/sources", lambda location, kind, options: {"json": {
        "location": location, "kind": kind, "options": options}}, missing="no source {!r} (papershelf sources list)")
    def add_source(sources, location: str, kind: str | None, options: dict) -> dict:
        info, report = sources.add(location, kind, options)
        return {"source": info, "sync": report}

    @operation("POST", "/api/sources/sync", lambda retry_failed: {"json": {"retry_failed": retry_failed}})
    def sync_all(sources, retry_failed: bool = False) -> list[dict]:
        return sources.sync_all(retry_failed=retry_failed)

    @operation("POST", "/api/sources/{sid}/sync", lambda sid, confirm, retry_failed: {"json": {
        "confirm": confirm, "retry_failed": retry_failed}}, missing="no source {!r} (papershelf sources list)")
    def sync_source(sources, sid: str, confirm: bool, retry_failed: bool = False) -> dict:
        return sources.sync(sid, confirm=confirm, retry_failed=retry_failed)

    @operation("DELETE", "/api/sources/{sid}", lambda sid, keep_papers: {"params": {"keep_papers": keep_papers}},
               answer=lambda r: r.json()["trashed"], missing="no source {!r} (papershelf sources list)")
    def remove_source(sources, sid: str, keep_papers: bool) -> list[str]:
        return sources.remove(sid, keep_papers=keep_papers)


def _found(answer: dict) -> dict:
    if not answer["found"]:
        raise LookupError
    return answer["paper"]


def operations() -> list[Operation]:
    """Every operation, in the order Backend declares them."""
    return [v for v in vars(Backend).values() if isinstance(v, Operation)]


class Local(Backend):
    """Opens the library file itself (no server running)."""

    def __init__(self, home: Path, model_dir: str | None):
        from ..library import Library
        from ..store import StoreError

        try:
            self.lib = Library(home, model_dir=model_dir)
        except StoreError as e:
            raise CLIError(str(e)) from e

    def close(self) -> None:
        self.lib.close()

    def run(self, op: Operation, arguments: dict[str, Any]) -> Any:
        from ..digest import DigestError
        from ..digest.feeds import FeedError
        from ..digest.mail import MailError
        from ..sources import SourceError

        target = {"lib": self.lib, "digest": self.lib.digest, "sources": self.lib.sources}[op.target]
        try:
            return builtins(op.local(target, **arguments))
        except (DigestError, FeedError, MailError, SourceError) as e:
            raise CLIError(str(e)) from e
        except LookupError as e:  # KeyError, and the Library's NotFound
            raise CLIError(op.missing.format(e.args[0])) from e

    # -- the transfers --------------------------------------------------------------------------------------------
    def import_file(self, path: Path, fmt: str | None, progress) -> dict:
        return builtins(self.lib.import_path(path, fmt=fmt, progress=progress))

    def import_pdfs(self, paths: list[Path], progress) -> dict:
        return builtins(self.lib.import_pdfs(paths, progress=progress))

    def import_dropped(self, path: Path) -> dict:
        """A file from the inbox, which moves it away after: a PDF is copied, not linked."""
        return builtins(self.lib.import_dropped(path))

    def embed(self, progress) -> None:
        self.lib.embed_all(progress=progress)

    def start_embedding(self) -> None:
        """Embed in the background from now on, as the server would (papershelf watch)."""
        self.lib.start_embedding()

    def export(self, fmt: str):
        return self.lib.export(fmt)


class InProcess(Local):
    """A Library already open in this process (the server's, for the tools its /mcp offers): operations run as
    Local runs them, and closing leaves the library to its owner."""

    def __init__(self, lib):
        self.lib = lib

    def close(self) -> None:
        pass


class Remote(Backend):
    """Talks to the running server of this home."""

    remote = True

    def __init__(self, url: str, token: str):
        import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

        self.url = url
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600)

    def close(self) -> None:
        self.http.close()

    def run(self, op: Operation, arguments: dict[str, Any]) -> Any:
        path = op.path.format(**{k: quote(str(v), safe="") for k, v in arguments.items()})
        r = self._call(op.method, path, op.not_found_answers, **(op.request(**arguments) if op.request else {}))
        try:
            return op.answer(r)
        except LookupError:  # the answer says the server has no such thing
            raise CLIError(op.missing.format(next(iter(arguments.values()), ""))) from None

    def _call(self, method: str, path: str, not_found_answers: bool = False, **kw) -> httpx.Response:
        import httpx

        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as e:
            raise CLIError(f"the server at {self.url} did not answer: {e}") from e
        if r.status_code == 404:
            if not_found_answers:
                return r
            raise CLIError(r.json().get("detail", "not found"))
        if r.status_code >= 400:
            try:
                detail = r.json().get("detail") or r.text
            except ValueError:
                detail = r.text
            raise CLIError(f"server said {r.status_code}: {detail}")
        return r

    # -- the transfers --------------------------------------------------------------------------------------------
    def import_pdfs(self, paths: list[Path], progress) -> dict:
        """Each PDF posted with where it is: the server links it there (after checking it is the same file)."""
        total: dict = {"added": [], "merged": [], "failed": [], "warnings": [], "format": "pdf"}
        for path in paths:
            rep = self.import_file(path, "pdf", progress, headers={"X-Papershelf-Path": quote(str(path.resolve()))})
            for key in ("added", "merged", "failed", "warnings"):
                total[key] += rep.get(key, [])
            if rep.get("error"):
                total["failed"].append({"position": str(path), "reason": rep["error"]})
        return total

    def import_file(self, path: Path, fmt: str | None, progress, headers: dict | None = None) -> dict:
        try:
            data = path.read_bytes()
        except OSError as e:
            return {"source": str(path), "added": [], "merged": [], "failed": [],
                    "error": f"cannot read {path}: {e.strerror or e}"}
        import httpx

        try:
            r = self.http.post("/api/import", files={"file": (path.name, data)}, headers=headers or {})
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

    def import_dropped(self, path: Path) -> dict:
        """A file from the inbox: its bytes are sent (the server keeps a PDF as its own copy)."""
        return self.import_file(path, None, None)

    def start_embedding(self) -> None:
        """The server embeds in the background already."""

    def embed(self, progress) -> None:
        """Wait while the server embeds what is pending."""
        total = self.pending()
        while True:
            st = self._call("GET", "/api/stats").json()
            text = st["stats"]["text"]
            p = st["stats"]["pending"] + text["files_waiting"] + text["passages_waiting"]
            if st.get("embedding_error"):
                raise CLIError(f"the server cannot embed: {st['embedding_error']}")
            total = max(total, p)
            if progress:
                progress(total - p, total)
            if p == 0:
                return
            time.sleep(0.5)

    def export(self, fmt: str):
        with self.http.stream("GET", "/api/export", params={"format": fmt}) as r:
            if r.status_code >= 400:
                raise CLIError(f"server said {r.status_code}: {r.read().decode()}")
            yield from r.iter_text()


def connect(args) -> Local | Remote:
    """The running server of this home if there is one, else the library file."""
    home = home_of(args)
    url = find_server(home)
    if url:
        token = read_token(home)
        if not token:
            raise CLIError(f"a server runs at {url} but {home}/token is missing")
        return Remote(url, token)
    return Local(home, getattr(args, "model_dir", None) or os.environ.get("PAPERSHELF_MODEL_DIR"))
