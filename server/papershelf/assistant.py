"""What an AI assistant reaches over the Model Context Protocol (the official SDK, `mcp`): the library's ranked
search, related papers with their reasons, passages with their page, a paper by any identifier, the newest papers
and today's digest, as tools. Read-only unless the user allows writes (`add_paper`, `tag_paper`). No tool takes a
file path: an assistant's words never name a file papershelf reads or writes.

The tools run on a backend (cli/client.py's Backend: the running server's API, or the library file; at the
server's /mcp, its own library) that `connect` opens for each call and closes after it. An assistant keeps its MCP
server running for hours, and one holding the library file would keep `papershelf serve` from starting (DuckDB
allows one writing process). Calls are taken one at a time: two open on the same library file in one process
would be two libraries."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

NAME = "papershelf"
INSTRUCTIONS = ("The user's own library of research papers, kept on their machine: search it, find the papers "
                "related to a paper or a text (with why), find passages in the papers' full text (with their page), "
                "read a paper's record, list what was added lately and today's digest of new papers. A paper is "
                "named by its library id or any identifier the user would paste (arxiv:2105.05233, a DOI, a URL, "
                "a citation key).")
MAX_K = 50
BRIEF = ("id", "title", "authors", "year", "venue", "identifiers", "tags", "added_at")


def brief(paper: dict) -> dict[str, Any]:
    """A paper's record without its abstract, notes and files: what a list needs (get_paper has the rest)."""
    return {k: paper[k] for k in BRIEF if k in paper}


def _k(k: int) -> int:
    return max(1, min(int(k), MAX_K))


