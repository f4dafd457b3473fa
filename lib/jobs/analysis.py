"""Time-sliced analysis (seed 3.3): once the latest due trading day is collected, recompute each active
ticker's indicators, largest market caps first, within a quota and a deadline; then refresh the strategies'
track records. A ticker that fails is logged and retried by the next run."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lib.calendar import TradingCalendar
from lib.daily_picks import store_daily_picks
from lib.errors import ConfigError
from lib.indicators import compute_frame, row_documents
from lib.jobs.collect import last_due_session
from lib.jobs.runner import JobContext
from lib.log import get_logger
from lib.screener import Registry, analysis_frames, track_records
from lib.sources import SourceChain
from lib.storage import Storage

log = get_logger("analysis")


def analyse_ticker(storage: Storage, ticker: str, day: dt.date) -> int:
    """Recompute one ticker's indicator rows from its stored bars up to `day` and overwrite them."""
    bars = pd.DataFrame(storage.read_bars(ticker, end=day))
    if bars.empty:
        raise ValueError(f"{ticker}: no stored bars up to {day}")
    frame = compute_frame(bars)
    return storage.replace_analysis(ticker, row_documents(frame))


def pending_tickers(storage: Storage, day: dt.date) -> list[str]:
    """Active tickers not yet analysed through `day`, largest market cap first."""
    text = day.isoformat()
    return [t["ticker"] for t in storage.universe(active_only=True) if (t.get("last_analyzed_date") or "") < text]


def refresh_track_records(storage: Storage, registry: Registry, day: dt.date) -> int:
    """Recompute, one stock at a time, the track record (default parameters) of every strategy whose
    stored one is not as of `day`; returns how many were refreshed."""
    stale = [s for s in registry if (storage.strategy_stats(s.name) or {}).get("as_of_date") != day.isoformat()]
    if not stale:
        return 0
    records = track_records([(s, s.params()) for s in stale], analysis_frames(storage, day))
    for strategy, record in zip(stale, records, strict=True):
        storage.save_strategy_stats(
            strategy.name, {"as_of_date": day.isoformat(), "params": strategy.params().model_dump(), **record}
        )
    return len(stale)


def hourly_analysis(ctx: JobContext, calendar: TradingCalendar, chain: SourceChain, registry: Registry) -> None:
    """Analyse what is pending for the latest collected session up to the latest due one."""
    storage, settings = ctx.storage, ctx.settings
    due = last_due_session(calendar, chain, ctx.as_of)
    collected = storage.done_days(statuses=("completed",))
    if not collected:
        raise ConfigError("nothing collected yet: run `python manual_setup.py` first")
    # The latest collected session up to the due one: a day still pending (a closure the calendar does not
    # know, a source late) never holds back the analysis of the sessions collected after it.
    target = max((d for d in collected if due is None or d <= due), default=None)
    if target is None:
        log.info("waiting: no session up to %s is collected yet; nothing to analyse", due)
        ctx.counters["waiting_for"] = due.isoformat() if due else None
        return
    if target != due:
        log.info("the collection of %s is not completed yet: analysing the latest collected session %s", due, target)
        ctx.counters["waiting_for"] = due.isoformat() if due else None
    pending = pending_tickers(storage, target)
    ctx.counters.update(day=target.isoformat(), pending=len(pending), analysed=0, failed=0)
    deadline = ctx.clock() + dt.timedelta(minutes=settings.analysis_deadline_minutes)
    batch = pending[: settings.analysis_quota_per_run]
    log.info("%d ticker(s) pending for %s; this run takes up to %d", len(pending), target, len(batch))
    for i, ticker in enumerate(batch):
        if ctx.clock() >= deadline:
            log.info("deadline reached after %d ticker(s); the next run goes on", i)
            break
        try:
            analyse_ticker(storage, ticker, target)
        except Exception as exc:  # noqa: BLE001 - one ticker's failure must never stop the others
            ctx.counters["failed"] += 1
            log.error("%s: analysis failed, retried next run: %s: %s", ticker, exc.__class__.__name__, exc)
            continue
        storage.set_last_analyzed(ticker, target)
        ctx.counters["analysed"] += 1
        if (i + 1) % 50 == 0:
            ctx.heartbeat()
    left = len(pending) - ctx.counters["analysed"]  # we hold the analysis lock: nothing else changed them
    ctx.counters["left"] = left
    if left == 0:
        refreshed = refresh_track_records(storage, registry, target)
        ctx.counters["track_records"] = refreshed
        if refreshed:
            log.info("all tickers analysed for %s; %d track record(s) refreshed", target, refreshed)
        # Keep this step last: it reads everything the steps above computed for the day.
        sessions = calendar.sessions_between(storage.first_screening_day() or target, target)
        stored = store_daily_picks(storage, registry, sessions, target)
        ctx.counters["daily_picks"] = stored
        if stored:
            log.info("screener picks stored for %d strategy-day(s) up to %s", stored, target)

