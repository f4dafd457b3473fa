"""KRX sessions from XKRX, with overrides for closures the library has not learned yet."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.errors import ConfigError
from lib.spine.calendar import TradingCalendar

D = dt.date


def test_weekends_and_korean_holidays_are_not_sessions():
    calendar = TradingCalendar(exchange="XKRX", settings_prefix="KRX")
    assert calendar.sessions_between(D(2024, 9, 13), D(2024, 9, 20)) == [D(2024, 9, 13), D(2024, 9, 19), D(2024, 9, 20)]
    assert not calendar.is_session(D(2024, 12, 31))  # year-end closing day
    assert not calendar.is_session(D(2025, 6, 3))  # presidential election
    assert calendar.previous_session(D(2024, 9, 19)) == D(2024, 9, 13)


def test_overrides_close_and_open_days():
    calendar = TradingCalendar(
        extra_closed=[D(2024, 10, 2)], extra_sessions=[D(2024, 10, 5)], exchange="XKRX", settings_prefix="KRX"
    )
    assert not calendar.is_session(D(2024, 10, 2))
    assert calendar.is_session(D(2024, 10, 5))
    assert calendar.last_sessions(D(2024, 10, 7), 3) == [D(2024, 10, 4), D(2024, 10, 5), D(2024, 10, 7)]


def test_a_day_in_both_override_lists_is_a_config_error():
    with pytest.raises(ConfigError, match="both in KRX_EXTRA_CLOSED_DAYS and KRX_EXTRA_SESSIONS"):
        TradingCalendar(
            extra_closed=[D(2024, 10, 2)], extra_sessions=[D(2024, 10, 2)], exchange="XKRX", settings_prefix="KRX"
        )


def test_the_sample_panel_sessions_match_the_calendar():
    import pandas as pd

    from tests.conftest import PANEL

    days = sorted(pd.to_datetime(pd.read_parquet(PANEL, columns=["date"])["date"]).dt.date.unique())
    assert TradingCalendar(exchange="XKRX", settings_prefix="KRX").sessions_between(days[0], days[-1]) == days


def test_concurrent_first_use_builds_the_exchange_calendar_once(monkeypatch):
    # exchange-calendars corrupts its holiday caches when two threads build XKRX at once (an API's first
    # concurrent requests): the calendar is built by one thread, the others wait for it.
    import threading
    import time

    import exchange_calendars

    import lib.spine.calendar as module

    real = exchange_calendars.get_calendar
    calls = []

    def slow_get_calendar(*args, **kwargs):
        calls.append(threading.current_thread().name)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(exchange_calendars, "get_calendar", slow_get_calendar)
    module._load_exchange.cache_clear()
    built, errors = [], []

    def build() -> None:
        try:
            built.append(TradingCalendar(exchange="XKRX", settings_prefix="KRX").last)
        except Exception as exc:  # the test reports whatever a thread raised
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    module._load_exchange.cache_clear()
    assert errors == [] and len(calls) == 1 and len(set(built)) == 1 and len(built) == 4
