"""The commands of the daily digest: its feeds, a day's papers, ratings, saving, mail and settings."""

from __future__ import annotations

import json
import time

from ..pairing import find_server
from .client import connect
from .common import DEFAULT_PORT, CLIError, home_of, out, progress_bar


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
