"""Stage 5 of the US ETF pipeline, the 5-, 10- and 20-session portfolios of each session, and the realised
performance of every daily and monthly portfolio not yet final."""

from __future__ import annotations

import datetime as dt
from typing import Any

from lib.log import get_logger
from lib.markets.us.analytics import position_standing
from lib.markets.us.batch import Batch, _stock_closes, sessions_after
from lib.markets.us.etf.marks import concentration, holdings_marks
from lib.markets.us.etf.performance import realised
from lib.markets.us.etf.portfolio import StockFacts, Trending, build_portfolio
from lib.markets.us.etf.trending import n_session_return
from lib.markets.us.etf.universe import PERIODS
from lib.markets.us.holdings import _holdings, _known_as_of, _trending_etfs
from lib.spine.calendar import TradingCalendar

log = get_logger("etf")


def allocate(batch: Batch) -> int:
    """Stage 5: the 5-, 10- and 20-session portfolios of each session. Returns the portfolios written."""
    meta = batch.plan.by_ticker
    held = {day: {etf: _holdings(batch, etf, day) for etf in _trending_etfs(batch, day)} for day in batch.days}
    # One read of the profiles for the whole batch: nothing in stage 5 writes them.
    profiles = batch.storage.etf.stock_profiles(
        {h.ticker for etfs in held.values() for top in etfs.values() for h in top}
    )
    closes = batch.stock_closes
    docs: list[dict[str, Any]] = []
    for day in batch.days:
        trend_rows = batch.trend_rows[day]  # stage 3's rows of the day, as just stored
        holdings = held[day]
        for period in PERIODS:
            trending = [
                Trending(etf, trend_rows[(period, etf)]["outperformance"], meta[etf].sector_name, meta[etf].etf_type)
                for etf in batch.trending[day][period]
            ]
            period_tickers = {h.ticker for t in trending for h in holdings.get(t.etf, [])}
            returns = {t: n_session_return(closes.get(t, {}), batch.window, day, period) for t in period_tickers}
            facts = {}
            for ticker in period_tickers:
                profile = profiles.get(ticker) or {}
                close = closes.get(ticker, {}).get(day)
                shares = profile.get("shares_outstanding")
                cap = shares * close if shares and close else profile.get("market_cap")
                facts[ticker] = StockFacts(ticker, profile.get("name") or "", profile.get("sector"), cap,
                                           profile.get("currency"))
            benchmark_row = trend_rows.get((period, batch.plan.benchmark)) or {}
            portfolio = build_portfolio(
                period, trending, {t.etf: holdings.get(t.etf, []) for t in trending}, returns, facts,
                batch.plan.benchmark, benchmark_rated=benchmark_row.get("return_nd") is not None,
            )
            after = sessions_after(batch.calendar, day, period)
            used = {t.etf: _known_as_of(batch, t.etf, day) for t in trending if holdings.get(t.etf)}
            built = portfolio.as_dict()
            position_standing(batch, day, holdings, built["positions"], profiles)
            docs.append({
                "as_of_date": day.isoformat(),
                **built,
                **holdings_marks(day, used, batch.plan.stale_days),
                "concentration": concentration({p.ticker: p.weight for p in portfolio.positions}),
                "benchmark": batch.plan.benchmark,
                "valid_from": after[0].isoformat() if after else None,
                "valid_until": after[-1].isoformat() if len(after) == period else None,
            })
    return batch.storage.etf.save_portfolios(docs)


# --- realised performance --------------------------------------------------------------------------


def evaluate_performance(
    storage: Any, calendar: TradingCalendar, benchmark: str, last: dt.date, since: dt.date | None = None
) -> int:
    """Bring the realised performance of every daily and monthly portfolio not yet final up to `last` (with
    `since`, also of the final ones whose period ends on or after it: a close they used changed). Returns how
    many changed."""
    daily, monthly = storage.etf.unfinished_portfolios(since)
    spans: list[tuple[dict, bool, list[dt.date], dict[str, float]]] = []
    for doc in daily:
        start = dt.date.fromisoformat(doc["as_of_date"])
        span = [start, *sessions_after(calendar, start, doc["period_days"])]
        spans.append((doc, False, span, {p["ticker"]: p["weight"] for p in doc.get("positions", [])}))
    for doc in monthly:
        if not doc.get("valid_until"):
            continue
        start = dt.date.fromisoformat(doc["base_session"])
        span = [start, *calendar.sessions_between(start + dt.timedelta(days=1),
                                                  dt.date.fromisoformat(doc["valid_until"]))]
        spans.append((doc, True, span, {p["ticker"]: p["final_weight"] for p in doc.get("positions", [])}))
    if not spans:
        return 0
    first = min(span[0] for _, _, span, _ in spans)
    end = max(first, min(last, max(span[-1] for _, _, span, _ in spans)))
    tickers = {t for _, _, _, weights in spans for t in weights}
    benchmarks = {doc.get("benchmark", benchmark) for doc, _, _, _ in spans}
    closes = _stock_closes(storage, calendar, tickers, first, end)
    closes.update(storage.etf.etf_closes(benchmarks, first, end))
    results: dict[bool, dict[str, dict]] = {False: {}, True: {}}
    for doc, is_monthly, span, weights in spans:
        perf = realised(weights, closes, doc.get("benchmark", benchmark), span, last)
        results[is_monthly][doc["_id"]] = perf.as_dict()
    return storage.etf.set_performances(False, results[False]) + storage.etf.set_performances(True, results[True])
