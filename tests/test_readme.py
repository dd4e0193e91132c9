"""The README is documentation that must stay true: its commands parse and its API routes exist."""

import re
import shlex
from pathlib import Path

import httpx

from papershelf.cli import build_parser

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def code_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    return [l.split("  #")[0].strip() for b in blocks for l in b.replace("\\\n", " ").splitlines() if l.strip()]


def test_readme_commands_parse():
    cmds = [l for l in code_lines() if re.match(r"^(\.venv/bin/)?papershelf ", l)]
    assert len(cmds) >= 10
    for line in cmds:
        argv = shlex.split(line)[1:]
        args = build_parser().parse_args(argv)
        assert callable(args.func), line


def test_readme_make_targets_exist():
    makefile = (Path(__file__).resolve().parent.parent / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", README, re.M) + re.findall(r"`make (\w+)`", README):
        assert re.search(rf"^{target}:", makefile, re.M), target


def test_readme_curl_examples_hit_real_routes(shared_server):
    schema = httpx.get(f"{shared_server.url}/schema/openapi.json").json()
    routes = [re.sub(r"\{[^}]+\}", "[^/]+", p) for p in schema["paths"]]
    curls = [l for l in code_lines() if l.startswith("curl")]
    assert len(curls) >= 10
    for line in curls:
        path = re.search(r"http://127\.0\.0\.1:8765(/[^?\s\"']*)", line).group(1)
        assert any(re.fullmatch(r, path) for r in routes), path
    # The table of routes names real ones too.
    for path in re.findall(r"`(?:GET|POST|PATCH|DELETE)[^`]* (/api/[^`\s?]+)[^`]*`", README):
        assert any(re.fullmatch(r, path) for r in routes), path


def test_readme_curl_lookup_works_for_real(shared_server):
    """The first authenticated example, run as written (with this server's port and token)."""
    r = httpx.get(f"{shared_server.url}/api/lookup", params={"url": "https://arxiv.org/abs/1706.03762", "k": 5},
                  headers=shared_server.auth)
    assert r.status_code == 200 and set(r.json()) == {"found", "paper", "related", "library_size"}
