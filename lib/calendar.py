"""Which KST dates are KRX sessions: exchange-calendars XKRX plus the overrides in settings."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from functools import cache

import pandas as pd

from lib.errors import ConfigError

CALENDAR_START = dt.date(2010, 1, 4)


@cache
def _xkrx_sessions() -> tuple[dt.date, ...]:
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XKRX", start=CALENDAR_START.isoformat())
    return tuple(ts.date() for ts in calendar.sessions)


class TradingCalendar:
    """KRX sessions as KST dates; overrides fix days the library gets wrong (new closures lag behind)."""

    def __init__(
        self,
        extra_closed: Iterable[dt.date] = (),
        extra_sessions: Iterable[dt.date] = (),
        base_sessions: Iterable[dt.date] | None = None,
    ) -> None:
        base = set(_xkrx_sessions() if base_sessions is None else base_sessions)
        closed, added = set(extra_closed), set(extra_sessions)
        both = closed & added
        if both:
            raise ConfigError(f"{min(both)} is both in KRX_EXTRA_CLOSED_DAYS and KRX_EXTRA_SESSIONS")
        self._sessions = sorted((base - closed) | added)
        self.first = self._sessions[0]
        self.last = self._sessions[-1]

    def _check(self, day: dt.date) -> None:
        if not self.first <= day <= self.last:
            raise ConfigError(f"{day} is outside the trading calendar ({self.first}..{self.last})")

    def is_session(self, day: dt.date) -> bool:
        """True when KRX trades on this KST date."""
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
            raise ConfigError(f"no session before {day} in the trading calendar")
        return self._sessions[i - 1]


def to_utc_midnight(day: dt.date) -> dt.datetime:
    """How a KST trading date is stored: midnight UTC of that date (naive, as BSON returns it)."""
    return dt.datetime(day.year, day.month, day.day)


def from_stored(value: dt.datetime | pd.Timestamp) -> dt.date:
    """The KST trading date of a stored day."""
    return dt.date(value.year, value.month, value.day)
