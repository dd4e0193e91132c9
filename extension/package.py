"""The extension for Chromium or for Firefox, written out as a folder or a zip (the one source tree; only the
manifest differs). `papershelf extension` runs this from the installed package; `make extension` from the tree.

Firefox's Manifest V3 runs the background as an event page (`background.scripts`), not a service worker,
and has no use for Chrome's `key` (the server allows Firefox's moz-extension:// origins instead).
Usage: python extension/package.py [OUT_DIR]   (default: dist/; both zips)
"""

import json
import shutil
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"package.py", "__init__.py"}
BROWSERS = ("chromium", "firefox")


def firefox_manifest(chrome: dict) -> dict:
    m = {k: v for k, v in chrome.items() if k not in ("key", "minimum_chrome_version")}
    m["background"] = {"scripts": [chrome["background"]["service_worker"]], "type": "module"}
    # Chromium's side panel is Firefox's sidebar: the same page.
    m.pop("side_panel", None)
    m["permissions"] = [p for p in chrome["permissions"] if p != "sidePanel"]
    m["sidebar_action"] = {"default_panel": chrome["side_panel"]["default_path"], "default_title": "papershelf",
                           "default_icon": chrome["action"]["default_icon"], "open_at_install": False}
    # Firefox asks add-ons to declare what they collect: nothing leaves this machine.
    m["browser_specific_settings"]["gecko"]["data_collection_permissions"] = {"required": ["none"]}
    return m


def manifest(browser: str) -> dict:
    """The manifest for one browser."""
    if browser not in BROWSERS:
        raise ValueError(f"unknown browser {browser!r}: one of {', '.join(BROWSERS)}")
    chrome = json.loads((HERE / "manifest.json").read_text())
    return chrome if browser == "chromium" else firefox_manifest(chrome)


def version() -> str:
    """The extension's version (its manifest's)."""
    return manifest("chromium")["version"]


def files() -> list[tuple[str, Path]]:
    """(path inside the extension, file) for every file the extension is made of."""
    found = [p for p in sorted(HERE.rglob("*")) if p.is_file() and p.name not in SKIP
             and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return [(p.relative_to(HERE).as_posix(), p) for p in found]


def write_dir(browser: str, out: Path) -> Path:
    """The extension, unpacked into `out` (which must be empty or missing), for Load unpacked / about:debugging."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty: give a new or empty folder")
    m = manifest(browser)
    for rel, p in files():
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel == "manifest.json":
            target.write_text(json.dumps(m, indent=2) + "\n")
        else:
            shutil.copyfile(p, target)
    return out


def write_zip(browser: str, target: Path) -> Path:
    """The extension as one zip (for Firefox, an .xpi: about:addons installs it where signing is off)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    m = manifest(browser)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as z:
        for rel, p in files():
            z.writestr(rel, json.dumps(m, indent=2) + "\n" if rel == "manifest.json" else p.read_bytes())
    partial.replace(target)
    return target


def build(out: Path) -> list[Path]:
    """Both zips into `out`, named by browser and version."""
    return [write_zip(b, Path(out) / f"papershelf-{b}-{version()}.zip") for b in BROWSERS]


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "dist"):
        print(path)
