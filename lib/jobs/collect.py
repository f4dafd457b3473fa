"""Self-healing collection: every KRX session that is due and not yet done gets fetched (about two calls
per day, one per market), stored, and only then marked completed in job_status."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from lib.bars import bars_by_ticker
from lib.calendar import TradingCalendar
from lib.errors import BadDataError, ConfigError, SourceError, StaleAnswerError
from lib.jobs.runner import JobContext
from lib.log import KST, get_logger
from lib.quarantine import prior_closes, screen_days
from lib.sources import MARKETS, DayUnavailable, SourceChain
from lib.universe import is_common_stock, plan_universe

log = get_logger("collect")

Progress = Callable[[int], None]


def last_due_session(calendar: TradingCalendar, chain: SourceChain, as_of: dt.datetime) -> dt.date | None:
    """The latest session on or before the as-of date that some source should have published by now."""
    day = as_of.astimezone(KST).date()
    if not calendar.is_session(day):
        day = calendar.previous_session(day)
    for _ in range(10):
        if chain.due(day, as_of):
            return day
        day = calendar.previous_session(day)
    return None


def fingerprint(frames: list[pd.DataFrame]) -> str:
    """A digest of a day's closes and volumes: equal digests on two sessions mean a stale, repeated answer."""
    both = pd.concat(frames, ignore_index=True).sort_values("ticker")
    columns = zip(both["ticker"], both["close"], both["volume"], strict=True)
    payload = "|".join(f"{t}:{c:.0f}:{v:.0f}" for t, c, v in columns)
    return hashlib.sha1(payload.encode()).hexdigest()


def _refresh_universe(ctx: JobContext, frame: pd.DataFrame, day: dt.date) -> int:
    current = {doc["ticker"]: doc for doc in ctx.storage.universe()}
    as_of = max((doc["as_of_date"] for doc in current.values() if doc.get("as_of_date")), default=None)
    if as_of is not None and day.isoformat() < as_of:
        return 0  # an older day re-collected must not roll the universe back
    updates = plan_universe(current, frame, day, ctx.settings.market_cap_threshold_krw)
    return ctx.storage.apply_universe(updates)


def _screen(ctx: JobContext, month: _Month, stored: dict[str, list[dict]]) -> list[tuple[dt.date, list[pd.DataFrame]]]:
    """The month's days with impossible bars quarantined (lib/quarantine.py); a day refused as corrupt ends
    the month there: it and the later days are neither stored nor marked, and the run fails."""
    storage, first = ctx.storage, month.fetched[0][0]
    closes = storage.last_closes_before(stored, first, recent=stored)
    screened = screen_days(month.fetched, prior_closes(closes, storage.last_quarantined_before(first)))
    for note in screened.confirmed:
        log.warning("%s", note)
    for item in screened.quarantined[:20]:
        log.warning("QUARANTINED %s %s: %s; not stored (system_info.quarantine); once the source is fixed, "
                    "`daily_update.py --redo %s` stores it", item.ticker, item.day, item.reason, item.day)
    if len(screened.quarantined) > 20:
        log.warning("... and %d more quarantined bar(s)", len(screened.quarantined) - 20)
    storage.quarantine_bars(vars(item) for item in screened.quarantined)
    ctx.counters["quarantined"] = ctx.counters.get("quarantined", 0) + len(screened.quarantined)
    if screened.refused is not None:
        day = screened.refused.day
        month.fetched = [f for f in month.fetched if f[0] < day]
        month.no_data = [n for n in month.no_data if n[0] < day]
        month.failure, month.failed_day = BadDataError(screened.refused.message), day
    return screened.kept


def _write_chunk(ctx: JobContext, month: _Month) -> tuple[int, int]:
    first, last = month.fetched[0][0], month.fetched[-1][0]
    tickers = sorted({t for _, frames in month.fetched for f in frames for t in f["ticker"] if is_common_stock(t)})
    stored = ctx.storage.recent_bars(tickers, first, last)  # one read per ticker for the check and the write
    by_ticker = bars_by_ticker(_screen(ctx, month, stored))  # the one place bars are checked before storing
    written = ctx.storage.upsert_bars(by_ticker, stored)
    ctx.storage.clear_quarantine(by_ticker)
    if not month.fetched:
        return written, 0
    last_day, last_frames = month.fetched[-1]
    changed = _refresh_universe(ctx, pd.concat(last_frames, ignore_index=True), last_day)
    return written, changed


