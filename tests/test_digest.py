"""The daily digest: feeds fetched from a local feed server (responses in each source's format, and broken ones), candidates
kept beside the library, ranked by the personal model with reasons, 👍/👎 that change the next ranking, saving
with the vector, the schedule on a controllable clock, the Atom feed read by feedparser and email received by
a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from datetime import time as dtime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import feedparser
import httpx
import numpy as np
import pytest
from conftest import API, FIXTURES, free_port, run_cli, start_server
from papershelf.digest import feeds
from papershelf.digest.schedule import DailyFetch, due, parse_at
from papershelf.models import Record

RSS = (FIXTURES / "feeds" / "arxiv-rss-cs.LG.xml").read_bytes()
BODIES = {
    "/rss": ("application/rss+xml", RSS),
    "/hf": ("application/json", (API / "hf-daily-papers.json").read_bytes()),
    "/arxiv-api": ("application/atom+xml", (API / "arxiv-api-new.xml").read_bytes()),
    "/html": ("text/html", b"<!doctype html><html><body><h1>Service unavailable</h1></body></html>"),
    "/truncated": ("application/rss+xml", RSS[: len(RSS) // 2]),
    "/empty": ("application/rss+xml", b'<?xml version="1.0"?><rss version="2.0"><channel><title>Nothing today</title>'
                                      b"</channel></rss>"),
}


class FeedServer:
    """A local feed server: saved bodies with an ETag, a 500, a 503-then-200, and one that never answers in time."""

    def __init__(self):
        self.seen: list[tuple[str, dict]] = []
        self.flaky = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                outer.seen.append((self.path, dict(self.headers)))
                if self.path == "/500":
                    return self._send(500, "text/plain", b"boom")
                if self.path == "/flaky":
                    outer.flaky += 1
                    if outer.flaky < 3:
                        return self._send(503, "text/plain", b"later", {"Retry-After": "1"})
                    return self._send(200, "application/rss+xml", RSS)
                if self.path == "/slow":
                    time.sleep(1.5)
                    return self._send(200, "application/rss+xml", RSS)
                if self.path not in BODIES:
                    return self._send(404, "text/plain", b"no such feed")
                ctype, body = BODIES[self.path]
                etag = f'"{hash(body) & 0xffffffff:x}"'
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, ctype, b"", {"ETag": etag})
                self._send(200, ctype, body, {"ETag": etag})

            def _send(self, code, ctype, body, extra=None):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


def add_feed_and_wait(client, url: str) -> None:
    """Add a feed to a running server and wait until its new papers are embedded (in the background)."""
    assert client.post("/api/feeds", json={"source": url}).status_code == 201
    deadline = time.time() + 60
    while client.get("/api/digest").json()["pending"] and time.time() < deadline:
        time.sleep(0.2)


@pytest.fixture(scope="module")
def feed_server():
    srv = FeedServer()
    yield srv
    srv.close()


@pytest.fixture
def digest(sample_lib):
    """The sample library's digest, fetching with a short timeout and retries that only record their waits."""
    waits: list[float] = []
    d = sample_lib.make_digest(http=httpx.Client(), sleep=waits.append, timeout=0.5)
    sample_lib.digest = d
    d.waits = waits
    return d


def test_sources_resolve_or_say_what_works():
    assert feeds.resolve("arxiv:cs.LG").url == "https://rss.arxiv.org/rss/cs.LG"
    assert feeds.resolve("hf:daily").url == "https://huggingface.co/api/daily_papers"
    for bad in ("arxiv:not a category", "cs.LG", "ftp://x.org/feed"):
        with pytest.raises(feeds.FeedError, match="arXiv category|arxiv:CATEGORY"):
            feeds.resolve(bad)


