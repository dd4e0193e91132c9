"""The same operations, locally or through a running server: while `papershelf serve` runs for a home, the
database file is the server's (DuckDB allows one writer process), and every other command goes through its
API (`Remote`), found via `<home>/server.json`; otherwise commands open the library file (`Local`)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from urllib.parse import quote

import httpx

from ..pairing import find_server, read_token
from .common import CLIError, builtins, home_of


class Local:
    """Opens the library file itself (no server running)."""

    remote = False

    def __init__(self, home: Path, model_dir: str | None):
        from ..library import Library
        from ..store import StoreError

        try:
            self.lib = Library(home, model_dir=model_dir)
        except StoreError as e:
            raise CLIError(str(e)) from e

    def close(self) -> None:
        self.lib.close()

    def import_file(self, path: Path, fmt: str | None, progress) -> dict:
        return builtins(self.lib.import_path(path, fmt=fmt, progress=progress))

    def import_pdfs(self, paths: list[Path], progress) -> dict:
        return builtins(self.lib.import_pdfs(paths, progress=progress))

    def pending(self) -> int:
        return self.lib.store.count_pending(self.lib.model_id)

    def embed(self, progress) -> None:
        self.lib.embed_all(progress=progress)

    def related(self, ref: str | None, text: str | None, k: int, filters: dict) -> list[dict]:
        from ..models import Filters

        f = Filters(year_min=filters.get("year_min"), year_max=filters.get("year_max"), tags=filters.get("tag") or [])
        hits = self.lib.related(ref, k=k, filters=f) if ref else self.lib.related_text(text, k=k, filters=f)
        return builtins(hits)

    def search(self, q: str, k: int) -> list[dict]:
        return builtins(self.lib.search(q, k=k))

    def show(self, ref: str) -> dict:
        return builtins(self.lib.get(ref))

    def export(self, fmt: str):
        from ..export import export

        return export(self.lib.store.iter_papers(), fmt)

    def stats(self) -> dict:
        return builtins(self.lib.stats())

    def doctor(self) -> list[dict]:
        from ..doctor import run_checks

        return [{"name": n, "ok": ok, "detail": d} for n, ok, d in run_checks(self.lib)]

    def backup(self) -> dict:
        return builtins(self.lib.backup("manual"))

    # the digest
    def _digest(self, fn, *a, **kw):
        from ..digest import DigestError
        from ..feeds import FeedError
        from ..mail import MailError

        try:
            return builtins(fn(*a, **kw))
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
        from .. import mail

        return self._digest(mail.send_digest, self.lib)

    def feed_token(self) -> str:
        return self.lib.digest.new_feed_token()

    def digest_settings(self, at: str | None, prune_days: int | None) -> dict:
        return self._digest(self.lib.digest.set_settings, at=at, prune_days=prune_days)


    def _sources(self, fn, *a, **kw):
        from ..sources import SourceError

        try:
            return builtins(fn(*a, **kw))
        except SourceError as e:
            raise CLIError(str(e)) from e
        except KeyError as e:
            raise CLIError(f"no source {e.args[0]!r} (papershelf sources list)") from e

    def sources(self) -> list[dict]:
        return self._sources(self.lib.sources.list)

    def add_source(self, location: str, kind: str | None, options: dict) -> dict:
        info, report = self._sources(self.lib.sources.add, location, kind, options)
        return {"source": info, "sync": report}

    def sync_source(self, sid: str | None, confirm: bool, retry_failed: bool = False) -> list[dict]:
        if sid is None:
            return self._sources(self.lib.sources.sync_all, retry_failed=retry_failed)
        return [self._sources(self.lib.sources.sync, sid, confirm=confirm, retry_failed=retry_failed)]

    def remove_source(self, sid: str, keep_papers: bool) -> list[str]:
        return self._sources(self.lib.sources.remove, sid, keep_papers=keep_papers)


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

    def backup(self) -> dict:
        return self._call("POST", "/api/backups").json()

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

    def sources(self) -> list[dict]:
        return self._call("GET", "/api/sources").json()

    def add_source(self, location: str, kind: str | None, options: dict) -> dict:
        return self._call("POST", "/api/sources", json={"location": location, "kind": kind, "options": options}).json()

    def sync_source(self, sid: str | None, confirm: bool, retry_failed: bool = False) -> list[dict]:
        if sid is None:
            return self._call("POST", "/api/sources/sync", json={"retry_failed": retry_failed}).json()
        return [self._call("POST", f"/api/sources/{sid}/sync",
                           json={"confirm": confirm, "retry_failed": retry_failed}).json()]

    def remove_source(self, sid: str, keep_papers: bool) -> list[str]:
        return self._call("DELETE", f"/api/sources/{sid}", params={"keep_papers": keep_papers}).json()["trashed"]


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
