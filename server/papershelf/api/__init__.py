"""The localhost API (Litestar): the extension, the library page and the user's scripts talk to this.

One module of controllers per resource (papers, lookup, related and search, the library, the map, duplicates,
the digest, its Atom feed), the guard in front of them all (guard.py), what they share (shapes.py), and the app
built in one place (app.py). Handlers that touch DuckDB or the model are sync and run in worker threads, off the
event loop.
"""

from .app import create_app
from .guard import EncodedSlashes, Secured

__all__ = ["EncodedSlashes", "Secured", "create_app"]
