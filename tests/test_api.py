"""The localhost API against a real `papershelf serve`: every endpoint, and the security rules proven with real
HTTP requests (token, Host, CORS, sizes)."""

import json
import os
import stat
import threading
import time

import httpx
import pytest

from conftest import FIXTURES, free_port, run_cli, start_server
from papershelf.pairing import EXTENSION_ID

EXT_ORIGIN = f"chrome-extension://{EXTENSION_ID}"
PROTECTED = [("GET", "/api/papers"), ("GET", "/api/stats"), ("GET", "/api/lookup?arxiv=1706.03762"),
             ("GET", "/api/search?q=x"), ("GET", "/api/related?text=x"), ("GET", "/api/export"), ("GET", "/api/map"), ("GET", "/api/facets"), ("POST", "/api/papers/bulk"),
             ("POST", "/api/papers"), ("POST", "/api/lookup"), ("POST", "/api/lookup/stream"),
             ("POST", "/api/lookup/batch"),
             ("POST", "/api/related"),
             ("POST", "/api/import"), ("GET", "/api/events"), ("GET", "/api/doctor"), ("DELETE", "/api/papers/x"),
             ("GET", "/api/feeds"), ("POST", "/api/feeds"), ("DELETE", "/api/feeds?source=hf:daily"),
             ("GET", "/api/digest"), ("POST", "/api/digest/fetch"), ("POST", "/api/digest/x/rate"),
             ("POST", "/api/digest/x/save"), ("GET", "/api/digest/feedback"), ("POST", "/api/digest/feed-token"),
             ("DELETE", "/api/digest/feed-token"), ("POST", "/api/digest/send"), ("GET", "/api/digest/settings"),
             ("PATCH", "/api/digest/settings")]


def save(c, **paper):
    r = c.post("/api/papers", json=paper)
    assert r.status_code == 201, r.text
    return r.json()


# -- security ---------------------------------------------------------------------------------------------
def test_health_is_open_and_says_little(shared_server):
    r = httpx.get(f"{shared_server.url}/api/health")
    assert r.status_code == 200
    assert r.json() == {"name": "papershelf", "version": r.json()["version"], "ready": True}


@pytest.mark.parametrize("method, path", PROTECTED)
def test_every_other_route_needs_the_token(shared_server, method, path):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": shared_server.token},
                    {"Authorization": f"Basic {shared_server.token}"}):
        r = httpx.request(method, shared_server.url + path, headers=headers)
        assert r.status_code == 401, (path, headers, r.status_code)
        body = r.json()
        assert set(body) == {"status_code", "detail"} and body["detail"].startswith("missing or wrong token")


@pytest.mark.parametrize("path", ["/", "/app.js", "/api/health", "/api/papers", "/schema/openapi.json",
                                  "/api/nowhere", "/index.html"])
def test_every_answer_forbids_framing_and_foreign_scripts(shared_server, path):
    r = httpx.get(shared_server.url + path, headers=shared_server.auth)
    policy = r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and r.headers["x-frame-options"] == "DENY"
    assert "script-src 'self'" in policy and "default-src 'self'" in policy and "unsafe" not in policy
    assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    refused = httpx.get(shared_server.url + path)  # the guard's own answers too (401 here, for the API)
    assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger", "/schema/elements", "/schema/rapidoc",
                                  "/schema/redoc", "/schema/stoplight"])
def test_no_documentation_page_loads_scripts_from_elsewhere(shared_server, page):
    r = httpx.get(shared_server.url + page)
    assert "<script" not in r.text and "cdn" not in r.text.lower()
    assert httpx.get(shared_server.url + "/schema/openapi.json").json()["info"]["title"] == "papershelf"


def test_the_page_loads_only_scripts_it_ships(shared_server):
    import re

    page = httpx.get(shared_server.url + "/").text
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/app.js" type="module">']
    assert not re.search(r"\son[a-z]+\s*=", page) and "style=" not in page and "<style" not in page


