"""etf_pipeline: the seed's five stages on the collection spine (lib/markets/us/market.py plugs the US market in), then
the realised performance of every portfolio still running. Each stage writes idempotently (keys are the seed's
unique keys), so a batch killed anywhere and run again gives the same database; the spine marks a session
completed only after `run_stages` has returned for it.

Per batch: stages 1-2 have each ETF's bars from one request over the batch plus the sessions a 20-session
return needs before it (so every close a return uses is re-read in one answer, on one dividend-adjustment
basis); stage 3 ranks the ETFs per session and period; stage 4 refreshes the trending ETFs' holdings when older
than US_HOLDINGS_REFRESH_DAYS and fetches the bars of their top holdings (and of every stock of a portfolio
still running) once; stage 5 builds the three portfolios per session (each position with its sector average
and rank); then every ETF's top-holdings analytics (lib/markets/us/analytics.py).

Every bar write that fills a hole or restates a close of a session already computed is remembered before it is
written (lib/markets/us/etf/restated.py decides which); lib/markets/us/recompute.py then computes the rows that
depend on it again, with the same stage functions in `recompute` mode (from stored data).

This module holds stages 1-3 and the job; the batch they share is lib/markets/us/batch.py, stage 4
lib/markets/us/holdings.py, stage 5 and the realised performance lib/markets/us/portfolios.py."""


from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial
from typing import Any

from lib.log import get_logger
from lib.markets.us.analytics import analyse_top_holdings
from lib.markets.us.batch import (
    Batch,
    EtfPlan,
    _bar_fields,
    _mark_stale,
    _store_rejected,
    last_computed,
    sessions_after,
)
from lib.markets.us.etf.trending import n_session_return, trending_table
from lib.markets.us.etf.universe import ETF_JOB, PERIODS
from lib.markets.us.holdings import collect_holdings
from lib.markets.us.portfolios import allocate, evaluate_performance
from lib.markets.us.settings import us_settings
from lib.markets.us.sources import Validated
from lib.spine.calendar import TradingCalendar
from lib.spine.catchup import daily_update, manual_setup
from lib.spine.chain import Delivery, SourceChain
from lib.spine.market import Market
from lib.spine.runner import JobContext
from lib.storage.dates import to_utc_midnight

log = get_logger("etf")

US_LOCK = "us_etf"


# --- stages 1 and 2: ETF bars ------------------------------------------------------------------------


def store_etf_bars(batch: Batch, answers: dict[str, Delivery]) -> int:
    """Stages 1 (benchmark ETFs) and 2 (sector ETFs): each ETF's bars of the window with the day's change in
    percent against the previous session; static metadata. Returns the documents written."""
    docs: list[dict[str, Any]] = []
    for ticker, delivery in answers.items():
        validated: Validated = delivery.data
        batch.rejected.extend(validated.rejected)
        have = {r["date"]: r for r in validated.rows}
        for i, day in enumerate(batch.window[1:], start=1):
            row = have.get(day)
            if row is None:
                continue
            previous = have.get(batch.window[i - 1])
            change = (row["close"] / previous["close"] - 1) * 100 if previous else None
            docs.append({"ticker": ticker, "date": to_utc_midnight(day), **_bar_fields(row),
                         "price_change_percent": change, "source": delivery.source})
    written = batch.storage.etf.upsert_etf_bars(docs, partial(_mark_stale, batch, "etf"))
    batch.storage.etf.save_etf_meta([s.document() for s in batch.plan.specs])
    return written


# --- stage 3: trending -----------------------------------------------------------------------------


def identify_trending(batch: Batch) -> int:
    """Stage 3: each ETF's 5/10/20-session return against the benchmark's, per session. Returns the rows
    written."""
    closes = batch.storage.etf.etf_closes(batch.plan.tickers, batch.window[0], batch.days[-1])
    sectors = {s.ticker: s.sector_name for s in batch.plan.specs}
    rows = []
    for day in batch.days:
        valid_from = sessions_after(batch.calendar, day, 1)
        batch.trending[day] = {}
        batch.trend_rows[day] = {}
        for period in PERIODS:
            returns = {t: n_session_return(closes.get(t, {}), batch.window, day, period) for t in batch.plan.tickers}
            table = trending_table(returns, batch.plan.benchmark, period, sectors)
            batch.trending[day][period] = [r.etf_ticker for r in table if r.is_trending]
            for r in table:
                row = {**r.as_dict(), "as_of_date": day.isoformat(),
                       "valid_from": valid_from[0].isoformat() if valid_from else None}
                batch.trend_rows[day][(period, r.etf_ticker)] = row
                rows.append(row)
    return batch.storage.etf.save_trending(rows)


# --- the batch and the job -------------------------------------------------------------------------


def run_stages(
    ctx: JobContext,
    calendar: TradingCalendar,
    chain: SourceChain,
    plan: EtfPlan,
    window: list[dt.date],
    answers: dict[str, Delivery],
    complete: list[dt.date],
) -> None:
    """Stages 1-2 from the ETFs' answers, then 3-5 for the sessions every ETF delivered, then performance."""
    batch = Batch(ctx, calendar, chain, plan, window, complete, last_computed(ctx.storage))
    counters = ctx.counters
    try:
        counters["etf_bars_written"] += store_etf_bars(batch, answers)
        _store_rejected(batch)
        if not complete:
            return
        ctx.pulse()
        identify_trending(batch)
        counters["stock_bars_written"] += collect_holdings(batch)
        ctx.pulse()
        allocate(batch)
        counters["top_holdings_rows"] += analyse_top_holdings(batch)
        # Through the latest stored session, not the batch's: a --redo or a healed hole of an older session
        # re-evaluates its portfolios with everything stored since.
        latest = max(ctx.storage.jobs.done_days(ETF_JOB) | {complete[-1]})
        counters["performance_updates"] += evaluate_performance(ctx.storage, calendar, plan.benchmark, latest)
    finally:
        _store_rejected(batch)


def etf_pipeline(ctx: JobContext, market: Market, redo: Sequence[dt.date] = ()) -> None:
    """The generic catch-up on the US market: the first run loads the last US_FIRST_RUN_SESSIONS sessions
    (manual_setup's window), later runs every due session not yet completed (daily_update, with --redo)."""
    if ctx.storage.jobs.done_days(market.job):
        daily_update(ctx, market, redo)
    else:
        manual_setup(ctx, market, sessions=us_settings(ctx.settings).first_run_sessions)