def test_every_kind_of_feed_is_read(feed_server):
    rss = feeds.read(RSS)
    assert [r.title[:20] for r in rss.records][:2] == ["Expert Routing with ", "Merging Fine-Tuned M"]
    assert rss.announce == ["new", "new", "cross", "replace", "new"]
    assert rss.records[0].authors == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert rss.records[0].abstract.startswith("Sparse mixture-of-experts (MoE) layers route")
    assert "arxiv:2611.20001" in rss.records[0].identifiers
    hf = feeds.read(BODIES["/hf"][1])
    assert len(hf.records) == 30 and all(r.identifiers[0].startswith("arxiv:") for r in hf.records)
    api = feeds.read(BODIES["/arxiv-api"][1])
    assert len(api.records) == 5 and api.records[0].title.startswith("Scalable Message passing")
    oa = feeds.read((API / "openalex-works-filter.json").read_bytes())
    assert oa.records[0].title.startswith("LitScout")
    s2 = feeds.read((API / "s2-search.json").read_bytes())
    assert len(s2.records) == 20
    with pytest.raises(feeds.FeedError, match="binary"):
        feeds.read(b"\x89PNG\r\n\x1a\n\x00\x00 an image")
    for path, why in (("/html", "HTML page"), ("/truncated", "well-formed"), ("/empty", None)):
        if why is None:
            assert feeds.read(BODIES[path][1]).records == []
        else:
            with pytest.raises(feeds.FeedError, match=why):
                feeds.read(BODIES[path][1])


def test_a_feed_is_checked_when_added_and_its_papers_are_candidates_not_library(digest, feed_server, sample_lib):
    papers_before = sample_lib.stats().papers
    woken = []
    digest.wake = lambda: woken.append(True)  # the library's embedding worker, as the library hands it over
    for path, why in (("/html", "HTML page"), ("/empty", "holds no papers"), ("/404", "HTTP 404"),
                      ("/truncated", "well-formed")):
        with pytest.raises(feeds.FeedError, match=why):
            digest.add_feed(feed_server.url + path)
    assert digest.feeds() == []
    feed, report = digest.add_feed(feed_server.url + "/rss")
    assert feed.last_success_at and feed.last_count == 5 and not feed.last_error
    assert (report.new, report.in_library) == (4, 1)  # Consistency Trajectory Models is in the sample library
    assert woken  # its candidates are embedded now, not at the worker's next idle check (5 s)
    assert sample_lib.stats().papers == papers_before  # the badge stays true: candidates are not the library
    _, again = digest.add_feed(feed_server.url + "/hf")
    assert again.new == 30
    _, api = digest.add_feed(feed_server.url + "/arxiv-api")
    assert api.new + api.seen + api.in_library == 5
    # User-Agent says who we are.
    assert all(h.get("User-Agent", "").startswith("papershelf/") for _, h in feed_server.seen)


def test_one_broken_feed_never_stops_the_others_and_says_why(digest, feed_server, sample_lib):
    digest.add_feed(feed_server.url + "/rss")
    with digest.store._write_lock:  # feeds that broke after they were added
        for path in ("/500", "/slow"):
            digest.store._cur().execute("INSERT INTO feeds (source, url, added_at) VALUES (?, ?, now())",
                                        [feed_server.url + path, feed_server.url + path])
    reports = {r.source.rsplit("/", 1)[1]: r for r in digest.fetch_all()}
    assert reports["rss"].not_modified and not reports["rss"].error  # conditional GET: 304
    assert "HTTP 500" in reports["500"].error and "tried 4 times" in reports["500"].error
    assert "ReadTimeout" in reports["slow"].error
    assert digest.waits[:3] == [2.0, 4.0, 8.0]  # backoff between retries, doubled each time
    listed = {f.source.rsplit("/", 1)[1]: f for f in digest.feeds()}
    assert listed["500"].last_error and listed["500"].last_error_at and listed["rss"].last_error is None
    assert ("/rss", ) and any(h.get("If-None-Match") for p, h in feed_server.seen if p == "/rss")


def test_retry_after_is_honoured(digest, feed_server):
    feed_server.flaky = 0
    got = feeds.fetch(feeds.Feed("flaky", feed_server.url + "/flaky"), httpx.Client(), sleep=digest.waits.append)
    assert len(got.records) == 5 and digest.waits == [1.0, 1.0]


