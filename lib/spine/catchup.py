"""The self-healing per-day catch-up, for any market (lib/markets): every session that is due and not yet done
is fetched through the market's collector, stored, and only then recorded in job_status as
`<YYYY-MM-DD>_<job>`, under the market's lock. This module decides which days are due and pending (manual
setup, the daily update, --redo); lib/spine/collect.py collects them a month at a time and
lib/spine/day_records.py records each day and gives the run's verdict.

- Due: the latest session some configured source should have published by the run's as-of moment (for a file,
  up to its last session, however long ago that was).
- Pending: every session from the first done one up to the latest due one without a done record, so holes
  heal too, not just the days after the last success.
- Order of writes, a calendar month at a time: the collector stores what the month's days delivered (bars,
  then whatever the market derives), then the day records are written, oldest first. A run killed anywhere is
  repaired by running again.
- A day that cannot be served never holds back the sessions after them: they are collected, and it stays
  pending. Only a failure of the sources themselves (down, not published yet, refusing us, a stale answer)
  stops the run where it is.

Day records (`status`):
- completed: every part of the day (KOSPI and KOSDAQ; the ETF tickers) is stored, or lies outside the range
  of every configured source (a file holding one market only: listed in `out_of_range`);
- partial (pending): some parts are stored and the others were not delivered; the next run asks only for the
  missing ones (`missing` says why), so what was delivered is never fetched or lost again;
- empty / failed (pending): nothing stored; every source answered empty / some answer was refused;
- no_data (done): every source able to answer still answers the missing parts empty more than
  MISSING_DAY_GRACE_DAYS calendar days later: given up, loudly, so collection can go on (`no_data_parts`,
  and `sources` for the parts that were stored); `--redo` makes it pending again.

A day every source answers wholly empty while serving the next session has the signature of a closure the
calendar does not know: the run says so at once with the settings line that declares it, and does not fail
for it. It is settled when that line is added (it is no longer a session), or as no_data after the grace
period. A day that only local files could serve is never settled by waiting (a file does not grow): the run
names the file and the session and fails until the file or the settings are fixed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence

from lib.errors import ConfigError, SourceError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import SourceChain, published
from lib.spine.collect import Progress, collect_days
from lib.spine.market import Market
from lib.spine.runner import JobContext

log = get_logger("collect")

LOOK_BACK_SESSIONS = 10  # how far back from a source's last day to look for a published session


def last_due_session(calendar: TradingCalendar, chain: SourceChain, as_of: dt.datetime) -> dt.date | None:
    """The latest session on or before the as-of date that some source should have published by now; for a
    bounded source (a file), its last session however long ago."""
    today = calendar.latest_session(calendar.local_date(as_of))
    due: list[dt.date] = []
    for source in chain.sources:
        day = today
        last = source.last_day()
        if last is not None and last < day:
            if last < calendar.first:
                continue
            day = calendar.latest_session(last)
        for _ in range(LOOK_BACK_SESSIONS):
            if published(source, day, as_of):
                due.append(day)
                break
            try:
                day = calendar.previous_session(day)
            except ConfigError:
                break
    return max(due, default=None)


def _say_where_the_sources_end(market: Market, last: dt.date, as_of: dt.datetime) -> None:
    """When every source is a bounded file that ends before today's session, say where it ends."""
    calendar = market.calendar
    end = market.chain.latest_day()
    latest = calendar.latest_session(calendar.local_date(as_of))
    if end is None or last >= latest:
        return
    behind = len(calendar.sessions_between(last, latest)) - 1
    log.warning(
        "the configured sources end at %s (%s), %d session(s) before %s: collecting up to %s",
        last, ", ".join(f"{s.name}: {s.last_day()}" for s in market.chain.sources), behind, latest, last,
    )


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
    _say_where_the_sources_end(market, last, ctx.as_of)
    window = calendar.last_sessions(last, sessions or ctx.settings.setup_history_sessions)
    earliest = chain.earliest_day()
    if earliest is not None and earliest > window[0]:
        if earliest > last:
            raise ConfigError(f"the sources start at {earliest}, after the last due session {last}")
        log.warning(
            "the sources start at %s, later than the %d-session window's first day %s: loading from %s",
            earliest, len(window), window[0], earliest,
        )
        window = [d for d in window if d >= earliest]
    pending = _pending(calendar, ctx.storage.jobs.done_days(market.job), window[0], last)
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


def _check_redo(market: Market, day: dt.date, last: dt.date | None) -> None:
    calendar, chain = market.calendar, market.chain
    if last is None or day > last:  # before asking the calendar: a far-future day is outside it
        latest = f"the latest session due now is {last}" if last else "no session is due yet"
        raise ConfigError(
            f"--redo {day}: that day has not been traded and published yet ({latest}); --redo collects again a "
            "day already due"
        )
    try:
        session = calendar.is_session(day)
    except ConfigError as exc:
        raise ConfigError(f"--redo {day}: {exc}") from None
    if not session:
        raise ConfigError(f"--redo {day}: a {day:%A} that is not {market.a_session} (weekend or holiday)")
    earliest = chain.earliest_day()
    if earliest is not None and day < earliest:
        raise ConfigError(
            f"--redo {day}: before the first session the configured sources can serve ({earliest}: "
            f"{', '.join(f'{s.name} from {s.first_day()}' for s in chain.sources)})"
        )


def _forget_closed_days(ctx: JobContext, market: Market) -> None:
    """Drop the pending record of a day the calendar no longer calls a session (a closure declared since)."""
    calendar = market.calendar
    for day in sorted(ctx.storage.jobs.unfinished_days(market.job)):
        if calendar.first <= day <= calendar.last and not calendar.is_session(day):
            ctx.storage.jobs.forget_day(day, job=market.job)
            log.info("%s is not %s any more (%s): its pending record is dropped",
                     day, market.a_session, calendar.closed_setting)


def daily_update(ctx: JobContext, market: Market, redo: Sequence[dt.date] = ()) -> None:
    """Collect every due session after the first collected one that is not done yet (seed 3.2), and the
    sessions named by --redo (wherever they lie)."""
    calendar = market.calendar
    last = last_due_session(calendar, market.chain, ctx.as_of)
    for day in redo:
        _check_redo(market, day, last)
    done = ctx.storage.jobs.done_days(market.job)
    if not done:
        raise ConfigError(f"no collected day in job_status yet: run `python {market.setup_command}` first")
    for day in redo:
        ctx.storage.jobs.forget_day(day, job=market.job)
        done.discard(day)
        log.info("--redo %s: the day is pending again", day)
    _forget_closed_days(ctx, market)
    if last is None:
        log.info("no session is due yet as of %s", ctx.as_of.astimezone(calendar.tz).isoformat(timespec="minutes"))
        return
    _say_where_the_sources_end(market, last, ctx.as_of)
    # A day the first run tried but could not finish (the first session of its window) is pending too.
    start = min(done | set(ctx.storage.jobs.unfinished_days(market.job)))
    pending = sorted(set(_pending(calendar, done, start, last)) | set(redo))
    ctx.counters.update(pending=len(pending), up_to=last.isoformat())
    if not pending:
        log.info("up to date through %s", last)
        return
    log.info("%d session(s) to collect: %s..%s", len(pending), pending[0], pending[-1])
    collect_days(ctx, market, pending)