def test_token_file_is_private(shared_server):
    mode = stat.S_IMODE(os.stat(shared_server.home / "token").st_mode)
    assert mode == 0o600
    assert run_cli("token", home=shared_server.home).stdout.strip() == shared_server.token


@pytest.mark.parametrize("host, ok", [
    ("127.0.0.1:{port}", True), ("localhost:{port}", True), ("[::1]:{port}", True), ("LOCALHOST:{port}", True),
    ("evil.example:{port}", False), ("127.0.0.1.nip.io:{port}", False), ("attacker.com", False),
    ("127.0.0.1:1", False), ("", False)])
def test_host_header_is_checked_against_dns_rebinding(shared_server, host, ok):
    h = host.format(port=shared_server.port)
    for path in ("/api/health", "/api/stats", "/"):
        r = httpx.get(shared_server.url + path, headers={**shared_server.auth, "Host": h})
        if ok:
            assert r.status_code == 200, (h, path)
        else:
            assert r.status_code == 421, (h, path, r.status_code)
            assert "papershelf" not in r.text or "answers only" in r.text


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:9999", "null",
                                    "chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                                    f"https://{EXTENSION_ID}.example"])
def test_no_web_origin_is_ever_allowed(shared_server, origin):
    r = httpx.get(f"{shared_server.url}/api/stats", headers={**shared_server.auth, "Origin": origin})
    assert "access-control-allow-origin" not in r.headers
    pre = httpx.options(f"{shared_server.url}/api/stats", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                             "Access-Control-Request-Headers": "authorization"})
    assert "access-control-allow-origin" not in pre.headers


@pytest.mark.parametrize("origin", [EXT_ORIGIN, "moz-extension://3f1c2a4e-8b9d-4c6e-a1f2-0123456789ab"])
def test_the_extension_origin_is_allowed_and_still_needs_the_token(shared_server, origin):
    pre = httpx.options(f"{shared_server.url}/api/lookup", headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                                                              "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code in (200, 204) and pre.headers["access-control-allow-origin"] == origin
    r = httpx.get(f"{shared_server.url}/api/stats", headers={"Origin": origin})
    assert r.status_code == 401
    r = httpx.get(f"{shared_server.url}/api/stats", headers={"Origin": origin, **shared_server.auth})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == origin


def test_bodies_and_query_strings_are_limited(server):
    with server.client() as c:
        r = c.post("/api/papers", content=b'{"title": "' + b"x" * (2 << 20) + b'"}',
                   headers={"content-type": "application/json"})
        assert r.status_code == 413
        r = c.get("/api/search", params={"q": "a" * 5000})
        assert r.status_code == 414
        assert c.get("/api/papers", params={"limit": 1000}).status_code == 400
        assert c.get("/api/search", params={"q": "a" * 600}).status_code == 400
        assert c.post("/api/lookup/batch", json={"ids": [f"arxiv:2101.{i:05d}" for i in range(201)]}).status_code == 400
        # An import may be large: 3 MB of JSON Lines is fine.
        big = "".join(json.dumps({"title": f"Bulk paper {i}", "abstract": "y" * 3000}) + "\n" for i in range(1000))
        r = c.post("/api/import", json={"content": big, "name": "big.jsonl"})
        assert r.status_code == 200 and len(r.json()["added"]) == 1000


DEEP = 100_000  # deeper than any decoder recurses


@pytest.mark.parametrize("method, path", [("POST", "/api/papers"), ("POST", "/api/lookup"), ("POST", "/api/lookup/stream"),
                                          ("POST", "/api/related"), ("POST", "/api/papers/bulk"), ("POST", "/api/import"),
                                          ("PATCH", "/api/papers/nosuchpaper"), ("POST", "/api/duplicates/merge")])
@pytest.mark.parametrize("body", [b"[" * DEEP + b"]" * DEEP, b'{"title": ' + b"[" * DEEP + b"]" * DEEP + b"}",
                                  b'{"tags": ' + b'{"a":' * DEEP + b"1" + b"}" * DEEP + b"}"], ids=["array", "field", "object"])
def test_a_body_nested_100000_deep_is_a_bad_request_with_a_reason(shared_server, method, path, body):
    with shared_server.client() as c:
        r = c.request(method, path, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400, r.text
        assert r.json()["detail"]
        assert c.get("/api/health").status_code == 200


def test_binds_loopback_only_unless_told(sample_copy):
    p = run_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), home=sample_copy, check=False)
    assert p.returncode == 1 and "--allow-remote" in p.stderr


