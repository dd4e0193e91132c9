"""Completing papers from Crossref, DataCite and arXiv, opt-in, against a local server that answers in each
registry's documented format (the answers below are written for papershelf from the Crossref REST API, DataCite
REST API and arXiv API documentation; every work in them is invented)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

import httpx
import pytest
from conftest import run_cli, start_server
from papershelf.models import Record

CROSSREF = {  # GET /works/{doi}: {"status", "message-type": "work", "message": {...}}
    "10.5555/cr.1": {
        "DOI": "10.5555/cr.1", "type": "journal-article", "title": ["Counting Fish by Their Shadows"],
        "author": [{"given": "Ann", "family": "Lovelace", "sequence": "first"},
                   {"given": "Ben", "family": "Babbage", "sequence": "additional"}],
        "container-title": ["Journal of Aquatic Counting"], "issued": {"date-parts": [[2018, 3, 2]]},
        "abstract": "<jats:title>Abstract</jats:title><jats:p>We count fish by the shadows they cast.</jats:p>",
        "publisher": "Invented Press"},
    "10.5555/cr.2": {
        "DOI": "10.5555/cr.2", "type": "proceedings-article", "title": ["Shadows at Scale"],
        "author": [{"given": "Cy", "family": "Counter"}], "container-title": ["Proceedings of the Shadow Workshop"],
        "issued": {"date-parts": [[2020]]}},
}
DATACITE = {  # GET /dois/{doi}: JSON:API, {"data": {"id", "type": "dois", "attributes": {...}}}
    "10.5555/dc.1": {
        "doi": "10.5555/dc.1", "titles": [{"title": "Shadow counts of the northern lakes"}],
        "creators": [{"name": "Diver, Dana", "nameType": "Personal", "givenName": "Dana", "familyName": "Diver"}],
        "publisher": "Lake Data Centre", "publicationYear": 2021,
        "types": {"resourceTypeGeneral": "Dataset", "bibtex": "misc", "citeproc": "dataset"},
        "descriptions": [{"description": "Counts of shadows over ten lakes.", "descriptionType": "Abstract"}]},
}
ARXIV = {  # GET /api/query?id_list=…: an Atom feed with one entry
    "2101.00001": """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:arxiv="http://arxiv.org/schemas/atom">
  <title type="html">ArXiv Query: id_list=2101.00001</title>
  <entry>
    <id>http://arxiv.org/abs/2101.00001v2</id>
    <published>2021-01-01T00:00:01Z</published>
    <title>Fish Shadows
      Revisited</title>
    <summary>  We revisit the counting of fish
      by their shadows. </summary>
    <author><name>Eve Swimmer</name></author>
    <author><name>Fay Floater</name></author>
    <arxiv:journal_ref>Journal of Aquatic Counting 12 (2021) 1-10</arxiv:journal_ref>
    <link href="http://arxiv.org/abs/2101.00001v2" rel="alternate" type="text/html"/>
  </entry>
