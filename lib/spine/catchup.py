"""The self-healing per-day catch-up, for any market (lib/markets): every session that is due and not yet done
is fetched through the market's collector, stored, and only then recorded in job_status as
`<YYYY-MM-DD>_<job>`, under the market's lock.

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
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from lib.errors import ConfigError, SourceError, StaleAnswerError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.chain import DayUnavailable, SourceChain, published
from lib.spine.market import DayFetch, Market
from lib.spine.runner import JobContext
from lib.storage import DONE_STATUSES

log = get_logger("collect")

Progress = Callable[[int], None]
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

    days: list[DayFetch] = field(default_factory=list)  # days whose every wanted part has an outcome
    stop: SourceError | None = None  # the sources' failure that ended the run here
    stopped_on: dt.date | None = None

    @property
    def delivered(self) -> list[DayFetch]:
        """The days with something to store."""
        return [d for d in self.days if d.delivered]


@dataclass
class _Run:
    """What the whole run left unsettled, for the verdict at its end."""

    earlier: dict[dt.date, dict[str, Any]]  # the pending days' own records (partial, empty, failed)
    served: set[dt.date] = field(default_factory=set)  # days some part of which was delivered in this run
    unsettled: list[DayFetch] = field(default_factory=list)
    unservable: list[DayFetch] = field(default_factory=list)
    out_of_range: dict[str, list[dt.date]] = field(default_factory=dict)
    stop: SourceError | None = None
    stopped_on: dt.date | None = None


def _fetch_batch(
    ctx: JobContext,
    market: Market,
    days: Sequence[dt.date],
    prints: dict[dt.date, dict[str, str]],
    run: _Run,
    progress: Progress | None,
) -> _Batch:
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

    batch = _Batch()
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


def _settled(problem: DayUnavailable, age: dt.timedelta, grace: dt.timedelta) -> bool:
    """A part given up as without data: every source able to answer still answers it empty past the grace
    period; never when only files were asked (they will not grow)."""
    return problem.all_empty and not problem.files_only and age > grace


def _mark_days(ctx: JobContext, market: Market, batch: _Batch, run: _Run) -> list[dt.date]:
    """Record the batch's days, oldest first; returns the days recorded as done."""
    marked_at = ctx.clock().astimezone(dt.UTC).replace(tzinfo=None)
    today = market.calendar.local_date(ctx.as_of)
    grace = dt.timedelta(days=ctx.settings.missing_day_grace_days)
    done: list[dt.date] = []
    for result in batch.days:
        day = result.day
        for part in result.out_of_range:
            run.out_of_range.setdefault(part, []).append(day)
        if not result.delivered and not result.stored_before and not result.missing:
            run.unservable.append(result)
            continue
        before = run.earlier.get(day) or {}
        rows = (before.get("rows") or 0) if result.stored_before else 0
        rows += sum(market.collector.rows(d.data) for d in result.delivered.values())
        fields: dict[str, Any] = {
            "run_id": ctx.run_id, "end_time_utc": marked_at, "rows": int(rows), "sources": result.sources,
        }
        prints = {**(before.get("fingerprints") or {}), **result.digests} if result.stored_before else result.digests
        if prints:
            fields["fingerprints"] = prints
        if result.out_of_range:
            fields["out_of_range"] = sorted(result.out_of_range)
        if result.complete:
            status = "completed"
            ctx.counters["days_completed"] += 1
        elif all(_settled(p, today - day, grace) for p in result.missing.values()):
            status = "no_data"
            stored = f" ({', '.join(sorted(result.sources))} stored)" if result.sources else ""
            log.error(
                "NO DATA for session %s: every source still answers %s empty %d days later%s. Recording it as a "
                "day without data so collection can go on. If %s did trade that day, run `%s.py --redo %s`; "
                "if it was a closure, add `%s` to .env. (%s)",
                day, ", ".join(result.missing), (today - day).days, stored, market.name, market.job, day,
                market.calendar.closed_line(day), "; ".join(str(p) for p in result.missing.values()),
            )
            fields |= {"no_data_parts": list(result.missing), "error": _reasons(result)}
            ctx.counters["days_no_data"] += 1
        else:
            if result.sources:
                status = "partial"
            elif all(p.all_empty for p in result.missing.values()):
                status = "empty"
            else:
                status = "failed"
            fields |= {"missing": {part: str(p) for part, p in result.missing.items()}, "error": _reasons(result)}
            run.unsettled.append(result)
            ctx.counters["days_pending"] += 1
        ctx.storage.mark_day(day, status, fields, job=market.job)
        if status in DONE_STATUSES:
            done.append(day)
    return done