def _neighbour_sessions(calendar: TradingCalendar, day: dt.date) -> list[dt.date]:
    try:
        before = calendar.previous_session(day)
    except ConfigError:
        return []
    after = calendar.sessions_between(day + dt.timedelta(days=1), day + dt.timedelta(days=10))[:1]
    return [before, *after]


@dataclass
class _Month:
    """What fetching one month of pending days gave."""

    fetched: list[tuple[dt.date, list[pd.DataFrame]]] = field(default_factory=list)
    no_data: list[tuple[dt.date, DayUnavailable]] = field(default_factory=list)
    failure: SourceError | None = None
    failed_day: dt.date | None = None


def _fetch_month(
    ctx: JobContext,
    chain: SourceChain,
    calendar: TradingCalendar,
    month: Iterable[dt.date],
    prints: dict[dt.date, str],
    progress: Progress | None,
) -> _Month:
    """Fetch each day until one fails; a day every source has left empty past the grace period is no_data."""
    out = _Month()
    today = ctx.as_of.astimezone(KST).date()
    grace = dt.timedelta(days=ctx.settings.missing_day_grace_days)
    for day in month:
        try:
            frames = [chain.fetch_day(day, market, ctx.as_of) for market in MARKETS]
        except DayUnavailable as exc:
            if exc.all_empty and today - day > grace:
                log.error(
                    "NO DATA for session %s: every source still answers an empty market %d days later. "
                    "Recording it as a day without data so collection can go on. If KRX did trade that "
                    "day, run `daily_update.py --redo %s`; if it was a closure, add it to "
                    "KRX_EXTRA_CLOSED_DAYS. (%s)",
                    day, (today - day).days, day, exc,
                )
                out.no_data.append((day, exc))
                continue
            out.failure, out.failed_day = exc, day
            return out
        digest = fingerprint(frames)
        if digest in {prints.get(d) for d in _neighbour_sessions(calendar, day)}:
            out.failure = StaleAnswerError(
                f"{day}: the answer repeats the closes and volumes of a neighbouring session exactly (served "
                "before the day was published?); not stored, the next run asks again"
            )
            out.failed_day = day
            return out
        prints[day] = digest
        out.fetched.append((day, frames))
        if progress:
            progress(1)
    return out


def _mark_days(ctx: JobContext, month: _Month, prints: dict[dt.date, str]) -> list[dt.date]:
    """Record the month's completed and no_data days, oldest first; returns the days recorded."""
    marked_at = ctx.clock().astimezone(dt.UTC).replace(tzinfo=None)
    records: list[tuple[dt.date, dict[str, Any]]] = []
    for day, frames in month.fetched:
        records.append((day, {
            "status": "completed",
            "rows": int(sum(len(f) for f in frames)),
            "fingerprint": prints[day],
            "sources": {f["market"].iloc[0]: f.attrs.get("source") for f in frames},
        }))
        ctx.counters["days_completed"] += 1
    for day, exc in month.no_data:
        records.append((day, {"status": "no_data", "error": str(exc)}))
        ctx.counters["days_no_data"] += 1
    for day, fields in sorted(records, key=lambda r: r[0]):
        status = fields.pop("status")
        ctx.storage.mark_day(day, status, {"run_id": ctx.run_id, "end_time_utc": marked_at, **fields})
    return sorted(day for day, _ in records)


