"""The house's rules, checked: the import-linter contracts in pyproject.toml, no module importing another's
private name, no module outside store/ touching the store's private names (each table has one owner), and the
faces (api/, cli/) going through the Library, never past it."""

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "server" / "papershelf"


def test_the_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    p = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", p.stdout), p.stdout[-1000:]


def modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "extension" not in p.parts]


def test_no_module_imports_another_modules_private_name():
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("papershelf")):
                found += [f"{path.relative_to(PACKAGE)}: {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def test_only_the_store_touches_its_private_names():
    pattern = re.compile(r"(\bstore|\.store)\._[a-z]")
    found = [f"{path.relative_to(ROOT)}:{i}" for path in [*modules(), *(ROOT / "bench").glob("*.py")]
             if "store" not in path.relative_to(PACKAGE if PACKAGE in path.parents else ROOT).parts[:1]
             for i, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_the_faces_go_through_the_library():
    """api/ and cli/ call the Library's own methods. The services it wires (digest, sources) reach a controller by
    dependency injection and a serve-time job whole; nothing in the faces calls into them through the Library, or
    touches the store, the index, the map or the workers."""
    past = re.compile(r"\blib\.(store|index|map|worker|pdf_readers|embedder|bulk_embedder)\b"
                      r"|\blib\.(digest|sources|events)\.(?!publish|subscribe|unsubscribe)[a-z_]+\(")
    faces = [p for p in modules() if p.relative_to(PACKAGE).parts[0] in ("api", "cli")]
    found = [f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}" for path in faces
             for i, line in enumerate(path.read_text().splitlines(), 1) if past.search(line)]
    assert found == []