def test_server_file_points_at_loopback(shared_server):
    info = json.loads((shared_server.home / "server.json").read_text())
    assert info["url"] == f"http://127.0.0.1:{shared_server.port}"


# -- endpoints --------------------------------------------------------------------------------------------
def test_save_merges_and_returns_the_paper(server):
    with server.client() as c:
        body = {"title": "Attention Is All You Need", "abstract": "The dominant sequence transduction models...",
                "authors": ["Ashish Vaswani"], "year": 2017, "identifiers": ["arxiv:1706.03762v7"],
                "url": "https://arxiv.org/abs/1706.03762v7"}
        first = save(c, **body)
        assert first["added"] and first["paper"]["identifiers"] == ["arxiv:1706.03762"]
        again = save(c, **{**body, "tags": ["to-read"], "url": "https://arxiv.org/abs/1706.03762"})
        assert not again["added"] and again["paper"]["id"] == first["paper"]["id"]
        assert again["paper"]["tags"] == ["to-read"]
        bad = c.post("/api/papers", json={"abstract": "no title"})
        assert bad.status_code == 400 and "title" in bad.text
        bad = c.post("/api/papers", json={"title": "x", "year": "soon"})
        assert bad.status_code == 400
        bad = c.post("/api/papers", content=b"{not json", headers={"content-type": "application/json"})
        assert bad.status_code == 400


def test_papers_list_get_update_trash_restore(server):
    with server.client() as c:
        page = c.get("/api/papers", params={"limit": 10, "sort": "title"}).json()
        assert page["total"] == 289 and len(page["papers"]) == 10
        titles = [p["title"] for p in page["papers"]]
        assert titles == sorted(titles, key=str.casefold) or len(set(titles)) == 10
        page2 = c.get("/api/papers", params={"limit": 10, "offset": 10, "sort": "title"}).json()
        assert not {p["id"] for p in page2["papers"]} & {p["id"] for p in page["papers"]}
        pid = page["papers"][0]["id"]
        assert c.get(f"/api/papers/{pid}").json()["id"] == pid
        assert c.get("/api/papers/nope").status_code == 404
        r = c.patch(f"/api/papers/{pid}", json={"tags": ["reading", "reading", " moe "], "notes": "good one"})
        assert r.json()["tags"] == ["reading", "moe"] and r.json()["notes"] == "good one"
        assert c.patch(f"/api/papers/{pid}", json={"tags": "not-a-list"}).status_code == 400
        assert c.get("/api/papers", params={"tag": "moe"}).json()["total"] == 1
        assert c.get("/api/papers", params={"q": titles[0][:15]}).json()["total"] >= 1
        assert c.delete(f"/api/papers/{pid}").json()["deleted_at"]
        assert c.delete(f"/api/papers/{pid}").status_code == 409
        assert c.get("/api/papers").json()["total"] == 288
        assert c.get("/api/papers", params={"trashed": True}).json()["total"] == 1
        assert c.post(f"/api/papers/{pid}/restore").json()["deleted_at"] is None
        assert c.get("/api/papers").json()["total"] == 289


