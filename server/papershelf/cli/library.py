"""The commands on the library: import, related, search, show, export, stats, doctor, watch, token."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from ..pairing import ensure_token, find_server
from .client import connect
from .common import CLIError, Parents, console, home_of, out, progress_bar


def cmd_import(args) -> int:
    from .. import importers
    from ..library import sample_path

    paths, skipped = [], []
    for given in (Path(p).expanduser() for p in args.paths):
        if given.is_dir():  # a folder: every file below it that an importer reads, in one report
            readable, other = importers.files_in(given)
            paths += readable
            skipped += other
        else:
            paths.append(given)
    if args.sample:
        paths.insert(0, sample_path())
    if not paths and not skipped:
        raise CLIError("give one or more files or folders to import, or --sample")
    be = connect(args)
    totals = {"added": [], "merged": [], "failed": [], "warnings": [], "files": []}
    try:
        with progress_bar() as prog:
            pdfs = [p for p in paths if p.suffix.lower() == ".pdf" and not args.format]
            batches: list[tuple[Path | list[Path], str]] = [(p, "file") for p in paths if p not in pdfs]
            if pdfs:  # read together, in worker processes
                batches.append((pdfs, "pdfs"))
            for path, kind in batches:
                if kind == "pdfs":
                    task = prog.add_task(f"reading {len(path)} PDF{'s' * (len(path) != 1)}", total=len(path))
                    rep = be.import_pdfs(path, lambda n, t=task: prog.advance(t, n))
                    path = path[0].parent if len(path) > 1 else path[0]
                else:
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
            if not args.no_wait and (be.pending() or be.text_waiting()):
                # the papers' vectors, then every page of the PDFs: searchable by words and by meaning
                task = prog.add_task("embedding (papers, then the PDFs' pages)", total=None)
                be.embed(lambda done, total: prog.update(task, completed=done, total=total))
        pending = be.pending()
    finally:
        be.close()
    unchanged = sum(1 for m in totals["merged"] if not m.get("changed"))
    if args.json:
        out.print_json(json.dumps({"added": len(totals["added"]), "merged": len(totals["merged"]),
                                   "unchanged": unchanged, "failed": totals["failed"],
                                   "warnings": totals["warnings"], "pending": pending,
                                   "files": totals["files"], "skipped": [str(p) for p in skipped],
                                   "added_ids": totals["added"]}))
    else:
        for f in totals["failed"]:
            console.print(f"[red]failed[/red] {f['file']} {f['position']}: {f['reason']}", highlight=False)
        for w in totals["warnings"]:
            console.print(f"[yellow]warning[/yellow] {w['file']} {w['position']}: {w['field']} {w['value']!r} "
                          f"{w['reason']} (the paper is imported)", highlight=False, markup=True)
        if skipped:
            shown = ", ".join(str(p) for p in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            console.print(f"[yellow]skipped[/yellow] {len(skipped)} file{'s' * (len(skipped) != 1)} in no format papershelf reads: {shown}",
                          highlight=False)
        msg = (f"{len(paths)} files: " if len(paths) > 1 or skipped else "") + \
            f"added {len(totals['added'])}, merged {len(totals['merged'])}"
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
                                    **({"passage": h["passage"]} if h.get("passage") else {}),
                                    "year": h["paper"]["year"], "authors": h["paper"]["authors"]} for h in hits]))
        return
    if not hits:
        out.print(f"no {what} in the library")
        return
    t = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for col in ("score", "id", "year", "title", "why"):
        t.add_column(col, overflow="fold")
    for h in hits:
        t.add_row(f"{h['score']:.3f}", h["id"], str(h["paper"]["year"] or ""), escape(h["title"]),
                  escape(", ".join(h["why"] + [f"[{m}]" for m in h.get("matched", [])])))
        if h.get("passage"):  # the passage of its PDF that makes it related (or holds the words searched)
            p = h["passage"]
            t.add_row("", "", "", f"[dim]{escape(p['file'])}, page {p['page']}:[/dim] {_window(p, 160)}", "")
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


def _window(h: dict, width: int = 240) -> str:
    """The part of a passage around its first matched word, with the matched words in bold."""
    text, marks = h["text"], [tuple(m) for m in h["highlights"]]
    start = max(0, (marks[0][0] if marks else 0) - width // 3)
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = min(len(text), start + width)
    parts, at = [], start
    for a, b in marks:
        if a < start or b > end:
            continue
        parts += [escape(text[at:a]), f"[bold]{escape(text[a:b])}[/bold]"]
        at = b
    parts.append(escape(text[at:end]))
    return ("…" if start else "") + "".join(parts) + ("…" if end < len(text) else "")


def cmd_passages(args) -> int:
    be = connect(args)
    try:
        hits = be.passages(" ".join(args.query), args.limit, args.paper, 0 if args.all else 1)
        waiting = be.text_waiting() if not hits else 0
    except LookupError as e:
        raise CLIError(f"no paper in the library for {e.args[0]!r}") from e
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(hits))
        return 0
    if not hits:
        out.print("no passage in your PDFs matches" + (f" ({waiting} files and passages are still being read and "
                                                       "embedded)" if waiting else ""), highlight=False)
        return 0
    for h in hits:
        out.print(f"[bold]{escape(h['title'])}[/bold]  [dim]{h['paper_id']}[/dim]", highlight=False)
        out.print(f"  {escape(h['file'])}  page {h['page']}" + (f"  · {escape(h['section'])}" if h["section"] else "")
                  + f"  [dim]{h['score']:.3f} {'+'.join(h['matched'])}[/dim]", highlight=False)
        out.print("  " + _window(h), highlight=False)
    return 0


def cmd_key(args) -> int:
    be = connect(args)
    try:
        got = be.set_citation_key(args.id, args.key) if args.key else be.citation_key(args.id)
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(got))
        return 0
    out.print(got["key"], highlight=False)
    if got["aliases"]:
        console.print("still found by: " + ", ".join(got["aliases"]), highlight=False)
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
    out.print(" · ".join(str(x) for x in (p["year"], p["venue"], p.get("entry_type")) if x), highlight=False)
    out.print(f"id {p['id']}   " + "   ".join(p["identifiers"]), highlight=False)
    if p.get("edited"):
        out.print("edited by you (no import or sync changes them): " + ", ".join(p["edited"]), highlight=False)
    if p["url"]:
        out.print(p["url"], highlight=False)
    if p["tags"]:
        out.print("tags: " + ", ".join(p["tags"]), highlight=False)
    if p.get("deleted_at"):
        out.print("[yellow]in the trash[/yellow]")
    out.print()
    out.print(p["abstract"] or "(no abstract)", highlight=False)
    return 0


def _edits(args, current: dict) -> dict:
    """The fields a `papershelf edit` names, as PATCH /api/papers/{id} takes them."""
    changes: dict = {}
    for field in ("title", "venue", "abstract", "url", "entry_type"):
        if getattr(args, field) is not None:
            changes[field] = getattr(args, field)
    if args.author:
        changes["authors"] = [a for a in args.author if a.strip()]
    if args.year is not None:
        if args.year.lower() in ("", "none"):
            changes["year"] = None
        elif args.year.isdigit():
            changes["year"] = int(args.year)
        else:
            raise CLIError(f"--year takes a year or 'none', not {args.year!r}")
    if args.add_id or args.remove_id:
        gone = set(args.remove_id)
        unknown = gone - set(current["identifiers"])
        if unknown:
            raise CLIError(f"the paper has no identifier {', '.join(sorted(unknown))} (it has: "
                           f"{', '.join(current['identifiers']) or 'none'})")
        changes["identifiers"] = [i for i in current["identifiers"] if i not in gone] + list(args.add_id)
    if args.release:
        changes["release"] = args.release
    if args.tag is not None:
        changes["tags"] = args.tag
    if args.notes is not None:
        changes["notes"] = args.notes
    return changes


def cmd_edit(args) -> int:
    be = connect(args)
    try:
        try:
            current = be.show(args.id)
        except LookupError as e:
            raise CLIError(f"no paper in the library for {e.args[0]!r}") from e
        changes = _edits(args, current)
        if not changes:
            raise CLIError("say what to change: --title, --author (once per author), --year, --venue, --type, "
                           "--abstract, --url, --add-id, --remove-id, --release, --tag, --notes")
        p = be.edit(current["id"], changes)
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(p, default=str))
    else:
        out.print(f"edited [bold]{p['title']}[/bold] ({p['id']})", highlight=False)
        if p.get("edited"):
            out.print("yours now (no import or sync changes them): " + ", ".join(p["edited"]), highlight=False)
        if p.get("mirrors"):
            out.print(f"[yellow]it mirrors {', '.join(p['mirrors'])}: edited here, it stays so here only; papershelf "
                      f"never writes to {', '.join(p['mirrors'])}[/yellow]", highlight=False)
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
        text = s["text"]
        if text["files_read"] or text["files_waiting"]:
            waiting = [f"{text['files_waiting']} files to read" if text["files_waiting"] else "",
                       f"{text['passages_waiting']} passages waiting for vectors" if text["passages_waiting"] else ""]
            waiting = [w for w in waiting if w]
            out.print(f"pdfs     {text['pages_read']} pages of {text['files_read']} files read, {text['passages']} "
                      f"passages" + (f" ({', '.join(waiting)})" if waiting else ""), highlight=False)
            if text["unsearchable_pages"]:
                from ..fulltext import scan_note  # here: the reading wing is heavy to import for every command

                out.print(f"         [yellow]{scan_note(text['unsearchable_pages'])}[/yellow]", highlight=False)
        if s.get("feeds"):
            failing = f", [red]{s['feeds_failing']} failing[/red] (`papershelf feeds list` says why)" \
                if s["feeds_failing"] else ""
            out.print(f"digest   {s['candidates']} new papers waiting, {s['feeds']} feeds{failing}", highlight=False)
        if s.get("sources"):
            trouble = [f"[red]{s['sources_failing']} failing[/red]" if s["sources_failing"] else "",
                       f"[yellow]{s['sources_held']} waiting for --confirm[/yellow]" if s["sources_held"] else ""]
            trouble = [t for t in trouble if t]
            out.print(f"sources  {s['sources']} followed" + (", " + ", ".join(trouble) + " (`papershelf sources list` "
                      "says why)" if trouble else ""), highlight=False)
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
    import signal

    from ..sources.inbox import Inbox

    be = connect(args)

    def filed(target: Path, report: dict) -> None:
        n = lambda k: len(report.get(k, []))  # noqa: E731
        status = "[red]failed[/red]" if target.parent.name == "failed" else "[green]done[/green]"
        out.print(f"{status} {target.name}: added {n('added')}, merged {n('merged')}, failed {n('failed')}"
                  + (f" — {report['error']}" if report.get("error") else ""), highlight=False)

    inbox = Inbox(Path(args.dir).expanduser(), be.import_dropped, filed)
    be.start_embedding()
    console.print(f"watching {inbox.folder} (through {'the server at ' + be.url if be.remote else 'the library file'}"
                  "); Ctrl-C stops", highlight=False)

    def stop(*_):
        raise KeyboardInterrupt  # a SIGTERM stops as Ctrl-C does: the file in hand is finished and reported first

    signal.signal(signal.SIGTERM, stop)
    try:
        asyncio.run(inbox.run())
    except KeyboardInterrupt:
        pass
    finally:
        be.close()
    return 0


def cmd_token(args) -> int:
    out.print(ensure_token(home_of(args)), highlight=False)
    return 0


def cmd_open(args) -> int:
    """The library page, signed in: its link (with the token) printed here and opened in the browser. The
    server never writes that link to its log; this is where it is given again."""
    home = home_of(args)
    url = find_server(home)
    if url is None:
        raise CLIError("papershelf is not serving this library: start it (papershelf serve, or papershelf service "
                       "install), then run papershelf open again")
    link = f"{url}/#token={ensure_token(home)}"
    out.print(link, highlight=False)
    if not args.print_only:
        import webbrowser

        webbrowser.open(link)
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    common, json_opt, filt = parents.common, parents.json_opt, parents.filt
    s = sub.add_parser("watch", parents=[common], help="import every file dropped into a folder (no server needed)")
    s.add_argument("dir", help="the folder to watch; imported files move to done/ or failed/")
    s.set_defaults(func=cmd_watch)
    s = sub.add_parser("import", parents=[common, json_opt], help="import files and folders (format detected from content)")
    s.add_argument("paths", nargs="*", help="files to import, or folders (every file below them that papershelf reads)")
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
    s = sub.add_parser("passages", parents=[common, json_opt],
                       help="search every page of your PDFs: words, a \"quoted phrase\", or a question")
    s.add_argument("query", nargs="+")
    s.add_argument("--paper", help="inside this paper's PDFs only (an id, arXiv id, DOI, URL or key)")
    s.add_argument("--limit", "-k", type=int, default=10, help="how many passages (default 10)")
    s.add_argument("--all", action="store_true", help="every matching passage, not only each paper's best")
    s.set_defaults(func=cmd_passages)
    s = sub.add_parser("show", parents=[common, json_opt], help="one paper")
    s.add_argument("id")
    s.set_defaults(func=cmd_show)
    s = sub.add_parser("key", parents=[common, json_opt],
                       help="a paper's citation key (given once, kept through edits), or set your own")
    s.add_argument("id", help="library id, arXiv id, DOI, URL, or a citation key")
    s.add_argument("key", nargs="?", help="the key to give it (its old one still finds it)")
    s.set_defaults(func=cmd_key)
    s = sub.add_parser("edit", parents=[common, json_opt],
                       help="correct a paper's metadata; what you edit is yours (no import or sync overwrites it)")
    s.add_argument("id", help="library id, arXiv id, DOI, URL, or the key it was imported with")
    s.add_argument("--title")
    s.add_argument("--author", action="append", default=[],
                   help="an author, as 'Given Family'; once per author, in order (replaces the list)")
    s.add_argument("--year", help="a year, or 'none'")
    s.add_argument("--venue")
    s.add_argument("--type", dest="entry_type", help="BibTeX entry type: article, inproceedings, phdthesis, ...")
    s.add_argument("--abstract")
    s.add_argument("--url")
    s.add_argument("--add-id", action="append", default=[], metavar="ID", help="add an identifier (doi:..., arxiv:...)")
    s.add_argument("--remove-id", action="append", default=[], metavar="ID", help="take an identifier away")
    s.add_argument("--release", action="append", default=[], metavar="FIELD",
                   choices=["title", "authors", "year", "venue", "entry_type", "abstract", "url", "identifiers"],
                   help="give a field back to the paper's sources (no longer yours)")
    s.add_argument("--tag", action="append", help="set the tags (once per tag; replaces them)")
    s.add_argument("--notes")
    s.set_defaults(func=cmd_edit)
    s = sub.add_parser("export", parents=[common], help="write the library as JSONL or BibTeX")
    s.add_argument("--format", choices=["jsonl", "bibtex", "csljson", "ris"], default="jsonl")
    s.add_argument("--output", "-o", help="file to write (default: standard output)")
    s.set_defaults(func=cmd_export)
    s = sub.add_parser("stats", parents=[common, json_opt], help="papers, vectors, model, size")
    s.set_defaults(func=cmd_stats)
    s = sub.add_parser("doctor", parents=[common, json_opt], help="check model files, database and disk")
    s.set_defaults(func=cmd_doctor)
    s = sub.add_parser("token", parents=[common], help="print the pairing token for the extension and scripts")
    s.set_defaults(func=cmd_token)
    s = sub.add_parser("open", parents=[common], help="open the library page, signed in (prints its link too)")
    s.add_argument("--print-only", action="store_true", help="print the link, open no browser")
    s.set_defaults(func=cmd_open)
