"""A paper's files: served by their id, inline, under the token (never by a path taken from a request)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Request, get
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Parameter
from litestar.response import File

from ..library import Library
from ..models import PaperFile, UnreadableFile
from .guard import file_ticket
from .shapes import ErrorBody


class FileLink(msgspec.Struct):
    """Where a tab opens the file: the URL carries a ticket for this one file instead of the token."""

    url: str


class FileController(Controller):
    path = "/api/files"
    tags = ["files"]

    @get("/unreadable", sync_to_thread=True, summary="Files that could not be read (their reader crashed, ran out "
                                                    "of memory or time, or they are no readable PDF), newest first: "
                                                    "a sync skips them until it is asked to retry them")
    def unreadable(self, lib: Library) -> list[UnreadableFile]:
        return lib.unreadable_files()

    @get("/{file_id:str}/info", sync_to_thread=True, summary="A file's record: its paper's path, hash, size, "
                                                             "and whether it is still there")
    def info(self, lib: Library, file_id: str = Parameter(max_length=64)) -> PaperFile:
        found = lib.file(file_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no file {file_id}")
        return found

    @get("/{file_id:str}/link", sync_to_thread=True, summary="A URL that opens the file in a tab (a link "
                                                             "cannot send the token; this URL opens this file only)")
    def link(self, request: Request, lib: Library, file_id: str = Parameter(max_length=64)) -> FileLink:
        if lib.file(file_id) is None:
            raise HTTPException(status_code=404, detail=f"no file {file_id}")
        return FileLink(url=f"/api/files/{file_id}?ticket={file_ticket(request.app.state.file_key, file_id)}")

    @get("/{file_id:str}", sync_to_thread=True, summary="A paper's PDF, to open in the browser (inline)",
         responses={200: ResponseSpec(bytes, media_type="application/pdf", description="The PDF",
                                      generate_examples=False),
                    400: ResponseSpec(ErrorBody, description="A malformed file id"),
                    404: ResponseSpec(ErrorBody, description="No such file, or it is no longer where it was")})
    def open_file(self, lib: Library, file_id: str) -> File:
        # (checked here: the route's own errors are JSON, the PDF alone is application/pdf)
        if len(file_id) > 64:
            raise HTTPException(status_code=400, detail="a file id is at most 64 characters")
        found = lib.file(file_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no file {file_id}")
        if found.missing:
            raise HTTPException(status_code=404, detail=f"the file is no longer at {found.path}: import the "
                                                        "folder it moved to and papershelf finds it again")
        return File(path=found.path, filename=found.path.rsplit("/", 1)[-1], content_disposition_type="inline",
                    media_type="application/pdf")
