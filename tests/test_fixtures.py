"""The test data is papershelf's own: the API responses in fixtures/api are exactly what their generator
writes (so no file there was edited by hand or brought in from elsewhere), and every fixture file is listed in
fixtures/SOURCES.md with how it was made."""

import importlib.util
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_api_fixtures_are_what_their_generator_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_api_fixtures", FIXTURES / "api" / "make.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    make.HERE = tmp_path
    make.main()
    written = sorted(p.name for p in tmp_path.iterdir())
    kept = sorted(p.name for p in (FIXTURES / "api").iterdir() if p.name != "make.py")
    assert written == kept
    for name in written:
        assert (tmp_path / name).read_bytes() == (FIXTURES / "api" / name).read_bytes(), \
            f"{name} differs from what api/make.py writes: run it and commit the result"


def test_every_fixture_file_is_listed_in_sources():
    listed = (FIXTURES / "SOURCES.md").read_text()
    for path in FIXTURES.rglob("*"):
        if path.is_file() and path.name not in ("SOURCES.md", "README.md"):
            rel = path.relative_to(FIXTURES)
            assert f"`{rel}`" in listed or f"`{rel.parent}/`" in listed, f"{rel} is not in fixtures/SOURCES.md"
