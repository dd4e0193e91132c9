"""`papershelf sources`: the libraries papershelf follows (Zotero, a file another tool rewrites, a folder)."""

from __future__ import annotations

import json

from .client import connect
from .common import CLIError, Parents, out


def describe(r: dict) -> str:
    """One sync report for people."""
    if r.get("error"):
        return f"[red]not synced[/red]: {r['error']}"
    if r.get("held"):
        return f"[yellow]held[/yellow]: {r['held']}"
    parts = [f"{r['added']} added", f"{r['updated']} updated", f"{r['unchanged']} unchanged"]
    if r.get("merged"):
        parts.insert(1, f"{r['merged']} already in the library")
    if r.get("removed"):
        parts.append(f"{r['removed']} gone from the source ({r['trashed']} to the trash)")
    if r.get("failed"):
        parts.append(f"{len(r['failed'])} unreadable")
    return ", ".join(parts) + f" in {r['seconds']:.2f} s"


def cmd_sources(args) -> int:
    be = connect(args)
    try:
        sub = args.sources_cmd
        if sub == "add":
            if args.where and args.where[0].lower() == "zotero" and len(args.where) <= 2:
                location, kind = (args.where[1] if len(args.where) == 2 else "zotero"), "zotero"
            elif len(args.where) == 1:
                location, kind = args.where[0], None
            else:
                raise CLIError("give one source: zotero [DATA_DIR], a file, or a folder")
            options = {k: False for k, off in (("automatic_tags", args.no_automatic_tags),
                                               ("collections", args.no_collections), ("notes", args.no_notes)) if off}
            got = be.add_source(location, kind, options)
            if args.json:
                out.print_json(json.dumps(got, default=str))
                return 0
            s = got["source"]
            out.print(f"following [bold]{s['id']}[/bold] ({s['kind']}: {s['location']})", highlight=False)
            if got.get("sync"):
                out.print("  first sync: " + describe(got["sync"]), highlight=False)
                for f in got["sync"].get("failed", [])[:10]:
                    out.print(f"  [dim]unreadable {f['position']}: {f['reason']}[/dim]", highlight=False)
            return 1 if got.get("sync", {}).get("error") else 0
        if sub == "sync":
            reports = (be.sync_all(args.retry_failed) if args.id is None
                       else [be.sync_source(args.id, args.confirm, args.retry_failed)])
            if args.json:
                out.print_json(json.dumps(reports, default=str))
            else:
                for r in reports:
                    out.print(f"{r['source']}: {describe(r)}", highlight=False)
                    for f in r.get("failed", [])[:10]:
                        out.print(f"  [dim]unreadable {f['position']}: {f['reason']}[/dim]", highlight=False)
                if not reports:
                    out.print("no sources yet: `papershelf sources add zotero` (or a .bib file, or a folder)")
            return 1 if any(r.get("error") or r.get("held") for r in reports) else 0
        if sub == "remove":
            trashed = be.remove_source(args.id, args.keep_papers)
            out.print(f"no longer following {args.id}" + (f"; {len(trashed)} papers only it held went to the trash "
                                                          "(restorable)" if trashed else ""), highlight=False)
            return 0
        sources = be.sources()
        if args.json:
            out.print_json(json.dumps(sources, default=str))
            return 0
        if not sources:
            out.print("no sources yet: `papershelf sources add zotero` (or a .bib file, or a folder)")
        for s in sources:
            last = s.get("last_report")
            when = str(s["last_sync_at"])[:19].replace("T", " ") if s.get("last_sync_at") else "never"
            out.print(f"[bold]{s['id']}[/bold]  {s['kind']}  {s['location']}  {s['papers']} papers  last sync {when}",
                      highlight=False)
            if s.get("held"):
                out.print(f"  [yellow]held[/yellow]: {s['held']}", highlight=False)
            elif s.get("last_error"):
                out.print(f"  [red]last error[/red]: {s['last_error']}", highlight=False)
            elif last:
                out.print("  " + describe(last), highlight=False)
    finally:
        be.close()
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    common, json_opt = parents.common, parents.json_opt
    s = sub.add_parser("sources", parents=[common, json_opt],
                       help="libraries papershelf follows: Zotero, a .bib/CSL-JSON/RIS file, a folder")
    ss = s.add_subparsers(dest="sources_cmd", metavar="add|list|sync|remove")
    a = ss.add_parser("add", parents=[common, json_opt], help="follow Zotero, a file another tool rewrites, or a folder")
    a.add_argument("where", nargs="+", metavar="zotero [DATA_DIR] | FILE | DIR",
                   help="`zotero` (its data folder found by itself, or given), a .bib/CSL-JSON/RIS file "
                        "(Better BibTeX's automatic export), or a folder of PDFs and exports")
    a.add_argument("--no-automatic-tags", action="store_true", help="Zotero: leave out automatic tags")
    a.add_argument("--no-collections", action="store_true", help="Zotero: do not tag papers with their collections")
    a.add_argument("--no-notes", action="store_true", help="Zotero: do not bring child notes")
    ss.add_parser("list", parents=[common, json_opt], help="sources, their papers, last sync and last error")
    y = ss.add_parser("sync", parents=[common, json_opt], help="sync now (every source, or one)")
    y.add_argument("id", nargs="?")
    y.add_argument("--confirm", action="store_true",
                   help="apply a sync that was held because it removes more than a fifth of the source's papers")
    y.add_argument("--retry-failed", action="store_true",
                   help="read again the files that failed before (a sync skips them otherwise)")
    r = ss.add_parser("remove", parents=[common], help="stop following a source")
    r.add_argument("id")
    r.add_argument("--keep-papers", action="store_true",
                   help="keep its papers in the library (else those only it held go to the trash)")
    s.set_defaults(func=cmd_sources, sources_cmd="list")
