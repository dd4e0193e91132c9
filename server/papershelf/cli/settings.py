"""`papershelf settings`: the library's own settings (completion from registries, off by default)."""

from __future__ import annotations

import json

from .client import connect
from .common import CLIError, Parents, out


def cmd_settings(args) -> int:
    be = connect(args)
    try:
        if args.setting == "enrich" and (args.value or args.contact is not None):
            if args.value not in (None, "on", "off"):
                raise CLIError(f"papershelf settings enrich takes on or off, not {args.value!r}")
            state = be.set_enrich(None if args.value is None else args.value == "on", args.contact)
        else:
            state = be.enrich_state()
    finally:
        be.close()
    if args.json:
        out.print_json(json.dumps(state))
        return 0
    out.print(f"enrich   {'on' if state['on'] else 'off'}"
              + (f" (contact {state['contact']})" if state["contact"] else ""), highlight=False)
    if state["on"]:
        out.print(f"         {state['waiting']} papers waiting, {state['answers']} identifiers asked about "
                  f"({state['found']} found), {state['completed']} papers completed since the server started",
                  highlight=False)
        for registry, seconds in state["paused"].items():
            out.print(f"         [yellow]{registry} asked us to wait: {seconds:.0f} s more[/yellow]", highlight=False)
        if state["last_error"]:
            out.print(f"         last problem: {state['last_error']}", highlight=False)
    else:
        out.print("         papers are never completed online (`papershelf settings enrich on --contact EMAIL`: "
                  "a paper's DOI or arXiv id is sent to Crossref, DataCite or arXiv)", highlight=False)
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    s = sub.add_parser("settings", parents=[parents.common, parents.json_opt],
                       help="the library's settings: completing papers from Crossref, DataCite and arXiv (opt-in)")
    s.add_argument("setting", nargs="?", choices=["enrich"], help="enrich: complete papers from their registries")
    s.add_argument("value", nargs="?", help="on or off")
    s.add_argument("--contact", help="your email address: sent with each request, as the registries ask")
    s.set_defaults(func=cmd_settings)
