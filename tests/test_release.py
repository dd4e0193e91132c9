"""A release: one version everywhere, and a wheel that holds everything and serves from a venv far from the
source tree (the way `pipx install` puts it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, free_port

import papershelf


def test_the_version_is_the_same_in_pyproject_the_package_the_api_the_extension_and_the_changelog():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    manifest = json.loads((ROOT / "extension" / "manifest.json").read_text())["version"]
    newest = re.search(r"^## (\S+) — (\d{4}-\d\d-\d\d)$", (ROOT / "CHANGELOG.md").read_text(), re.M)
    cli = subprocess.run([sys.executable, "-m", "papershelf.cli", "--version"], capture_output=True, text=True)
    assert pyproject == papershelf.__version__ == manifest == newest.group(1)
    assert cli.stdout.strip() == f"papershelf {pyproject}"  # (/api/health: the wheel's server, below)
    # A release adds the library it writes to the fixtures every later release must open (test_upgrade.py).
    assert (ROOT / "tests" / "fixtures" / "releases" / "0.1.0").is_dir()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """`python -m build --wheel` on a copy of the source tree (this checkout's files, committed or not)."""
    src = tmp_path_factory.mktemp("source") / "papershelf"
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True,
                            check=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        p = ROOT / rel
        if p.is_symlink():  # server/papershelf/extension → ../../extension
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(p), src / rel)
        elif p.is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_bytes(p.read_bytes())
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    warned = [line for line in (built.stdout + built.stderr).splitlines()
              if re.search(r"warning|deprecat", line, re.I) and "byte-compiling is disabled" not in line]
    assert warned == []  # the first thing a new user sees is not a screen of warnings
    return next(out.glob("papershelf-*.whl"))


def test_the_wheel_holds_the_server_the_page_the_model_files_the_sample_and_the_extension(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    ext = ROOT / "extension"
    shipped = {f"papershelf/extension/{p.relative_to(ext).as_posix()}" for p in ext.rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped <= names
    assert {"papershelf/web/index.html", "papershelf/data/model/tokenizer.json", "papershelf/cli/__main__.py",
            "papershelf/data/samples/hf-papers-search-efficient-combination.txt"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta


def test_a_wheel_installed_far_from_the_source_tree_serves_the_page_and_imports_the_sample(wheel, tmp_path):
    """A fresh venv with the wheel in it; its dependencies come from this test venv (a .pth line, so the test
    needs no download), but papershelf itself only from the wheel, and nothing runs in the source tree."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    bin_ = venv / "bin"
    site = Path(subprocess.run([str(bin_ / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, capture_output=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    run = lambda *a, **kw: subprocess.run([str(bin_ / "papershelf"), *a], cwd=tmp_path, env=env, capture_output=True,
                                          text=True, timeout=300, **kw)
    where = subprocess.run([str(bin_ / "python"), "-c", "import papershelf; print(papershelf.__file__)"], cwd=tmp_path,
                           env=env, capture_output=True, text=True).stdout.strip()
    assert Path(where).is_relative_to(venv) and not Path(where).is_relative_to(ROOT)
    assert run("--version").stdout.strip() == f"papershelf {papershelf.__version__}"
    made = run("extension", "--browser", "firefox", "--out", str(tmp_path / "ext"))
    assert made.returncode == 0, made.stderr
    assert json.loads((tmp_path / "ext" / "manifest.json").read_text())["version"] == papershelf.__version__
    home = tmp_path / "home"
    imported = run("import", "--sample", "--no-wait", "--json", "--home", str(home))
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["added"] == 289
    port = free_port()
    server = subprocess.Popen([str(bin_ / "papershelf"), "serve", "--home", str(home), "--port", str(port),
                               "--no-inbox", "--no-digest", "--no-follow", "--no-backup"], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.time() + 60
        while True:
            try:
                health = httpx.get(f"{url}/api/health", timeout=1).json()
                break
            except httpx.HTTPError:
                assert time.time() < deadline and server.poll() is None, "the wheel's server did not start"
                time.sleep(0.2)
        assert health == {"name": "papershelf", "version": papershelf.__version__, "ready": True}
        page = httpx.get(url + "/", timeout=10)
        assert page.status_code == 200 and "papershelf" in page.text
        token = (home / "token").read_text().strip()
        stats = httpx.get(f"{url}/api/stats", headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        assert stats["stats"]["papers"] == 289
        found = httpx.get(f"{url}/api/search", params={"q": "mixture of experts"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert found.status_code == 200 and found.json()
    finally:
        server.terminate()
        server.wait(30)
