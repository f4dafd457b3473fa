"""Retention: delete what the RETENTION_*_DAYS settings no longer keep, and never what a live screen, a track
record or the catch-up still needs.

What each kind protects:
- prices (stock_data.<ticker>): kept forever by default; a bounded setting counts back from the last collected
  day (an outage never eats the data), and is at least 400 days so every indicator keeps its history.
- screening index rows: RETENTION_SCREENING_DAYS is how far back a screen stays answerable, counted from the
  latest analysed day; the rows of the longest strategy lookback before that window stay too, so every screen
  inside it reads its full window. stock_analyzed.<ticker>, which track records read, is never touched.
- run records: counted back from today; each job's latest run and runs marked running are kept.
- alert records: counted back from today; kept longer than ALERT_MAX_AGE_DAYS (checked in settings), so an
  event still being evaluated can never be alerted twice.
- day records (the catch-up's memory), the universe, track records: never deleted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lib.calendar import TradingCalendar
from lib.config import Settings
from lib.display import count, table
from lib.errors import ConfigError
from lib.jobs.runner import JobContext
from lib.log import get_logger
from lib.screener import Registry
from lib.storage import Storage

log = get_logger("cleanup")


@dataclass(frozen=True)
class Cut:
    """What one kind loses: everything dated before `before` (None: nothing to delete)."""

    kind: str
    setting: str
    days: int  # the setting's value; 0 keeps forever
    before: dt.date | dt.datetime | None
    why: str


def plan(storage: Storage, settings: Settings, calendar: TradingCalendar, registry: Registry,
         now: dt.datetime) -> list[Cut]:
    """The cutoff of every kind. Market data counts back from its own latest day; records about runs and
    alerts count back from `now`, the wall clock (aware), as their times are."""
    now = now.astimezone(dt.UTC).replace(tzinfo=None)
    cuts = [_prices(storage, settings), _screening(storage, settings, calendar, registry)]
    for kind, setting, days, what in (
        ("runs", "RETENTION_RUNS_DAYS", settings.retention_runs_days,
         "run records started before {before:%Y-%m-%d %H:%M} UTC (each job's latest run is kept)"),
        ("alerts", "RETENTION_ALERTS_DAYS", settings.retention_alerts_days,
         "alert records created before {before:%Y-%m-%d %H:%M} UTC"),
    ):
        before = now - dt.timedelta(days=days) if days else None
        cuts.append(Cut(kind, setting, days, before, what.format(before=before) if before else "kept forever"))
    return cuts


def _prices(storage: Storage, settings: Settings) -> Cut:
    days = settings.retention_prices_days
    done = storage.done_days()
    if not days or not done:
        return Cut("prices", "RETENTION_PRICES_DAYS", days, None, "kept forever" if not days else "nothing collected")
    last = max(done)
    before = last - dt.timedelta(days=days)
    return Cut("prices", "RETENTION_PRICES_DAYS", days, before,
               f"bars dated before {before}: {days} days before the last collected day {last}")


def _screening(storage: Storage, settings: Settings, calendar: TradingCalendar, registry: Registry) -> Cut:
    days = settings.retention_screening_days
    latest = storage.latest_screening_day()
    if not days or latest is None:
        return Cut("screening", "RETENTION_SCREENING_DAYS", days, None,
                   "kept forever" if not days else "nothing analysed")
    lookback = max((s.lookback for s in registry), default=1)
    try:
        window = calendar.sessions_between(latest - dt.timedelta(days=days), latest)
        before = calendar.last_sessions(window[0], lookback)[0] if window else None
    except ConfigError:
        before = None  # outside the calendar: delete nothing rather than guess
    if before is None:
        return Cut("screening", "RETENTION_SCREENING_DAYS", days, None, "calendar does not cover the window")
    return Cut("screening", "RETENTION_SCREENING_DAYS", days, before,
               f"rows dated before {before}: screens stay answerable from {window[0]} to {latest} (the latest "
               f"analysed day), each with its {lookback}-session lookback")


def apply(storage: Storage, cut: Cut, dry_run: bool = False) -> int:
    """Delete (or, with dry_run, count) what the cut removes; idempotent."""
    if cut.before is None:
        return 0
    if cut.kind == "prices":
        assert isinstance(cut.before, dt.date)
        return storage.delete_bars_before(cut.before, dry_run)
    if cut.kind == "screening":
        assert isinstance(cut.before, dt.date)
        return storage.delete_screening_before(cut.before, dry_run)
    if cut.kind == "runs":
        assert isinstance(cut.before, dt.datetime)
        return storage.delete_runs_before(cut.before, dry_run)
    if cut.kind == "alerts":
        assert isinstance(cut.before, dt.datetime)
        return storage.delete_alerts_before(cut.before) if not dry_run else storage.count_alerts_before(cut.before)
    raise ValueError(f"unknown kind {cut.kind!r}")


def cleanup(ctx: JobContext, calendar: TradingCalendar, registry: Registry) -> None:
    """The cleanup job: make sure the indexes exist, then delete each kind's expired documents."""
    ctx.storage.ensure_indexes()
    for cut in plan(ctx.storage, ctx.settings, calendar, registry, ctx.clock()):
        deleted = apply(ctx.storage, cut)
        ctx.counters[f"deleted_{cut.kind}"] = deleted
        log.info("%s: %s deleted; %s (%s=%d)", cut.kind, count(deleted), cut.why, cut.setting, cut.days)
        ctx.heartbeat()


def render_plan(storage: Storage, cuts: list[Cut]) -> str:
    """What a run would delete now, as a table for people (the dry run)."""
    rows = [[c.kind, f"{c.setting}={c.days}" + (" (forever)" if not c.days else ""), count(apply(storage, c, True)),
             c.why] for c in cuts]
    return "Cleanup dry run: nothing is deleted\n" + table(["kind", "setting", "would delete", "what"], rows,
                                                             right=(2,))