def test_filters_combine_and_facets_count_what_they_find(server):
    with server.client() as c:
        a = save(c, title="Faceted paper one about sparse experts", abstract="", tags=["moe", "to-read"],
                 year=2019, venue="ICML")["paper"]
        b = save(c, title="Faceted paper two about sparse experts", abstract="Something said here.", tags=["moe"],
                 year=2021, venue="NeurIPS")["paper"]
        both = {"q": "faceted paper", "tag": "moe"}
        page = c.get("/api/papers", params=both).json()
        assert page["total"] == 2 and {p["id"] for p in page["papers"]} == {a["id"], b["id"]}
        f = c.get("/api/facets", params=both).json()
        assert f["total"] == 2 and {"value": "moe", "count": 2} in f["tags"] and {"value": "to-read", "count": 1} in f["tags"]
        assert f["years"] == [{"value": "2019", "count": 1}, {"value": "2021", "count": 1}]
        assert {v["value"] for v in f["venues"]} == {"ICML", "NeurIPS"} and f["no_abstract"] == 1
        assert f["sources"] == [{"value": "api", "count": 2}]
        narrow = {**both, "tag": ["moe", "to-read"]}
        assert [p["id"] for p in c.get("/api/papers", params=narrow).json()["papers"]] == [a["id"]]
        assert c.get("/api/papers", params={**both, "year_min": 2020}).json()["total"] == 1
        assert c.get("/api/papers", params={**both, "year_min": 2018, "year_max": 2020}).json()["papers"][0]["id"] == a["id"]
        assert c.get("/api/papers", params={**both, "venue": "NeurIPS"}).json()["papers"][0]["id"] == b["id"]
        assert c.get("/api/papers", params={**both, "no_abstract": True}).json()["papers"][0]["id"] == a["id"]
        # Once the worker has embedded them, nothing is left "not embedded yet".
        deadline = time.time() + 60
        while c.get("/api/stats").json()["stats"]["pending"] and time.time() < deadline:
            time.sleep(0.2)
        assert c.get("/api/papers", params={**both, "not_embedded": True}).json()["total"] == 0
        sample = c.get("/api/facets").json()
        assert sample["total"] == 291 and sample["years"] and sample["not_embedded"] == 0
        assert c.get("/api/papers", params={"tag": ["x"] * 21}).status_code == 400


def test_bulk_tag_untag_trash_restore_by_ids_or_by_filter(server):
    with server.client() as c:
        page = c.get("/api/papers", params={"q": "diffusion", "limit": 200}).json()
        ids = [p["id"] for p in page["papers"]]
        assert len(ids) >= 3
        r = c.post("/api/papers/bulk", json={"action": "tag", "ids": ids[:2], "tags": ["bulk-a", "bulk-b"]}).json()
        assert r == {"changed": 2, "ids": r["ids"]} and set(r["ids"]) == set(ids[:2])
        assert c.post("/api/papers/bulk", json={"action": "tag", "ids": ids[:2], "tags": ["bulk-a"]}).json()["changed"] == 0
        assert c.get("/api/papers", params={"tag": ["bulk-a", "bulk-b"]}).json()["total"] == 2
        # Every paper a filter finds: the whole "diffusion" list.
        r = c.post("/api/papers/bulk", json={"action": "tag", "query": {"text": "diffusion"}, "tags": ["bulk-a"]})
        assert r.status_code == 200, r.text
        r = r.json()
        assert r["changed"] == page["total"] - 2
        assert c.post("/api/papers/bulk", json={"action": "untag", "ids": ids, "tags": ["bulk-b"]}).json()["changed"] == 2
        assert c.get("/api/papers", params={"tag": "bulk-b"}).json()["total"] == 0
        assert c.post("/api/papers/bulk", json={"action": "trash", "ids": ids[:3]}).json()["changed"] == 3
        assert c.get("/api/papers", params={"q": "diffusion"}).json()["total"] == page["total"] - 3
        assert c.post("/api/papers/bulk", json={"action": "restore", "ids": ids[:3]}).json()["changed"] == 3
        # Export what is selected, or what a filter finds.
        chosen = c.get("/api/export", params={"format": "jsonl", "id": ids[:2]}).text.splitlines()
        assert [json.loads(line)["id"] for line in chosen] == ids[:2]
        tagged = c.get("/api/export", params={"format": "jsonl", "tag": "bulk-a"}).text.splitlines()
        assert len(tagged) == page["total"]
        assert c.post("/api/papers/bulk", json={"action": "tag", "ids": ids}).status_code == 400  # which tags?
        assert c.post("/api/papers/bulk", json={"action": "trash"}).status_code == 400  # ids or a query
        assert c.post("/api/papers/bulk", json={"action": "trash", "ids": ["no-such-paper"]}).status_code == 404


