"""Zip the extension for Chromium and for Firefox (the one source tree; only the manifest differs).

Firefox's Manifest V3 runs the background as an event page (`background.scripts`), not a service worker,
and has no use for Chrome's `key` (the server allows Firefox's moz-extension:// origins instead).
Usage: python extension/package.py [OUT_DIR]   (default: dist/)
"""

import json
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"package.py"}


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


def build(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    chrome = json.loads((HERE / "manifest.json").read_text())
    files = [p for p in sorted(HERE.rglob("*")) if p.is_file() and p.name not in SKIP and "__pycache__" not in p.parts]
    made = []
    for name, manifest in (("chromium", chrome), ("firefox", firefox_manifest(chrome))):
        target = out / f"papershelf-{name}-{chrome['version']}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                rel = p.relative_to(HERE).as_posix()
                z.writestr(rel, json.dumps(manifest, indent=2) if rel == "manifest.json" else p.read_bytes())
        made.append(target)
    return made


if __name__ == "__main__":
    for path in build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "dist"):
        print(path)
