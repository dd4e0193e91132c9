"""The API's OpenAPI schema is what clients rely on: it changes only on purpose. `tests/fixtures/openapi.json` is
the committed copy; after a deliberate change to the API, write it anew with
`.venv/bin/python tests/test_openapi.py` and review the diff."""

import json
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "fixtures" / "openapi.json"


def current_schema() -> dict:
    """The schema the app serves at /schema/openapi.json, built without a library (the routes do not need one)."""
    from papershelf.api import create_app

    import msgspec

    app = create_app(library=None, token="t" * 32, port=8765)
    return json.loads(msgspec.json.encode(app.openapi_schema.to_schema()))


def test_the_openapi_schema_equals_the_committed_copy():
    want = json.loads(SNAPSHOT.read_text())
    got = current_schema()
    assert sorted(got["paths"]) == sorted(want["paths"]), "routes were added or removed"
    for path in want["paths"]:
        assert got["paths"][path] == want["paths"][path], f"{path} changed"
    assert got == want


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "server"))
    SNAPSHOT.write_text(json.dumps(current_schema(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SNAPSHOT}")
