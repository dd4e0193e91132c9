"""Who may talk to the server, and how the CLI finds it: the pairing token and the server file in the home."""

from __future__ import annotations

import json
import os
import secrets
from datetime import datetime
from pathlib import Path

import platformdirs

# The extension's id follows from the fixed public key in extension/manifest.json (sha256 of the key, first
# 32 hex digits mapped 0-f → a-p); its origin is the only web origin the server allows.
EXTENSION_ID = "dfjfopbjidnaicdekbomplfndjhafelf"
EXTENSION_ORIGIN_REGEX = rf"chrome-extension://{EXTENSION_ID}|moz-extension://[0-9a-f\-]{{36}}"
TOKEN_FILE = "token"
SERVER_FILE = "server.json"


def default_home() -> Path:
    """`PAPERSHELF_HOME`, else the platform's user data dir."""
    env = os.environ.get("PAPERSHELF_HOME")
    return Path(env).expanduser() if env else Path(platformdirs.user_data_dir("papershelf", appauthor=False))


def private_home(home: Path) -> Path:
    """The home, made if missing, for the user's eyes only (0700): it holds the library, the token and the
    digest's feed key. A papershelf home made earlier with the usual 0755 is tightened too (a folder that holds
    no library yet and was there before, given as --home, is the user's to decide on)."""
    home = Path(home)
    made = not home.exists()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    if made or (home / "library.duckdb").exists() or token_path(home).exists():
        if os.name == "posix" and home.stat().st_mode & 0o077:
            os.chmod(home, 0o700)
    return home


def token_path(home: Path) -> Path:
    """Where the pairing token lives."""
    return Path(home) / TOKEN_FILE


def read_token(home: Path) -> str | None:
    """The token, if one was made."""
    p = token_path(home)
    try:
        return p.read_text().strip() or None
    except FileNotFoundError:
        return None


def ensure_token(home: Path) -> str:
    """The token, made on first use (random, readable by the user only)."""
    existing = read_token(home)
    if existing:
        return existing
    private_home(home)
    token = secrets.token_urlsafe(32)
    p = token_path(home)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.chmod(p, 0o600)
    return token


def write_server_file(home: Path, url: str) -> Path:
    """Announce a running server so the CLI goes through it instead of opening the database."""
    p = Path(home) / SERVER_FILE
    tmp = p.with_suffix(".tmp")
    started = datetime.now().astimezone().isoformat(timespec="seconds")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid(), "started_at": started}))
    os.chmod(tmp, 0o600)
    tmp.replace(p)
    return p


def read_server_file(home: Path) -> dict:
    """What the last server of this home announced ({} if none): url, pid, started_at."""
    try:
        info = json.loads((Path(home) / SERVER_FILE).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def remove_server_file(home: Path) -> None:
    """The server is gone (only remove our own announcement)."""
    p = Path(home) / SERVER_FILE
    try:
        if json.loads(p.read_text()).get("pid") == os.getpid():
            p.unlink()
    except (FileNotFoundError, ValueError):
        pass


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_server(home: Path, timeout: float = 2.0) -> str | None:
    """The URL of a live server for this home, or None (a stale file from a crashed server is ignored)."""
    info = read_server_file(home)
    url, pid = info.get("url"), info.get("pid")
    if not url or not isinstance(pid, int) or not _pid_alive(pid):
        return None
    import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

    try:
        r = httpx.get(f"{url}/api/health", timeout=timeout)
        if r.status_code == 200 and r.json().get("name") == "papershelf":
            return url
    except (httpx.HTTPError, ValueError):
        pass
    return None
