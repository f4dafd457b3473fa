"""Collecting a list of pending days, a batch at a time (a calendar month, or what the collector's `batch_of`
groups): ask the market's collector for every part still wanted, refuse an answer that repeats a neighbouring
session, let the collector store what was delivered, then record the days (lib/spine/day_records.py), oldest
first; only a failure of the sources themselves stops the run where it is."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from lib.errors import ConfigError, SourceError, StaleAnswerError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.day_records import CatchUpRun, mark_days, verdict
from lib.spine.market import DayFetch, Market
from lib.spine.runner import JobContext

log = get_logger("collect")

Progress = Callable[[int], None]


def _neighbour_sessions(calendar: TradingCalendar, day: dt.date) -> list[dt.date]:
    try:
        before = [calendar.previous_session(day)]
    except ConfigError:
        before = []
    after = calendar.next_session(day)
    return before + ([after] if after else [])


@dataclass
class MonthBatch:
    """What fetching one month of pending days gave."""

    days: list[DayFetch] = field(default_factory=list)  # days whose every wanted part has an outcome
    stop: SourceError | None = None  # the sources' failure that ended the run here
    stopped_on: dt.date | None = None

    @property
    def delivered(self) -> list[DayFetch]:
        """The days with something to store."""
        return [d for d in self.days if d.delivered]


def _fetch_batch(
    ctx: JobContext,
    market: Market,
    days: Sequence[dt.date],
    prints: dict[dt.date, dict[str, str]],
    run: CatchUpRun,
    progress: Progress | None,
) -> MonthBatch:
    """Ask the collector for every part still wanted of the batch's days; stop only when the sources fail."""
    collector, calendar = market.collector, market.calendar
    results: dict[dt.date, DayFetch] = {}
    wanted: dict[dt.date, list[str]] = {}
    for day in days:
        record = run.earlier.get(day) or {}
        stored = dict(record.get("sources") or {}) if record.get("status") == "partial" else {}
        results[day] = DayFetch(day, stored_before=stored)
        wanted[day] = [part for part in collector.parts if part not in stored]

    def resolved(day: dt.date) -> bool:
        result = results[day]
        return len(result.delivered) + len(result.missing) + len(result.out_of_range) == len(wanted[day])

    batch = MonthBatch()
    for fetched in collector.fetch(market.chain, {d: p for d, p in wanted.items() if p}, ctx.as_of):
        result = results[fetched.day]
        if fetched.delivery is not None:
            digest = collector.digest(fetched.part, fetched.delivery.data)
            neighbours = _neighbour_sessions(calendar, fetched.day)
            if digest is not None and digest in {prints.get(d, {}).get(fetched.part) for d in neighbours}:
                batch.stop = StaleAnswerError(
                    f"{fetched.part} {fetched.day}: the answer repeats the closes and volumes of a neighbouring "
                    "session exactly (served before the day was published?); not stored, the next run asks again"
                )
                batch.stopped_on = fetched.day
                break
            result.delivered[fetched.part] = fetched.delivery
            run.served.add(fetched.day)
            if digest is not None:
                result.digests[fetched.part] = digest
                prints.setdefault(fetched.day, {})[fetched.part] = digest
        else:
            problem = fetched.problem
            assert problem is not None
            if problem.out_of_range:
                result.out_of_range[fetched.part] = problem
            else:
                result.missing[fetched.part] = problem
                if problem.sources_down:
                    batch.stop, batch.stopped_on = problem, fetched.day
                    break
        if progress and resolved(fetched.day):
            progress(1)
    batch.days = [results[d] for d in days if resolved(d)]
    return batch


def _count_calls(ctx: JobContext, market: Market) -> None:
    ctx.counters["source_calls"] = sum(market.chain.calls.values())
    if market.chain.disabled:  # what the alert step reads to say a source is blocked
        ctx.counters["blocked_sources"] = dict(market.chain.disabled)


def collect_days(ctx: JobContext, market: Market, days: Sequence[dt.date], progress: Progress | None = None) -> None:
    """Fetch, store and mark each day, oldest first, a batch (a calendar month by default) at a time (see the module
    docstring).

    Order of writes per month: the collector's store (bars, then what the market derives), then the day
    records; so a day marked completed is wholly stored, and a run killed anywhere is repaired by running
    again."""
    counters = ctx.counters
    for key in ("days_completed", "days_no_data", "days_pending", *market.collector.counters):
        counters.setdefault(key, 0)
    prints = ctx.storage.jobs.day_fingerprints(market.job)
    wanted = set(days)
    run = CatchUpRun({day: r for day, r in ctx.storage.jobs.unfinished_days(market.job).items() if day in wanted})
    market.chain.before_request = ctx.pulse  # slow requests (a US first run's) keep the lock between batches
    try:
        _collect_months(ctx, market, days, prints, run, progress)
    finally:
        market.chain.before_request = None
    verdict(ctx, market, run)


def _collect_months(
    ctx: JobContext, market: Market, days: Sequence[dt.date], prints: dict[dt.date, dict[str, str]], run: CatchUpRun,
    progress: Progress | None,
) -> None:
    counters = ctx.counters
    for _, days_of_month in itertools.groupby(days, key=market.collector.batch_of):
        batch = _fetch_batch(ctx, market, list(days_of_month), prints, run, progress)
        _count_calls(ctx, market)
        # Called even when no day was delivered, so a collector can keep what it learnt while fetching (the US
        # market's rejected records of a day that failed validation).
        market.collector.store(ctx, batch.delivered)
        _count_calls(ctx, market)  # the requests `store` made too (the US stage 4: holdings, profiles, stocks)
        recorded = mark_days(ctx, market, batch, run)
        if recorded:
            counters["last_day"] = recorded[-1].isoformat()
            so_far = " ".join(f"{key}={counters[key]}" for key in market.collector.counters)
            log.info("%s: stored %s..%s: %d day(s) done; so far %s", market.name, recorded[0], recorded[-1],
                     len(recorded), so_far or f"days={counters['days_completed'] + counters['days_no_data']}")
        ctx.heartbeat()
        if batch.stop is not None:
            run.stop, run.stopped_on = batch.stop, batch.stopped_on
            break
