"""Stage 5 weights on real numbers, and the edge cases the README decides."""

from __future__ import annotations

import pytest

from lib.markets.us.etf.portfolio import Holding, StockFacts, Trending, build_portfolio, top_holdings

# 2025-07-31, 10 sessions (from 2025-07-17): XLU and XLC trend. Real closes and shares (us_stocks/).
CEG = 347.421143 / 307.709015 - 1  # +12.91%, XLU's best top-5 holding
META = 772.918335 / 700.93689 - 1  # +10.27%, XLC's best
CEG_CAP = 362290071 * 347.421143
META_CAP = 2529555613 * 772.918335


def xlu_xlc():
    trending = [Trending("XLU", 0.0336, "Utilities", "sector"), Trending("XLC", 0.0004, "Communication", "sector")]
    holdings = {
        "XLU": [Holding("XLU", t, t, w) for t, w in [("NEE", 12.7), ("CEG", 7.7), ("SO", 7.3), ("DUK", 7.0),
                                                      ("AEP", 4.8)]],
        "XLC": [Holding("XLC", t, t, w) for t, w in [("META", 12.7), ("GOOGL", 10.5), ("GOOG", 8.5), ("WBD", 6.2),
                                                      ("NFLX", 5.8)]],
    }
    returns = {
        "NEE": 70.514717 / 74.603104 - 1, "CEG": CEG, "SO": 93.736778 / 92.595818 - 1,
        "DUK": 120.597458 / 116.453278 - 1, "AEP": 112.214821 / 105.063782 - 1,
        "META": META, "GOOGL": 191.728516 / 183.415955 - 1, "GOOG": 192.687775 / 184.535065 - 1,
        "WBD": 13.17 / 12.84 - 1, "NFLX": 1159.400024 / 1274.170044 - 1,
    }
    facts = {
        "CEG": StockFacts("CEG", "Constellation Energy", "Utilities", CEG_CAP, "USD"),
        "META": StockFacts("META", "Meta Platforms", "Communication Services", META_CAP, "USD"),
    }
    return trending, holdings, returns, facts


def test_weights_follow_return_over_market_cap_and_sum_to_one():
    portfolio = build_portfolio(10, *xlu_xlc())
    weights = {p.ticker: p.weight for p in portfolio.positions}
    ceg, meta = CEG / CEG_CAP, META / META_CAP
    assert weights == pytest.approx({"CEG": ceg / (ceg + meta), "META": meta / (ceg + meta)}, rel=1e-12)
    assert weights["CEG"] == pytest.approx(0.9512, abs=1e-4)  # a 15x smaller company gets ~15x the weight
    assert sum(weights.values()) == pytest.approx(1.0, abs=1e-12)
    assert [p.rank for p in portfolio.positions] == [1, 2]
    ceg_position = portfolio.positions[0]
    assert ceg_position.source_etfs == ["XLU"] and "+12.91%" in ceg_position.allocation_reason
    assert "XLU beat SPY by +3.36%" in ceg_position.allocation_reason


def test_a_best_holding_that_fell_is_excluded_with_its_reason():
    trending, holdings, returns, facts = xlu_xlc()
    for ticker in ("META", "GOOGL", "GOOG", "WBD"):
        returns[ticker] = -0.01
    returns["NFLX"] = -0.02
    portfolio = build_portfolio(10, trending, holdings, returns, facts)
    assert [p.ticker for p in portfolio.positions] == ["CEG"] and portfolio.positions[0].weight == 1.0
    [excluded] = portfolio.excluded
    assert excluded["etf"] == "XLC" and excluded["ticker"] == "META"  # a tie goes to the larger fund weight
    assert "returned -1.00%" in excluded["reason"] and "long-only" in excluded["reason"]


