"""`papershelf service install | uninstall | status`: papershelf started at login and again if it dies."""

from __future__ import annotations

import json

from .. import logs, service
from ..pairing import find_server, read_server_file
from .common import DEFAULT_PORT, CLIError, Parents, console, home_of, out


def cmd_service(args) -> int:
    home = home_of(args).resolve()
    if args.service_cmd == "install":
        target = service.write(home, args.port)
        console.print(f"wrote {target}: `papershelf serve` for {home} on 127.0.0.1:{args.port}", highlight=False)
        how = " && ".join(" ".join(c) for c in service.start_commands())
        if args.no_start:
            console.print(f"To start it now and at every login: {how}", highlight=False)
            return 0
        running = find_server(home)
        if running:
            raise CLIError(f"papershelf already serves {home} at {running}: stop it (Ctrl-C where it runs), then "
                           "`papershelf service install` again; the service's file is written")
        try:
            service.run_all(service.start_commands())
        except service.ServiceError as e:
            raise CLIError(f"the service's file is written, but it could not be started: {e}. In your desktop "
                           f"session, run: {how}") from e
        console.print("papershelf now starts at login, and again if it stops unexpectedly. "
                      "`papershelf service status` says how it goes.", highlight=False)
        return 0
    if args.service_cmd == "uninstall":
        target = service.unit_path()
        if not target.exists():
            console.print(f"no papershelf service is installed ({target} is not there)", highlight=False)
            return 0
        try:
            service.run_all(service.stop_commands())
        except service.ServiceError as e:
            console.print(f"[yellow]warning[/yellow]: {e}", highlight=False)
        target.unlink()
        if service.platform() == "linux":
            try:
                service.run_all([["systemctl", "--user", "daemon-reload"]])
            except service.ServiceError:
                pass
        console.print(f"removed {target}: papershelf no longer starts at login (your library is untouched)",
                      highlight=False)
        return 0
    return status(home, args.json)


def status(home, as_json: bool) -> int:
    """Whether the service is installed and running, since when, and the last error in the log."""
    target = service.unit_path()
    url = find_server(home)
    announced = read_server_file(home) if url else {}
    err = logs.last_error(home)
    state = {
        "installed": target.exists(), "file": str(target),
        "manager": service.manager_state() if target.exists() else {},
        "running": bool(url), "url": url, "pid": announced.get("pid"), "since": announced.get("started_at"),
        "last_error": {"at": err[0], "message": err[1]} if err else None, "log": str(logs.path(home)),
    }
    if as_json:
        out.print_json(json.dumps(state))
    else:
        m = state["manager"]
        managed = (f" ({m['error']})" if "error" in m else
                   f" ({', '.join(f'{k} {v}' for k, v in m.items() if v)})" if m else "")
        out.print(f"service: {'installed, ' + str(target) if target.exists() else 'not installed'}{managed}",
                  highlight=False)
        out.print(f"server: running at {url}, pid {state['pid']}, since {state['since']}" if url else
                  f"server: not running for {home}", highlight=False)
        out.print(f"last error: {err[0]} {err[1]}" if err else "last error: none in the log", highlight=False)
        out.print(f"log: {state['log']}", highlight=False)
    return 0 if url else 3  # as `systemctl status` does for a service that is not running


def add_parsers(sub, parents: Parents) -> None:
    """The arguments of `papershelf service`, beside its handler."""
    common, json_opt = parents.common, parents.json_opt
    s = sub.add_parser("service", parents=[common, json_opt],
                       help="start papershelf at login and keep it running (systemd, launchd, Task Scheduler)")
    ss = s.add_subparsers(dest="service_cmd", metavar="install|uninstall|status")
    i = ss.add_parser("install", parents=[common], help="write the service for this home and start it")
    i.add_argument("--port", type=int, default=DEFAULT_PORT)
    i.add_argument("--no-start", action="store_true", help="only write the service's file")
    ss.add_parser("uninstall", parents=[common], help="stop the service and remove it (the library stays)")
    ss.add_parser("status", parents=[common, json_opt], help="installed? running since when? the last error")
    s.set_defaults(func=cmd_service, service_cmd="status")
