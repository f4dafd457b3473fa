"""The self-healing per-day catch-up, for any market (lib/markets): every session that is due and not yet done
is fetched through the market's collector, stored, and only then recorded in job_status as
`<YYYY-MM-DD>_<job>`, completed (or no_data), under the market's lock.

- Due: the latest session some configured source should have published by the run's as-of moment.
- Pending: every session from the first done one up to the latest due one without a done record, so holes
  heal too, not just the days after the last success.
- Order of writes, a calendar month at a time: the collector stores the month's days (bars, then whatever the
  market derives), then the day records are written, oldest first. A run killed anywhere is repaired by
  running again.
- Grace: a session every source able to answer still answers empty more than MISSING_DAY_GRACE_DAYS calendar
  days later is recorded no_data, loudly, so collection can go on; `--redo` makes a day pending again."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from lib.calendar import TradingCalendar
from lib.errors import ConfigError, SourceError, StaleAnswerError
from lib.jobs.runner import JobContext
from lib.log import get_logger
from lib.markets import DayFetch, Market
from lib.sources.chain import SourceChain

log = get_logger("collect")

Progress = Callable[[int], None]


def last_due_session(calendar: TradingCalendar, chain: SourceChain, as_of: dt.datetime) -> dt.date | None:
    """The latest session on or before the as-of date that some source should have published by now."""
    day = calendar.latest_session(calendar.local_date(as_of))
    for _ in range(10):
        if chain.due(day, as_of):
            return day
        day = calendar.previous_session(day)
    return None


def _neighbour_sessions(calendar: TradingCalendar, day: dt.date) -> list[dt.date]:
    try:
        before = [calendar.previous_session(day)]
    except ConfigError:
        before = []
    after = calendar.next_session(day)
    return before + ([after] if after else [])


@dataclass
class _Batch:
    """What fetching one month of pending days gave."""

    days: list[DayFetch] = field(default_factory=list)  # resolved days, oldest first
    failure: SourceError | None = None
    failed_day: dt.date | None = None

    @property
    def delivered(self) -> list[DayFetch]:
        """The days with something to store."""
        return [d for d in self.days if d.delivered]


def _fetch_batch(
    ctx: JobContext,
    market: Market,
    days: Sequence[dt.date],
    prints: dict[dt.date, dict[str, str]],
    progress: Progress | None,
) -> _Batch:
    """Fetch the batch's days until one fails; a day every source has left empty past the grace period is
    resolved (no_data)."""
    collector, calendar = market.collector, market.calendar
    today = calendar.local_date(ctx.as_of)
    grace = dt.timedelta(days=ctx.settings.missing_day_grace_days)
    wanted = {day: list(collector.parts) for day in days}
    results = {day: DayFetch(day) for day in days}
    batch = _Batch()
    for fetched in collector.fetch(market.chain, wanted, ctx.as_of):
        result = results[fetched.day]
        if fetched.delivery is not None:
            digest = collector.digest(fetched.part, fetched.delivery.data)
            neighbours = _neighbour_sessions(calendar, fetched.day)
            if digest is not None and digest in {prints.get(d, {}).get(fetched.part) for d in neighbours}:
                batch.failure = StaleAnswerError(
                    f"{fetched.part} {fetched.day}: the answer repeats the closes and volumes of a neighbouring "
                    "session exactly (served before the day was published?); not stored, the next run asks again"
                )
                batch.failed_day = fetched.day
                break
            result.delivered[fetched.part] = fetched.delivery
            if digest is not None:
                result.digests[fetched.part] = digest
                prints.setdefault(fetched.day, {})[fetched.part] = digest
        else:
            problem = fetched.problem
            assert problem is not None
            result.missing[fetched.part] = problem
            if not (problem.all_empty and today - fetched.day > grace):
                batch.failure, batch.failed_day = problem, fetched.day
                break
        if progress and len(result.delivered) + len(result.missing) == len(wanted[fetched.day]):
            progress(1)
    for day in days:
        result = results[day]
        if batch.failed_day is not None and day >= batch.failed_day:
            break
        if len(result.delivered) + len(result.missing) == len(wanted[day]):
            batch.days.append(result)
    return batch


def _mark_days(ctx: JobContext, market: Market, batch: _Batch) -> list[dt.date]:
    """Record the batch's completed and no_data days, oldest first; returns the days recorded."""
    marked_at = ctx.clock().astimezone(dt.UTC).replace(tzinfo=None)
    today = market.calendar.local_date(ctx.as_of)
    recorded: list[dt.date] = []
    for result in batch.days:
        fields: dict[str, object] = {"run_id": ctx.run_id, "end_time_utc": marked_at}
        if result.complete:
            status = "completed"
            fields |= {
                "rows": int(sum(market.collector.rows(d.data) for d in result.delivered.values())),
                "sources": {part: d.source for part, d in result.delivered.items()},
            }
            if result.digests:
                fields["fingerprints"] = dict(result.digests)
            ctx.counters["days_completed"] += 1
        else:
            status = "no_data"
            problem = next(iter(result.missing.values()))
            log.error(
                "NO DATA for session %s: every source still answers an empty market %d days later. "
                "Recording it as a day without data so collection can go on. If %s did trade that "
                "day, run `%s.py --redo %s`; if it was a closure, add it to %s. (%s)",
                result.day, (today - result.day).days, market.name, market.job, result.day,
                market.calendar.closed_setting, problem,
            )
            fields["error"] = str(problem)
            ctx.counters["days_no_data"] += 1
        ctx.storage.mark_day(result.day, status, fields, job=market.job)
        recorded.append(result.day)
    return recorded


