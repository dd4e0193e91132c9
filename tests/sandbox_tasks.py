"""Tasks for the sandbox's tests (test_hostile.py), in a module of their own: a worker imports the module of the
task it is sent, and this one imports nothing slow (test_hostile.py, with pytest and httpx, took over a second
to import on a loaded machine, and that counted against a task's 1 s limit)."""

from __future__ import annotations

import os
import time


def sleep_for(seconds: float) -> str:
    time.sleep(seconds)
    return "woke"


def take_memory(megabytes: int) -> int:
    return len(bytearray(megabytes << 20))


def die() -> None:
    os.abort()


def fail() -> None:
    raise KeyError("a bug in one task")


def pid() -> int:
    return os.getpid()