def test_the_day_is_ranked_with_reasons_and_feedback_changes_it(digest, feed_server, sample_lib):
    digest.add_feed(feed_server.url + "/rss")
    sample_lib.embed_all()
    page = digest.day()
    assert page.method == "model" and page.pending == 0 and page.total == 5
    titles = [i.title for i in page.items]
    assert titles[0].startswith("Expert Routing")  # MoE: what this library is about
    assert titles.index("A Field Guide to Medieval Bookbinding Techniques") >= 2
    have = [i for i in page.items if i.in_library]
    assert len(have) == 1 and have[0].library_id and have[0] is page.items[-1]  # marked, never recommended
    top = page.items[0]
    assert len(top.why.papers) == 3 and all(p.score > 0.3 for p in top.why.papers)
    closest = sample_lib.get(top.why.papers[0].id)
    assert top.why.terms and all(t in (top.title + " " + top.abstract).lower() and
                                 t.split()[-1][:5] in (closest.title + " " + closest.abstract).lower()
                                 for t in top.why.terms), top.why.terms
    # 👎 on the top paper and 👍 on the bookbinding one: the next ranking moves both.
    book = next(i for i in page.items if "Bookbinding" in i.title)
    digest.rate(top.id, "down")
    digest.rate(book.id, "up")
    after = {i.id: i for i in digest.day().items}
    assert after[top.id].feedback == "down" and after[book.id].feedback == "up"
    assert after[top.id].score < top.score and after[book.id].score > book.score
    assert [(f.title[:14], f.rating) for f in digest.feedback()] == [("Expert Routing", "down"),
                                                                    ("A Field Guide ", "up")]


def test_saving_a_candidate_moves_it_into_the_library_with_its_vector(digest, feed_server, sample_lib):
    digest.add_feed(feed_server.url + "/rss")
    sample_lib.embed_all()
    item = digest.day().items[0]
    vec = np.frombuffer(digest._candidate(item.id)[12], dtype=np.float32)
    calls = []
    for embedder in (sample_lib.embedder, sample_lib.bulk_embedder):
        embedder.embed = lambda texts, real=embedder.embed: calls.append(texts) or real(texts)
    paper = digest.save(item.id)
    assert sample_lib.store.count_pending(sample_lib.model_id) == 0 and calls == []  # no second embedding
    _, mat = sample_lib.store.vectors(sample_lib.model_id, [paper.id])
    assert np.array_equal(mat[0], vec)
    assert sample_lib.get("arxiv:2611.20001").id == paper.id
    assert next(i for i in digest.day().items if i.id == item.id).in_library
    # Saved from its page instead (the extension's save, same text): the digest's vector comes along too.
    other = next(i for i in digest.day().items if not i.in_library and i.title.startswith("Merging"))
    before = np.frombuffer(digest._candidate(other.id)[12], dtype=np.float32)
    page_paper, added = sample_lib.save(Record(title=other.title, abstract=other.abstract, authors=other.authors,
                                               identifiers=["arxiv:2611.20002"]))
    assert added and calls == [] and sample_lib.store.count_pending(sample_lib.model_id) == 0
    assert np.array_equal(sample_lib.store.vectors(sample_lib.model_id, [page_paper.id])[1][0], before)
    assert next(i for i in digest.day().items if i.id == other.id).library_id == page_paper.id
    st = sample_lib.stats()
    assert (st.feeds, st.feeds_failing, st.candidates) == (1, 0, 2)  # 5 fetched: 1 was in the library, 2 saved


def test_unsaved_candidates_are_pruned_after_the_set_age(digest, feed_server):
    digest.add_feed(feed_server.url + "/rss")
    with digest.store._write_lock:
        digest.store._cur().execute("UPDATE candidates SET day = day - INTERVAL 40 DAY")
    assert digest.prune() == 4  # the one already in the library stays
    assert digest.day().total == 1


