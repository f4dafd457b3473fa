"""KRX sessions from XKRX, with overrides for closures the library has not learned yet."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.calendar import TradingCalendar
from lib.errors import ConfigError

D = dt.date


def test_weekends_and_korean_holidays_are_not_sessions():
    calendar = TradingCalendar()
    assert calendar.sessions_between(D(2024, 9, 13), D(2024, 9, 20)) == [D(2024, 9, 13), D(2024, 9, 19), D(2024, 9, 20)]
    assert not calendar.is_session(D(2024, 12, 31))  # year-end closing day
    assert not calendar.is_session(D(2025, 6, 3))  # presidential election
    assert calendar.previous_session(D(2024, 9, 19)) == D(2024, 9, 13)


def test_overrides_close_and_open_days():
    calendar = TradingCalendar(extra_closed=[D(2024, 10, 2)], extra_sessions=[D(2024, 10, 5)])
    assert not calendar.is_session(D(2024, 10, 2))
    assert calendar.is_session(D(2024, 10, 5))
    assert calendar.last_sessions(D(2024, 10, 7), 3) == [D(2024, 10, 4), D(2024, 10, 5), D(2024, 10, 7)]


def test_a_day_in_both_override_lists_is_a_config_error():
    with pytest.raises(ConfigError, match="both in KRX_EXTRA_CLOSED_DAYS and KRX_EXTRA_SESSIONS"):
        TradingCalendar(extra_closed=[D(2024, 10, 2)], extra_sessions=[D(2024, 10, 2)])


def test_the_sample_panel_sessions_match_the_calendar():
    import pandas as pd

    from tests.conftest import PANEL

    days = sorted(pd.to_datetime(pd.read_parquet(PANEL, columns=["date"])["date"]).dt.date.unique())
    assert TradingCalendar().sessions_between(days[0], days[-1]) == days
