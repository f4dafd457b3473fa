"""A portfolio's point-in-time mark, its concentration and the realised-performance summary that leaves out
portfolios built from holdings not known on their day."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.markets.us.etf.marks import concentration, holdings_marks, marks_text, merged_marks, performance_summary

D = dt.date


def test_a_snapshot_dated_after_the_session_marks_the_portfolio_not_known():
    marks = holdings_marks(D(2025, 9, 30), {"XLC": D(2025, 11, 30), "QQQ": D(2025, 9, 29)}, stale_days=92)
    assert marks["holdings_known"] is False and marks["holdings_as_of"] == "2025-11-30"
    assert marks["holdings_snapshots"] == [{"etf": "QQQ", "as_of": "2025-09-29", "age_days": 1},
                                           {"etf": "XLC", "as_of": "2025-11-30", "age_days": -61}]


def test_snapshots_known_on_the_day_mark_it_known_and_old_ones_stale():
    fresh = holdings_marks(D(2025, 9, 30), {"QQQ": D(2025, 9, 30), "XLF": D(2025, 9, 23)}, stale_days=92)
    assert fresh["holdings_known"] is True and fresh["holdings_stale"] is False
    old = holdings_marks(D(2025, 9, 30), {"QQQ": D(2022, 8, 25), "XLF": D(2025, 9, 23)}, stale_days=92)
    assert old["holdings_known"] is True and old["holdings_stale"] is True
    assert holdings_marks(D(2025, 9, 30), {"QQQ": D(2025, 6, 30)}, stale_days=92)["holdings_stale"] is False


def test_an_undated_snapshot_is_not_known_and_no_snapshot_at_all_is():
    assert holdings_marks(D(2025, 9, 30), {"XLF": None}, stale_days=92)["holdings_known"] is False
    empty = holdings_marks(D(2025, 9, 30), {}, stale_days=92)
    assert empty["holdings_known"] is True and empty["holdings_as_of"] is None


def test_a_monthly_portfolio_is_known_only_when_each_portfolio_it_merged_was():
    known = {"holdings_known": True, "holdings_as_of": "2025-09-01", "holdings_stale": False,
             "holdings_snapshots": [{"etf": "QQQ", "as_of": "2025-09-01", "age_days": 29}]}
    after = {"holdings_known": False, "holdings_as_of": "2025-11-30", "holdings_stale": True,
             "holdings_snapshots": [{"etf": "XLC", "as_of": "2025-11-30", "age_days": -61},
                                    {"etf": "QQQ", "as_of": "2025-09-01", "age_days": 29}]}
    merged = merged_marks([known, after, known])
    assert merged["holdings_known"] is False and merged["holdings_as_of"] == "2025-11-30"
    assert merged["holdings_stale"] is True and [s["etf"] for s in merged["holdings_snapshots"]] == ["QQQ", "XLC"]
    assert merged_marks([known, known])["holdings_known"] is True
    assert merged_marks([known, {"positions": []}])["holdings_known"] is None  # stored before the marks


def test_concentration_of_a_small_portfolio():
    figures = concentration({"WBD": 0.5, "CEG": 0.3, "TSLA": 0.2})
    assert figures["largest_weight"] == pytest.approx(0.5) and figures["largest_ticker"] == "WBD"
    assert figures["effective_holdings"] == pytest.approx(1 / (0.25 + 0.09 + 0.04))  # 2.63
    assert concentration({t: 0.25 for t in "ABCD"})["effective_holdings"] == pytest.approx(4.0)
    assert concentration({"BE": 0.95, "AAPL": 0.05})["effective_holdings"] == pytest.approx(1 / 0.905)
    assert concentration({}) == {"largest_weight": None, "largest_ticker": None, "effective_holdings": None,
                                 "positions": 0}


def _doc(known, excess, status="final"):
    return {"holdings_known": known, "performance": {"status": status, "excess_return": excess}}


def test_the_summary_leaves_out_look_ahead_portfolios_unless_asked():
    docs = [_doc(True, 0.01), _doc(True, -0.03), _doc(False, 0.40), _doc(False, 0.20), _doc(None, 0.10),
            _doc(True, 0.05, status="open")]
    honest = performance_summary(docs)
    assert honest["finished"] == 5 and honest["counted"] == 2 and honest["lookahead"] == 2 and honest["unchecked"] == 1
    assert honest["mean_excess_return"] == pytest.approx(-0.01) and honest["beat_benchmark"] == 1
    assert honest["includes_lookahead"] is False
    everything = performance_summary(docs, include_lookahead=True)
    assert everything["counted"] == 5 and everything["includes_lookahead"] is True
    assert everything["mean_excess_return"] == pytest.approx(0.68 / 5)
    assert everything["beat_share"] == pytest.approx(0.8)
    nothing = performance_summary([_doc(False, 0.4)])
    assert nothing["counted"] == 0 and nothing["mean_excess_return"] is None and nothing["beat_share"] is None


def test_the_line_for_people_names_the_late_snapshots_and_the_concentration():
    doc = {**holdings_marks(D(2025, 9, 30), {"XLC": D(2025, 11, 30), "EWY": D(2021, 11, 19)}, 92),
           "concentration": concentration({"WBD": 0.8, "CEG": 0.2})}
    text = marks_text(doc)
    assert text.startswith("LOOK-AHEAD, not a result: XLC holdings as of 2025-11-30")
    assert "stale: EWY's is 1,411 days old" in text
    assert "largest weight 80.0% (WBD), effective number of holdings 1.5 of 2" in text