def test_a_paper_is_reachable_by_its_doi_with_the_slash_percent_encoded(shared_server):
    server = shared_server  # (a paper of its own: nothing else here depends on what the library holds)
    with server.client() as c:
        p = save(c, title="A paper known by its DOI alone", identifiers=["doi:10.5555/slash.1"])["paper"]
        ref = "/api/papers/doi:10.5555%2Fslash.1"
        assert c.get(ref).json()["id"] == p["id"]
        assert c.patch(ref, json={"tags": ["doi-path"]}).json()["tags"] == ["doi-path"]
        assert c.delete(ref).json()["deleted_at"]
        assert c.post(ref + "/restore").json()["deleted_at"] is None
        assert c.get("/api/papers/doi:10.5555%2Fno.such").status_code == 404


def test_lookup_by_url_arxiv_doi_and_title(server):
    with server.client() as c:
        p = save(c, title="Diffusion Models Beat GANs on Image Synthesis", abstract="We show diffusion models "
                 "achieve image sample quality superior to generative adversarial networks.",
                 identifiers=["arxiv:2105.05233", "doi:10.5555/dmbg"])["paper"]
        for params in ({"url": "https://arxiv.org/abs/2105.05233v4"}, {"arxiv": "2105.05233"},
                       {"doi": "10.5555/DMBG"}, {"url": "https://huggingface.co/papers/2105.05233"},
                       {"ref": "doi:10.5555/dmbg"}, {"title": "Diffusion models beat GANs on image synthesis."}):
            r = c.get("/api/lookup", params={**params, "k": 3}).json()
            assert r["found"] and r["paper"]["id"] == p["id"], params
            assert len(r["related"]) == 3 and p["id"] not in [h["id"] for h in r["related"]]
            assert r["library_size"] == 290
        miss = c.get("/api/lookup", params={"arxiv": "2401.99999"}).json()
        assert miss == {"found": False, "paper": None, "related": [], "library_size": 290}
        assert c.get("/api/lookup").status_code == 400
        c.delete(f"/api/papers/{p['id']}")
        assert not c.get("/api/lookup", params={"arxiv": "2105.05233"}).json()["found"]  # trash is not "in"


def test_a_server_on_one_core_ranks_a_page_by_its_first_tokens(sample_copy):
    """On one core the panel's final list is ranked by the page's first 128 tokens (Library.page_tokens: the
    whole text does not fit the 300 ms there; test_related checks that a save still stores the whole text's)."""
    from papershelf.library import PAGE_TOKENS, Library

    page = {"title": "Sparse expert routing for long documents",
            "abstract": " ".join(f"Sentence {i}: we route the tokens of long documents to sparse experts, and each "
                                 f"expert reads a different kind of passage." for i in range(12))}
    srv = start_server(sample_copy, cpus="0")
    try:
        with srv.client() as c, c.stream("POST", "/api/lookup/stream", json={**page, "k": 5}) as r:
            served = [json.loads(line) for line in r.iter_lines() if line][-1]["related"]
    finally:
        srv.stop()
    lib = Library(sample_copy)
    try:
        by = {}
        for tokens in (PAGE_TOKENS, None):
            lib.page_tokens = tokens
            by[tokens] = [(h.id, h.score) for h in lib.related_page(page["title"], page["abstract"], k=5)]
    finally:
        lib.close()
    assert [(h["id"], h["score"]) for h in served] == by[PAGE_TOKENS] != by[None]


