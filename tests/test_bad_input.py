"""Bad input never crashes an importer, never writes half a record, and gets a clear answer; big files are
streamed with bounded memory."""

import json
import random
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import API, FIXTURES
from corpus import words as sample_words
from papershelf import importers
from papershelf.library import Library
from papershelf.models import Record

SEEDS = [FIXTURES / "zotero.bib", FIXTURES / "biblatex.bib", FIXTURES / "zotero.ris", FIXTURES / "mixed.jsonl",
         API / "arxiv-api-classic.xml", API / "openalex-work.json", API / "s2-paper-batch.json",
         API / "acm-export.csl.json", API / "crossref-work.json", API / "hf-daily-papers.json"]


def check_items(data: bytes, name: str = "x") -> None:
    """The importer contract: FormatError for unreadable input, else (position, Record | reason) items."""
    try:
        fmt, items = importers.parse(data, name)
    except importers.FormatError:
        return
    assert fmt in importers.FORMATS
    for pos, item in items:
        assert isinstance(pos, str) and pos
        assert isinstance(item, (Record, str))
        if isinstance(item, Record):
            assert isinstance(item.title, str)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_a_parser(data):
    check_items(data)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_random_text_never_crashes_a_parser(text):
    check_items(text.encode())


@st.composite
def mutated(draw):
    """A fixture file with random bytes deleted, inserted, duplicated or cut off."""
    data = bytearray(draw(st.sampled_from(SEEDS)).read_bytes())
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["delete", "insert", "dup", "truncate"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "delete":
            del data[i:i + draw(st.integers(1, 50))]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from([b"{", b"}", b"@", b'"', b",", b"\n", b"TY  - ", b"ER  - \n", b"\\",
                                              b"<entry>", b"]", b"null", b"\xff", b"%", b"\x00"]))
        elif op == "dup":
            data[i:i] = data[i:i + draw(st.integers(1, 400))]
        else:
            data = data[:i]
    return bytes(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_real_files_import_or_report(data):
    check_items(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_imports_never_write_half_a_record(tmp_path_factory, files):
    lib = Library(tmp_path_factory.mktemp("prop"))
    try:
        for n, data in enumerate(files):
            report = lib.import_bytes(data, f"f{n}")
            assert report.error or report.format
        assert lib.store.integrity() == []
        for p in lib.store.iter_papers():
            assert p.title.strip() and p.id
    finally:
        lib.close()


def test_invalid_utf8_in_a_big_json_lines_file_fails_that_line_only(tmp_path, empty_lib):
    path = tmp_path / "big.jsonl"
    lines = [json.dumps({"title": f"Paper {i} of a long export", "abstract": "a" * 1000}) + "\n" for i in range(800)]
    path.write_bytes("".join(lines[:400]).encode() + b'{"title": "caf\xe9"}\n' + "".join(lines[400:]).encode())
    report = empty_lib.import_path(path)
    assert len(report.added) == 800 and [(f.position, f.reason) for f in report.failed] == [
        ("line 401", "not valid UTF-8 text")]


def test_invalid_utf8_in_a_big_bibtex_file_keeps_everything_before_it(tmp_path, empty_lib):
    path = tmp_path / "big.bib"
    entries = [f"@article{{k{i},\n  title = {{Paper {i} of a long export}},\n  abstract = {{{'a ' * 400}}}\n}}\n"
               for i in range(400)]
    path.write_bytes("".join(entries).encode() + b"@article{bad, title = {caf\xe9}}\n" + "".join(entries).encode())
    report = empty_lib.import_path(path)
    assert len(report.added) == 400 and "line 1601 is not valid UTF-8" in report.error
    assert empty_lib.stats().papers == 400


def test_a_json_file_nested_too_deeply_fails_that_record_only(empty_lib):
    deep = b"[" * 100_000 + b"]" * 100_000
    report = empty_lib.import_bytes(b'{"title": "Before"}\n' + deep + b'\n{"title": "After"}\n', "deep.jsonl")
    assert len(report.added) == 2 and [f.position for f in report.failed] == ["line 2"]
    assert "nested too deeply" in report.failed[0].reason
    report = empty_lib.import_bytes(deep, "deep.json")
    assert not report.added and "nested too deeply" in (report.error or report.failed[0].reason)


def test_unknown_format_names_the_formats_we_read(empty_lib):
    report = empty_lib.import_bytes(b"Name,Title\nA,B\n", "table.csv")
    for word in ("BibTeX", "RIS", "CSL-JSON", "OpenAlex", "Semantic Scholar", "Hugging Face", "arXiv"):
        assert word in report.error


def _bibtex_of_size(path: Path, megabytes: int) -> int:
    """Write a realistic BibTeX file of about that size; return the number of entries."""
    rng = random.Random(0)
    words = sample_words()  # alphabetic only: valid BibTeX, no stray { } % @
    # Long abstracts (few entries, many bytes), drawn from a pool: writing megabytes of fresh random words
    # would take longer than reading them.
    pool = [" ".join(rng.choices(words, k=10_000)) for _ in range(64)]
    n = 0
    with open(path, "w") as f:
        while f.tell() < megabytes << 20:
            abstract = rng.choice(pool)
            f.write(f"@article{{k{n},\n  title = {{{' '.join(rng.choices(words, k=9))} {n}}},\n"
                    f"  author = {{Author, A. and Writer, B.}},\n  year = {{{1990 + n % 30}}},\n"
                    f"  abstract = {{{abstract}}}\n}}\n\n")
            n += 1
    return n


def _parsed_with_peak_rss_mb(path: Path) -> tuple[int, float]:
    """(entries, peak RSS in MB) of reading a file with importers.parse_path in a process of its own."""
    code = ("import json, resource, sys\nfrom papershelf.importers import parse_path\n"
            "fmt, items = parse_path(sys.argv[1])\nn = sum(1 for _, item in items if not isinstance(item, str))\n"
            "print(json.dumps([n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]))")
    p = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    return tuple(json.loads(p.stdout))


def test_a_big_bibtex_file_is_read_as_a_stream_never_whole(tmp_path):
    """Reading a 48 MB file peaks at the memory of reading an 8 MB one: the file is never held whole (that alone
    would add 40 MB), nor all of its entries. (It was a 200 MB import through the command line, whose peak grows
    with the library the import writes, not with the reading: its bound of +400 MB could not fail.)"""
    small, big = tmp_path / "small.bib", tmp_path / "big.bib"
    n_small, n_big = _bibtex_of_size(small, 8), _bibtex_of_size(big, 48)
    (got_small, rss_small), (got_big, rss_big) = _parsed_with_peak_rss_mb(small), _parsed_with_peak_rss_mb(big)
    assert (got_small, got_big) == (n_small, n_big)
    assert rss_big < rss_small + 20, (rss_small, rss_big)


def test_bibtex_entries_come_out_as_the_file_is_read(tmp_path):
    """Each entry is parsed and handed on while the reading is at most a chunk (200 entries) past it: what the
    parser holds is bounded by the chunk, whatever the file's size."""
    from papershelf.importers import bibtex

    total = 2000
    read = {"entries": 0}

    def lines():
        for i in range(total):
            read["entries"] += 1
            yield f"@article{{k{i},\n"
            yield f"  title = {{Entry {i} of a long export}},\n  year = {{2020}}\n}}\n\n"

    out = 0
    for _, record in bibtex.parse_stream(lines()):
        out += 1
        assert read["entries"] <= out + 201, (out, read["entries"])  # never the whole file first
        assert record.title == f"Entry {out - 1} of a long export"
    assert out == total
