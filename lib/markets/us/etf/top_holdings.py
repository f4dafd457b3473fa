"""The seed's analytics_etf_top_holdings: for an ETF, a period of N sessions and a session, its top holdings'
average daily return, total return, volatility and Sharpe ratio, each holding's and the five's together.

Over the N daily returns r_1..r_N ending on the session (close(t)/close(t-1) - 1, adjusted closes, so N+1
closes are needed):
- avg_return = mean(r), a fraction per session; total_return = prod(1 + r) - 1 = close(t)/close(t-N) - 1;
- volatility = sample standard deviation of r (n - 1) x sqrt(252): annualised, 252 sessions a year;
- sharpe_ratio = (mean(r) - rf / 252) x 252 / volatility, rf the annual US_RISK_FREE_RATE (default 0);
  None when the volatility is 0 (no variation: a ratio would be infinite, not a figure).
The five together ("TOP5" row): an equal-weight basket of the holdings with every close, rebalanced each
session (its daily return is the mean of theirs), with the same four figures; `mean_total_return` is the plain
mean of their total returns. A holding without every close gets None figures and a reason, never a 0.

Point in time: the snapshot used for a session is the newest whose date (the date it was known: the source's, else
the day it was collected) is on or before the session; an undated snapshot or one dated after it is never used.
With none, the ETF's TOP5 row for the session says so and no holding row is written."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

ANNUAL_SESSIONS = 252
BASKET = "TOP5"  # the stock_ticker of the row of the five together


@dataclass(frozen=True)
class Stats:
    """The four figures over one series of daily returns; None with `reason` when they cannot be computed."""

    avg_return: float | None = None
    total_return: float | None = None
    volatility: float | None = None
    sharpe_ratio: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain fields for storage."""
        return asdict(self)


def series_stats(returns: Sequence[float], risk_free_rate: float) -> Stats:
    """avg, compounded total, annualised volatility and Sharpe of these daily returns (at least two)."""
    if len(returns) < 2:
        return Stats(reason=f"{len(returns)} daily return(s): a volatility needs at least 2")
    mean = statistics.fmean(returns)
    total = math.prod(1.0 + r for r in returns) - 1.0
    volatility = statistics.stdev(returns) * math.sqrt(ANNUAL_SESSIONS)
    if volatility == 0:
        return Stats(mean, total, 0.0, None, "no variation over the period: the Sharpe ratio is undefined")
    sharpe = (mean - risk_free_rate / ANNUAL_SESSIONS) * ANNUAL_SESSIONS / volatility
    return Stats(mean, total, volatility, sharpe)


def daily_returns(
    closes: Mapping[dt.date, float], sessions: Sequence[dt.date], day: dt.date, n: int
) -> tuple[list[float] | None, str | None]:
    """The n daily returns ending on `day` (sessions in order, containing day and the n before it), or None
    and why (which closes are missing)."""
    i = sessions.index(day)
    if i < n:
        return None, f"fewer than {n + 1} sessions before {day} in the window"
    span = sessions[i - n:i + 1]
    missing = [d for d in span if not (closes.get(d) or 0) > 0]
    if missing:
        shown = ", ".join(d.isoformat() for d in missing[:3]) + (" ..." if len(missing) > 3 else "")
        return None, f"{len(missing)} of the {n + 1} closes needed are not stored ({shown})"
    return [closes[b] / closes[a] - 1.0 for a, b in zip(span, span[1:], strict=False)], None


def known_date(rows: Sequence[Mapping[str, Any]]) -> dt.date | None:
    """The date a stored snapshot was known (its holdings_as_of, else the source's date); None: undated."""
    text = rows[0].get("holdings_as_of") or rows[0].get("source_as_of") if rows else None
    return dt.date.fromisoformat(text) if text else None