def test_lookup_of_a_page_in_one_call(server):
    """The extension's call: found by any identifier, URL or title; if not, related by the page's title and
    abstract (markup cleaned), as /api/related would relate them."""
    page = {"title": "Switch <i>Transformers</i>: Scaling to Trillion Parameter Models",
            "abstract": "<p>We simplify the MoE routing algorithm and design intuitive improved models.</p>"}
    with server.client() as c:
        r = c.post("/api/lookup", json={"refs": ["arxiv:2101.03961"], "url": "https://arxiv.org/abs/2101.03961",
                                        **page, "k": 4})
        assert r.headers["server-timing"].startswith("app;dur=")  # the server's share, for the panel benchmark
        miss = r.json()
        assert not miss["found"] and miss["paper"] is None and miss["library_size"] == 289
        alone = c.post("/api/related", json={**page, "k": 4}).json()
        assert [h["id"] for h in miss["related"]] == [h["id"] for h in alone] and len(alone) == 4
        assert c.post("/api/lookup", json={**page, "k": 0}).json()["related"] == []
        # Streamed: the same answer in two lines, the paper first (the badge), then its related papers.
        with c.stream("POST", "/api/lookup/stream", json={"refs": ["arxiv:2101.03961"], **page, "k": 4}) as r:
            assert r.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) for line in r.iter_lines() if line]
        assert lines[0].pop("took_ms") >= 0 and lines[0] == {"found": False, "paper": None, "library_size": 289}
        assert lines[1]["related"] == miss["related"] and lines[1]["took_ms"] >= 0 and len(lines) == 2
        # The panel's call (words_first): the badge with a list by the page's words (what the served ranking gives
        # without its semantic part), then the final list. A page embedded a moment ago needs no first list.
        novel = {"refs": ["doi:10.5555/words.first"], "title": "Sparse expert routing for vision transformers",
                 "abstract": "We route image patches to experts with a learned sparse gate.", "k": 4}
        for body, expect in ((novel, 3), (novel, 2), ({"refs": ["arxiv:2101.03961"], **page, "k": 4}, 2)):
            with c.stream("POST", "/api/lookup/stream", json={**body, "words_first": True}) as r:
                got = [json.loads(line) for line in r.iter_lines() if line]
            assert len(got) == expect and got[0]["found"] is False, got
            assert [g["final"] for g in got[1:]] == [False, True][3 - expect:], got
            served = c.post("/api/related", json={"title": body["title"], "abstract": body["abstract"], "k": 4}).json()
            assert [h["id"] for h in got[-1]["related"]] == [h["id"] for h in served] and len(served) == 4
        assert got[1]["related"] == miss["related"]  # (a page seen before: its vector kept, the final list at once)
        # words_only (the panel asks for the final list once it has drawn the first): the badge and the words'
        # list, and nothing embedded: the same page asked again still needs its first list.
        unseen = {**novel, "refs": ["doi:10.5555/words.only"], "title": "Routing tokens to sparse experts in speech"}
        with c.stream("POST", "/api/lookup/stream", json={**unseen, "words_first": True, "words_only": True}) as r:
            only = [json.loads(line) for line in r.iter_lines() if line]
        assert [g.get("final") for g in only] == [None, False] and only[0]["found"] is False, only
        with c.stream("POST", "/api/lookup/stream", json={**unseen, "words_first": True}) as r:
            both = [json.loads(line) for line in r.iter_lines() if line]
        assert [g.get("final") for g in both] == [None, False, True] and both[1]["related"] == only[1]["related"]
        assert c.post("/api/lookup/stream", json={"abstract": "no title, no identifier"}).status_code == 400
        p = save(c, title="Switch Transformers: Scaling to Trillion Parameter Models", abstract=page["abstract"],
                 identifiers=["arxiv:2101.03961"])["paper"]
        for found_by in ({"refs": ["2101.03961v3"]}, {"url": "https://huggingface.co/papers/2101.03961"},
                         {"title": "Switch Transformers: scaling to trillion parameter models"}):
            hit = c.post("/api/lookup", json={**found_by, "k": 3}).json()
            assert hit["found"] and hit["paper"]["id"] == p["id"], found_by
            assert len(hit["related"]) == 3 and p["id"] not in [h["id"] for h in hit["related"]]
        with c.stream("POST", "/api/lookup/stream", json={"refs": ["2101.03961"], "k": 3, "words_first": True,
                                                          "words_only": True}) as r:
            found = [json.loads(line) for line in r.iter_lines() if line]
        assert found[0]["found"] and found[1]["final"] is True and len(found) == 2  # its vector is stored
        assert [h["id"] for h in found[1]["related"]] == [h["id"] for h in hit["related"]]
        assert c.post("/api/lookup", json={"abstract": "no title, no identifier"}).status_code == 400
        assert c.post("/api/lookup", json={"refs": ["x"] * 101}).status_code == 400
        assert c.post("/api/lookup", json={"title": "x", "unknown": 1}).status_code == 400


