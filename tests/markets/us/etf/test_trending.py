"""Stage 3 on the real closes of 2025-07-31 (data/sample/us), checkable by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.markets.us.etf.trending import n_session_return, trending_table
from lib.spine.calendar import TradingCalendar

D = dt.date
# Real closes (us_etf/*.csv): 2025-07-02 is 20 sessions before 2025-07-31, 07-17 ten, 07-24 five.
CLOSES = {
    "SPY": {D(2025, 7, 2): 620.4500122070312, D(2025, 7, 17): 628.0399780273438, D(2025, 7, 24): 634.4199829101562,
            D(2025, 7, 31): 632.0800170898438},
    "XLU": {D(2025, 7, 2): 40.04344177246094, D(2025, 7, 17): 40.60541915893555, D(2025, 7, 24): 41.55683898925781,
            D(2025, 7, 31): 42.232200622558594},
    "XLI": {D(2025, 7, 2): 147.04676818847656, D(2025, 7, 17): 150.659423828125, D(2025, 7, 24): 152.31686401367188,
            D(2025, 7, 31): 150.86782836914062},
    "QQQ": {D(2025, 7, 2): 550.7999877929688, D(2025, 7, 17): 561.7999877929688, D(2025, 7, 24): 565.010009765625,
            D(2025, 7, 31): 565.010009765625},
    "XLC": {D(2025, 7, 2): 106.73103332519533, D(2025, 7, 17): 105.96619415283205,
            D(2025, 7, 24): 107.90313720703124, D(2025, 7, 31): 106.6913070678711},
}
SECTORS = {"SPY": "US Large Cap", "XLU": "Utilities", "XLI": "Industrial", "QQQ": "Technology", "XLC": "Communication"}


@pytest.fixture(scope="module")
def sessions() -> list[dt.date]:
    return TradingCalendar(exchange="XNYS", settings_prefix="US").last_sessions(D(2025, 7, 31), 21)


def test_sessions_back_count_xnys_sessions_across_the_fourth_of_july(sessions):
    assert sessions[0] == D(2025, 7, 2) and sessions[-6] == D(2025, 7, 24) and sessions[-11] == D(2025, 7, 17)
    assert D(2025, 7, 4) not in sessions


def test_returns_are_close_over_close_n_sessions_back(sessions):
    assert n_session_return(CLOSES["SPY"], sessions, D(2025, 7, 31), 5) == pytest.approx(632.08 / 634.42 - 1, abs=1e-5)
    assert n_session_return(CLOSES["XLU"], sessions, D(2025, 7, 31), 20) == pytest.approx(0.05466, abs=1e-5)
    assert n_session_return(CLOSES["QQQ"], sessions, D(2025, 7, 31), 5) == 0.0  # same close on both days


def test_a_missing_close_or_too_short_a_history_gives_no_return(sessions):
    assert n_session_return({D(2025, 7, 31): 1.0}, sessions, D(2025, 7, 31), 5) is None
    assert n_session_return(CLOSES["SPY"], sessions, D(2025, 7, 31), 21) is None


@pytest.mark.parametrize(
    ("period", "trending"),
    [(5, ["XLU"]), (10, ["XLU", "XLC"]), (20, ["XLU", "XLI", "QQQ"])],
)
def test_trending_on_2025_07_31(sessions, period, trending):
    returns = {t: n_session_return(c, sessions, D(2025, 7, 31), period) for t, c in CLOSES.items()}
    table = trending_table(returns, "SPY", period, SECTORS)
    assert [r.etf_ticker for r in table if r.is_trending] == trending
    assert [r.rank_by_outperformance for r in table] == [1, 2, 3, 4, 5]
    spy = next(r for r in table if r.etf_ticker == "SPY")
    assert spy.outperformance == 0 and not spy.is_trending
    first = table[0]
    assert first.outperformance == pytest.approx(first.return_nd - first.spy_return_nd)


def test_beating_a_falling_spy_is_not_enough_the_return_must_be_positive():
    # 5 sessions to 2025-07-31: SPY -0.37%, QQQ 0.00% (above SPY, not above zero), XLI -0.95%.
    returns = {"SPY": -0.0037, "QQQ": 0.0, "XLI": -0.0095, "XLU": 0.01625}
    table = {r.etf_ticker: r for r in trending_table(returns, "SPY", 5, SECTORS)}
    assert table["QQQ"].outperformance > 0 and not table["QQQ"].is_trending
    assert table["XLU"].is_trending and not table["XLI"].is_trending


def test_without_a_benchmark_return_nothing_trends_and_nothing_is_ranked():
    table = trending_table({"SPY": None, "XLU": 0.05, "XLF": None}, "SPY", 20, SECTORS)
    assert not any(r.is_trending for r in table)
    assert all(r.rank_by_outperformance is None for r in table)
