"""`papershelf backup [PATH]` and `papershelf restore PATH`: a copy of the library now, and putting one back."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..pairing import find_server
from .client import connect
from .common import CLIError, Parents, console, home_of, out


def cmd_backup(args) -> int:
    home = home_of(args)
    dest = Path(args.path).expanduser().resolve() if args.path else None
    if dest is not None and dest.exists():
        raise CLIError(f"{dest} exists already: give a new folder for the backup")
    be = connect(args)  # through the server while it runs: it holds the library
    try:
        info = be.backup()
    finally:
        be.close()
    made = Path(info["path"])
    if dest is not None:  # the server writes only into its home; the copy elsewhere is ours
        partial = dest.with_name(f".{dest.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(made, partial)
        partial.replace(dest)
        info = dict(info, path=str(dest), name=dest.name)
    if args.json:
        out.print_json(json.dumps(info))
    else:
        out.print(info["path"], highlight=False)
        console.print(f"backed up {info['papers']} papers and {info['files']} files of {home} "
                      f"({info['bytes'] / 1e6:.1f} MB)" + (f"; also kept as {made}" if dest else ""), highlight=False)
    return 0


def cmd_restore(args) -> int:
    home = home_of(args)
    running = find_server(home)
    if running:
        raise CLIError(f"papershelf serves {home} at {running}, and a library cannot be put back under a running "
                       "server. Stop it first (`systemctl --user stop papershelf` if it runs as a service, else "
                       "Ctrl-C where it runs), restore, then start it again. Nothing was changed.")
    from .. import backup  # here: DuckDB is slow to import for every other command

    given = Path(args.path).expanduser()
    source = given if given.exists() else backup.folder(home) / args.path  # a path, or a backup's name
    try:
        info, aside = backup.restore(home, source)
    except backup.BackupError as e:
        raise CLIError(f"{e}. Nothing was changed.") from e
    from ..library import Library
    from ..store import StoreError

    try:  # opens it as the server will: migrations if it is older, its kept PDFs found in this home
        Library(home).close()
    except StoreError as e:
        raise CLIError(f"the restored library does not open: {e}. Yours is kept in {aside}.") from e
    out.print(str(home), highlight=False)
    console.print(f"restored {info.name}: {info.papers} papers, {info.files} files, made {backup.local(info.made_at):%Y-%m-%d %H:%M} "
                  f"by papershelf {info.version}." + (f" The library it replaced is kept in {aside}." if aside else ""),
                  highlight=False)
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    common, json_opt = parents.common, parents.json_opt
    s = sub.add_parser("backup", parents=[common, json_opt],
                       help="back up the library now (into <home>/backups/, and PATH if given)")
    s.add_argument("path", nargs="?", help="also copy the backup to this new folder (another disk)")
    s.set_defaults(func=cmd_backup)
    s = sub.add_parser("restore", parents=[common], help="put a backup back (the current library is kept aside)")
    s.add_argument("path", help="a backup's folder, or its name in <home>/backups/")
    s.set_defaults(func=cmd_restore)
