"""What every command shares: the consoles, the error it shows the user, the library's home."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ..pairing import default_home

console = Console(stderr=True)
out = Console(soft_wrap=True)
DEFAULT_PORT = 8765
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class Parents(NamedTuple):
    """The argument groups many commands share (argparse's `parents`)."""

    common: argparse.ArgumentParser  # --home, --model-dir
    json_opt: argparse.ArgumentParser  # --json
    filt: argparse.ArgumentParser  # --limit, --year-min, --year-max, --tag


class CLIError(Exception):
    """A problem to show the user as one message, exit status 1."""


def home_of(args) -> Path:
    return Path(args.home).expanduser() if getattr(args, "home", None) else default_home()


def builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)


def progress_bar() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False, disable=not console.is_terminal)
