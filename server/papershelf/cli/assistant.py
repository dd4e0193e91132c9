"""`papershelf mcp`: the library's tools for an AI assistant (assistant.py), over the Model Context Protocol on
stdin and stdout. Each tool call goes through the running server when there is one, else opens the library file
for that call (client.connect), as every other command does."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator

from . import client
from .common import CLIError, home_of


def config_blocks(args) -> dict[str, dict]:
    """The configuration that starts this command, as Claude Desktop and VS Code write it: this Python and this
    home, so the assistant reaches the same library whatever its environment says."""
    command = [sys.executable, "-m", "papershelf.cli", "mcp", "--home", str(home_of(args).resolve())]
    if args.allow_write:
        command.append("--allow-write")
    entry = {"command": command[0], "args": command[1:]}
    return {"claude": {"mcpServers": {"papershelf": entry}},
            "vscode": {"servers": {"papershelf": {"type": "stdio", **entry}}}}


WHERE = {"claude": "Claude Desktop: add to claude_desktop_config.json (Settings → Developer → Edit Config)",
         "vscode": "VS Code: add to .vscode/mcp.json, or to the file `MCP: Open User Configuration` opens"}


def cmd_mcp(args) -> int:
    if args.print_config:
        blocks = config_blocks(args)
        wanted = list(blocks) if args.print_config == "both" else [args.print_config]
        for n, name in enumerate(wanted):
            if len(wanted) > 1:
                print(("\n" if n else "") + f"# {WHERE[name]}")
            print(json.dumps(blocks[name], indent=2))
        return 0
    from ..assistant import Tools, make_server

    @contextlib.contextmanager
    def connect() -> Iterator[client.Backend]:
        backend = client.connect(args)
        try:
            yield backend
        finally:
            backend.close()

    make_server(Tools(connect, CLIError), allow_write=args.allow_write).run("stdio")
    return 0


def add_parsers(sub, parents) -> None:
    s = sub.add_parser("mcp", parents=[parents.common],
                       help="serve the library's tools to an AI assistant (Model Context Protocol, on stdio)")
    s.add_argument("--allow-write", action="store_true",
                   help="also offer add_paper and tag_paper (by default the assistant only reads)")
    s.add_argument("--print-config", nargs="?", const="both", choices=["both", "claude", "vscode"],
                   help="print the block that starts this command, for Claude Desktop and VS Code, and exit")
    s.set_defaults(func=cmd_mcp)
