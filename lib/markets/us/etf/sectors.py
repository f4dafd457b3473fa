"""Sectors: each daily portfolio position's standing in its sector (the seed's sector_avg_Nd and rank_Nd), and
the monthly sector table (the seed's analytics_sector_trending).

A position's sector peers on a session are the top holdings of that session's trending ETFs whose snapshot was
known on it (point in time), plus the portfolio's own positions, grouped by the stock's sector (its profile's,
else the sector of the sector ETF that holds it). For N in 5, 10, 20:
- return_Nd: the stock's N-session return (close(t) / close(t-N) - 1);
- sector_avg_Nd: the plain mean of return_Nd over the sector's peers that have one (the stock included);
- rank_Nd: the stock's rank by return_Nd within its sector's peers, 1 = best (ties by ticker), of
  sector_size_Nd peers; None when the stock has no N-session return.

The monthly table compares each sector ETF's return over the rebalance month (the close of the previous
rebalance's base session to this one's, so consecutive months join) with the benchmark's: outperformance =
return - benchmark's, rank 1 = best outperformance among the sector ETFs, trending = beat the benchmark with a
positive return (stage 3's rule)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any


def _ranked(returns: Mapping[str, float | None]) -> dict[str, int]:
    """Rank 1 = the largest value; tickers without one are not ranked."""
    order = sorted((t for t, v in returns.items() if v is not None), key=lambda t: (-returns[t], t))  # type: ignore[operator]
    return {t: i for i, t in enumerate(order, start=1)}


def sector_standing(
    positions: Iterable[str],
    sectors: Mapping[str, str | None],
    returns: Mapping[int, Mapping[str, float | None]],
) -> dict[str, dict[str, Any]]:
    """For each position ticker: return_Nd, sector_avg_Nd, rank_Nd, sector_size_Nd for every period N of
    `returns` ({N: {ticker: return}}), among the peers of `sectors` ({ticker: sector}, positions included). A
    stock without a sector is its own group ("unknown sector")."""
    out: dict[str, dict[str, Any]] = {}
    for ticker in positions:
        sector = sectors.get(ticker)
        peers = [t for t, s in sectors.items() if s == sector] if sector else [ticker]
        if ticker not in peers:
            peers.append(ticker)
        fields: dict[str, Any] = {"sector_peers": sorted(peers)}
        for n, by_ticker in sorted(returns.items()):
            values = {t: by_ticker.get(t) for t in peers}
            rated = [v for v in values.values() if v is not None]
            fields[f"return_{n}d"] = values[ticker]
            fields[f"sector_avg_{n}d"] = statistics.fmean(rated) if rated else None
            fields[f"rank_{n}d"] = _ranked(values).get(ticker)
            fields[f"sector_size_{n}d"] = len(rated)
        out[ticker] = fields
    return out


def month_table(
    returns: Mapping[str, float | None], benchmark_return: float | None, sectors: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Each sector ETF's ({ticker: sector name}) month return against the benchmark's, best outperformance first
    (unranked ones last); an ETF without a month return has no rank and does not trend."""
    rows = []
    for etf, sector in sectors.items():
        value = returns.get(etf)
        lead = value - benchmark_return if value is not None and benchmark_return is not None else None
        rows.append({"etf_ticker": etf, "sector_name": sector, "month_return": value,
                     "benchmark_month_return": benchmark_return, "outperformance": lead,
                     "is_trending": lead is not None and lead > 0 and value > 0})  # type: ignore[operator]
    ranks = _ranked({r["etf_ticker"]: r["outperformance"] for r in rows})
    for row in rows:
        row["rank"] = ranks.get(row["etf_ticker"])
    return sorted(rows, key=lambda r: (r["rank"] is None, r["rank"] or 0, r["etf_ticker"]))
