"""`papershelf mcp`: an MCP client from the official SDK starts the command its --print-config gives, lists its
tools and calls each on a copy of the sample library, with and without a running server; the same tools at the
server's /mcp, behind its token; the write tools only when allowed (--allow-write, serve --mcp-allow-write)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
from conftest import run_cli, start_server
from fulltext_corpus import make_paper
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from papershelf.assistant import READ_TOOLS, WRITE_TOOLS


def launch(home, *extra) -> dict:
    """The Claude Desktop entry `papershelf mcp --print-config` prints: what an assistant would start."""
    p = run_cli("mcp", "--print-config", "claude", *extra, home=home)
    return json.loads(p.stdout)["mcpServers"]["papershelf"]


def session(entry: dict, script) -> object:
    """Start the entry's command, initialize, and run `script(call, names)` in the session: `call(tool, **args)`
    returns (is_error, answer), the answer being the tool's structured result or its error text."""
    params = StdioServerParameters(command=entry["command"], args=entry["args"],
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return _talk(lambda: stdio_client(params), script)


def http_session(srv, script, token: str | None = None) -> object:
    """The same over the running server's /mcp (streamable HTTP), with its token."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    @contextlib.asynccontextmanager
    async def connect():
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token or srv.token}"}, timeout=60) as http, \
                streamable_http_client(f"{srv.url}/mcp", http_client=http) as streams:
            yield streams

    return _talk(connect, script)


def _talk(transport, script) -> object:
    async def main():
        async with transport() as (read, write), ClientSession(read, write) as s:
            init = await s.initialize()
            assert init.server_info.name == "papershelf"
            names = {t.name for t in (await s.list_tools()).tools}

            async def call(tool: str, **arguments):
                r = await s.call_tool(tool, arguments)
                if r.is_error:
                    return True, " ".join(c.text for c in r.content)
                got = r.structured_content
                return False, got["result"] if set(got) == {"result"} else got

            return await script(call, names)

    # In a thread of its own: a browser test earlier in this worker may have left Playwright's loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(anyio.run, main).result()


def test_print_config_gives_claude_desktop_and_vs_code_the_command_for_this_library(sample_copy):
    both = run_cli("mcp", "--print-config", home=sample_copy).stdout
    assert "claude_desktop_config.json" in both and ".vscode/mcp.json" in both
    entry = launch(sample_copy)
    assert entry["command"] == sys.executable
    assert entry["args"] == ["-m", "papershelf.cli", "mcp", "--home", str(sample_copy.resolve())]
    assert launch(sample_copy, "--allow-write")["args"][-1] == "--allow-write"
    vscode = json.loads(run_cli("mcp", "--print-config", "vscode", home=sample_copy).stdout)
    assert vscode["servers"]["papershelf"] == {"type": "stdio", **entry}


def test_an_assistant_reads_the_library_without_a_server_then_through_one_that_starts(sample_copy, tmp_path):
    melt = make_paper("melt")
    (tmp_path / "melt.pdf").write_bytes(melt.pdf)
    assert json.loads(run_cli("import", str(tmp_path / "melt.pdf"), "--json", home=sample_copy).stdout)["added"]
    servers = []

    async def script(call, names):
        assert names == set(READ_TOOLS)  # read-only by default: no add_paper, no tag_paper
        err, hits = await call("search_library", query="diffusion models", k=3)
        assert not err and len(hits) == 3 and all(h["matched"] and h["paper"]["title"] for h in hits)
        err, paper = await call("get_paper", ref=hits[0]["id"])
        assert not err and paper["title"] == hits[0]["title"] and paper["abstract"] and "files" in paper
        err, related = await call("related_papers", ref=paper["id"], k=3)
        assert not err and len(related) == 3 and all(r["why"] for r in related)
        assert paper["id"] not in {r["id"] for r in related}
        err, by_text = await call("related_papers", text="generative models that denoise images step by step", k=2)
        assert not err and len(by_text) == 2
        err, said = await call("related_papers")
        assert err and "either ref" in said
        err, passages = await call("find_passages", query='"first meltwater pulse reached the Talbach gauge"', k=2)
        assert not err and passages[0]["page"] == melt.planted["phrase"] and passages[0]["file"].endswith("melt.pdf")
        err, recent = await call("list_recent", n=2)
        assert not err and [p["title"] for p in recent][0] == melt.title and "abstract" not in recent[0]
        err, digest = await call("todays_digest")
        assert not err and digest["items"] == [] and "feeds" in digest["note"]
        err, said = await call("get_paper", ref="arxiv:1111.11111")
        assert err and "no paper in the library for 'arxiv:1111.11111'" in said
        err, said = await call("add_paper", title="Not allowed")
        assert err and "add_paper" in said  # not offered without --allow-write
        # The assistant holds no lock on the library between calls: the server starts, and calls go through it
        # (the library file is the server's now: a call that opened it would fail).
        srv = await anyio.to_thread.run_sync(lambda: start_server(sample_copy, "--no-digest", "--no-backup"))
        servers.append(srv)
        with srv.client() as c:
            c.post("/api/papers", json={"title": "Saved while the assistant was open",
                                        "identifiers": ["doi:10.5555/mcp.1"]})
        err, recent = await call("list_recent", n=1)
        assert not err and recent[0]["title"] == "Saved while the assistant was open"
        err, paper = await call("get_paper", ref="https://doi.org/10.5555/MCP.1")  # as a user would paste it
        assert not err and paper["id"] == recent[0]["id"]
        err, hits = await call("search_library", query="meltwater pulse", k=1)
        assert not err and hits[0]["title"] == melt.title

    try:
        session(launch(sample_copy), script)
    finally:
        for srv in servers:
            srv.stop()


def test_the_server_offers_the_same_tools_at_mcp_behind_the_token(sample_copy):
    srv = start_server(sample_copy, "--no-digest", "--no-backup")

    async def script(call, names):
        assert names == set(READ_TOOLS)  # read-only unless the server was started with --mcp-allow-write
        err, hits = await call("search_library", query="diffusion models", k=2)
        assert not err and len(hits) == 2
        err, paper = await call("get_paper", ref=hits[0]["id"])
        assert not err and paper["title"] == hits[0]["title"]
        err, said = await call("tag_paper", ref=hits[0]["id"], tags=["x"])
        assert err and "tag_paper" in said

    try:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        assert httpx.post(f"{srv.url}/mcp", json=body).status_code == 401
        assert httpx.post(f"{srv.url}/mcp/", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
        for spelled in ("//mcp", "/%6Dcp", "/%6dcp/"):  # routed to the same mount: still the token
            with httpx.Client() as raw:  # (the path as written: no client-side normalising)
                request = raw.build_request("POST", srv.url, json=body)
                request.url = request.url.copy_with(raw_path=spelled.encode())
                assert raw.send(request).status_code == 401, spelled
        assert httpx.post(f"{srv.url}/mcp", json=body, headers={**srv.auth, "Host": "evil.example"}).status_code == 421
        assert not any(p.startswith("/mcp") for p in httpx.get(f"{srv.url}/schema/openapi.json").json()["paths"])
        http_session(srv, script)
    finally:
        srv.stop()


def test_writes_only_with_allow_write_and_they_reach_the_running_server(sample_copy):
    srv = start_server(sample_copy, "--no-digest", "--no-backup", "--mcp-allow-write")

    async def script(call, names):
        assert names == set(READ_TOOLS) | set(WRITE_TOOLS)
        err, got = await call("add_paper", bibtex="@article{okafor2024tides,\n  title = {Tidal Mixing in Narrow "
                              "Fjords},\n  author = {Okafor, Ada and Lind, Per},\n  journal = {Journal of Fjord "
                              "Studies},\n  year = {2024},\n  doi = {10.5555/fjord.7}\n}\n")
        assert not err and len(got["added"]) == 1 and got["failed"] == []
        err, got = await call("add_paper", identifier="doi:10.5555/mcp.2", title="Counting Terns From Space",
                              authors=["B. Ortiz"], year=2025)
        assert not err and got["added"] is True and got["paper"]["year"] == 2025
        err, got = await call("add_paper", identifier="10.5555/fjord.7")  # in the library already
        assert not err and got["added"] is False and got["paper"]["title"] == "Tidal Mixing in Narrow Fjords"
        err, said = await call("add_paper", identifier="arxiv:2611.99999")
        assert err and "does not look identifiers up" in said
        err, said = await call("add_paper", bibtex="@article{broken, title = {no end")
        assert err and "nothing was added: line 1: unreadable BibTeX entry" in said
        err, said = await call("add_paper", bibtex="a note, not BibTeX")
        assert err and "no BibTeX entry" in said
        before = (await call("get_paper", ref="doi:10.5555/mcp.2"))[1]["tags"]
        err, got = await call("tag_paper", ref="doi:10.5555/mcp.2", tags=["to-read", "fieldwork"])
        assert not err and got["tags"] == before + ["to-read", "fieldwork"]
        err, got = await call("tag_paper", ref="doi:10.5555/mcp.2", tags=["to-read"])  # given twice: once
        assert not err and got["tags"].count("to-read") == 1

    async def over_http(call, names):
        assert names == set(READ_TOOLS) | set(WRITE_TOOLS)  # serve --mcp-allow-write
        err, got = await call("tag_paper", ref="doi:10.5555/mcp.2", tags=["from-http"])
        assert not err and got["tags"][-1] == "from-http"

    try:
        session(launch(sample_copy, "--allow-write"), script)
        http_session(srv, over_http)
        with srv.client() as c:  # the writes are the server's
            fjord = c.get("/api/lookup", params={"ref": "doi:10.5555/fjord.7", "k": 0}).json()
            assert fjord["found"] and fjord["paper"]["venue"] == "Journal of Fjord Studies"
            terns = c.get("/api/lookup", params={"ref": "doi:10.5555/mcp.2", "k": 0}).json()["paper"]
            assert set(terns["tags"]) >= {"to-read", "fieldwork", "from-http"}
    finally:
        srv.stop()