def test_a_zero_return_is_excluded_too():
    trending, holdings, returns, facts = xlu_xlc()
    returns.update({t: 0.0 for t in ("META", "GOOGL", "GOOG", "WBD", "NFLX")})
    assert [p.ticker for p in build_portfolio(10, trending, holdings, returns, facts).positions] == ["CEG"]


def test_the_same_stock_picked_by_two_etfs_is_one_position_listing_both():
    trending = [Trending("XLV", 0.02, "Healthcare", "sector"), Trending("DIA", 0.01, "US Blue Chips", "benchmark")]
    holdings = {"XLV": [Holding("XLV", "UNH", "UNH", 5.1), Holding("XLV", "LLY", "LLY", 14.8)],
                "DIA": [Holding("DIA", "UNH", "UNH", 11.2), Holding("DIA", "GS", "GS", 6.2)]}
    returns = {"UNH": 0.08, "LLY": 0.02, "GS": 0.03}
    facts = {"UNH": StockFacts("UNH", "UnitedHealth", "Health Care", 2.4e11, "USD")}
    portfolio = build_portfolio(20, trending, holdings, returns, facts)
    [position] = portfolio.positions
    assert position.ticker == "UNH" and position.source_etfs == ["XLV", "DIA"] and position.weight == 1.0
    assert "of XLV and DIA's top holdings" in position.allocation_reason


def test_no_trending_etf_gives_an_empty_portfolio_with_a_note():
    portfolio = build_portfolio(5, [], {}, {}, {})
    assert portfolio.positions == [] and "no ETF beat SPY" in portfolio.note


def test_an_unknown_or_foreign_market_cap_takes_the_median_of_the_others():
    trending = [Trending(e, 0.01, e, "sector") for e in ("A", "B", "C", "D")]
    holdings = {e: [Holding(e, t, t, 5.0)] for e, t in zip("ABCD", ("S1", "S2", "S3", "S4"), strict=True)}
    returns = {"S1": 0.1, "S2": 0.1, "S3": 0.1, "S4": 0.1}
    facts = {"S1": StockFacts("S1", "", None, 1e9, "USD"), "S2": StockFacts("S2", "", None, 3e9, "USD"),
             "S3": StockFacts("S3", "", None, 5e12, "KRW"), "S4": StockFacts("S4", "", None, None, None)}
    portfolio = {p.ticker: p for p in build_portfolio(5, trending, holdings, returns, facts).positions}
    assert portfolio["S3"].market_cap_used == portfolio["S4"].market_cap_used == 2e9
    assert portfolio["S1"].weight == pytest.approx(2 * portfolio["S3"].weight)
    assert "median" in portfolio["S4"].allocation_reason
    assert portfolio["S4"].sector == "D"  # no sector known: the sector ETF's
    # S3's own market cap is in won: it is kept with its currency, and the reason says why the median is used.
    assert (portfolio["S3"].market_cap, portfolio["S3"].currency) == (5e12, "KRW")
    assert "market cap KRW 5,000.0B is not in USD: the picks' median USD 2.0B used" in portfolio["S3"].allocation_reason
    assert portfolio["S1"].currency == "USD" and portfolio["S4"].currency is None


def test_without_any_market_cap_weights_follow_returns_alone():
    trending = [Trending("A", 0.01, "a", "sector"), Trending("B", 0.01, "b", "sector")]
    holdings = {"A": [Holding("A", "S1", "S1", 5.0)], "B": [Holding("B", "S2", "S2", 5.0)]}
    portfolio = build_portfolio(5, trending, holdings, {"S1": 0.03, "S2": 0.01}, {})
    assert [p.weight for p in portfolio.positions] == pytest.approx([0.75, 0.25])


def test_top_holdings_are_the_largest_by_weight_once_each():
    rows = [Holding("X", "B", "", 3.0), Holding("X", "A", "", 9.0), Holding("X", "C", "", 3.0),
            Holding("X", "A", "", 1.0)]
    assert [h.ticker for h in top_holdings(rows, 2)] == ["A", "B"]