def collect_days(ctx: JobContext, market: Market, days: Sequence[dt.date], progress: Progress | None = None) -> None:
    """Fetch, store and mark each day, oldest first, a calendar month at a time.

    Order of writes per month: the collector's store (bars, then what the market derives), then the day
    records; so a day marked completed is wholly stored, and a run killed anywhere is repaired by running
    again."""
    counters = ctx.counters
    for key in ("days_completed", "days_no_data", *market.collector.counters):
        counters.setdefault(key, 0)
    prints = ctx.storage.day_fingerprints(market.job)
    for _, days_of_month in itertools.groupby(days, key=lambda d: (d.year, d.month)):
        batch = _fetch_batch(ctx, market, list(days_of_month), prints, progress)
        counters["source_calls"] = sum(market.chain.calls.values())
        if market.chain.disabled:  # what the alert step reads to say a source is blocked
            counters["blocked_sources"] = dict(market.chain.disabled)
        # Called even when no day was delivered, so a collector can keep what it learnt while fetching (the US
        # market's rejected records of a day that failed validation).
        market.collector.store(ctx, batch.delivered)
        recorded = _mark_days(ctx, market, batch)
        if recorded:
            counters["last_day"] = recorded[-1].isoformat()
            so_far = " ".join(f"{key}={counters[key]}" for key in market.collector.counters)
            log.info("%s: stored %s..%s: %d day(s); so far %s", market.name, recorded[0], recorded[-1],
                     len(recorded), so_far or f"days={counters['days_completed'] + counters['days_no_data']}")
        ctx.heartbeat()
        if batch.failure is not None:
            counters["failed_day"] = batch.failed_day.isoformat() if batch.failed_day else None
            raise batch.failure


def _pending(calendar: TradingCalendar, done: Iterable[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    done = set(done)
    return [d for d in calendar.sessions_between(start, end) if d not in done]


def manual_setup(
    ctx: JobContext,
    market: Market,
    progress_factory: Callable[[int], Progress] | None = None,
    sessions: int | None = None,
) -> None:
    """First install: indexes, then the last N sessions (resumable); the collector derives the rest."""
    calendar, chain = market.calendar, market.chain
    ctx.storage.ensure_indexes()
    last = last_due_session(calendar, chain, ctx.as_of)
    if last is None:
        raise SourceError(f"no configured source has published any session up to {ctx.today}")
    window = calendar.last_sessions(last, sessions or ctx.settings.setup_history_sessions)
    earliest = chain.earliest_day()
    if earliest is not None and earliest > window[0]:
        log.warning(
            "the sources start at %s, later than the %d-session window's first day %s: loading from %s",
            earliest, len(window), window[0], earliest,
        )
        window = [d for d in window if d >= earliest]
        if not window:
            raise ConfigError(f"the sources start at {earliest}, after the last due session {last}")
    pending = _pending(calendar, ctx.storage.done_days(market.job), window[0], last)
    ctx.counters.update(window_start=window[0].isoformat(), window_end=last.isoformat(), pending=len(pending))
    if not pending:
        log.info("setup already complete for %s..%s; nothing to load", window[0], last)
        return
    log.info(
        "loading %d of %d sessions (%s..%s) from %s",
        len(pending), len(window), pending[0], last, ",".join(s.name for s in chain.sources),
    )
    progress = progress_factory(len(pending)) if progress_factory else None
    collect_days(ctx, market, pending, progress)


def daily_update(ctx: JobContext, market: Market, redo: Sequence[dt.date] = ()) -> None:
    """Collect every due session after the first collected one that is not done yet (seed 3.2)."""
    calendar = market.calendar
    for day in redo:
        if not calendar.is_session(day):
            raise ConfigError(f"--redo {day}: not a {market.name} session")
        ctx.storage.forget_day(day, job=market.job)
        log.info("--redo %s: the day is pending again", day)
    done = ctx.storage.done_days(market.job)
    if not done:
        raise ConfigError(f"no collected day in job_status yet: run `python {market.setup_command}` first")
    last = last_due_session(calendar, market.chain, ctx.as_of)
    if last is None:
        log.info("no session is due yet as of %s", ctx.as_of.astimezone(calendar.tz).isoformat(timespec="minutes"))
        return
    pending = _pending(calendar, done, min(done), last)
    ctx.counters.update(pending=len(pending), up_to=last.isoformat())
    if not pending:
        log.info("up to date through %s", last)
        return
    log.info("%d session(s) to collect: %s..%s", len(pending), pending[0], pending[-1])
    collect_days(ctx, market, pending)