def _reasons(result: DayFetch) -> str:
    """Why each missing part was not delivered, briefly: 'KOSPI: replay empty; KOSDAQ: pykrx bad_data'."""
    return "; ".join(
        f"{part}: " + ", ".join(f"{a.source} {a.outcome}" for a in problem.attempts)
        for part, problem in result.missing.items()
    )


def _verdict(ctx: JobContext, market: Market, run: _Run) -> None:
    """Say what the run left behind, and fail the run for what a later run or a human must fix."""
    calendar, name = market.calendar, market.name
    for part, days in run.out_of_range.items():
        log.warning(
            "%s: no configured source serves it for %d session(s) (%s..%s); those days are recorded with the "
            "other parts only", part, len(days), days[0], days[-1],
        )
    served = run.served | (ctx.storage.done_days(market.job) if run.unsettled else set())
    failed: list[DayFetch] = []
    closures: list[str] = []
    for result in run.unsettled:
        day, missing = result.day, result.missing
        wholly_empty = not result.sources and all(p.all_empty for p in missing.values())
        next_session = calendar.next_session(day)
        closure = wholly_empty and next_session in served
        files = all(p.files_only for p in missing.values())
        if closure and not files:
            closures.append(day.isoformat())
            log.warning(
                "CLOSED? every source answers the whole %s market empty for %s while serving the next session "
                "%s: the signature of a closure exchange-calendars does not know yet. Add `%s` to .env; until "
                "then the day stays pending (asked again each run) and is recorded no_data %d days after it",
                name, day, next_session, calendar.closed_line(day), ctx.settings.missing_day_grace_days,
            )
            continue
        if files:
            first = next(iter(missing.values())).attempts
            detail = next((a.detail for a in first if a.outcome != "outside_range"), "")
            fix = (
                f"if {name} traded that day, add its rows to the file (the next run collects them); if {name} was "
                f"closed, add `{calendar.closed_line(day)}` to .env" if wholly_empty else
                "correct the file (the next run collects the day)"
            )
            log.error("%s %s not collected (%s): %s. Only local files serve it, and a file does not change by "
                      "itself: %s", name, day, ", ".join(missing), detail, fix)
        failed.append(result)
    if closures:
        ctx.counters["suspected_closures"] = closures
    if run.stop is not None:
        ctx.counters["failed_day"] = run.stopped_on.isoformat() if run.stopped_on else None
        raise run.stop
    if run.unservable:
        days = ", ".join(r.day.isoformat() for r in run.unservable[:5])
        raise ConfigError(
            f"no configured source can serve {days} ({'; '.join(str(p) for p in _problems(run.unservable))}); "
            "configure a source that has these sessions"
        )
    if failed:
        ctx.counters["failed_day"] = failed[0].day.isoformat()
        summary = "; ".join(f"{r.day} ({_reasons(r)})" for r in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        message = f"{len(failed)} session(s) not collected, the others were: {summary}{more}"
        if all(all(p.files_only for p in r.missing.values()) for r in failed):
            raise ConfigError(message + "; fix the file or the settings as logged above")
        raise SourceError(message + "; the next run asks again")


def _problems(results: list[DayFetch]) -> list[str]:
    seen: list[str] = []
    for result in results:
        for problem in [*result.missing.values(), *result.out_of_range.values()]:
            if str(problem) not in seen:
                seen.append(str(problem))
    return seen[:2]


def _count_calls(ctx: JobContext, market: Market) -> None:
    ctx.counters["source_calls"] = sum(market.chain.calls.values())
    if market.chain.disabled:  # what the alert step reads to say a source is blocked
        ctx.counters["blocked_sources"] = dict(market.chain.disabled)


def collect_days(ctx: JobContext, market: Market, days: Sequence[dt.date], progress: Progress | None = None) -> None:
    """Fetch, store and mark each day, oldest first, a calendar month at a time (see the module docstring).

    Order of writes per month: the collector's store (bars, then what the market derives), then the day
    records; so a day marked completed is wholly stored, and a run killed anywhere is repaired by running
    again."""
    counters = ctx.counters
    for key in ("days_completed", "days_no_data", "days_pending", *market.collector.counters):
        counters.setdefault(key, 0)
    prints = ctx.storage.day_fingerprints(market.job)
    wanted = set(days)
    run = _Run({day: r for day, r in ctx.storage.unfinished_days(market.job).items() if day in wanted})
    market.chain.before_request = ctx.pulse  # slow requests (a US first run's) keep the lock between batches
    try:
        _collect_months(ctx, market, days, prints, run, progress)
    finally:
        market.chain.before_request = None
    _verdict(ctx, market, run)


def _collect_months(
    ctx: JobContext, market: Market, days: Sequence[dt.date], prints: dict[dt.date, dict[str, str]], run: _Run,
    progress: Progress | None,
) -> None:
    counters = ctx.counters
    for _, days_of_month in itertools.groupby(days, key=lambda d: (d.year, d.month)):
        batch = _fetch_batch(ctx, market, list(days_of_month), prints, run, progress)
        _count_calls(ctx, market)
        # Called even when no day was delivered, so a collector can keep what it learnt while fetching (the US
        # market's rejected records of a day that failed validation).
        market.collector.store(ctx, batch.delivered)
        _count_calls(ctx, market)  # the requests `store` made too (the US stage 4: holdings, profiles, stocks)
        recorded = _mark_days(ctx, market, batch, run)
        if recorded:
            counters["last_day"] = recorded[-1].isoformat()
            so_far = " ".join(f"{key}={counters[key]}" for key in market.collector.counters)
            log.info("%s: stored %s..%s: %d day(s) done; so far %s", market.name, recorded[0], recorded[-1],
                     len(recorded), so_far or f"days={counters['days_completed'] + counters['days_no_data']}")
        ctx.heartbeat()
        if batch.stop is not None:
            run.stop, run.stopped_on = batch.stop, batch.stopped_on
            break


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
    for day in sorted(ctx.storage.unfinished_days(market.job)):
        if calendar.first <= day <= calendar.last and not calendar.is_session(day):
            ctx.storage.forget_day(day, job=market.job)
            log.info("%s is not %s any more (%s): its pending record is dropped",
                     day, market.a_session, calendar.closed_setting)


def daily_update(ctx: JobContext, market: Market, redo: Sequence[dt.date] = ()) -> None:
    """Collect every due session after the first collected one that is not done yet (seed 3.2), and the
    sessions named by --redo (wherever they lie)."""
    calendar = market.calendar
    last = last_due_session(calendar, market.chain, ctx.as_of)
    for day in redo:
        _check_redo(market, day, last)
    done = ctx.storage.done_days(market.job)
    if not done:
        raise ConfigError(f"no collected day in job_status yet: run `python {market.setup_command}` first")
    for day in redo:
        ctx.storage.forget_day(day, job=market.job)
        done.discard(day)
        log.info("--redo %s: the day is pending again", day)
    _forget_closed_days(ctx, market)
    if last is None:
        log.info("no session is due yet as of %s", ctx.as_of.astimezone(calendar.tz).isoformat(timespec="minutes"))
        return
    _say_where_the_sources_end(market, last, ctx.as_of)
    # A day the first run tried but could not finish (the first session of its window) is pending too.
    start = min(done | set(ctx.storage.unfinished_days(market.job)))
    pending = sorted(set(_pending(calendar, done, start, last)) | set(redo))
    ctx.counters.update(pending=len(pending), up_to=last.isoformat())
    if not pending:
        log.info("up to date through %s", last)
        return
    log.info("%d session(s) to collect: %s..%s", len(pending), pending[0], pending[-1])
    collect_days(ctx, market, pending)
