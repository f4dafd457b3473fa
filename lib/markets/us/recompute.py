"""Computing again what depends on bars written for sessions already computed (a hole filled late, a --redo, a
restated close), from stored data, the way the KRX analysis recomputes from every stored bar.

What depends on the bar of a ticker on session d:
- an ETF's price_change_percent of the session after d;
- the trending rows of sessions d .. d+20 (a 5-, 10- or 20-session return may start or end on d, and ranks
  compare every ETF), so the holdings asked, the picks and the three portfolios of those sessions, and the
  top-holdings analytics of those sessions;
- the realised performance of every portfolio whose period reaches d, and of every portfolio built again;
- the monthly portfolios merged from the daily portfolios of those sessions.

The bars' write path (lib/markets/us/pipeline.py) records such a bar in us_etf.pipeline_recompute *before* writing it
(lib/markets/us/etf/restated.py says which writes count). After each batch's own stages, `recompute_dependants` computes
those rows again with the stages' own functions in `recompute` mode (stored closes; stage 4 asks only for the
holdings and stock histories not stored yet), brings the performance up to date, and only then forgets the marks.
Every write is idempotent, so a run killed anywhere leaves the marks, and its batch's days pending, for the next
run, which does it all again."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from lib.log import get_logger
from lib.markets.us.analytics import analyse_top_holdings
from lib.markets.us.batch import Batch, EtfPlan, _store_rejected, fetch_window, last_computed, sessions_after
from lib.markets.us.etf.universe import ETF_JOB, PERIODS
from lib.markets.us.holdings import collect_holdings
from lib.markets.us.pipeline import identify_trending
from lib.markets.us.portfolios import allocate, evaluate_performance
from lib.markets.us.rebalance_job import rebalance
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import SourceChain
from lib.spine.runner import JobContext
from lib.storage.dates import from_stored

log = get_logger("etf")

MAX_ROUNDS = 3  # a round's own stock fetches may fill older holes; a third round is already unusual


def _day_changes(storage: object, calendar: TradingCalendar, etf_bars: Iterable[tuple[str, dt.date]]) -> int:
    """The price_change_percent of the bar after each of these ETF bars, from the stored closes."""
    docs = []
    for ticker, day in sorted(set(etf_bars)):
        after = calendar.next_session(day)
        if after is None:
            continue
        bars = {from_stored(b["date"]): b for b in storage.etf.etf_bars(ticker, day, after)}  # type: ignore[attr-defined]
        if day not in bars or after not in bars:
            continue
        change = (bars[after]["close"] / bars[day]["close"] - 1) * 100
        if bars[after].get("price_change_percent") != change:
            docs.append({**bars[after], "price_change_percent": change})
    return storage.etf.upsert_etf_bars(docs) if docs else 0  # type: ignore[attr-defined]


def _affected(calendar: TradingCalendar, days: Iterable[dt.date]) -> set[dt.date]:
    out: set[dt.date] = set()
    for day in days:
        out |= {day, *sessions_after(calendar, day, max(PERIODS))}
    return out


def _describe(marks: Sequence[dict]) -> str:
    shown = [f"{m['ticker']} {m['date']} {m['why']}" for m in marks[:5]]
    return ", ".join(shown) + (f" and {len(marks) - 5} more" if len(marks) > 5 else "")


def _round(
    ctx: JobContext, calendar: TradingCalendar, chain: SourceChain, plan: EtfPlan, marks: Sequence[dict],
    computed: set[dt.date],
) -> None:
    """One pass over the marks: the rows that depend on the marked bars, then the performance of every
    portfolio whose period reaches the earliest of them."""
    storage = ctx.storage
    days = [dt.date.fromisoformat(m["date"]) for m in marks]
    changed = _day_changes(storage, calendar, [(m["ticker"], d) for m, d in zip(marks, days, strict=True)
                                               if m["kind"] == "etf"])
    affected = _affected(calendar, days) & (storage.jobs.done_days(ETF_JOB, ("completed",)) | computed)
    sessions = sorted(affected - computed)
    trending = portfolios = 0
    if sessions:
        batch = Batch(ctx, calendar, chain, plan, fetch_window(calendar, sessions), sessions, last_computed(storage),
                      recompute=True)
        try:
            trending = identify_trending(batch)
            ctx.counters["stock_bars_written"] += collect_holdings(batch)
            portfolios = allocate(batch)
            analyse_top_holdings(batch)
        finally:
            _store_rejected(batch)
        ctx.counters["recomputed_sessions"] += len(sessions)
    months = _merge_again(ctx, calendar, plan, affected)
    span = f"{sessions[0]}..{sessions[-1]}" if sessions else "none"
    performance = _evaluate(ctx, calendar, plan, computed, since=min(days))
    log.info("bars written for sessions already computed (%s): computed again %d session(s) (%s): %d day "
             "change(s), %d trending row(s), %d portfolio(s), %d performance figure(s) rewritten, %d monthly "
             "portfolio(s) merged again", _describe(marks), len(sessions), span, changed, trending, portfolios,
             performance, months)


def _evaluate(
    ctx: JobContext, calendar: TradingCalendar, plan: EtfPlan, computed: set[dt.date], since: dt.date | None
) -> int:
    latest = max([d for d in [last_computed(ctx.storage), *computed] if d is not None], default=None)
    if latest is None:
        return 0
    changed = evaluate_performance(ctx.storage, calendar, plan.benchmark, latest, since)
    ctx.counters["performance_updates"] += changed
    return changed


def _merge_again(ctx: JobContext, calendar: TradingCalendar, plan: EtfPlan, sessions: Iterable[dt.date]) -> int:
    """The monthly portfolios merged from these sessions' daily portfolios, merged again (unchanged ones keep
    their performance)."""
    months = ctx.storage.etf.months_based_on(sessions)
    for month in months:
        rebalance(ctx, calendar, plan, dt.date.fromisoformat(month["rebalance_date"]))
    return len(months)


def recompute_dependants(
    ctx: JobContext, calendar: TradingCalendar, chain: SourceChain, plan: EtfPlan, computed: Sequence[dt.date]
) -> None:
    """After a batch's stages (which computed `computed`): compute again every stored row that depends on a bar
    marked in pipeline_recompute, and merge again the monthly portfolios based on a session computed here."""
    storage = ctx.storage
    done = set(computed)
    if _merge_again(ctx, calendar, plan, done):  # a --redo of a rebalance's base session
        _evaluate(ctx, calendar, plan, done, since=None)
    for _ in range(MAX_ROUNDS):
        marks = storage.etf.recompute_pending()
        if not marks:
            return
        ctx.pulse()
        _round(ctx, calendar, chain, plan, marks, done)
        storage.etf.clear_recompute(m["_id"] for m in marks)
    if storage.etf.recompute_pending():
        log.warning("bars of earlier sessions kept changing while their dependants were computed again; the next "
                    "run goes on")