def test_the_schedule_on_a_controllable_clock(sample_lib, feed_server):
    at = parse_at("07:00")
    day = datetime(2026, 11, 30)
    assert due(day.replace(hour=6), None, at)  # never fetched: now
    assert not due(day.replace(hour=6, minute=59), day.replace(hour=1), at)
    assert due(day.replace(hour=7, minute=1), day.replace(hour=1), at)
    assert not due(day.replace(hour=9), day.replace(hour=7, minute=1), at)  # once a day
    assert due(day.replace(hour=9), day - timedelta(days=1, hours=3), at)  # at start, over a day old
    with pytest.raises(ValueError, match="HH:MM"):
        parse_at("7am")
    now = [day.replace(hour=6)]
    sent = []
    sample_lib.digest = sample_lib.make_digest(http=httpx.Client(), sleep=lambda s: None)
    job = DailyFetch(sample_lib.digest, clock=lambda: now[0], send=lambda: sent.append(now[0]))
    assert not job.tick()  # no feeds yet
    sample_lib.digest.add_feed(feed_server.url + "/rss")
    job.last_run = day.replace(hour=5)
    assert not job.tick()
    now[0] = day.replace(hour=7, minute=1)
    assert job.tick() and sent == [now[0]]
    now[0] = day.replace(hour=12)
    assert not job.tick()
    assert dtime(7, 0) == job.at()
    sample_lib.digest.set_settings(at="8:15", prune_days=14)
    assert job.at() == dtime(8, 15) and sample_lib.digest.settings().prune_days == 14
    with pytest.raises(ValueError, match="HH:MM"):
        sample_lib.digest.set_settings(at="noon")


def test_the_atom_feed_reads_the_digest_with_its_own_token_only(sample_copy, feed_server):
    srv = start_server(sample_copy, "--no-digest")
    try:
        with srv.client() as c:
            assert c.post("/api/feeds", json={"source": feed_server.url + "/html"}).status_code == 400
            r = c.post("/api/feeds", json={"source": feed_server.url + "/rss"})
            assert r.status_code == 201 and r.json()["fetched"]["new"] == 4
            token = c.post("/api/digest/feed-token").json()["token"]
        assert httpx.get(f"{srv.url}/digest.atom").status_code == 401
        assert httpx.get(f"{srv.url}/digest.atom", params={"key": srv.token}).status_code == 401  # not the pairing token
        # The feed token opens the Atom feed and nothing else.
        assert httpx.get(f"{srv.url}/api/digest", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert httpx.get(f"{srv.url}/api/stats", params={"token": token}).status_code == 401
        deadline = time.time() + 60
        with srv.client() as c:
            while c.get("/api/digest").json()["pending"] and time.time() < deadline:
                time.sleep(0.2)  # the candidates are embedded in the background
        atom = httpx.get(f"{srv.url}/digest.atom", params={"key": token})
        parsed = feedparser.parse(atom.content)
        assert len(parsed.entries) == 4  # the one already in the library is not in the feed
        assert atom.status_code == 200 and atom.headers["content-type"].startswith("application/atom+xml")
        assert not parsed.bozo and parsed.entries[0].title.startswith("Expert Routing")
        assert parsed.entries[0].link == "https://arxiv.org/abs/2611.20001"
        with srv.client() as c:
            c.delete("/api/digest/feed-token")
        assert httpx.get(f"{srv.url}/digest.atom", params={"key": token}).status_code == 401
    finally:
        srv.stop()


def test_email_reaches_a_real_smtp_server_with_both_parts(sample_lib, feed_server, tmp_path, monkeypatch):
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message as MessageHandler

    got = []

    class Keep(MessageHandler):
        def handle_message(self, message):
            got.append(message)

    ctl = Controller(Keep(), hostname="127.0.0.1", port=free_port())
    ctl.start()
    try:
        from papershelf.digest import mail

        sample_lib.digest = sample_lib.make_digest(http=httpx.Client(), sleep=lambda s: None)
        sample_lib.digest.add_feed(feed_server.url + "/rss")
        sample_lib.embed_all()
        with pytest.raises(mail.MailError, match="not set up"):
            sample_lib.send_digest("http://127.0.0.1:8765")
        cfg = sample_lib.home / "smtp.json"
        cfg.write_text(json.dumps({"host": "127.0.0.1", "port": ctl.port,
                                   "security": "none", "from": "me@example.org", "to": "me@example.org"}))
        cfg.chmod(0o644)
        with pytest.raises(mail.MailError, match="chmod 600"):
            sample_lib.send_digest("http://127.0.0.1:8765")
        cfg.chmod(0o600)
        assert sample_lib.send_digest("http://127.0.0.1:8765") == "me@example.org"
    finally:
        ctl.stop()
    assert len(got) == 1
    msg = got[0]
    assert "4 new papers" in msg["Subject"] and msg["To"] == "me@example.org"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk() if not p.is_multipart()}
    assert set(parts) == {"text/plain", "text/html"}
    assert "https://arxiv.org/abs/2611.20001" in parts["text/plain"] and "http://127.0.0.1:8765/#today" in parts["text/plain"]
    assert '<a href="https://arxiv.org/abs/2611.20001">' in parts["text/html"]


