"""Worker processes that run untrusted work (reading a PDF) under a memory limit and a time limit per task.

Every file papershelf reads may be hostile: a download, a shared folder, a Zotero group's attachment. An
852-byte PDF can make PDFium recurse without end and take gigabytes in seconds; the server's own process must
never be where that happens. So each task runs in a worker process:

- with an address-space limit (`RLIMIT_AS`) set in the worker before it reads anything: a reader that asks
  for more gets a failed allocation (PDFium aborts, Python raises MemoryError) and the worker dies alone;
- with a deadline: a worker that has not answered in time is killed (SIGKILL) and replaced;
- one task at a time, so a worker that dies fails that task alone, named, with the reason.

A task's exception is the task's failure (its message comes back), never the caller's. Nothing here is
retried: a task that failed is reported, and what to do with it is the caller's decision (the PDF readers
remember the file, files.py). concurrent.futures' pools are not used: they cannot kill one task's process on
a deadline, and a dead worker breaks the whole pool with every task in flight.

Processes are spawned, never forked: the server's threads and DuckDB's are not safe to fork.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("papershelf.sandbox")
# A worker's address space. A worker with PDFium loaded takes about 50 MB; the 30 real papers of the
# development set read the same at 384 MB as at 1 GiB, and a page that inflates to 256 MB of content or draws
# a million text runs fails here instead of taking 0.6 GB of the user's memory.
MEMORY_MB = 512
SECONDS = 30.0  # a task's time: a paper's pages take well under a second on one slow core
TASKS_PER_WORKER = 200  # then the worker is replaced: what a C library leaks does not pile up
STARTUP_SECONDS = 120.0  # a new worker's start (Python and the reader's imports), not counted in a task's time


@dataclass(frozen=True)
class Limits:
    """What one task may use: megabytes of address space for its worker, and seconds."""

    memory_mb: int = MEMORY_MB
    seconds: float = SECONDS

    @classmethod
    def from_env(cls) -> "Limits":
        """The defaults, or `PAPERSHELF_READER_MEMORY_MB` and `PAPERSHELF_READER_SECONDS` where set."""
        return cls(memory_mb=int(os.environ.get("PAPERSHELF_READER_MEMORY_MB") or MEMORY_MB),
                   seconds=float(os.environ.get("PAPERSHELF_READER_SECONDS") or SECONDS))


class TaskFailed(Exception):
    """A task that gave no result: it raised, ran out of memory or time, or its worker died. Says why."""


def _limit_memory(megabytes: int) -> None:
    """Cap this process's address space (where the platform enforces one: Linux, the BSDs)."""
    try:
        import resource
    except ImportError:  # Windows: the deadline still holds
        return
    limit = megabytes << 20
    for name in ("RLIMIT_AS", "RLIMIT_DATA"):
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            soft, hard = resource.getrlimit(which)
            resource.setrlimit(which, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
            return
        except (ValueError, OSError):  # macOS refuses RLIMIT_AS: try the next
            continue


def _serve(conn, memory_mb: int, warm: Callable[[], Any] | None) -> None:
    """A worker's life: limits first, then one task at a time until told to stop (None) or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal goes to the server, which stops us
    try:
        os.nice(10)  # yield the CPU to the server's own threads: a lookup waits on no file
    except OSError:
        pass
    if warm is not None:
        warm()  # imports, before the limit: they are ours and trusted
    _limit_memory(memory_mb)
    conn.send("ready")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            answer = ("ok", fn(*args))
        except MemoryError:
            answer = ("error", f"reading it needed more than the reader's {memory_mb} MB")
        except RecursionError:
            answer = ("error", "its structure nests without end")
        except BaseException as e:  # the task's failure, whatever it is, never the worker's
            answer = ("error", f"{type(e).__name__}: {e}")
        try:
            conn.send(answer)
        except (OSError, ValueError):
            return
        del answer


def _death(exitcode: int | None, memory_mb: int) -> str:
    """Why a worker that died did, from its exit code."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
            return f"its reader crashed ({name}; a broken or hostile file, or more than {memory_mb} MB)"
        return f"its reader was stopped ({name})"
    return f"its reader exited ({exitcode})"


class _Worker:
    """One worker process and the pipe to it."""

    def __init__(self, context, limits: Limits, warm):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, limits.memory_mb, warm), daemon=True,
                                       name="papershelf-reader")
        self.process.start()
        child.close()
        self.tasks = 0
        self.ready = False

    def run(self, fn, args: tuple, limits: Limits) -> Any:
        """The task's result; TaskFailed if it raised, overran or killed the worker (then this worker is gone)."""
        self.tasks += 1
        try:
            if not self.ready:  # its start is not the task's time (a loaded machine takes seconds to start Python)
                if not self.conn.poll(STARTUP_SECONDS) or self.conn.recv() != "ready":
                    self.kill()
                    raise TaskFailed("its reader did not start")
                self.ready = True
            self.conn.send((fn, args))
            if not self.conn.poll(limits.seconds):
                self.kill()
                raise TaskFailed(f"reading it took longer than {limits.seconds:g} s")
            status, value = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.process.join(5)
            reason = _death(self.process.exitcode, limits.memory_mb)
            self.kill()
            raise TaskFailed(reason) from None
        if status != "ok":
            raise TaskFailed(value)
        return value

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def stop(self) -> None:
        """Ask it to finish, then make sure it has."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(2)
        self.kill()


class Sandbox:
    """A pool of limited worker processes, started on demand and kept for the next tasks (starting one costs a
    few hundred milliseconds). Safe to use from several threads at once."""

    def __init__(self, workers: int | None = None, limits: Limits | None = None,
                 warm: Callable[[], Any] | None = None):
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self.limits = limits or Limits.from_env()
        self.warm = warm  # a module-level function each new worker runs before its limits (imports)
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.LifoQueue[_Worker] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(self.workers)
        self._all: set[_Worker] = set()
        self._lock = threading.Lock()

    def run(self, fn: Callable, *args) -> Any:
        """fn(*args) in a worker; TaskFailed with the reason if it gave no result."""
        with self._slots:
            worker = self._take()
            try:
                return worker.run(fn, args, self.limits)
            finally:
                self._give_back(worker)

    def map(self, fn: Callable, items: Iterable) -> Iterator[tuple[Any, Any]]:
        """(args, fn(*args) or its TaskFailed) for each tuple of args, in order, up to `workers` at a time."""
        items = list(items)
        if not items:
            return

        def one(item):
            try:
                return item, self.run(fn, *item)
            except TaskFailed as e:
                return item, e

        with ThreadPoolExecutor(min(self.workers, len(items)), thread_name_prefix="papershelf-sandbox") as threads:
            yield from threads.map(one, items)

    def _take(self) -> _Worker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                break
            if worker.alive:
                return worker
            self._forget(worker)
        with self._lock:
            worker = _Worker(self._context, self.limits, self.warm)
            self._all.add(worker)
            return worker

    def _give_back(self, worker: _Worker) -> None:
        if worker.alive and worker.tasks < TASKS_PER_WORKER:
            self._idle.put(worker)
            return
        worker.stop() if worker.alive else worker.kill()
        self._forget(worker)

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)

    def close(self) -> None:
        """Stop every worker (one busy with a task is killed: its caller gets TaskFailed). The next task starts
        new ones."""
        with self._lock:
            workers, self._all, self._idle = list(self._all), set(), queue.LifoQueue()
        for w in workers:
            w.kill()

    def pids(self) -> list[int]:
        """The worker processes alive now (tests, `doctor`)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.alive]

