"""XNYS for the ETF pipeline: its sessions (exchange-calendars with the US_EXTRA_* overrides) and when each one
closes (16:00 New York, 13:00 on half days), so a session is only processed once its close has passed."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

from lib.calendar import CALENDAR_START, TradingCalendar

NEW_YORK = ZoneInfo("America/New_York")
REGULAR_CLOSE = dt.time(16, 0)


@cache
def _xnys() -> tuple[tuple[dt.date, ...], dict[dt.date, dt.datetime]]:
    import exchange_calendars as xcals

    calendar = xcals.get_calendar("XNYS", start=CALENDAR_START.isoformat())
    sessions = tuple(ts.date() for ts in calendar.sessions)
    closes = {ts.date(): close.to_pydatetime() for ts, close in calendar.closes.items()}
    return sessions, closes


class UsMarket:
    """XNYS sessions as New York dates with their closes."""

    def __init__(
        self,
        extra_closed: list[dt.date] | tuple[dt.date, ...] = (),
        extra_sessions: list[dt.date] | tuple[dt.date, ...] = (),
        base_sessions: list[dt.date] | None = None,
    ) -> None:
        sessions, self._closes = _xnys()
        self.calendar = TradingCalendar(extra_closed, extra_sessions, base_sessions or sessions)

    def close_of(self, day: dt.date) -> dt.datetime:
        """The session's close (aware); an override session closes at 16:00 New York."""
        known = self._closes.get(day)
        return known if known is not None else dt.datetime.combine(day, REGULAR_CLOSE, tzinfo=NEW_YORK)

    @staticmethod
    def end_of_day(day: dt.date) -> dt.datetime:
        """The last moment of a New York date (what --today means for the US scripts)."""
        return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=NEW_YORK)

    @staticmethod
    def local_date(moment: dt.datetime) -> dt.date:
        """The New York date of a moment."""
        return moment.astimezone(NEW_YORK).date()
