"""When `papershelf serve` fetches the digest: once a day at the time the user sets (default 07:00, local), and at
start when the last fetch is more than a day old; then it emails the digest if email is set up.

The decision is a pure function of the clock (`due`), so tests drive it with any time they like; the loop
only asks it once a minute (api/runtime.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta, timezone

log = logging.getLogger("papershelf.schedule")
DEFAULT_AT = "07:00"


def parse_at(value: str | None) -> time:
    """"HH:MM" (24 h) → time; the default when unset; ValueError with a clear message otherwise."""
    value = (value or DEFAULT_AT).strip()
    m = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", value)
    if not m:
        raise ValueError(f"{value!r} is not a time of day: give HH:MM, like 07:00")
    return time(int(m.group(1)), int(m.group(2)))


def due(now: datetime, last: datetime | None, at: time) -> bool:
    """Fetch now? Never fetched; or the last fetch is over a day old; or today's time has come since the last."""
    if last is None or now - last >= timedelta(days=1):
        return True
    todays = datetime.combine(now.date(), at)
    return last < todays <= now


class DailyFetch:
    """The serve loop's daily job (api/runtime.py runs it): fetch every feed of the DigestService `digest`, then
    send the email (each failure logged, never raised)."""

    def __init__(self, digest, clock: Callable[[], datetime] = datetime.now, send: Callable[[], object] | None = None):
        self.digest = digest
        self.clock = clock
        self.send = send
        self.last_run: datetime | None = None

    def at(self) -> time:
        try:
            return parse_at(self.digest.settings().at)
        except ValueError:
            return parse_at(None)

    def last_fetch(self) -> datetime | None:
        """The last fetch, local time (the store keeps UTC)."""
        t = self.digest.last_fetch()
        return None if t is None else t.replace(tzinfo=timezone.utc).astimezone().replace(tzinfo=None)

    def tick(self) -> bool:
        """Run the job if it is due now; True if it ran."""
        if not self.digest.feeds():
            return False
        now = self.clock()
        last = self.last_run or self.last_fetch()
        if not due(now, last, self.at()):
            return False
        self.last_run = now
        reports = self.digest.fetch_all()
        log.info("digest fetched: %s", ", ".join(f"{r.source}: {r.error or f'{r.new} new'}" for r in reports))
        if self.send is not None:
            try:
                self.send()
            except Exception as e:  # email not set up or refused: the digest is still on the page
                log.warning("digest email not sent: %s", e)
        return True
