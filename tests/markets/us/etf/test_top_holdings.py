"""The top-holdings figures on series checkable by hand, and the point-in-time choice of the snapshot."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from lib.markets.us.etf.top_holdings import BASKET, TopHoldingsInput, series_stats, snapshot_for, top_holdings_rows

D = dt.date
SESSIONS = [D(2025, 9, 2), D(2025, 9, 3), D(2025, 9, 4), D(2025, 9, 5)]
DAY = SESSIONS[-1]


def _snapshot(as_of: str | None, *tickers: str) -> list[dict]:
    return [{"stock_ticker": t, "stock_name": t, "holding_percent": 10.0 - i, "rank": i + 1, "holdings_as_of": as_of}
            for i, t in enumerate(tickers)]


def test_three_daily_returns_of_plus_minus_ten_percent_give_the_hand_computed_figures():
    stats = series_stats([0.10, -0.10, 0.10], risk_free_rate=0.0)
    # mean 1/30; compounded 1.1 * 0.9 * 1.1 - 1; sample std sqrt(((1/15)^2 * 2 + (2/15)^2) / 2) = 0.11547
    assert stats.avg_return == pytest.approx(1 / 30)
    assert stats.total_return == pytest.approx(0.089)
    assert stats.volatility == pytest.approx(0.1154700538 * math.sqrt(252))
    assert stats.sharpe_ratio == pytest.approx((1 / 30) * 252 / (0.1154700538 * math.sqrt(252)))
    assert stats.sharpe_ratio == pytest.approx(4.5826, abs=1e-4) and stats.reason is None


def test_the_risk_free_rate_is_taken_off_the_mean_per_session_before_annualising():
    with_rate = series_stats([0.10, -0.10, 0.10], risk_free_rate=0.0252)
    assert with_rate.sharpe_ratio == pytest.approx((1 / 30 - 0.0001) * 252 / (0.1154700538 * math.sqrt(252)))


def test_a_flat_series_has_no_sharpe_ratio_and_says_why():
    stats = series_stats([0.0, 0.0, 0.0], risk_free_rate=0.0)
    assert stats.volatility == 0.0 and stats.sharpe_ratio is None and "no variation" in stats.reason


def test_the_snapshot_dated_after_the_session_is_never_used():
    snapshots = {"2025-08-01": _snapshot("2025-08-01", "OLD"), "2025-09-04": _snapshot("2025-11-30", "LATE")}
    collected, known, rows, why = snapshot_for(snapshots, DAY)
    assert collected == "2025-08-01" and known == D(2025, 8, 1) and rows[0]["stock_ticker"] == "OLD" and why is None
    late_only = {"2025-09-04": _snapshot("2025-11-30", "LATE"), "2025-09-03": _snapshot(None, "UNDATED")}
    assert snapshot_for(late_only, DAY)[:3] == (None, None, [])
    assert snapshot_for(late_only, DAY)[3] == ("no holdings snapshot known on 2025-09-05: the stored one(s) are dated "
                                               "after it (2025-11-30); 1 undated")


def test_without_a_known_snapshot_only_the_basket_row_is_written_with_the_reason():
    data = TopHoldingsInput("XLF", DAY, {"2025-09-04": _snapshot("2025-11-30", "JPM")}, {}, SESSIONS)
    rows = top_holdings_rows(data, 3)
    assert [r["stock_ticker"] for r in rows] == [BASKET]
    assert rows[0]["total_return"] is None and "dated after it (2025-11-30)" in rows[0]["reason"]


def test_a_holding_without_every_close_gets_no_figures_and_the_basket_goes_without_it():
    closes = {
        "AAA": dict(zip(SESSIONS, [100.0, 110.0, 99.0, 108.9], strict=True)),
        "BBB": dict(zip(SESSIONS, [50.0, 50.0, 51.0, 51.0], strict=True)),
        "CCC": {SESSIONS[0]: 20.0, DAY: 21.0},
    }
    data = TopHoldingsInput("XLF", DAY, {"2025-09-01": _snapshot("2025-09-01", "AAA", "BBB", "CCC")}, closes,
                            SESSIONS, risk_free_rate=0.0)
    rows = {r["stock_ticker"]: r for r in top_holdings_rows(data, 3)}
    assert [rows[t]["rank_position"] for t in ("AAA", "BBB", "CCC", BASKET)] == [1, 2, 3, 0]
    assert rows["AAA"]["total_return"] == pytest.approx(0.089)
    assert rows["CCC"]["total_return"] is None and rows["CCC"]["reason"] == (
        "2 of the 4 closes needed are not stored (2025-09-03, 2025-09-04)")
    basket = rows[BASKET]
    assert basket["holdings_used"] == ["AAA", "BBB"] and basket["reason"] == "without CCC (closes missing)"
    # The basket's daily returns are the two holdings' means: (0.10 + 0)/2, (-0.10 + 0.02)/2, (0.10 + 0)/2.
    assert basket["avg_return"] == pytest.approx((0.05 - 0.04 + 0.05) / 3)
    assert basket["total_return"] == pytest.approx(1.05 * 0.96 * 1.05 - 1)
    assert basket["mean_total_return"] == pytest.approx((0.089 + 0.02) / 2)
    assert basket["holdings_as_of"] == "2025-09-01" and basket["risk_free_rate"] == 0.0
