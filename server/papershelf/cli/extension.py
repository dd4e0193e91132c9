"""`papershelf extension`: the browser extension, written out of the installed package, ready to load."""

from __future__ import annotations

from pathlib import Path

from ..extension import package
from .common import CLIError, Parents, console, out

HOW = {
    "chromium": "In Chromium or Chrome: open chrome://extensions, turn on Developer mode, click Load unpacked and "
                "choose {dir}.",
    "firefox": "In Firefox: open about:debugging#/runtime/this-firefox, click Load Temporary Add-on… and choose "
               "{dir}/manifest.json (until Firefox restarts). To keep it: Firefox ESR or Developer Edition with "
               "xpinstall.signatures.required set to false in about:config, then `papershelf extension --browser "
               "firefox --zip papershelf.xpi` and open the .xpi from about:addons (Install Add-on From File…).",
}


def cmd_extension(args) -> int:
    browser = args.browser
    try:
        if args.zip:
            target = package.write_zip(browser, Path(args.zip).expanduser())
            out.print(str(target), highlight=False)
            if browser == "firefox":
                console.print("Firefox ESR or Developer Edition, with xpinstall.signatures.required set to false in "
                              "about:config: about:addons → ⚙ → Install Add-on From File… and choose it.",
                              highlight=False)
            else:
                console.print("Chromium loads an extension unpacked: unzip it and Load unpacked the folder "
                              "(chrome://extensions, Developer mode).", highlight=False)
            return 0
        target = Path(args.out).expanduser() if args.out else Path.cwd() / f"papershelf-extension-{browser}"
        package.write_dir(browser, target)
    except (FileExistsError, ValueError, OSError) as e:
        raise CLIError(str(e)) from e
    out.print(str(target.resolve()), highlight=False)
    console.print(f"papershelf extension {package.version()} for {browser}. "
                  + HOW[browser].format(dir=target.resolve()), highlight=False)
    console.print("Then open the popup and click Pair (papershelf serve must be running).", highlight=False)
    return 0


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of this module's commands, beside their handlers."""
    s = sub.add_parser("extension", help="write the browser extension, ready to load (folder or zip)")
    s.add_argument("--browser", choices=["chromium", "firefox"], default="chromium",
                   help="chromium (Chrome, Edge, Brave…) or firefox (default chromium)")
    where = s.add_mutually_exclusive_group()
    where.add_argument("--out", help="folder to write it into (new or empty; default ./papershelf-extension-BROWSER)")
    where.add_argument("--zip", help="write one zip instead (for Firefox: an .xpi)")
    s.set_defaults(func=cmd_extension)
