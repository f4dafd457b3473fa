"""Which local dates are sessions of an exchange: exchange-calendars (XKRX, XNYS, ...) plus the overrides a
market's settings give (KRX_EXTRA_CLOSED_DAYS / KRX_EXTRA_SESSIONS, US_EXTRA_CLOSED_DAYS / US_EXTRA_SESSIONS),
because the library learns newly declared closures late. A session is a date in the exchange's own time zone;
`close_at` says when it ends."""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterable
from functools import cache
from zoneinfo import ZoneInfo

from lib.errors import ConfigError

CALENDAR_START = dt.date(2010, 1, 4)


_LOADING = threading.Lock()


def _exchange(code: str) -> tuple[str, dict[dt.date, dt.datetime]]:
    """The exchange's time zone and the UTC close of each of its sessions, loaded once per process. One thread
    at a time: exchange-calendars fills class-level holiday caches while it builds a calendar, and two threads
    building XKRX at once (the API's first concurrent requests) corrupt them."""
    with _LOADING:
        return _load_exchange(code)


@cache
def _load_exchange(code: str) -> tuple[str, dict[dt.date, dt.datetime]]:
    import exchange_calendars as xcals

    try:
        calendar = xcals.get_calendar(code, start=CALENDAR_START.isoformat())
    except xcals.errors.InvalidCalendarName:
        raise ConfigError(
            f"{code} is not an exchange-calendars exchange (exchange_calendars.get_calendar_names() lists them)"
        ) from None
    closes = calendar.schedule["close"]
    return str(calendar.tz), {ts.date(): close.to_pydatetime() for ts, close in closes.items()}


class TradingCalendar:
    """An exchange's sessions as local dates; overrides fix the days the library gets wrong.

    `settings_prefix` names the overrides in messages (KRX -> KRX_EXTRA_CLOSED_DAYS); `base_sessions` replaces
    the library's sessions (tests: a calendar that wrongly calls a day a session)."""

    def __init__(
        self,
        extra_closed: Iterable[dt.date] = (),
        extra_sessions: Iterable[dt.date] = (),
        base_sessions: Iterable[dt.date] | None = None,
        *,
        exchange: str,
        settings_prefix: str,
    ) -> None:
        zone, closes = _exchange(exchange)
        self.exchange = exchange
        self.tz = ZoneInfo(zone)
        self.settings_prefix = settings_prefix
        self.extra_closed = frozenset(extra_closed)
        base = set(closes if base_sessions is None else base_sessions)
        added = set(extra_sessions)
        both = self.extra_closed & added
        if both:
            raise ConfigError(
                f"{min(both)} is both in {self.closed_setting} and {settings_prefix}_EXTRA_SESSIONS"
            )
        self._sessions = sorted((base - self.extra_closed) | added)
        if not self._sessions:
            raise ConfigError(f"the {exchange} calendar has no sessions")
        self._closes = closes
        # A session the library does not know closes at the exchange's usual time.
        usual = Counter(c.astimezone(self.tz).time() for c in list(closes.values())[-250:]).most_common(1)
        self._usual_close = usual[0][0] if usual else dt.time(16, 0)
        self.first = self._sessions[0]
        self.last = self._sessions[-1]

    @property
    def closed_setting(self) -> str:
        """The setting that declares closures the library does not know (KRX_EXTRA_CLOSED_DAYS)."""
        return f"{self.settings_prefix}_EXTRA_CLOSED_DAYS"

    def closed_line(self, day: dt.date) -> str:
        """The exact settings line that declares `day` closed, keeping the closures already declared."""
        days = sorted(self.extra_closed | {day})
        return f"{self.closed_setting}={','.join(d.isoformat() for d in days)}"

    def _check(self, day: dt.date) -> None:
        if not self.first <= day <= self.last:
            raise ConfigError(f"{day} is outside the {self.exchange} trading calendar ({self.first}..{self.last})")

    def local_date(self, moment: dt.datetime) -> dt.date:
        """The exchange's local date at an aware moment."""
        return moment.astimezone(self.tz).date()

    def is_session(self, day: dt.date) -> bool:
        """True when the exchange trades on this local date."""
        self._check(day)
        i = bisect.bisect_left(self._sessions, day)
        return i < len(self._sessions) and self._sessions[i] == day

    def sessions_between(self, start: dt.date, end: dt.date) -> list[dt.date]:
        """Sessions from start to end, both included."""
        if end < start:
            return []
        self._check(end)
        lo = bisect.bisect_left(self._sessions, start)
        hi = bisect.bisect_right(self._sessions, end)
        return self._sessions[lo:hi]

    def last_sessions(self, end: dt.date, count: int) -> list[dt.date]:
        """The `count` sessions up to and including end."""
        self._check(end)
        hi = bisect.bisect_right(self._sessions, end)
        return self._sessions[max(0, hi - count) : hi]

    def previous_session(self, day: dt.date) -> dt.date:
        """The last session strictly before day."""
        self._check(day)
        i = bisect.bisect_left(self._sessions, day)
        if i == 0:
            raise ConfigError(f"no session before {day} in the {self.exchange} trading calendar")
        return self._sessions[i - 1]

    def next_session(self, day: dt.date) -> dt.date | None:
        """The first session strictly after day, None past the calendar's end."""
        i = bisect.bisect_right(self._sessions, day)
        return self._sessions[i] if i < len(self._sessions) else None

    def latest_session(self, day: dt.date) -> dt.date:
        """Day itself when it is a session, else the session before it."""
        return day if self.is_session(day) else self.previous_session(day)

    def close_at(self, day: dt.date) -> dt.datetime:
        """When the session ends (aware): the library's close (early closes included), else the usual close."""
        close = self._closes.get(day)
        if close is not None:
            return close.astimezone(self.tz)
        return dt.datetime.combine(day, self._usual_close, tzinfo=self.tz)

