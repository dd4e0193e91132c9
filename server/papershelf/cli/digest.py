"""The commands of the daily digest: its feeds, a day's papers, ratings, saving, mail and settings."""

from __future__ import annotations

import json
import time

from ..pairing import find_server
from .client import connect
from .common import DEFAULT_PORT, CLIError, Parents, home_of, out, progress_bar


def cmd_feeds(args) -> int:
    be = connect(args)
    try:
        if args.feeds_cmd == "add":
            got = be.add_feed(args.source)
            f, r = got["feed"], got["fetched"]
            if args.json:
                out.print_json(json.dumps(got, default=str))
            else:
                out.print(f"added {f['source']} ({f['url']}): {r['new']} new papers, {r['in_library']} already in "
                          "your library", highlight=False)
        elif args.feeds_cmd == "remove":
            if not be.remove_feed(args.source):
                raise CLIError(f"{args.source} is not a feed (`papershelf feeds list` shows them)")
            out.print(f"removed {args.source}", highlight=False)
        else:
            feeds = be.feeds()
            if args.json:
                out.print_json(json.dumps(feeds, default=str))
            elif not feeds:
                out.print("no feeds yet: `papershelf feeds add arxiv:cs.LG` (or hf:daily, or a URL)")
            for f in feeds:
                state = (f"[red]last error[/red] {str(f['last_error_at'])[:16]}: {f['last_error']}" if f["last_error"]
                         else f"last fetched {str(f['last_success_at'])[:16]} ({f['last_count']} papers)"
                         if f["last_success_at"] else "not fetched yet")
                out.print(f"{f['source']}  {state}", highlight=False)
    finally:
        be.close()
    return 0


def cmd_digest(args) -> int:
    be = connect(args)
    try:
        sub = args.digest_cmd
        if sub == "fetch":
            reports = be.fetch()
            with progress_bar() as prog:
                total = be.digest_pending()
                if total and not args.no_wait:
                    task = prog.add_task("embedding new papers", total=total)
                    while (left := be.digest_pending()) > 0:
                        prog.update(task, completed=total - left)
                        if not be.remote:
                            be.embed(None)
                        else:
                            time.sleep(0.5)
            if args.json:
                out.print_json(json.dumps(reports))
            for r in reports:
                if not args.json:
                    out.print(f"{r['source']}: " + (f"[red]failed[/red] {r['error']}" if r["error"] else
                              "not modified since the last fetch" if r["not_modified"] else
                              f"{r['new']} new, {r['seen']} seen before, {r['in_library']} already in your library"),
                              highlight=False)
            return 1 if reports and all(r["error"] for r in reports) else 0
        if sub == "rate":
            be.rate(args.id, None if args.rating == "none" else args.rating)
            out.print(f"{args.id}: {args.rating}", highlight=False)
            return 0
        if sub == "save":
            p = be.save_candidate(args.id)
            out.print(f"saved to your library as {p['id']}: {p['title']}", highlight=False)
            return 0
        if sub == "send":
            out.print(f"sent to {be.send()}", highlight=False)
            return 0
        if sub == "feedback":
            rows = be.feedback()
            if args.json:
                out.print_json(json.dumps(rows, default=str))
            for r in rows if not args.json else []:
                out.print(f"{'👍' if r['rating'] == 'up' else '👎'} {str(r['rated_at'])[:10]} {r['title']}", highlight=False)
            return 0
        if sub == "settings":
            st = be.digest_settings(args.at, args.prune_days)
            out.print(f"fetched daily at {st['at']} while `papershelf serve` runs; unsaved papers kept "
                      f"{st['prune_days']} days", highlight=False)
            return 0
        if sub == "feed-url":
            token = be.feed_token()
            url = find_server(home_of(args)) or f"http://127.0.0.1:{DEFAULT_PORT}"
            out.print(f"{url}/digest.atom?key={token}", highlight=False)
            return 0
        page = be.digest(args.date, args.limit, args.tag)
        if args.json:
            out.print_json(json.dumps(page))
            return 0
        if page["day"] is None:
            out.print(page["note"], highlight=False)
            return 0
        out.print(f"[bold]digest of {page['day']}[/bold]: {page['total']} papers"
                  + (f" ({page['note']})" if page["note"] else ""), highlight=False)
        for n, it in enumerate(page["items"], 1):
            mark = " [green]in your library[/green]" if it["in_library"] else ""
            fb = {"up": " 👍", "down": " 👎"}.get(it["feedback"] or "", "")
            out.print(f"{n:>3}. {it['title']}{mark}{fb}  [dim]{it['id']}[/dim]", highlight=False)
            close = "; ".join(p["title"][:60] for p in it["why"]["papers"][:2])
            terms = ", ".join(it["why"]["terms"])
            out.print(f"     [dim]{it['feed']}{' ' + it['announce'] if it['announce'] else ''} · close to: {close}"
                      + (f" · {terms}" if terms else "") + "[/dim]", highlight=False)
    finally:
        be.close()
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    common, json_opt = parents.common, parents.json_opt
    s = sub.add_parser("feeds", parents=[common, json_opt], help="the feeds the daily digest fetches")
    fs = s.add_subparsers(dest="feeds_cmd", metavar="add|list|remove")
    a = fs.add_parser("add", parents=[common, json_opt], help="add a feed (fetched once to check it)")
    a.add_argument("source", help="arxiv:CATEGORY (arxiv:cs.LG), hf:daily, or an http(s) URL of a feed")
    fs.add_parser("list", parents=[common, json_opt], help="feeds with their last success and last error")
    r = fs.add_parser("remove", parents=[common], help="stop fetching a feed")
    r.add_argument("source")
    s.set_defaults(func=cmd_feeds, feeds_cmd="list")
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
