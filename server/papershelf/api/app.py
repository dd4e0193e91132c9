"""The Litestar app around one Library: the controllers of each resource, the guard and its CORS rule, the exception handlers and the OpenAPI description."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router

from .. import __version__
from ..digest import DigestError
from ..digest.feeds import FeedError
from ..digest.mail import MailError
from ..library import Library, NotFound
from ..sources import SourceError
from .assistant import AssistantEndpoint, assistant_endpoint
from .atom import AtomController
from .backups import BackupController
from .digest import DigestController, FeedController
from .duplicates import DuplicateController
from .files import FileController
from .guard import EXTENSION_ONLY, MAX_BODY, Guard, file_key
from .health import HealthController
from .library import LibraryController
from .lookup import LookupController
from .map import MapController
from .papers import FacetController, PaperController
from .passages import PassageController
from .related import RelatedController, SearchController
from .settings import SettingsController
from .shapes import bad_request, provide_digest, provide_library, provide_sources
from .sources import SourceController

log = logging.getLogger("papershelf.api")
WEB_DIR = Path(__file__).resolve().parent.parent / "web"


def _not_found(_: Request, exc: NotFound) -> Response:
    return Response({"status_code": 404, "detail": f"no paper in the library for {exc.args[0]!r}"}, status_code=404)


def _server_error(request: Request, exc: Exception) -> Response:
    """Any error no handler expected: logged with its request and traceback (it is our bug), a plain 500 out."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Response({"status_code": 500, "detail": "Internal Server Error: papershelf's log has the details"},
                    status_code=500)


def _nested_too_deep(_: Request, exc: RecursionError) -> Response:
    """A JSON body nested deeper than the decoder goes (`[[[[…`): a bad request, not a server error."""
    if "deserializ" not in str(exc):  # msgspec's words; any other recursion is our bug, and stays a 500
        raise exc
    return Response({"status_code": 400, "detail": "the JSON body is nested too deeply"}, status_code=400)


def create_app(library: Library, token: str, port: int, allowed_hosts: list[str] | None = None,
               lifespan: list | None = None, assistant: Callable[[], Any] | None = None) -> Litestar:
    """The Litestar app around one Library; `assistant` makes the MCP server /mcp answers with (none: 404)."""
    endpoint = AssistantEndpoint(assistant, token) if assistant else None
    web = create_static_files_router(path="/", directories=[WEB_DIR], html_mode=True, name="web",
                                     include_in_schema=False)
    return Litestar(
        route_handlers=[HealthController, PaperController, FacetController, LookupController, RelatedController,
                        SearchController, PassageController, MapController, DuplicateController, FileController,
                        LibraryController, SourceController, SettingsController, BackupController, FeedController, DigestController, AtomController,
                        assistant_endpoint, web],
        dependencies={"lib": Provide(provide_library, sync_to_thread=False),
                      "digest": Provide(provide_digest, sync_to_thread=False),
                      "sources": Provide(provide_sources, sync_to_thread=False)},
        middleware=[Guard(token=token, port=port, allowed_hosts=allowed_hosts)],
        cors_config=EXTENSION_ONLY,
        exception_handlers={NotFound: _not_found, RecursionError: _nested_too_deep, FeedError: bad_request, DigestError: bad_request,
                            MailError: bad_request, SourceError: bad_request, 500: _server_error},
        request_max_body_size=MAX_BODY,
        state=State({"library": library, "file_key": file_key(token), "assistant": endpoint}),
        lifespan=lifespan or [],
        on_shutdown=[endpoint.close] if endpoint else [],
        openapi_config=OpenAPIConfig(
            title="papershelf", version=__version__,
            description="Local API of papershelf. Every route but /api/health needs `Authorization: Bearer "
                        "<token>` (`papershelf token` prints it).",
            security=[{"bearer": []}],
            components=Components(security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}),
            # The schema as JSON only: Litestar's documentation pages load their scripts from public CDNs into
            # this origin, whose localStorage holds the token.
            render_plugins=[JsonRenderPlugin()],
        ),
        debug=False,
    )
