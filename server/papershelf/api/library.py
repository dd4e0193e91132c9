"""The library as a whole: import (files or JSON), export, stats, doctor, and its event stream."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote

import msgspec
from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, Reference, RequestBody, Schema
from litestar.params import Parameter
from litestar.response import ServerSentEvent, Stream

from ..export import EXTENSIONS as EXPORT_EXTENSIONS
from ..export import FORMATS as EXPORT_FORMATS
from ..library import Library, sample_path
from ..models import ImportReport, PaperQuery, Stats
from .guard import MAX_IMPORT_BODY
from .shapes import FILTERS, MAX_BULK, threaded


class ImportIn(msgspec.Struct, forbid_unknown_fields=True):
    """Text of a file in any format we read (detected from the content), as JSON."""

    content: str
    name: Annotated[str, msgspec.Meta(max_length=500)] = "upload"
    format: str | None = None


class StatsOut(msgspec.Struct):
    stats: Stats
    embedding: bool
    embedding_error: str | None


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str


@dataclass
class ExportOperation(Operation):
    """The export streams text in the requested format's own media type."""

    def __post_init__(self) -> None:
        ok = self.responses and self.responses.get("200")
        if ok is not None and not isinstance(ok, Reference):
            ok.content = {media: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
                          for media in EXPORT_FORMATS.values()}
            # CSL-JSON is JSON (an array of items); the others are text.
            ok.content[EXPORT_FORMATS["csljson"]] = OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT)))


@dataclass
class ImportOperation(Operation):
    """The import reads its body itself: files as multipart, or JSON."""

    def __post_init__(self) -> None:
        record = Schema(type=OpenAPIType.OBJECT, required=["title"],
                        properties={"title": Schema(type=OpenAPIType.STRING),
                                    "abstract": Schema(type=OpenAPIType.STRING)})
        self.request_body = RequestBody(required=True, content={
            "multipart/form-data": OpenAPIMediaType(schema=Schema(
                type=OpenAPIType.OBJECT, additional_properties=Schema(type=OpenAPIType.STRING, format="binary"))),
            "application/json": OpenAPIMediaType(schema=Schema(one_of=[
                Schema(type=OpenAPIType.OBJECT, required=["content"],
                       properties={"content": Schema(type=OpenAPIType.STRING),
                                   "name": Schema(type=OpenAPIType.STRING),
                                   "format": Schema(one_of=[Schema(type=OpenAPIType.STRING),
                                                            Schema(type=OpenAPIType.NULL)])}),
                Schema(type=OpenAPIType.ARRAY, items=record)])),
        })


