"""The `papershelf` command: one module per group of commands (library.py, serve.py, digest.py), the client
that runs them locally or through a running server (client.py), and the argument parser here."""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from .common import DEFAULT_PORT, CLIError, console
from .backup import cmd_backup, cmd_restore
from .digest import cmd_digest, cmd_feeds
from .extension import cmd_extension
from .library import (cmd_doctor, cmd_export, cmd_import, cmd_open, cmd_related, cmd_search, cmd_show, cmd_stats,
                      cmd_token, cmd_watch)
from .serve import cmd_serve
from .service import add_parser as add_service_parser
from .sources import cmd_sources


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
    s.add_argument("--no-follow", action="store_true", help="do not sync followed sources (papershelf sources)")
    s.add_argument("--no-backup", action="store_true", help="do not back the library up each day (papershelf backup)")
    s.set_defaults(func=cmd_serve)

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

    s = sub.add_parser("backup", parents=[common, json_opt],
                       help="back up the library now (into <home>/backups/, and PATH if given)")
    s.add_argument("path", nargs="?", help="also copy the backup to this new folder (another disk)")
    s.set_defaults(func=cmd_backup)

    s = sub.add_parser("restore", parents=[common], help="put a backup back (the current library is kept aside)")
    s.add_argument("path", help="a backup's folder, or its name in <home>/backups/")
    s.set_defaults(func=cmd_restore)

    s = sub.add_parser("feeds", parents=[common, json_opt], help="the feeds the daily digest fetches")
    fs = s.add_subparsers(dest="feeds_cmd", metavar="add|list|remove")
    a = fs.add_parser("add", parents=[common, json_opt], help="add a feed (fetched once to check it)")
    a.add_argument("source", help="arxiv:CATEGORY (arxiv:cs.LG), hf:daily, or an http(s) URL of a feed")
    fs.add_parser("list", parents=[common, json_opt], help="feeds with their last success and last error")
    r = fs.add_parser("remove", parents=[common], help="stop fetching a feed")
    r.add_argument("source")
    s.set_defaults(func=cmd_feeds, feeds_cmd="list")

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

    s = sub.add_parser("extension", help="write the browser extension, ready to load (folder or zip)")
    s.add_argument("--browser", choices=["chromium", "firefox"], default="chromium",
                   help="chromium (Chrome, Edge, Brave…) or firefox (default chromium)")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--out", help="folder to write it into (new or empty; default ./papershelf-extension-BROWSER)")
    where.add_argument("--zip", help="write one zip instead (for Firefox: an .xpi)")
    s.set_defaults(func=cmd_extension)

    add_service_parser(sub, common, json_opt)

    s = sub.add_parser("token", parents=[common], help="print the pairing token for the extension and scripts")
    s.set_defaults(func=cmd_token)
    s = sub.add_parser("open", parents=[common], help="open the library page, signed in (prints its link too)")
    s.add_argument("--print-only", action="store_true", help="print the link, open no browser")
    s.set_defaults(func=cmd_open)
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
    except BrokenPipeError:
        # The reader went away (`papershelf export | head`): stop quietly, as `git log | head` does. Python
        # would complain once more when it flushes stdout at exit, so stdout points at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + 13  # SIGPIPE, as a shell reports a program it ended
