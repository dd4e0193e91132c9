"""The command line for tests, without its imports each time: a process per worker imports papershelf once,
then forks a child for each command, which runs `python -m papershelf.cli` as that would (runpy, its own argv,
environment, standard streams and exit status; it exits as an interpreter does). A command started afresh
spends 0.4 s of CPU importing papershelf: the suite runs a hundred of them.

The zygote starts no thread before it forks (papershelf's imports are thread-free until used), so the children
are as sound as the processes multiprocessing forks. It does not import onnxruntime: a child forked after that
import crashed (SIGSEGV) as it exited."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading

# Runs in the zygote: read a command per line, fork, answer {"pid"} at once and {"status"} when it ends.
_ZYGOTE = r"""
import json, os, runpy, sys
import papershelf.cli, papershelf.library  # what every command imports (not onnxruntime: see the docstring)
requests, answers = sys.stdin, os.fdopen(int(sys.argv[1]), "w")
print(json.dumps({"ready": True}), file=answers, flush=True)
for line in requests:
    job = json.loads(line)
    pid = os.fork()
    if pid == 0:  # the command: its streams, environment and argv, then python -m papershelf.cli
        answers.close()
        for fd, path, mode in ((0, job["stdin"], os.O_RDONLY), (1, job["stdout"], os.O_WRONLY), (2, job["stderr"], os.O_WRONLY)):
            f = os.open(path, mode)
            os.dup2(f, fd)
            os.close(f)
        sys.stdin = open(0, encoding="utf-8", closefd=False)
        os.environ.clear()
        os.environ.update(job["env"])
        os.chdir(job["cwd"])
        sys.argv = ["papershelf", *job["args"]]
        runpy.run_module("papershelf.cli", run_name="__main__", alter_sys=True)
        raise SystemExit(0)
    print(json.dumps({"pid": pid}), file=answers, flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"status": os.waitstatus_to_exitcode(status)}), file=answers, flush=True)
"""


class Zygote:
    """One per test worker: run(args, env, ...) → subprocess.CompletedProcess, as subprocess.run would give."""

    def __init__(self, python: str, env: dict[str, str]):
        read, write = os.pipe()
        self.proc = subprocess.Popen([python, "-c", _ZYGOTE, str(write)], stdin=subprocess.PIPE, pass_fds=(write,),
                                     env=env, text=True)
        os.close(write)
        self.answers = os.fdopen(read, "r")
        self.lock = threading.Lock()
        self._read(120)

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.answers], [], [], timeout)
        if not ready:
            raise TimeoutError
        line = self.answers.readline()
        if not line:
            raise RuntimeError("the command-line zygote ended")
        return json.loads(line)

    def run(self, args: list[str], env: dict[str, str], stdin: str | None, timeout: float
            ) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as d, self.lock:
            paths = {k: os.path.join(d, k) for k in ("stdin", "stdout", "stderr")}
            with open(paths["stdin"], "w", encoding="utf-8") as f:
                f.write(stdin or "")
            for k in ("stdout", "stderr"):
                open(paths[k], "w").close()
            self.proc.stdin.write(json.dumps({"args": args, "env": env, "cwd": os.getcwd(), **paths}) + "\n")
            self.proc.stdin.flush()
            pid = self._read(60)["pid"]
            try:
                status = self._read(timeout)["status"]
            except TimeoutError:
                os.kill(pid, signal.SIGKILL)
                self._read(60)
                raise subprocess.TimeoutExpired(["papershelf", *args], timeout) from None
            out, err = (open(paths[k], encoding="utf-8", errors="replace").read() for k in ("stdout", "stderr"))
            return subprocess.CompletedProcess([sys.executable, "-m", "papershelf.cli", *args], status, out, err)

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.answers.close()
