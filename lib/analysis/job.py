"""Time-sliced analysis (seed 3.3): once the latest due trading day is collected, compute the day's
cross-sectional measures over the whole collected market, then recompute each active ticker's indicators on
its back-adjusted series, largest market caps first, within a quota and a deadline; then refresh the
strategies' track records. A ticker that fails is logged and retried by the next run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis.cross_section import (
    BAR_FIELDS,
    MeasureRegistry,
    adjusted_bars,
    compute_measures,
    discover_measures,
    market_panel,
    values_by_ticker,
)
from lib.analysis.daily_picks import store_daily_picks
from lib.analysis.indicators import compute_frame, row_documents
from lib.analysis.screener import Registry, analysis_frames, track_records
from lib.errors import ConfigError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.catchup import last_due_session
from lib.spine.market import Market
from lib.spine.runner import JobContext
from lib.storage import Storage

log = get_logger("analysis")

JOB = "hourly_analysis"  # KRX's analysis; another market's is its screened dataset's subscriber (hourly_analysis.py)


def _held_closes(storage: Storage, ticker: str | None = None) -> dict[str, list[tuple[Any, float]]]:
    """Quarantined (date, close) by ticker: KRX's next base price refers to them (lib/analysis/corporate_actions.py)."""
    held: dict[str, list[tuple[Any, float]]] = {}
    for doc in storage.bad_data.quarantined(ticker):
        held.setdefault(doc["ticker"], []).append((doc["date"], float(doc["bar"]["close"])))
    return held


def with_measures(
    frame: pd.DataFrame, values: Mapping[str, Mapping[str, float]], columns: Sequence[str]
) -> pd.DataFrame:
    """Indicator rows with each cross-sectional column added from the ticker's stored values (NaN where none)."""
    if not columns:
        return frame
    keys = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%d")
    added = {c: [values.get(k, {}).get(c, np.nan) for k in keys] for c in columns}
    return frame.assign(**{c: np.asarray(v, dtype=np.float64) for c, v in added.items()})


def analyse_ticker(
    storage: Storage,
    ticker: str,
    day: dt.date,
    measure_columns: Sequence[str] = (),
    sessions: Sequence[dt.date] | None = None,
) -> int:
    """Recompute one ticker's indicator rows from its stored bars up to `day`, back-adjusted with the corporate
    actions derived from them (stored too), with its cross-sectional values, and overwrite them.

    The whole history is recomputed every time, so an ex-date rewrites every earlier row on the next run."""
    bars = pd.DataFrame(storage.bars.read_bars(ticker, end=day))
    if bars.empty:
        raise ValueError(f"{ticker}: no stored bars up to {day}")
    stamp = pd.Timestamp(day)
    held = [(d, c) for d, c in _held_closes(storage, ticker).get(ticker, []) if pd.Timestamp(d) <= stamp]
    adjusted, actions = adjusted_bars(ticker, bars, held, sessions)
    storage.corporate_actions.replace_corporate_actions(ticker, actions)
    frame = with_measures(compute_frame(adjusted), storage.cross_section.cross_section_of(ticker), measure_columns)
    return storage.analysis.replace_analysis(ticker, row_documents(frame))


CROSS_SECTION_CHUNK = 250  # days computed per pass, so a long history never sits in memory at once


def _days_to_compute(
    storage: Storage, measures: MeasureRegistry, calendar: TradingCalendar, day: dt.date, job: str
) -> tuple[list[dt.date], dict[dt.date, str]]:
    """Collected days up to `day` lacking a measure, or within a lookback after a day whose collection changed
    since it was computed (--redo); and every day's fingerprint."""
    names = set(measures.measures)
    prints = storage.jobs.day_fingerprints(job)
    computed = storage.cross_section.computed_days_with_prints()
    missing = {d for d in storage.jobs.done_days(job) if d <= day and not names <= computed.get(d, (set(), None))[0]}
    for changed in sorted(d for d, (_, fp) in computed.items() if d <= day and fp != prints.get(d)):
        later = calendar.sessions_between(changed, day)[: measures.lookback + 1]
        missing |= {d for d in later if d in computed}
    return sorted(missing), prints


def update_cross_section(
    storage: Storage, measures: MeasureRegistry, calendar: TradingCalendar, day: dt.date, job: str
) -> int:
    """Compute every measure for each collected day up to `day` that lacks one (every day the first time, and
    again the days a re-collected day reaches), over every stored ticker's back-adjusted bars, and store the
    values; returns the days computed.

    Values are ratios of a ticker's own prices, which back-adjustment leaves unchanged, so a later ex-date
    never changes a day already computed. A ticker whose bars cannot be read is left out and logged, and the
    days are then not recorded as computed, so the next run computes them again."""
    if not len(measures):
        return 0
    missing, prints = _days_to_compute(storage, measures, calendar, day, job)
    held = _held_closes(storage)
    for i in range(0, len(missing), CROSS_SECTION_CHUNK):
        chunk = missing[i : i + CROSS_SECTION_CHUNK]
        if not _compute_chunk(storage, measures, calendar, chunk, held, prints):
            return len(missing)
    return len(missing)


