"""Completing papers from their registries, when the user asks for it (`papershelf settings enrich on`): a paper
with a DOI or an arXiv id and a field missing (venue, entry type, abstract, year, authors) is asked about, in the
background, at Crossref (then DataCite, for a DOI Crossref does not know) or the arXiv API.

Off by default: papershelf's promise is that nothing leaves the machine, and this sends identifiers out. What is
sent is the identifier alone, with a User-Agent that names papershelf and the contact address the user gave (the
registries' etiquette). Polite: one request per registry per second (arXiv: per three), and a registry that
answers 429 or 503 is left alone for its Retry-After, or for a wait that doubles each time. Every answer is kept
(store/registry.py), found or not, so an identifier is asked about once; no import waits for any of this.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from .. import __version__, clean
from ..models import Record
from ..store import Store
from .registries import ENDPOINTS, INTERVAL, RegistryBusy, RegistryError, fetch, registry_for

if TYPE_CHECKING:  # (annotations only: see where it is imported)
    import httpx

log = logging.getLogger("papershelf.enrich")
SETTING = "enrich"
MAX_BACKOFF = 3600.0
TICK_SECONDS = 30.0  # the most one tick works (it is run again at once while papers wait)
EMAIL = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


class EnrichSettings(msgspec.Struct):
    """Whether papers are completed from their registries, and the address the registries may write to."""

    on: bool = False
    contact: str = ""


class EnrichState(msgspec.Struct):
    """What completion is doing: its settings, papers waiting, answers kept, and why it waits, if it does."""

    on: bool
    contact: str
    waiting: int
    answers: int
    found: int
    completed: int  # papers changed by an answer since the server started
    paused: dict[str, float]  # registry → seconds it is left alone for (it asked us to wait)
    last_error: str = ""


def user_agent(contact: str) -> str:
    """Who asks: papershelf, and whom to write to (Crossref's and arXiv's etiquette)."""
    return f"papershelf/{__version__} (local paper library completing its papers' metadata; mailto:{contact})"


class EnrichService:
    """Asks registries about the library's papers and hands each answer to `apply` (the Library merges it)."""

    def __init__(self, store: Store, apply: Callable[[str, Record], list[str]],
                 endpoints: dict[str, str] | None = None, interval: dict[str, float] | None = None):
        self.store, self.apply = store, apply
        self.endpoints = {**ENDPOINTS, **(endpoints or {})}
        self.interval = {**INTERVAL, **(interval or {})}
        self._next: dict[str, float] = {}  # registry → monotonic time of its next allowed request
        self._backoff: dict[str, float] = {}  # registry → the wait its last 429/503 cost
        self._lock = threading.Lock()  # one tick at a time
        self.completed = 0
        self.last_error = ""

    # -- settings --------------------------------------------------------------------------------------------
    def settings(self) -> EnrichSettings:
        raw = self.store.get_setting(SETTING)
        return msgspec.json.decode(raw, type=EnrichSettings) if raw else EnrichSettings()

    def configure(self, on: bool | None = None, contact: str | None = None) -> EnrichSettings:
        """Turn completion on or off, set the contact address; on needs an address (the registries ask for one)."""
        s = self.settings()
        if contact is not None:
            contact = contact.strip()
            if contact and not EMAIL.fullmatch(contact):
                raise ValueError(f"{contact!r} is not an email address")
            s.contact = contact
        if on is not None:
            s.on = on
        if s.on and not s.contact:
            raise ValueError("completion sends a contact address with each request, as the registries ask: give "
                             "yours (papershelf settings enrich on --contact you@example.org)")
        self.store.set_setting(SETTING, msgspec.json.encode(s).decode())
        return s

    def state(self) -> EnrichState:
        s = self.settings()
        answers, found = self.store.registry_answers.counts()
        now = time.monotonic()
        return EnrichState(on=s.on, contact=s.contact, waiting=self.store.registry_answers.count_to_ask(),
                           answers=answers, found=found, completed=self.completed,
                           paused={r: round(t - now, 1) for r, t in self._next.items()
                                   if r in self._backoff and t > now},
                           last_error=self.last_error)

    # -- the work --------------------------------------------------------------------------------------------
    def tick(self, budget: float = TICK_SECONDS, sleep: Callable[[float], None] = time.sleep) -> int:
        """Ask about the papers waiting, for at most `budget` seconds; the number of identifiers answered."""
        s = self.settings()
        if not s.on or not s.contact:
            return 0
        if not self._lock.acquire(blocking=False):
            return 0
        try:
            import httpx  # (here, not at the top: 40-100 ms that every command sending nothing would pay)

            done, until = 0, time.monotonic() + budget
            with httpx.Client(headers={"User-Agent": user_agent(s.contact), "Accept": "application/json, "
                                       "application/atom+xml;q=0.9"}, timeout=20, follow_redirects=True) as http:
                while time.monotonic() < until:
                    todo = self.store.registry_answers.to_ask(50)
                    if not todo:
                        break
                    ready = [(pid, ref) for pid, ref in todo if self._ready_in(registry_for(ref)[0]) <= 0]
                    if not ready:  # every registry asked for is resting: wait for the first, if the budget allows
                        wait = min(self._ready_in(registry_for(ref)[0]) for _, ref in todo)
                        if wait > until - time.monotonic():
                            break
                        sleep(wait)
                        continue
                    pid, ref = ready[0]
                    if self._ask(http, pid, ref):
                        done += 1
            return done
        finally:
            self._lock.release()

    def _ready_in(self, registry: str) -> float:
        return max(0.0, self._next.get(registry, 0.0) - time.monotonic())

    def _ask(self, http: httpx.Client, pid: str, ref: str) -> bool:
        """Ask the registries for one identifier, keep the answer and apply it. False: a registry made us wait."""
        for registry in registry_for(ref):
            wait = self._ready_in(registry)
            if wait > 0:
                return False
            self._next[registry] = time.monotonic() + self.interval[registry]
            try:
                rec = fetch(http, self.endpoints[registry], registry, ref)
            except RegistryBusy as e:
                back = e.after if e.after is not None else min(MAX_BACKOFF, 2 * self._backoff.get(registry, 5.0))
                self._backoff[registry] = back
                self._next[registry] = time.monotonic() + back
                self.last_error = f"{registry} asked us to wait {back:.0f} s ({e.status})"
                log.info(self.last_error)
                return False
            except RegistryError as e:
                # Not kept: the next tick asks again (a network outage is not an answer), a minute later.
                self._next[registry] = time.monotonic() + 60
                self.last_error = str(e)
                log.warning("%s", e)
                return False
            self._backoff.pop(registry, None)
            if rec is None:
                continue  # not this registry's: the next one, if any
            rec, _, _ = clean.record(rec)
            self.store.registry_answers.put(ref, registry, msgspec.json.encode(rec).decode())
            if self.apply(pid, rec):
                self.completed += 1
            return True
        self.store.registry_answers.put(ref, registry_for(ref)[-1], "")  # no registry knows it
        return True


