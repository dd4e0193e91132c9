"""papershelf as a service of the user's session: started at login, started again if it dies.

One file per platform, each running the installed `papershelf serve` for the user's home: a systemd user unit
on Linux (`systemctl --user`), a launchd agent on macOS, a Task Scheduler logon task on Windows. The files are
made by pure functions (tested on any platform); installing them runs the platform's own tool.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path
from xml.sax.saxutils import escape

NAME = "papershelf"
LAUNCHD_LABEL = "org.papershelf.serve"
ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}  # never a download; log lines as they happen


class ServiceError(Exception):
    """The service cannot be installed, removed or asked; the message says why and what to do."""


def platform() -> str:
    """linux, macos or windows (the service manager papershelf uses there)."""
    return {"darwin": "macos", "win32": "windows"}.get(sys.platform, "linux")


def serve_command(home: Path, port: int) -> list[str]:
    """The installed `papershelf serve`, as the service runs it (the venv's own script: pipx's or make's)."""
    bindir = Path(sys.executable).parent
    script = bindir / ("papershelf.exe" if platform() == "windows" else "papershelf")
    head = [str(script)] if script.exists() else [sys.executable, "-m", "papershelf.cli"]
    return [*head, "serve", "--home", str(home), "--port", str(port)]


def _systemd_quote(arg: str) -> str:
    """One ExecStart argument: quoted, with systemd's specifier and escape characters escaped."""
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%").replace("$", "$$") + '"'


def systemd_unit(home: Path, port: int) -> str:
    """The systemd user unit."""
    env = "\n".join(f"Environment={k}={v}" for k, v in ENVIRONMENT.items())
    return f"""[Unit]
Description=papershelf: your paper library and its related papers, on 127.0.0.1:{port}
# papershelf listens on the loopback interface only: no network is needed to start.

[Service]
Type=simple
ExecStart={" ".join(_systemd_quote(a) for a in serve_command(home, port))}
{env}
# Started again if it dies (a crash, a kill -9); a clean stop (systemctl --user stop) stays stopped.
Restart=on-failure
RestartSec=5
# The server finishes a feed fetch or a sync in flight before it exits (up to two minutes).
TimeoutStopSec=150

[Install]
WantedBy=default.target
"""


def launchd_plist(home: Path, port: int) -> bytes:
    """The launchd agent (~/Library/LaunchAgents)."""
    log = str(Path(home) / "logs" / "service.log")
    return plistlib.dumps({
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": serve_command(home, port),
        "EnvironmentVariables": dict(ENVIRONMENT),
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},  # started again unless it stopped cleanly
        "ThrottleInterval": 5,
        "ProcessType": "Interactive",  # the panel waits on it: not throttled like a background job
        "StandardOutPath": log,
        "StandardErrorPath": log,
    })


def windows_task(home: Path, port: int, user: str | None = None) -> str:
    """The Task Scheduler task, for `schtasks /Create /XML` (written as UTF-16, as it expects)."""
    cmd = serve_command(home, port)
    args = subprocess.list2cmdline(cmd[1:])
    user_id = f"\n      <UserId>{escape(user)}</UserId>" if user else ""
    return f"""<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>papershelf: your paper library and its related papers, on 127.0.0.1:{port}</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>{user_id}
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <RestartOnFailure>
      <Interval>PT1M</Interval>
      <Count>999</Count>
    </RestartOnFailure>
    <Hidden>true</Hidden>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>{escape(cmd[0])}</Command>
      <Arguments>{escape(args)}</Arguments>
    </Exec>
  </Actions>
</Task>
"""


def unit_path() -> Path:
    """Where the service's file goes on this platform."""
    p = platform()
    if p == "macos":
        return Path.home() / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
    if p == "windows":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "papershelf" / "papershelf-task.xml"
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "systemd" / "user" / f"{NAME}.service"


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    """Run one command of the service manager; ServiceError with its words when it is missing or refuses."""
    if shutil.which(cmd[0]) is None:
        raise ServiceError(f"{cmd[0]} is not on this machine")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise ServiceError(f"`{' '.join(cmd)}` said: {(r.stderr or r.stdout).strip()}")
    return r


def _manager(*args: str) -> subprocess.CompletedProcess:
    """Run the platform's service manager with these arguments."""
    tool = {"linux": ["systemctl", "--user"], "macos": ["launchctl"], "windows": ["schtasks"]}[platform()]
    return _run([*tool, *args])


def write(home: Path, port: int) -> Path:
    """Write the service's file for this platform; return where."""
    target = unit_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    p = platform()
    if p == "macos":
        target.write_bytes(launchd_plist(home, port))
    elif p == "windows":
        target.write_text(windows_task(home, port, os.environ.get("USERNAME")), encoding="utf-16")
    else:
        target.write_text(systemd_unit(home, port))
    return target


def start_commands() -> list[list[str]]:
    """What makes the written service run now and at every login."""
    p, target = platform(), unit_path()
    if p == "macos":
        return [["launchctl", "bootstrap", f"gui/{os.getuid()}", str(target)]]
    if p == "windows":
        return [["schtasks", "/Create", "/TN", NAME, "/XML", str(target), "/F"], ["schtasks", "/Run", "/TN", NAME]]
    return [["systemctl", "--user", "daemon-reload"], ["systemctl", "--user", "enable", "--now", f"{NAME}.service"]]


def stop_commands() -> list[list[str]]:
    """What stops the service and takes it out of login."""
    p, target = platform(), unit_path()
    if p == "macos":
        return [["launchctl", "bootout", f"gui/{os.getuid()}", str(target)]]
    if p == "windows":
        return [["schtasks", "/End", "/TN", NAME], ["schtasks", "/Delete", "/TN", NAME, "/F"]]
    return [["systemctl", "--user", "disable", "--now", f"{NAME}.service"]]


def run_all(commands: list[list[str]]) -> None:
    """Run each command; ServiceError at the first that fails (with what it said)."""
    for cmd in commands:
        _run(cmd)


def manager_state() -> dict[str, str]:
    """What the service manager says of the service ({} when it cannot be asked)."""
    p = platform()
    try:
        if p == "linux":
            r = _manager("show", f"{NAME}.service", "-p", "LoadState,ActiveState,SubState,UnitFileState,"
                                                         "ActiveEnterTimestamp,NRestarts,Result")
            return dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
        if p == "macos":
            r = _manager("print", f"gui/{os.getuid()}/{LAUNCHD_LABEL}")
            return {k.strip(): v.strip() for k, v in (line.split("=", 1) for line in r.stdout.splitlines()
                                                       if " = " in line) if k.strip() in ("state", "pid", "last exit code")}
        r = _manager("/Query", "/TN", NAME, "/FO", "LIST", "/V")
        return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in r.stdout.splitlines() if ":" in line)
                if k.strip() in ("Status", "Last Run Time", "Last Result")}
    except (ServiceError, subprocess.TimeoutExpired) as e:
        return {"error": str(e)}