def test_lookup_batch(shared_server):
    server = shared_server  # (a paper of its own: nothing else here depends on what the library holds)
    with server.client() as c:
        p = save(c, title="Batch lookup target paper", identifiers=["arxiv:2202.00001"])["paper"]
        ids = ["2202.00001v2", "https://arxiv.org/abs/2202.00001", "arxiv:2202.00002", "10.1234/none", "garbage"]
        res = c.post("/api/lookup/batch", json={"ids": ids}).json()["results"]
        assert res["2202.00001v2"] == {"found": True, "id": p["id"], "title": "Batch lookup target paper"}
        assert res["https://arxiv.org/abs/2202.00001"]["found"]
        assert not res["arxiv:2202.00002"]["found"] and not res["garbage"]["found"]
        assert set(res) == set(ids)


def test_related_and_search(shared_server):
    server = shared_server  # (reads only)
    with server.client() as c:
        hits = c.get("/api/related", params={"text": "sparse mixture of experts routing", "k": 5}).json()
        assert len(hits) == 5 and all({"id", "title", "score", "identifiers", "why", "paper"} <= set(h) for h in hits)
        by_id = c.get("/api/related", params={"id": hits[0]["id"], "k": 5}).json()
        assert hits[0]["id"] not in [h["id"] for h in by_id]
        excl = c.get("/api/related", params={"text": "sparse mixture of experts routing", "k": 5,
                                             "exclude": hits[0]["id"]}).json()
        assert hits[0]["id"] not in [h["id"] for h in excl]
        assert c.get("/api/related").status_code == 400
        assert c.get("/api/related", params={"id": "unknown-paper"}).status_code == 404
        post = c.post("/api/related", json={"title": "Switch Transformers", "abstract": "Sparse expert models with "
                                            "simplified routing scale to trillion parameters.", "k": 3}).json()
        assert len(post) == 3 and post[0]["score"] >= post[-1]["score"]
        assert c.post("/api/related", json={}).status_code == 400
        assert c.post("/api/related", json={"title": "x", "k": 0}).status_code == 400
        found = c.get("/api/search", params={"q": "speech recognition", "k": 5}).json()
        assert "speech" in found[0]["title"].lower() and found[0]["matched"]


