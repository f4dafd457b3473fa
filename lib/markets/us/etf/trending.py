"""Stage 3: N-session returns and which ETFs trend against the benchmark (SPY).

return_Nd = close(t) / close(t - N sessions) - 1 on adjusted closes. The signal uses the close of day t, so it
can be acted on from the next session (t+1) on."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass


def n_session_return(
    closes: Mapping[dt.date, float | None], sessions: Sequence[dt.date], day: dt.date, n: int
) -> float | None:
    """close(day) / close(n sessions before day) - 1, or None when either close is missing.

    `sessions` are the exchange's sessions in order and must contain `day` and the n before it."""
    i = sessions.index(day)
    if i < n:
        return None
    end, start = closes.get(day), closes.get(sessions[i - n])
    if not _usable(end) or not _usable(start):
        return None
    return end / start - 1.0  # type: ignore[operator]


def _usable(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and value > 0


@dataclass(frozen=True)
class TrendRow:
    """One ETF over one period on one day (a row of analytics_trending_etfs)."""

    etf_ticker: str
    period_days: int
    return_nd: float | None
    spy_return_nd: float | None
    outperformance: float | None
    rank_by_outperformance: int | None
    is_trending: bool
    sector_name: str

    def as_dict(self) -> dict:
        """Plain fields for storage."""
        return asdict(self)


def trending_table(
    returns: Mapping[str, float | None], benchmark: str, period: int, sectors: Mapping[str, str]
) -> list[TrendRow]:
    """Every ETF's return against the benchmark's, ranked by outperformance (1 = best; ties by ticker).

    is_trending = return > benchmark's return and return > 0. The benchmark itself is listed with an
    outperformance of 0 and can never trend. An ETF without enough history has no return, no rank and does
    not trend; without a benchmark return nothing trends."""
    spy = returns.get(benchmark)
    rows: list[tuple[str, float | None, float | None]] = []
    for ticker, value in returns.items():
        outperformance = value - spy if value is not None and spy is not None else None
        rows.append((ticker, value, outperformance))
    ranked = sorted((r for r in rows if r[2] is not None), key=lambda r: (-r[2], r[0]))  # type: ignore[operator]
    ranks = {ticker: i + 1 for i, (ticker, _, _) in enumerate(ranked)}
    table = []
    for ticker, value, outperformance in rows:
        trending = (
            value is not None and spy is not None and ticker != benchmark and value > spy and value > 0
        )
        table.append(
            TrendRow(ticker, period, value, spy, outperformance, ranks.get(ticker), trending, sectors.get(ticker, ""))
        )
    return sorted(table, key=lambda r: (r.rank_by_outperformance is None, r.rank_by_outperformance or 0, r.etf_ticker))