class Tools:
    """The tools, each a call on a backend from `connect` (a context manager), one call at a time."""

    def __init__(self, connect: Callable[[], contextlib.AbstractContextManager[Any]], error: type[Exception]):
        self.connect = connect
        self.error = error  # what a backend raises with a message for the user (cli.common.CLIError)
        self._one_at_a_time = threading.Lock()

    @contextlib.contextmanager
    def backend(self) -> Iterator[Any]:
        from mcp.server.mcpserver.exceptions import ToolError

        with self._one_at_a_time:
            try:
                with self.connect() as backend:
                    yield backend
            except self.error as e:  # "no paper in the library for …", a refused edit: the assistant reads why
                raise ToolError(str(e)) from e

    # -- read ------------------------------------------------------------------------------------------------
    def search_library(self, query: str, k: int = 10) -> list[dict[str, Any]]:
        """Search the library by words and by meaning together. Each hit has the paper, its score and which
        signals matched it (identifier, keyword, semantic)."""
        with self.backend() as b:
            hits = b.search(query, _k(k))
        return [{"id": h["id"], "title": h["title"], "score": round(h["score"], 4), "matched": h.get("matched", []),
                 "paper": brief(h.get("paper") or {})} for h in hits]

    def related_papers(self, ref: str | None = None, text: str | None = None, k: int = 10) -> list[dict[str, Any]]:
        """Papers of the library related to one of its papers (`ref`: its id or any identifier) or to a text
        (`text`: an abstract, a paragraph, a question). Each comes with why (shared topics) and, when its full
        text is read, the passage closest to the query."""
        if bool(ref) == bool(text):
            from mcp.server.mcpserver.exceptions import ToolError

            raise ToolError("give either ref (a paper of the library) or text, not both")
        with self.backend() as b:
            return b.related(ref or None, text or None, _k(k), {})

    def find_passages(self, query: str, paper: str | None = None, k: int = 10) -> list[dict[str, Any]]:
        """Passages of the papers' full text (their PDFs, every page) that match a phrase or say the same in
        other words; each with its paper, page and snippet. `paper` keeps to one paper."""
        with self.backend() as b:
            return b.passages(query, _k(k), paper or None)

    def get_paper(self, ref: str) -> dict[str, Any]:
        """One paper's whole record: title, authors, year, venue, abstract, identifiers, tags, notes, files
        (by the ids the library serves them under). `ref`: its id or any identifier (arXiv id, DOI, URL)."""
        with self.backend() as b:
            return b.show(ref)

    def list_recent(self, n: int = 10) -> list[dict[str, Any]]:
        """The papers added to the library most recently, newest first."""
        with self.backend() as b:
            return [brief(p) for p in b.recent(_k(n))]

    def todays_digest(self, limit: int = 20) -> dict[str, Any]:
        """Today's new papers from the user's feeds, ranked for this library, each with why it was ranked there
        and whether it is in the library already."""
        with self.backend() as b:
            return b.digest(None, _k(limit), None)

    # -- write (with --allow-write only) ----------------------------------------------------------------------
    def add_paper(self, identifier: str | None = None, bibtex: str | None = None, title: str | None = None,
                  abstract: str = "", authors: list[str] | None = None, year: int | None = None) -> dict[str, Any]:
        """Add a paper: from a BibTeX entry (`bibtex`), or by its `identifier` (an arXiv id or DOI) with its
        `title` (and abstract, authors, year when known). papershelf works offline: an identifier alone is added
        only when today's digest holds that paper. A paper already in the library is merged, not doubled."""
        from mcp.server.mcpserver.exceptions import ToolError

        if bibtex and not re.search(r"@\w+\s*[{(]", bibtex):
            raise ToolError("no BibTeX entry in what was given (an entry starts with @article{, @inproceedings{ …)")
        if bibtex:
            import tempfile
            from pathlib import Path

            with tempfile.TemporaryDirectory(prefix="papershelf-mcp-") as folder:  # our own file, never theirs
                entry = Path(folder) / "from-assistant.bib"
                entry.write_text(bibtex, encoding="utf-8")
                with self.backend() as b:
                    report = b.import_file(entry, "bibtex", None)
            failed = [f"{f['position']}: {f['reason']}" for f in report["failed"]]
            if report.get("error") or not (report["added"] or report["merged"]):
                raise ToolError("nothing was added: " + (report.get("error") or "; ".join(failed)
                                                          or "no BibTeX entry in what was given"))
            return {"added": report["added"], "merged": [m["id"] for m in report["merged"]], "failed": failed}
        if not (identifier or title):
            raise ToolError("give a BibTeX entry, or an identifier with the paper's title")
        with self.backend() as b:
            if not title:
                try:
                    return {"paper": brief(b.show(identifier)), "added": False}  # in the library already
                except self.error:
                    pass
                try:
                    return {"paper": brief(b.save_candidate(identifier)), "added": True}  # from today's digest
                except self.error:
                    raise ToolError(f"{identifier} is not in the library or today's digest, and papershelf does not "
                                    "look identifiers up: give its title too (or its BibTeX)") from None
            saved = b.save({"title": title, "abstract": abstract, "authors": authors or [], "year": year,
                            "identifiers": [identifier] if identifier else []})
        return {"paper": brief(saved["paper"]), "added": saved["added"]}

    def tag_paper(self, ref: str, tags: list[str]) -> dict[str, Any]:
        """Add tags to a paper (the tags it has stay)."""
        with self.backend() as b:
            have = b.show(ref)["tags"]
            paper = b.edit(ref, {"tags": have + [t for t in tags if t not in have]})
        return brief(paper)


READ_TOOLS = ("search_library", "related_papers", "find_passages", "get_paper", "list_recent", "todays_digest")
WRITE_TOOLS = ("add_paper", "tag_paper")


def make_server(tools: Tools, allow_write: bool = False):
    """An MCP server offering the read tools, and the write tools too when `allow_write`."""
    from mcp.server.mcpserver import MCPServer
    from mcp_types import ToolAnnotations

    from . import __version__

    server = MCPServer(NAME, instructions=INSTRUCTIONS, version=__version__, log_level="WARNING")
    for name in READ_TOOLS:
        server.add_tool(getattr(tools, name), name=name, annotations=ToolAnnotations(readOnlyHint=True),
                        structured_output=True)
    if allow_write:
        for name in WRITE_TOOLS:
            server.add_tool(getattr(tools, name), name=name,
                            annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False),
                            structured_output=True)
    return server
