"""The monthly merge: each scoring branch of the seed, the rank rule, weights, and the last Sunday."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.markets.us.etf.rebalance import is_last_sunday, last_sunday, merge_portfolios, score


@pytest.mark.parametrize(
    ("periods", "expected"),
    [
        ({20}, 1.0),
        ({20, 10}, 2.0),
        ({20, 5}, 2.0),
        ({20, 10, 5}, 3.0),
        ({10, 5}, 2.0),
        ({10}, 0.5),
        ({5}, 0.3),
    ],
)
def test_each_scoring_branch(periods, expected):
    assert score(periods) == expected


def test_the_real_august_2025_merge_ranks_20_day_members_first_and_new_ones_from_20():
    # The portfolios of 2025-08-29 (etf_pipeline on data/sample/us; weights rounded).
    weights = {
        20: {"BE": 0.8673, "NEM": 0.0685, "UNH": 0.0321, "TXN": 0.0192, "BAC": 0.0089, "TSLA": 0.0024, "GOOGL": 0.0014},
        10: {"BE": 0.8181, "NEM": 0.0654, "PLD": 0.0469, "TXN": 0.0161, "BAC": 0.0160, "TJX": 0.0144, "RTX": 0.0100,
             "GS": 0.0082, "LLY": 0.0050},
        5: {"FN": 0.9405, "NEM": 0.0560, "BRK-B": 0.0023, "GOOGL": 0.0011},
    }
    rows = {r.ticker: r for r in merge_portfolios(weights)}
    assert [(t, r.score, r.final_rank) for t, r in sorted(rows.items(), key=lambda kv: kv[1].final_rank)] == [
        ("NEM", 3.0, 1), ("BE", 2.0, 2), ("TXN", 2.0, 3), ("BAC", 2.0, 4), ("GOOGL", 2.0, 5), ("UNH", 1.0, 6),
        ("TSLA", 1.0, 7), ("PLD", 0.5, 20), ("TJX", 0.5, 21), ("RTX", 0.5, 22), ("GS", 0.5, 23), ("LLY", 0.5, 24),
        ("FN", 0.3, 25), ("BRK-B", 0.3, 26),
    ]
    total = 3.0 + 4 * 2.0 + 2 * 1.0 + 5 * 0.5 + 2 * 0.3  # 16.1
    assert rows["NEM"].final_weight == pytest.approx(3.0 / total)
    assert sum(r.final_weight for r in rows.values()) == pytest.approx(1.0)
    assert rows["GOOGL"].source_periods == [20, 5] and rows["FN"].source_periods == [5]


def test_a_stock_in_the_10_and_5_day_portfolios_only_is_new_but_scores_2():
    rows = merge_portfolios({20: {"A": 0.6, "B": 0.4}, 10: {"C": 0.5, "D": 0.5}, 5: {"C": 0.7, "E": 0.3}})
    ranked = [(r.ticker, r.score, r.final_rank) for r in rows]
    assert ranked == [("A", 1.0, 1), ("B", 1.0, 2), ("C", 2.0, 20), ("D", 0.5, 21), ("E", 0.3, 22)]


def test_when_the_20_day_portfolio_has_20_names_or_more_new_stocks_follow_its_last_rank():
    core = {f"S{i:02d}": 1 / 21 for i in range(21)}
    rows = merge_portfolios({20: core, 10: {"NEW": 1.0}, 5: {}})
    assert [r.final_rank for r in rows if r.ticker.startswith("S")] == list(range(1, 22))
    assert [(r.ticker, r.final_rank) for r in rows if r.ticker == "NEW"] == [("NEW", 22)]


def test_all_three_empty_gives_an_empty_merge():
    assert merge_portfolios({20: {}, 10: {}, 5: {}}) == []


def test_last_sundays_including_december():
    assert last_sunday(2025, 8) == dt.date(2025, 8, 31)
    assert last_sunday(2025, 9) == dt.date(2025, 9, 28)
    assert last_sunday(2025, 12) == dt.date(2025, 12, 28)
    assert is_last_sunday(dt.date(2025, 9, 28)) and not is_last_sunday(dt.date(2025, 9, 21))
    assert not is_last_sunday(dt.date(2025, 9, 29))