def snapshot_for(
    snapshots: Mapping[str, Sequence[Mapping[str, Any]]], day: dt.date
) -> tuple[str | None, dt.date | None, list[Mapping[str, Any]], str | None]:
    """The newest snapshot ({collected_date: rows}) known on or before `day`: (collected date, known date, rows,
    None), or (None, None, [], why none is)."""
    usable = []
    later: list[dt.date] = []
    undated = 0
    for collected, rows in snapshots.items():
        known = known_date(rows)
        if known is None:
            undated += 1
        elif known > day:
            later.append(known)
        else:
            usable.append((known, collected, rows))
    if usable:
        known, collected, rows = max(usable, key=lambda u: (u[0], u[1]))
        return collected, known, list(rows), None
    if not snapshots:
        return None, None, [], "no holdings snapshot stored (holdings are collected while the ETF trends)"
    parts = []
    if later:
        parts.append(f"the stored one(s) are dated after it ({', '.join(sorted({d.isoformat() for d in later}))})")
    if undated:
        parts.append(f"{undated} undated")
    return None, None, [], f"no holdings snapshot known on {day}: {'; '.join(parts)}"


@dataclass(frozen=True)
class TopHoldingsInput:
    """What one ETF's rows of one session need."""

    etf: str
    day: dt.date
    snapshots: Mapping[str, Sequence[Mapping[str, Any]]]  # collected_date -> rows by rank
    closes: Mapping[str, Mapping[dt.date, float]]  # stock ticker -> date -> close
    sessions: Sequence[dt.date]
    top_n: int = 5
    risk_free_rate: float = 0.0


def top_holdings_rows(data: TopHoldingsInput, period: int) -> list[dict[str, Any]]:
    """The rows of one ETF, period and session: one per top holding (rank_position 1..top_n by weight) and the
    TOP5 row of the five together (the only row when no snapshot is known on the session)."""
    collected, known, rows, why = snapshot_for(data.snapshots, data.day)
    base = {"etf_ticker": data.etf, "period_days": period, "analysis_date": data.day.isoformat(),
            "risk_free_rate": data.risk_free_rate, "holdings_collected": collected,
            "holdings_as_of": known.isoformat() if known else None}
    if why is not None:
        return [{**base, "stock_ticker": BASKET, "stock_name": f"{data.etf}'s top holdings", "rank_position": 0,
                 **Stats(reason=why).as_dict(), "holdings_used": [], "mean_total_return": None}]
    top = sorted(rows, key=lambda r: (-r["holding_percent"], r["stock_ticker"]))[:data.top_n]
    out: list[dict[str, Any]] = []
    series: dict[str, list[float]] = {}
    for rank, row in enumerate(top, start=1):
        ticker = row["stock_ticker"]
        returns, why = daily_returns(data.closes.get(ticker, {}), data.sessions, data.day, period)
        stats = series_stats(returns, data.risk_free_rate) if returns is not None else Stats(reason=why)
        if returns is not None:
            series[ticker] = returns
        out.append({**base, "stock_ticker": ticker, "stock_name": row.get("stock_name") or ticker,
                    "rank_position": rank, "holding_percent": row["holding_percent"], **stats.as_dict()})
    if series:
        basket = [statistics.fmean(day_returns) for day_returns in zip(*series.values(), strict=True)]
        stats = series_stats(basket, data.risk_free_rate)
        left = [r["stock_ticker"] for r in out if r["stock_ticker"] not in series]
        if left and stats.reason is None:
            stats = Stats(**{**stats.as_dict(), "reason": f"without {', '.join(left)} (closes missing)"})
        mean_total = statistics.fmean(math.prod(1.0 + r for r in rs) - 1.0 for rs in series.values())
    else:
        stats, mean_total = Stats(reason="none of the top holdings has every close of the period"), None
    out.append({**base, "stock_ticker": BASKET, "stock_name": f"{data.etf}'s top {len(top)} holdings",
                "rank_position": 0, **stats.as_dict(), "holdings_used": list(series),
                "mean_total_return": mean_total})
    return out