def test_the_command_line_digest_from_a_clean_home(tmp_path, feed_server, sample_copy):
    """The issue's 'done when': feeds add, digest fetch, digest --json ranked with reasons, 👍/👎, save."""
    home = sample_copy
    out = run_cli("feeds", "add", feed_server.url + "/rss", home=home).stdout
    assert "4 new papers" in out
    assert "last fetched" in run_cli("feeds", "list", home=home).stdout
    run_cli("digest", "fetch", home=home)
    page = json.loads(run_cli("digest", "--json", home=home).stdout)
    assert page["items"][0]["title"].startswith("Expert Routing") and page["items"][0]["why"]["papers"]
    first = page["items"][0]
    assert {"id", "title", "score", "identifiers", "why", "in_library", "feedback"} <= set(first)
    run_cli("digest", "rate", first["id"], "down", home=home)
    again = json.loads(run_cli("digest", "--json", home=home).stdout)
    moved = next(i for i in again["items"] if i["id"] == first["id"])
    assert moved["feedback"] == "down" and moved["score"] < first["score"]
    run_cli("digest", "save", "arxiv:2611.20002", home=home)
    shown = json.loads(run_cli("show", "arxiv:2611.20002", "--json", home=home).stdout)
    assert shown["embedded"]
    bad = run_cli("feeds", "add", feed_server.url + "/html", home=home, check=False)
    assert bad.returncode == 1 and "HTML page" in bad.stderr


def test_a_small_library_is_ranked_by_similarity_and_says_so():
    from papershelf.digest import ranking

    g = np.random.default_rng(0)

    def unit(n, d=384):
        v = g.normal(size=(n, d)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    library, cands = unit(ranking.MIN_POSITIVES - 1), unit(50)
    cands[7] = library[3]  # a candidate that is a library paper's twin
    small = ranking.rank(cands, ranking.Examples.of(library))
    assert small.method == "similarity" and "fewer than" in small.note and int(np.argmax(small.scores)) == 7
    big = ranking.rank(cands, ranking.Examples.of(unit(40)))
    assert big.method == "model" and big.note == "" and big.scores.shape == (50,)


def test_a_tags_digest_ranks_for_that_tags_papers(digest, feed_server, sample_lib):
    digest.add_feed(feed_server.url + "/rss")
    sample_lib.embed_all()
    with pytest.raises(ValueError, match="no embedded library paper has the tag"):
        digest.day(tag="no-such-tag")
    merging = [h.id for h in sample_lib.search("model merging task vectors", k=12)]
    for pid in merging:
        sample_lib.update(pid, tags=["merging"])
    page = digest.day(tag="merging")
    assert page.items[0].title.startswith("Merging Fine-Tuned Models")  # for this tag, merging comes first


def test_the_days_new_papers_land_on_the_map_beside_what_they_resemble(digest, feed_server, sample_lib):
    digest.add_feed(feed_server.url + "/hf")
    sample_lib.embed_all()
    day = digest.days()[0]
    items, vectors = digest.embedded_candidates(day)
    assert len(items) == len(vectors) > 10 and all(link.startswith("https://") for _, _, link in items)
    m = sample_lib.map.current()
    xy = sample_lib.map.place_others(vectors)
    assert xy.shape == (len(items), 2) and np.isfinite(xy).all()
    # A paper exactly like one in the library lands next to it: nearer than most library papers are to each other.
    s = sample_lib.index.snapshot()
    one = m.ids[0]
    at = sample_lib.map.place_others(np.asarray(s.matrix[[s.row(one)]]))[0]
    typical = np.median(np.linalg.norm(m.xy - m.xy.mean(axis=0), axis=1))
    assert np.linalg.norm(at - m.xy[0]) < typical / 2
