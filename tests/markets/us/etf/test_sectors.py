"""A position's standing in its sector on a tiny portfolio, and the monthly sector table."""

from __future__ import annotations

import pytest

from lib.markets.us.etf.sectors import month_table, sector_standing

SECTORS = {"JPM": "Financial Services", "BAC": "Financial Services", "GS": "Financial Services",
           "NVDA": "Technology", "XOM": None}
RETURNS = {
    5: {"JPM": 0.02, "BAC": 0.04, "GS": -0.01, "NVDA": 0.10, "XOM": 0.01},
    20: {"JPM": 0.05, "BAC": None, "GS": 0.01, "NVDA": -0.02, "XOM": None},
}


def test_a_position_gets_its_sector_peers_mean_and_its_rank_among_them():
    standing = sector_standing(["JPM", "NVDA"], SECTORS, RETURNS)
    jpm = standing["JPM"]
    assert jpm["sector_peers"] == ["BAC", "GS", "JPM"]
    assert jpm["return_5d"] == 0.02 and jpm["sector_avg_5d"] == pytest.approx((0.02 + 0.04 - 0.01) / 3)
    assert jpm["rank_5d"] == 2 and jpm["sector_size_5d"] == 3
    # BAC has no 20-session return: it is neither averaged nor ranked.
    assert jpm["sector_avg_20d"] == pytest.approx(0.03) and jpm["rank_20d"] == 1 and jpm["sector_size_20d"] == 2
    assert standing["NVDA"]["rank_5d"] == 1 and standing["NVDA"]["sector_avg_5d"] == 0.10


def test_a_position_without_a_return_or_a_sector_is_not_ranked_among_strangers():
    standing = sector_standing(["XOM"], SECTORS, RETURNS)["XOM"]
    assert standing["sector_peers"] == ["XOM"] and standing["rank_5d"] == 1
    assert standing["return_20d"] is None and standing["rank_20d"] is None and standing["sector_avg_20d"] is None


def test_the_month_table_ranks_sector_etfs_by_their_lead_over_the_benchmark():
    rows = month_table({"XLF": 0.03, "XLU": -0.01, "XLK": 0.015, "XLE": None}, 0.01,
                       {"XLF": "Financial", "XLU": "Utilities", "XLK": "Technology", "XLE": "Energy"})
    assert [(r["etf_ticker"], r["rank"]) for r in rows] == [("XLF", 1), ("XLK", 2), ("XLU", 3), ("XLE", None)]
    assert rows[0]["outperformance"] == pytest.approx(0.02) and rows[0]["is_trending"] is True
    assert rows[2]["is_trending"] is False and rows[3]["outperformance"] is None and rows[3]["is_trending"] is False
