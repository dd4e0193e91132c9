"""papershelf as a service: the systemd unit (checked by systemd-analyze), the launchd agent, the Windows logon
task, `service install | uninstall | status`, and the server's rotated log."""

from __future__ import annotations

import json
import logging
import os
import plistlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import papershelf_cmd, start_server

from papershelf import logs, service

ODD_HOME = Path("/tmp/my papers/100% \"mine\"")  # a space, a %, quotes: each platform's quoting is tried


def cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([*papershelf_cmd(), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "200", **env})


def test_the_systemd_unit_is_one_systemd_accepts_and_runs_the_installed_papershelf(tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: `make test` needs systemd (Debian's systemd package)")
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    p = cli("service", "install", "--no-start", "--port", "8799", "--home", str(tmp_path / "home"), env=env)
    assert p.returncode == 0, p.stderr
    unit = tmp_path / "config" / "systemd" / "user" / "papershelf.service"
    text = unit.read_text()
    assert "systemctl --user enable --now papershelf.service" in " ".join(p.stderr.split())
    exec_start = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    assert exec_start == "ExecStart=" + " ".join(f'"{a}"' for a in service.serve_command(tmp_path / "home", 8799))
    assert Path(sys.executable).parent.as_posix() in exec_start  # this installation's own papershelf
    assert "Restart=on-failure" in text and "WantedBy=default.target" in text
    verify = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    odd = tmp_path / "odd" / "papershelf.service"
    odd.parent.mkdir()
    odd.write_text(service.systemd_unit(ODD_HOME, 8765))
    verify = subprocess.run(["systemd-analyze", "verify", str(odd)], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    assert '"/tmp/my papers/100%% \\"mine\\""' in odd.read_text()
    # The check can fail: a unit systemd would refuse is refused.
    broken = tmp_path / "broken" / "papershelf.service"
    broken.parent.mkdir()
    broken.write_text(text.replace(exec_start, "ExecStart=papershelf-nowhere serve"))
    assert subprocess.run(["systemd-analyze", "verify", str(broken)], capture_output=True).returncode != 0


def test_install_starts_the_service_where_systemctl_user_works_and_says_what_to_run_where_it_does_not(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    home = tmp_path / "home"
    user_manager = subprocess.run(["systemctl", "--user", "show-environment"], capture_output=True).returncode == 0
    p = cli("service", "install", "--port", "8798", "--home", str(home), env=env)
    unit = tmp_path / "config" / "systemd" / "user" / "papershelf.service"
    assert unit.exists()
    if user_manager:  # a desktop session: it really runs, and says so
        try:
            assert p.returncode == 0, p.stderr
            st = json.loads(cli("service", "status", "--json", "--home", str(home), env=env).stdout)
            assert st["installed"] and st["manager"].get("ActiveState") == "active"
        finally:
            cli("service", "uninstall", "--home", str(home), env=env)
    else:  # here (no user session bus): the file is written, and the user is told what to run
        said = " ".join(p.stderr.split())
        assert p.returncode == 1 and "could not be started" in said and "systemctl --user daemon-reload" in said
    st = cli("service", "status", "--json", "--home", str(home), env=env)
    state = json.loads(st.stdout)
    assert st.returncode == 3 and state["installed"] == (unit.exists()) and not state["running"]
    u = cli("service", "uninstall", "--home", str(home), env=env)
    assert u.returncode == 0 and not unit.exists() and "library is untouched" in " ".join(u.stderr.split())


def test_the_launchd_agent_and_the_windows_task_run_papershelf_serve_at_login_and_again_if_it_dies(tmp_path, monkeypatch):
    agent = plistlib.loads(service.launchd_plist(ODD_HOME, 8765))
    assert agent["Label"] == service.LAUNCHD_LABEL and agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert agent["ProgramArguments"] == service.serve_command(ODD_HOME, 8765)
    assert agent["ProgramArguments"][-4:] == ["--home", str(ODD_HOME), "--port", "8765"]
    assert agent["StandardErrorPath"] == str(ODD_HOME / "logs" / "service.log")

    monkeypatch.setattr(service, "platform", lambda: "windows")
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path))
    monkeypatch.setenv("USERNAME", "ada")
    written = service.write(ODD_HOME, 8765)
    raw = written.read_bytes()
    assert raw[:2] in (b"\xff\xfe", b"\xfe\xff")  # UTF-16 with its byte order mark, as schtasks /XML reads it
    ns = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}
    task = ET.fromstring(raw.decode("utf-16").replace('encoding="UTF-16"', ""))
    assert task.find("t:Triggers/t:LogonTrigger/t:UserId", ns).text == "ada"
    assert task.find("t:Settings/t:RestartOnFailure/t:Count", ns).text == "999"
    assert task.find("t:Settings/t:ExecutionTimeLimit", ns).text == "PT0S"  # it runs for as long as the session
    exec_ = task.find("t:Actions/t:Exec", ns)
    command = service.serve_command(ODD_HOME, 8765)
    assert exec_.find("t:Command", ns).text == command[0]
    assert exec_.find("t:Arguments", ns).text == subprocess.list2cmdline(command[1:])
    assert '"/tmp/my papers/100% \\"mine\\""' in exec_.find("t:Arguments", ns).text
    assert service.start_commands()[0][:4] == ["schtasks", "/Create", "/TN", "papershelf"]


def test_the_server_logs_to_its_home_and_status_says_since_when_it_runs_and_the_last_error(sample_copy):
    srv = start_server(sample_copy, "--no-inbox", "--no-digest", "--no-follow", "--no-backup")
    try:
        log = logs.path(sample_copy).read_text()
        assert "INFO papershelf: papershelf" in log and f"at {srv.url}" in log
        with open(logs.path(sample_copy), "a") as f:  # as the server's logger writes an error
            f.write("2026-12-02 10:00:00,123 ERROR papershelf.backup: the daily backup failed\n")
        st = cli("service", "status", "--json", "--home", str(sample_copy), env={"XDG_CONFIG_HOME": str(sample_copy)})
        state = json.loads(st.stdout)
        assert st.returncode == 0 and state["running"] and state["url"] == srv.url and state["pid"] == srv.proc.pid
        assert state["since"][:4].isdigit() and not state["installed"]
        assert state["last_error"] == {"at": "2026-12-02 10:00:00", "message": "papershelf.backup: the daily backup failed"}
    finally:
        srv.stop()


def test_the_log_rotates_and_the_last_error_is_found_in_an_older_file(tmp_path, monkeypatch):
    monkeypatch.setattr(logs, "MAX_BYTES", 2000)
    handler = logs.to_file(tmp_path)
    try:
        log = logging.getLogger("papershelf.test")
        log.error("the disk is full")
        for i in range(200):
            log.info("line %d of a busy day", i)
    finally:
        for name in ("papershelf", "uvicorn.error", "litestar"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == ["papershelf.log"] + [f"papershelf.log.{i}" for i in range(1, logs.KEEP + 1)]
    assert all(p.stat().st_size <= 2100 for p in (tmp_path / "logs").iterdir())
    assert logs.last_error(tmp_path) is None  # the error was in a file rotated away: 5 are kept
    handler = logs.to_file(tmp_path)
    try:
        logging.getLogger("papershelf.test").error("the second error")
        logging.getLogger("papershelf.test").info("and after it")
    finally:
        for name in ("papershelf", "uvicorn.error", "litestar"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
    assert logs.last_error(tmp_path)[1] == "papershelf.test: the second error"
