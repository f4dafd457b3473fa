"""Realised performance against SPY, by hand."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.markets.us.etf.performance import realised

D = dt.date
SPAN = [D(2025, 7, 31), D(2025, 8, 1), D(2025, 8, 4)]
CLOSES = {
    "A": {D(2025, 7, 31): 100.0, D(2025, 8, 1): 110.0, D(2025, 8, 4): 120.0},
    "B": {D(2025, 7, 31): 50.0, D(2025, 8, 1): 45.0, D(2025, 8, 4): 40.0},
    "SPY": {D(2025, 7, 31): 632.08, D(2025, 8, 1): 621.72, D(2025, 8, 4): 631.17},
}


def test_a_finished_period_is_final_with_the_weighted_return_and_spys():
    perf = realised({"A": 0.75, "B": 0.25}, CLOSES, "SPY", SPAN, D(2025, 8, 4))
    assert perf.status == "final" and perf.sessions == 2 and perf.through == "2025-08-04"
    assert perf.portfolio_return == pytest.approx(0.75 * 0.20 + 0.25 * -0.20)  # +10%
    assert perf.spy_return == pytest.approx(631.17 / 632.08 - 1)
    assert perf.excess_return == pytest.approx(perf.portfolio_return - perf.spy_return)


def test_a_running_period_is_open_to_date_and_one_not_started_is_pending():
    assert realised({"A": 1.0}, CLOSES, "SPY", SPAN, D(2025, 8, 1)).status == "open"
    assert realised({"A": 1.0}, CLOSES, "SPY", SPAN, D(2025, 7, 31)).status == "pending"


def test_a_missing_close_makes_it_incomplete_and_names_the_ticker():
    perf = realised({"A": 0.5, "C": 0.5}, CLOSES, "SPY", SPAN, D(2025, 8, 4))
    assert perf.status == "incomplete" and perf.missing == ["C"] and perf.portfolio_return is None


def test_an_empty_portfolio_holds_cash():
    perf = realised({}, CLOSES, "SPY", SPAN, D(2025, 8, 4))
    assert perf.portfolio_return == 0.0 and perf.excess_return == pytest.approx(-(631.17 / 632.08 - 1))
