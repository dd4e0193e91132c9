"""The server's log: `<home>/logs/papershelf.log`, rotated (5 files of 5 MB), for `service status` and for the
user to read when something went wrong while no terminal was open."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

FOLDER = "logs"
NAME = "papershelf.log"
MAX_BYTES, KEEP = 5 << 20, 5
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ (ERROR|CRITICAL) (\S+): (.*)$")


def path(home: Path) -> Path:
    """The current log file of a home."""
    return Path(home) / FOLDER / NAME


def to_file(home: Path, level: int = logging.INFO) -> logging.Handler:
    """Send papershelf's and the web server's messages to the home's log file (and keep them on stderr)."""
    from .pairing import private_home

    target = path(private_home(home))
    target.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(target, maxBytes=MAX_BYTES, backupCount=KEEP, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    for name, at in (("papershelf", level), ("uvicorn.error", logging.WARNING), ("litestar", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > at:
            logger.setLevel(at)
    return handler


def last_error(home: Path) -> tuple[str, str] | None:
    """(when, what) of the newest error in the home's logs, or None."""
    files = [path(home)] + [path(home).with_name(f"{NAME}.{i}") for i in range(1, KEEP + 1)]
    for f in files:  # newest file first; in each, the last error line
        try:
            lines = f.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            continue
        for line in reversed(lines):
            m = _LINE.match(line)
            if m:
                return m.group(1), f"{m.group(3)}: {m.group(4)}"
    return None