def _compute_chunk(
    storage: Storage,
    measures: MeasureRegistry,
    calendar: TradingCalendar,
    days: list[dt.date],
    held: Mapping[str, list[tuple[Any, float]]],
    prints: Mapping[dt.date, str],
) -> bool:
    """Compute and store the measures of these days; False when a ticker had to be left out."""
    start = calendar.last_sessions(days[0], measures.lookback + 1)[0]
    sessions = calendar.sessions_between(start, days[-1])
    failed: list[str] = []

    def series():
        for ticker in storage.bars.stored_tickers():
            try:
                bars = pd.DataFrame(storage.bars.read_bars(ticker, start, days[-1], fields=BAR_FIELDS))
                if not bars.empty:
                    yield ticker, adjusted_bars(ticker, bars, held.get(ticker, ()), sessions)[0]
            except Exception as exc:  # noqa: BLE001 - one unreadable ticker must not stop the market's measures
                failed.append(ticker)
                log.error("%s: left out of the cross-section: %s: %s", ticker, exc.__class__.__name__, exc)

    values = compute_measures(measures, market_panel(series()))
    storage.cross_section.save_cross_section(values_by_ticker(values, days))
    if failed:
        log.error("cross-section of %s..%s computed without %d ticker(s); the next run computes it again",
                  days[0], days[-1], len(failed))
        return False
    counts = pd.concat([f.notna().sum(axis=1) for f in values.values()], axis=1).max(axis=1)
    ranked = {d: int(counts.get(pd.Timestamp(d), 0)) for d in days}
    storage.cross_section.mark_computed(days, measures.measures, ranked, prints)
    return True


def pending_tickers(storage: Storage, day: dt.date) -> list[str]:
    """Active tickers not yet analysed through `day`, largest market cap first."""
    text = day.isoformat()
    return [
        t["ticker"] for t in storage.universe.universe(active_only=True) if (t.get("last_analyzed_date") or "") < text
    ]


def refresh_track_records(storage: Storage, registry: Registry, day: dt.date) -> int:
    """Recompute, one stock at a time, the track record (default parameters) of every strategy whose
    stored one is not as of `day`; returns how many were refreshed."""
    stale = [
        s for s in registry if (storage.analysis.strategy_stats(s.name) or {}).get("as_of_date") != day.isoformat()
    ]
    if not stale:
        return 0
    records = track_records([(s, s.params()) for s in stale], analysis_frames(storage, day))
    for strategy, record in zip(stale, records, strict=True):
        storage.analysis.save_strategy_stats(
            strategy.name, {"as_of_date": day.isoformat(), "params": strategy.params().model_dump(), **record}
        )
    return len(stale)


def finish_day(
    storage: Storage, registry: Registry, calendar: TradingCalendar, day: dt.date, counters: dict[str, Any]
) -> None:
    """What runs once every ticker of `day` is analysed, in this order. Every row already carries the
    cross-sectional measures (update_cross_section ran before the first ticker), so the track records and the
    stored picks (rs_leaders and the trend template read rs_rating) see them."""
    refreshed = refresh_track_records(storage, registry, day)
    counters["track_records"] = refreshed
    if refreshed:
        log.info("all tickers analysed for %s; %d track record(s) refreshed", day, refreshed)
    # Keep this step last: it reads everything the steps above computed for the day.
    sessions = calendar.sessions_between(storage.analysis.first_screening_day() or day, day)
    stored = store_daily_picks(storage, registry, sessions, day)
    counters["daily_picks"] = stored
    if stored:
        log.info("screener picks stored for %d strategy-day(s) up to %s", stored, day)


def hourly_analysis(
    ctx: JobContext,
    market: Market,
    registry: Registry,
    measures: MeasureRegistry | None = None,
) -> None:
    """Analyse what is pending for the latest collected session of the market (the dataset it subscribes to:
    its calendar, sources and day records) up to the latest due one.

    The steps, in an order that matters: (1) the cross-sectional measures (rs_rating) of every collected day
    that lacks them, over the whole collected market; (2) each pending ticker's rows, which merge (1) in;
    (3) finish_day, once no ticker is left, reading rows that carry (1)."""
    storage, settings = ctx.storage, ctx.settings
    calendar, job = market.calendar, market.job
    measures = discover_measures() if measures is None else measures
    due = last_due_session(calendar, market.chain, ctx.as_of)
    collected = storage.jobs.done_days(job, statuses=("completed",))
    if not collected:
        raise ConfigError(f"nothing collected yet: run `python {market.setup_command}` first")
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
    ctx.counters["cross_section_days"] = update_cross_section(storage, measures, calendar, target, job)  # (1)
    ctx.heartbeat()
    sessions = calendar.sessions_between(calendar.first, target)
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
            analyse_ticker(storage, ticker, target, measures.columns, sessions)  # (2)
        except Exception as exc:  # noqa: BLE001 - one ticker's failure must never stop the others
            ctx.counters["failed"] += 1
            log.error("%s: analysis failed, retried next run: %s: %s", ticker, exc.__class__.__name__, exc)
            continue
        storage.universe.set_last_analyzed(ticker, target)
        ctx.counters["analysed"] += 1
        if (i + 1) % 50 == 0:
            ctx.heartbeat()
    left = len(pending) - ctx.counters["analysed"]  # we hold the analysis lock: nothing else changed them
    ctx.counters["left"] = left
    if left == 0:
        finish_day(storage, registry, calendar, target, ctx.counters)  # (3)

