"""The home's backups: list them, make one now. (Putting one back needs the library closed: the CLI's
`papershelf restore`, with the server stopped.)"""

from __future__ import annotations

from litestar import Controller, get, post

from .. import backup
from ..backup import BackupInfo
from ..library import Library


class BackupController(Controller):
    path = "/api/backups"
    tags = ["backups"]

    @get(sync_to_thread=True, summary="The home's backups, newest first")
    def list_backups(self, lib: Library) -> list[BackupInfo]:
        return backup.listing(lib.home)

    @post(sync_to_thread=True, status_code=201,
          summary="Back up the library now, into <home>/backups/ (kept by the 7-daily/4-weekly rule)")
    def make_backup(self, lib: Library) -> BackupInfo:
        return lib.backup("manual")