def collect_days(
    ctx: JobContext,
    chain: SourceChain,
    calendar: TradingCalendar,
    days: Sequence[dt.date],
    progress: Progress | None = None,
) -> None:
    """Fetch, store and mark each day, oldest first, a calendar month at a time.

    Order of writes per month: bars, then the universe, then the day records; so a day marked completed is
    wholly stored, and a run killed anywhere is repaired by running again."""
    counters = ctx.counters
    for key in ("days_completed", "days_no_data", "bars_written", "universe_updates"):
        counters.setdefault(key, 0)
    prints = ctx.storage.day_fingerprints()
    for _, days_of_month in itertools.groupby(days, key=lambda d: (d.year, d.month)):
        month = _fetch_month(ctx, chain, calendar, days_of_month, prints, progress)
        counters["source_calls"] = sum(chain.calls.values())
        if chain.disabled:  # what the alert step reads to say a source is blocked
            counters["blocked_sources"] = dict(chain.disabled)
        if month.fetched:
            written, changed = _write_chunk(ctx, month)
            counters["bars_written"] += written
            counters["universe_updates"] += changed
        recorded = _mark_days(ctx, month, prints)
        if recorded:
            counters["last_day"] = recorded[-1].isoformat()
            log.info("stored %s..%s: %d day(s), %d bars so far",
                     recorded[0], recorded[-1], len(recorded), counters["bars_written"])
        ctx.heartbeat()
        if month.failure is not None:
            counters["failed_day"] = month.failed_day.isoformat() if month.failed_day else None
            raise month.failure


def _pending(calendar: TradingCalendar, done: set[dt.date], start: dt.date, end: dt.date) -> list[dt.date]:
    return [d for d in calendar.sessions_between(start, end) if d not in done]


def manual_setup(
    ctx: JobContext,
    calendar: TradingCalendar,
    chain: SourceChain,
    progress_factory: Callable[[int], Progress] | None = None,
) -> None:
    """First install: indexes, then the last N sessions (resumable), then the universe as of the last day."""
    ctx.storage.ensure_indexes()
    last = last_due_session(calendar, chain, ctx.as_of)
    if last is None:
        raise SourceError(f"no configured source has published any session up to {ctx.today}")
    window = calendar.last_sessions(last, ctx.settings.setup_history_sessions)
    earliest = chain.earliest_day()
    if earliest is not None and earliest > window[0]:
        log.warning(
            "the sources start at %s, later than the %d-session window's first day %s: loading from %s",
            earliest, len(window), window[0], earliest,
        )
        window = [d for d in window if d >= earliest]
        if not window:
            raise ConfigError(f"the sources start at {earliest}, after the last due session {last}")
    pending = _pending(calendar, ctx.storage.done_days(), window[0], last)
    ctx.counters.update(window_start=window[0].isoformat(), window_end=last.isoformat(), pending=len(pending))
    if not pending:
        log.info("setup already complete for %s..%s; nothing to load", window[0], last)
        return
    log.info(
        "loading %d of %d sessions (%s..%s) from %s",
        len(pending), len(window), pending[0], last, ",".join(s.name for s in chain.sources),
    )
    progress = progress_factory(len(pending)) if progress_factory else None
    collect_days(ctx, chain, calendar, pending, progress)


def daily_update(
    ctx: JobContext,
    calendar: TradingCalendar,
    chain: SourceChain,
    redo: Sequence[dt.date] = (),
) -> None:
    """Collect every due session after the first collected one that is not done yet (seed 3.2)."""
    for day in redo:
        if not calendar.is_session(day):
            raise ConfigError(f"--redo {day}: not a KRX session")
        ctx.storage.forget_day(day)
        log.info("--redo %s: the day is pending again", day)
    done = ctx.storage.done_days()
    if not done:
        raise ConfigError("no collected day in job_status yet: run `python manual_setup.py` first")
    last = last_due_session(calendar, chain, ctx.as_of)
    if last is None:
        log.info("no session is due yet as of %s", ctx.as_of.astimezone(KST).isoformat(timespec="minutes"))
        return
    pending = _pending(calendar, done, min(done), last)
    ctx.counters.update(pending=len(pending), up_to=last.isoformat())
    if not pending:
        log.info("up to date through %s", last)
        return
    log.info("%d session(s) to collect: %s..%s", len(pending), pending[0], pending[-1])
    collect_days(ctx, chain, calendar, pending)