</feed>"""}


class Registries:
    """Crossref, DataCite and arXiv on one local port (each under its own prefix), with `busy` answers queued."""

    def __init__(self):
        self.seen: list[tuple[float, str, str]] = []  # (time, path, User-Agent)
        self.busy: list[tuple[int, str | None]] = []  # (status, Retry-After) answered before the next real one
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.seen.append((time.monotonic(), self.path, self.headers.get("User-Agent", "")))
                if outer.busy:
                    status, after = outer.busy.pop(0)
                    return self._send(status, "text/plain", b"slow down", {"Retry-After": after} if after else {})
                url = urlparse(self.path)
                if url.path.startswith("/crossref/works/"):
                    doi = unquote(url.path[len("/crossref/works/"):])
                    if doi in CROSSREF:
                        return self._json({"status": "ok", "message-type": "work", "message-version": "1.0.0",
                                           "message": CROSSREF[doi]})
                    return self._send(404, "text/plain", b"Resource not found.")
                if url.path.startswith("/datacite/dois/"):
                    doi = unquote(url.path[len("/datacite/dois/"):])
                    if doi in DATACITE:
                        return self._json({"data": {"id": doi, "type": "dois", "attributes": DATACITE[doi]}})
                    return self._json({"errors": [{"status": "404", "title": "The resource you are looking for "
                                                   "doesn't exist."}]}, 404)
                if url.path == "/arxiv/api/query":
                    aid = parse_qs(url.query).get("id_list", [""])[0]
                    if aid in ARXIV:
                        return self._send(200, "application/atom+xml", ARXIV[aid].encode())
                    return self._send(200, "application/atom+xml", b'<feed xmlns="http://www.w3.org/2005/Atom">'
                                      b"<title>ArXiv Query</title></feed>")
                self._send(404, "text/plain", b"")

            def _json(self, body, status=200):
                self._send(status, "application/json", json.dumps(body).encode())

            def _send(self, status, ctype, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.endpoints = {r: f"{self.url}/{r}" for r in ("crossref", "datacite", "arxiv")}
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def registries():
    r = Registries()
    yield r
    r.close()


def library_with_papers(lib, registries, interval: float = 0.05):
    """Papers as a PDF gives them: a DOI or an arXiv id, and little else."""
    from papershelf.enrich import EnrichService

    lib.enrich = EnrichService(lib.store, lib._complete, endpoints=registries.endpoints,
                               interval={r: interval for r in registries.endpoints})
    guessed = dict(source="pdf", guessed=True)
    ids = {}
    for key, title, ref in [("cr1", "Counting fish by their shadows", "doi:10.5555/cr.1"),
                            ("cr2", "Shadows at scale", "doi:10.5555/cr.2"),
                            ("dc1", "Shadow counts of the northern lakes", "doi:10.5555/dc.1"),
                            ("ax1", "Fish shadows revisited", "arxiv:2101.00001"),
                            ("none", "A paper no registry knows", "doi:10.5555/nobody.1")]:
        p, _ = lib.save(Record(title=title, identifiers=[ref], **guessed))
        ids[key] = p.id
    return ids


def test_nothing_is_asked_until_the_user_turns_it_on_with_an_address(empty_lib, registries):
    lib = empty_lib
    library_with_papers(lib, registries)
    assert lib.enrich.tick(budget=2) == 0 and registries.seen == []
    assert lib.enrich.state().on is False and lib.enrich.state().waiting == 5
    with pytest.raises(ValueError, match="contact address"):
        lib.enrich.configure(on=True)
    with pytest.raises(ValueError, match="not an email address"):
        lib.enrich.configure(contact="nobody")
    assert lib.enrich.settings().on is False


def test_papers_are_completed_from_their_registries_and_the_users_fields_stay(empty_lib, registries):
    lib = empty_lib
    ids = library_with_papers(lib, registries)
    lib.edit(ids["cr1"], {"year": 2017})  # the user's: Crossref's 2018 does not replace it
    lib.enrich.configure(on=True, contact="reader@example.org")
    assert lib.enrich.tick(budget=20) == 5
    cr1, cr2, dc1, ax1, none = (lib.get(ids[k]) for k in ("cr1", "cr2", "dc1", "ax1", "none"))
    assert (cr1.venue, cr1.entry_type, cr1.authors, cr1.year) == (
        "Journal of Aquatic Counting", "article", ["Ann Lovelace", "Ben Babbage"], 2017)
    assert cr1.abstract == "We count fish by the shadows they cast."  # JATS read as text
    assert cr1.title == "Counting fish by their shadows"  # the title is not the registry's to change
    assert (cr2.entry_type, cr2.venue, cr2.year) == ("inproceedings", "Proceedings of the Shadow Workshop", 2020)
    assert (dc1.entry_type, dc1.venue, dc1.authors, dc1.year) == ("misc", "Lake Data Centre", ["Dana Diver"], 2021)
    assert dc1.abstract == "Counts of shadows over ten lakes."
    assert (ax1.entry_type, ax1.authors, ax1.year) == ("article", ["Eve Swimmer", "Fay Floater"], 2021)
    assert ax1.venue == "Journal of Aquatic Counting 12 (2021) 1-10" and ax1.abstract.startswith("We revisit")
    assert (none.venue, none.abstract) == ("", "")
    paths = [p for _, p, _ in registries.seen]
    assert paths.count("/crossref/works/10.5555%2Fnobody.1") == 1 and "/datacite/dois/10.5555%2Fnobody.1" in paths
    assert not any("datacite" in p and "cr.1" in p for p in paths)  # Crossref knew it: DataCite is not asked
    assert all(ua.startswith("papershelf/") and "mailto:reader@example.org" in ua for _, _, ua in registries.seen)
    state = lib.enrich.state()
    assert (state.waiting, state.answers, state.found, state.completed) == (0, 5, 4, 4)
    asked = len(registries.seen)
    assert lib.enrich.tick(budget=2) == 0 and len(registries.seen) == asked  # every answer is kept
    assert lib.search("shadows they cast", k=3)[0].id == ids["cr1"]  # the new abstract is searchable


def test_requests_are_spaced_and_a_busy_registry_is_left_alone(empty_lib, registries):
    lib = empty_lib
    library_with_papers(lib, registries, interval=0.3)
    lib.enrich.configure(on=True, contact="reader@example.org")
    registries.busy = [(429, "30")]
    assert lib.enrich.tick(budget=1.5) == 1  # arXiv answers; Crossref said wait 30 s
    state = lib.enrich.state()
    assert 25 < state.paused["crossref"] <= 30 and "crossref asked us to wait 30 s (429)" in state.last_error
    crossref = [p for _, p, _ in registries.seen if p.startswith("/crossref")]
    assert len(crossref) == 1  # not asked again while it rests
    lib.enrich._next["crossref"] = 0  # (the 30 s are up)
    registries.busy = [(503, None)]
    lib.enrich.tick(budget=1)
    assert 55 < lib.enrich.state().paused["crossref"] <= 60  # no Retry-After: twice the last wait (30 s)
    lib.enrich._next["crossref"] = 0
    before = len(registries.seen)
    lib.enrich.tick(budget=10)
    times = [t for t, p, _ in registries.seen[before:] if p.startswith("/crossref")]
    assert len(times) >= 3
    # One request per interval (0.3 s). These are the times the requests arrived, and on a loaded machine one may
    # arrive late and the next on time (0.29 s failed once so): a burst would arrive within milliseconds.
    gaps = [round(b - a, 3) for a, b in zip(times, times[1:])]
    assert all(g >= 0.2 for g in gaps) and times[-1] - times[0] >= 0.2 + 0.3 * (len(times) - 2), gaps
    assert lib.enrich.state().waiting == 0


def test_the_server_completes_papers_in_the_background_once_turned_on(tmp_path, registries, monkeypatch):
    monkeypatch.setenv("PAPERSHELF_REGISTRIES", json.dumps(registries.endpoints))
    home = tmp_path / "home"
    srv = start_server(home, "--no-digest", "--no-backup")
    try:
        c = httpx.Client(base_url=srv.url, headers=srv.auth, timeout=60)
        pid = c.post("/api/papers", json={"title": "Counting fish by their shadows",
                                          "identifiers": ["doi:10.5555/cr.1"]}).json()["paper"]["id"]
        assert c.get("/api/settings/enrich").json()["on"] is False
        time.sleep(1)
        assert registries.seen == []  # off: nothing leaves the machine
        assert c.patch("/api/settings/enrich", json={"on": True}).status_code == 400  # no address yet
        out = run_cli("settings", "enrich", "on", "--contact", "reader@example.org", home=home)  # through the server
        assert "enrich   on (contact reader@example.org)" in out.stdout
        deadline = time.time() + 60
        while time.time() < deadline and not c.get(f"/api/papers/{pid}").json()["venue"]:
            time.sleep(0.5)
        assert c.get(f"/api/papers/{pid}").json()["venue"] == "Journal of Aquatic Counting"
        assert c.get("/api/settings/enrich").json()["found"] == 1
    finally:
        srv.stop()
