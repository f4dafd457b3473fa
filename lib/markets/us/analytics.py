"""The sector analytics of the US ETF pipeline, on the batch the stages share (lib/markets/us/batch.py):
each daily portfolio position's sector standing (stage 5, lib/markets/us/portfolios.py calls `position_standing`),
the top-holdings analytics of every ETF with a stored snapshot (after stage 5, `analyse_top_holdings`), and the
monthly sector table (monthly_rebalance, `sector_month`). The figures' definitions are in
lib/markets/us/etf/top_holdings.py and lib/markets/us/etf/sectors.py. Every write is keyed and idempotent."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from lib.markets.us.batch import Batch, EtfPlan, _stock_closes
from lib.markets.us.etf.portfolio import Holding
from lib.markets.us.etf.rebalance import last_sunday
from lib.markets.us.etf.sectors import month_table, sector_standing
from lib.markets.us.etf.top_holdings import BASKET, TopHoldingsInput, snapshot_for, top_holdings_rows
from lib.markets.us.etf.trending import n_session_return
from lib.markets.us.etf.universe import PERIODS
from lib.markets.us.holdings import _known_as_of
from lib.markets.us.settings import us_settings
from lib.spine.calendar import TradingCalendar


def position_standing(
    batch: Batch, day: dt.date, held: Mapping[str, Sequence[Holding]], positions: Sequence[dict[str, Any]],
    profiles: Mapping[str, Mapping[str, Any]],
) -> None:
    """Add return_Nd, sector_avg_Nd, rank_Nd and sector_size_Nd (N = 5, 10, 20) to each position of the day, its
    peers the top holdings of the day's trending ETFs whose snapshot was known on the day, and the positions."""
    meta = batch.plan.by_ticker
    sectors: dict[str, str | None] = {}
    for etf, top in held.items():
        known = _known_as_of(batch, etf, day) if top else None
        if known is None or known > day:
            continue  # point in time: a snapshot dated after the session names no peer
        fallback = meta[etf].sector_name if etf in meta and "sector" in meta[etf].etf_type else None
        for h in top:
            sectors.setdefault(h.ticker, (profiles.get(h.ticker) or {}).get("sector") or fallback)
    for p in positions:
        sectors[p["ticker"]] = p.get("sector")
    closes = batch.stock_closes
    returns = {n: {t: n_session_return(closes.get(t, {}), batch.window, day, n) for t in sectors} for n in PERIODS}
    standing = sector_standing([p["ticker"] for p in positions], sectors, returns)
    for p in positions:
        p.update(standing[p["ticker"]])


def analyse_top_holdings(batch: Batch) -> int:
    """Every followed ETF's top-holdings rows for each session of the batch and period, from its snapshot known
    on the session (an ETF never collected has none). Returns the documents written."""
    rate = us_settings(batch.ctx.settings).risk_free_rate
    snapshots = {etf: batch.holdings[etf] for etf in batch.plan.tickers if batch.holdings.get(etf)}
    tickers = set()
    for by_date in snapshots.values():
        for day in batch.days:
            rows = snapshot_for(by_date, day)[2]
            tickers |= {r["stock_ticker"] for r in rows}
    closes = _stock_closes(batch.storage, batch.calendar, tickers, batch.window[0], batch.days[-1])
    out: list[dict[str, Any]] = []
    for day in batch.days:
        for etf, by_date in snapshots.items():
            data = TopHoldingsInput(etf, day, by_date, closes, batch.window, batch.plan.top_n, rate)
            for period in PERIODS:
                out.extend(map(_hinted, top_holdings_rows(data, period)))
    return batch.storage.etf.save_top_holdings(out)


def _hinted(row: dict[str, Any]) -> dict[str, Any]:
    # Stage 4 fetches a stock's bars only while an ETF holding it trends: say so where closes are missing.
    if row["stock_ticker"] != BASKET and (row.get("reason") or "").endswith(")") and "not stored" in row["reason"]:
        return {**row, "reason": row["reason"] + "; a stock's bars are collected while an ETF holding it trends"}
    return row


def sector_month(
    storage: Any, calendar: TradingCalendar, plan: EtfPlan, month: str, base: dt.date
) -> dict[str, Any]:
    """The rebalance month's sector table: each sector ETF's return from the previous rebalance's base session
    (the last session on or before the previous month's last Sunday) to `base`, against the benchmark's, and
    their 5/10/20-session rows of `base` from stage 3. Stored in analytics_sector_trending; returned."""
    first = dt.date.fromisoformat(f"{month}-01")
    previous = first - dt.timedelta(days=1)
    start = calendar.latest_session(last_sunday(previous.year, previous.month))
    sectors = {s.ticker: s.sector_name for s in plan.specs if "sector" in s.etf_type}
    closes = storage.etf.etf_closes([*sectors, plan.benchmark], start, base)

    def month_return(ticker: str) -> float | None:
        a, b = closes.get(ticker, {}).get(start), closes.get(ticker, {}).get(base)
        return b / a - 1.0 if a and b else None

    rows = month_table({t: month_return(t) for t in sectors}, month_return(plan.benchmark), sectors)
    trend = {(r["period_days"], r["etf_ticker"]): r for r in storage.etf.trending_rows(base)}
    for row in rows:
        for n in PERIODS:
            got = trend.get((n, row["etf_ticker"])) or {}
            row[f"return_{n}d"] = got.get("return_nd")
            row[f"outperformance_{n}d"] = got.get("outperformance")
            row[f"rank_{n}d"] = got.get("rank_by_outperformance")
            row[f"is_trending_{n}d"] = bool(got.get("is_trending"))
    missing = [r["etf_ticker"] for r in rows if r["month_return"] is None]
    doc = {
        "start_session": start.isoformat(), "end_session": base.isoformat(), "benchmark": plan.benchmark,
        "sectors": rows,
        "note": (f"no month return for {', '.join(missing)}: a close of {start} or {base} is not stored "
                 "(the pipeline's first run may be later)") if missing else "",
    }
    storage.etf.save_sector_month(month, doc)
    return doc