def test_import_multipart_json_and_bad_input(server):
    with server.client() as c:
        files = {"a": ("zotero.bib", (FIXTURES / "zotero.bib").read_bytes()),
                 "b": ("mixed.jsonl", (FIXTURES / "mixed.jsonl").read_bytes())}
        rep = c.post("/api/import", files=files).json()
        assert len(rep["added"]) == 6 and len(rep["failed"]) == 3
        assert [(w["position"], w["field"], w["value"]) for w in rep["warnings"]] == [("line 5", "year", "soon")]
        assert any(f["position"] == "line 3" and "JSON" in f["reason"] for f in rep["failed"])
        again = c.post("/api/import", files=files).json()
        assert again["added"] == [] and all(not m["changed"] for m in again["merged"])
        rep = c.post("/api/import", json=[{"title": "Posted as plain JSON records", "abstract": "x"}]).json()
        assert len(rep["added"]) == 1 and rep["format"] == "json"
        r = c.post("/api/import", files={"f": ("x.png", b"\x89PNG\r\n\x1a\n\x00\x00")})
        assert r.status_code == 400 and "binary" in r.json()["detail"]
        r = c.post("/api/import", json={"content": "", "name": "empty.bib"})
        assert r.status_code == 400 and "empty" in r.json()["detail"]
        r = c.post("/api/import", content=b"hello", headers={"content-type": "text/plain"})
        assert r.status_code == 415


def test_import_sample_export_stats_doctor(server):
    with server.client() as c:
        rep = c.post("/api/import/sample").json()
        assert rep["added"] == [] and len(rep["merged"]) == 289  # already there: nothing new, nothing duplicated
        jsonl = c.get("/api/export", params={"format": "jsonl"})
        assert jsonl.headers["content-type"].startswith("application/x-ndjson")
        assert len(jsonl.text.splitlines()) == 289
        bib = c.get("/api/export", params={"format": "bibtex"})
        assert "attachment" in bib.headers["content-disposition"] and bib.text.startswith("@")
        assert c.get("/api/export", params={"format": "docx"}).status_code == 400
        st = c.get("/api/stats").json()
        assert st["stats"]["papers"] == 289 and st["stats"]["pending"] == 0 and st["embedding_error"] is None
        checks = c.get("/api/doctor").json()
        assert all(ch["ok"] for ch in checks), checks


def test_events_stream_reports_changes_and_progress(server):
    got: list[str] = []

    def listen():
        with httpx.stream("GET", f"{server.url}/api/events", params={"token": server.token}, timeout=30) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                got.append(line)
                if any(l.startswith("event: embedding") for l in got) and any(l == "event: library" for l in got):
                    return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    time.sleep(0.5)
    with server.client() as c:
        save(c, title="A paper saved while someone listens", abstract="It triggers events.")
    t.join(30)
    assert "event: hello" in got
    assert "event: library" in got and any(l.startswith("event: embedding") for l in got)
    assert httpx.get(f"{server.url}/api/events", params={"token": "wrong"}).status_code == 401


def test_openapi_schema_lists_every_route(shared_server):
    schema = httpx.get(f"{shared_server.url}/schema/openapi.json").json()
    paths = set(schema["paths"])
    for p in ("/api/health", "/api/papers", "/api/papers/{paper_id}", "/api/papers/{paper_id}/restore",
              "/api/lookup", "/api/lookup/stream", "/api/lookup/batch", "/api/related", "/api/search", "/api/import",
              "/api/import/sample", "/api/export", "/api/stats", "/api/events", "/api/doctor", "/api/feeds", "/api/map", "/api/facets",
              "/api/digest", "/api/digest/fetch", "/api/digest/{item_id}/rate", "/api/digest/{item_id}/save",
              "/api/digest/feedback", "/api/digest/feed-token", "/api/digest/send", "/api/digest/settings",
              "/digest.atom"):
        assert p in paths, p
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_library_page_is_served(shared_server):
    r = httpx.get(shared_server.url + "/")
    assert r.status_code == 200 and "papershelf" in r.text and "/app.js" in r.text
    assert httpx.get(shared_server.url + "/app.js").status_code == 200