class LibraryController(Controller):
    path = "/api"
    tags = ["library"]

    @post("/import", status_code=200, request_max_body_size=MAX_IMPORT_BODY, operation_class=ImportOperation,
          summary="Import files: a multipart upload, or a JSON body",
          description="multipart/form-data: any number of file fields, each in any format we read (detected "
                      "from the content). application/json: either {content, name, format} with the text of a "
                      "file, or papers in our JSON format (a list of objects with title and abstract).")
    async def import_files(self, request: Request, lib: Library) -> ImportReport:
        ctype = request.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            try:
                form = await request.form()
            except (UnicodeDecodeError, ValueError) as e:
                # Litestar decodes non-file fields as UTF-8; binary data must come as a file field.
                raise ValidationException(f"unreadable multipart body ({type(e).__name__}): send files as file "
                                          "fields (with a filename)") from e
            files = [(v.filename or k, await v.read()) if isinstance(v, UploadFile) else (k, str(v).encode())
                     for k, v in form.multi_items()]
            if not files:
                raise ValidationException("the multipart body has no field")
        elif ctype.startswith("application/json"):
            body = await request.body()
            try:
                doc = msgspec.json.decode(body)
            except msgspec.DecodeError as e:
                raise ValidationException(f"the body is not valid JSON: {e}") from e
            if isinstance(doc, dict) and isinstance(doc.get("content"), str):
                try:
                    one = msgspec.convert(doc, ImportIn)
                except msgspec.ValidationError as e:
                    raise ValidationException(str(e)) from e
                files = [(one.name, one.content.encode(), one.format)]
            else:
                files = [("upload.json", body, "json")]
        else:
            raise HTTPException(status_code=415, detail="send multipart/form-data or application/json")
        report = ImportReport(source=", ".join(f[0] for f in files))
        errors = []
        linked = request.headers.get("x-papershelf-path")
        for name, data, *fmt in files:
            if linked and len(files) == 1:
                # The CLI's import of a PDF where it is: linked there if those are the bytes it holds.
                one = await asyncio.to_thread(lib.import_pdf_bytes, data, name, Path(unquote(linked)))
            else:
                one = await asyncio.to_thread(lib.import_bytes, data, name, fmt[0] if fmt else None)
            report.format = report.format or one.format
            report.extend(one)
            if one.error:
                errors.append(one.error)
        if len(errors) == len(files):
            # Nothing was readable: that is a bad request, not a report of zero papers.
            raise HTTPException(status_code=400, detail=" ".join(errors))
        return report

    @post("/import/sample", sync_to_thread=True, status_code=200,
          summary="Import the sample library that ships with papershelf (what `papershelf import --sample` does)")
    def import_sample(self, lib: Library) -> ImportReport:
        return lib.import_path(sample_path())

    @get("/export", sync_to_thread=False, operation_class=ExportOperation, dependencies=FILTERS,
         summary="The whole library as JSONL, BibTeX, CSL-JSON or RIS")
    def export_library(self, lib: Library, filters: PaperQuery,
                       format: Literal["jsonl", "bibtex", "csljson", "ris"] = "jsonl",
                       id: Annotated[list[Annotated[str, Parameter(max_length=500)]] | None, Parameter(max_length=1000)] = None
                       ) -> Stream:
        """The whole library; or these papers (id, repeated); or the papers a filter finds (as /api/papers)."""
        if id:
            pids = [lib.resolve(i) for i in id]
        elif filters != PaperQuery():
            pids = lib.ids_matching(filters, MAX_BULK)
        else:
            pids = None
        chunks = lib.export(format, pids)
        return Stream(threaded(chunks), media_type=EXPORT_FORMATS[format], headers={
            "content-disposition": f'attachment; filename="papershelf.{EXPORT_EXTENSIONS[format]}"'})

    @get("/stats", sync_to_thread=True, summary="Counts, embedding progress, model, database size")
    def stats(self, lib: Library) -> StatsOut:
        busy, error = lib.embedding_state()
        return StatsOut(stats=lib.stats(), embedding=busy, embedding_error=error)

    @get("/doctor", sync_to_thread=True, summary="Model files, checksums, database integrity, disk")
    def doctor(self, lib: Library) -> list[Check]:
        from ..doctor import run_checks

        return [Check(name=n, ok=ok, detail=d) for n, ok, d in run_checks(lib)]

    @get("/events", sync_to_thread=False, summary="Server-sent events: import and embedding progress, changes")
    def events(self, lib: Library) -> ServerSentEvent:
        return ServerSentEvent(_event_stream(lib))


async def _event_stream(lib: Library) -> AsyncIterator[dict[str, Any]]:
    q = lib.events.subscribe()
    try:
        s = await asyncio.to_thread(lib.stats)
        yield {"event": "hello", "data": msgspec.json.encode(s).decode()}
        while True:
            try:
                ev = await asyncio.wait_for(q.get(), timeout=15)
            except asyncio.TimeoutError:
                yield {"comment": "keep-alive"}
                continue
            yield {"event": ev.type, "id": str(ev.seq), "data": json.dumps(ev.data)}
    finally:
        lib.events.unsubscribe(q)
