"""monthly_rebalance: on the last Sunday of each month, the latest 5-, 10- and 20-session portfolios merged by
the seed's scores into one portfolio for the next 20 XNYS sessions, and the month's sector table
(analytics_sector_trending, lib/markets/us/analytics.py). Idempotent per month; a month whose last
Sunday passed without a rebalance (the VM was off) is caught up by the next run."""

from __future__ import annotations

import datetime as dt

from lib.errors import PipelineError
from lib.log import get_logger
from lib.markets.us.analytics import sector_month
from lib.markets.us.batch import EtfPlan, sessions_after
from lib.markets.us.etf.marks import concentration, merged_marks
from lib.markets.us.etf.rebalance import is_last_sunday, last_sunday, merge_portfolios
from lib.markets.us.etf.universe import ETF_JOB, PERIODS
from lib.markets.us.portfolios import evaluate_performance
from lib.spine.calendar import TradingCalendar
from lib.spine.market import Market
from lib.spine.runner import JobContext

log = get_logger("rebalance")
HOLDING_SESSIONS = 20


class NotReadyError(PipelineError):
    """The daily portfolios a rebalance needs are not computed yet (etf_pipeline has not caught up)."""


def month_key(day: dt.date) -> str:
    """A month's key, YYYY-MM."""
    return f"{day.year:04d}-{day.month:02d}"


def pending_rebalances(storage: object, calendar: TradingCalendar, today: dt.date) -> list[dt.date]:
    """Last Sundays up to today, from the first month with daily portfolios on, that have no merged portfolio."""
    first = storage.etf.first_portfolio_day()  # type: ignore[attr-defined]
    if first is None:
        return []
    done = set(storage.etf.monthly_months())  # type: ignore[attr-defined]
    out = []
    year, month = first.year, first.month
    while (year, month) <= (today.year, today.month):
        sunday = last_sunday(year, month)
        if sunday <= today and calendar.previous_session(sunday) >= first and month_key(sunday) not in done:
            out.append(sunday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def rebalance(ctx: JobContext, calendar: TradingCalendar, plan: EtfPlan, day: dt.date) -> dict:
    """Merge the daily portfolios of the last session on or before `day` into the month's portfolio."""
    storage = ctx.storage
    base = calendar.latest_session(day)
    done = storage.jobs.done_days(ETF_JOB)
    # A session recorded without data (a closure the calendar did not know) has no portfolios: the one before.
    for _ in range(5):
        if base not in done or storage.etf.portfolio(base, 20) is not None:
            break
        base = calendar.previous_session(base)
    if base not in done or storage.etf.portfolio(base, 20) is None:
        first = min(done, default=None)
        collect = (f"`python etf_pipeline.py --redo {base}` (it is before the first session collected, {first})"
                   if first is not None and base < first else "`python etf_pipeline.py` (it catches up)")
        raise NotReadyError(
            f"the {month_key(day)} rebalance merges the daily portfolios of {base}, which etf_pipeline has not "
            f"computed yet: run {collect}, then run monthly_rebalance.py again with the same arguments"
        )
    daily = {period: storage.etf.portfolio(base, period) for period in PERIODS}
    weights = {period: {p["ticker"]: p["weight"] for p in doc["positions"]} for period, doc in daily.items()}
    info = {p["ticker"]: p for period in (5, 10, 20) for p in daily[period]["positions"]}
    rows = merge_portfolios(weights)
    after = sessions_after(calendar, day, HOLDING_SESSIONS)
    positions = [
        {**row.as_dict(), "name": info[row.ticker]["name"], "sector": info[row.ticker]["sector"]} for row in rows
    ]
    doc = {
        "rebalance_date": day.isoformat(),
        "base_session": base.isoformat(),
        "valid_from": after[0].isoformat() if after else None,
        "valid_until": after[-1].isoformat() if len(after) == HOLDING_SESSIONS else None,
        "benchmark": plan.benchmark,
        "source_portfolios": {str(p): f"{base.isoformat()}:{p}" for p in PERIODS},
        "positions": positions,
        **merged_marks(daily.values()),
        "concentration": concentration({row.ticker: row.final_weight for row in rows}),
        "note": "" if rows else "the 5-, 10- and 20-session portfolios were all empty: nothing to hold this month",
    }
    key = month_key(day)
    storage.etf.save_monthly(key, doc)
    sector_month(storage, calendar, plan, key, base)
    log.info("rebalanced %s as of %s (portfolios of %s): %d stock(s), valid %s..%s",
             key, day, base, len(rows), doc["valid_from"], doc["valid_until"])
    return doc


def monthly_rebalance(ctx: JobContext, market: Market, plan: EtfPlan, force: bool = False) -> None:
    """Rebalance every month whose last Sunday has passed without one; with `force`, rebalance as of today."""
    calendar = market.calendar
    today = calendar.local_date(ctx.as_of)
    storage = ctx.storage
    if force:
        days = [today]
    else:
        days = pending_rebalances(storage, calendar, today)
        if not days:
            if is_last_sunday(today):
                log.info("%s is the last Sunday of the month and %s is already rebalanced", today, month_key(today))
            else:
                upcoming = last_sunday(today.year, today.month)
                if upcoming < today:
                    nxt = today.replace(day=28) + dt.timedelta(days=4)
                    upcoming = last_sunday(nxt.year, nxt.month)
                log.info("%s is not the last Sunday of the month (next: %s); nothing to rebalance", today, upcoming)
            ctx.counters["rebalanced"] = 0
            return
    rebalanced = 0
    try:
        for day in days:
            rebalance(ctx, calendar, plan, day)
            rebalanced += 1
    finally:
        # The months merged before one that is not ready yet get their performance all the same.
        ctx.counters["rebalanced"] = rebalanced
        done = storage.jobs.done_days(ETF_JOB)
        if done and rebalanced:
            ctx.counters["performance_updates"] = evaluate_performance(storage, calendar, plan.benchmark, max(done))
