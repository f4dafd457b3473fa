"""The monthly rebalance (seed): merge the latest 20-, 10- and 5-session portfolios into one by score.

Score: in the 20-day portfolio 1.0, +1.0 if also in the 10-day, +1.0 if also in the 5-day; in the 10-day and
the 5-day but not the 20-day 2.0; the 10-day only 0.5; the 5-day only 0.3. The 20-day members take ranks 1, 2,
... by score; the others are placed from rank 20 on by score (from the rank after the last 20-day member when
that portfolio alone has 20 or more names). Ties go to the larger weight in the longest period, then the ticker.
Weight = score / sum of scores."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import asdict, dataclass

NEW_ENTRY_RANK = 20


@dataclass(frozen=True)
class MonthlyRow:
    """One stock of the monthly portfolio."""

    ticker: str
    score: float
    final_rank: int
    final_weight: float
    source_periods: list[int]

    def as_dict(self) -> dict:
        """Plain fields for storage."""
        return asdict(self)


def score(periods: set[int]) -> float:
    """The seed's score of a stock found in these periods' portfolios."""
    if 20 in periods:
        return 1.0 + (1.0 if 10 in periods else 0.0) + (1.0 if 5 in periods else 0.0)
    if 10 in periods and 5 in periods:
        return 2.0
    if 10 in periods:
        return 0.5
    if 5 in periods:
        return 0.3
    return 0.0


def merge_portfolios(weights: Mapping[int, Mapping[str, float]]) -> list[MonthlyRow]:
    """The merged portfolio from each period's {ticker: weight}; empty when all three are empty."""
    found: dict[str, set[int]] = {}
    for period, members in weights.items():
        for ticker in members:
            found.setdefault(ticker, set()).add(period)

    def order(ticker: str) -> tuple:
        lead = [-weights.get(p, {}).get(ticker, 0.0) for p in (20, 10, 5)]
        return (-score(found[ticker]), *lead, ticker)

    core = sorted((t for t in found if 20 in found[t]), key=order)
    new = sorted((t for t in found if 20 not in found[t]), key=order)
    total = sum(score(p) for p in found.values())
    rows = []
    for rank, ticker in enumerate(core, start=1):
        rows.append(ticker_row(ticker, found[ticker], rank, total))
    start = max(NEW_ENTRY_RANK, len(core) + 1)
    for rank, ticker in enumerate(new, start=start):
        rows.append(ticker_row(ticker, found[ticker], rank, total))
    return rows


def ticker_row(ticker: str, periods: set[int], rank: int, total: float) -> MonthlyRow:
    """A row with its weight out of the total score."""
    value = score(periods)
    return MonthlyRow(ticker, value, rank, value / total, sorted(periods, reverse=True))


def last_sunday(year: int, month: int) -> dt.date:
    """The last Sunday of a month."""
    first_next = dt.date(year + month // 12, month % 12 + 1, 1)
    day = first_next - dt.timedelta(days=1)
    return day - dt.timedelta(days=(day.weekday() - 6) % 7)


def is_last_sunday(day: dt.date) -> bool:
    """True on the last Sunday of its month."""
    return day == last_sunday(day.year, day.month)
