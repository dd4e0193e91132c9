"""The `papershelf` command: one module per group of commands (library.py, serve.py, digest.py…), each with its
handlers and their arguments (`add_parsers`), the operations they run locally or through a running server
(client.py), and the parser here, which only gathers them."""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from . import assistant, backup, digest, extension, library, serve, service, settings, sources
from .common import CLIError, Parents, console


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
    parents = Parents(common=common, json_opt=json_opt, filt=filt)
    for group in (serve, library, settings, backup, digest, sources, extension, service, assistant):
        group.add_parsers(sub, parents)
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
