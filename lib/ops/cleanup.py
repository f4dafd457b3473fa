"""Retention: delete what the RETENTION_*_DAYS settings no longer keep, and never what a live screen, a track
record or the catch-up still needs.

What each kind protects:
- prices (stock_data.<ticker>): kept forever by default; a bounded setting counts back from the last collected
  day (an outage never eats the data), and is at least 400 days so every indicator keeps its history. The
  quarantined bars and the cross-sectional measure values, dated like the bars, go with them.
- screening index rows: RETENTION_SCREENING_DAYS is how far back a screen stays answerable, counted from the
  latest analysed day; the rows of the longest strategy lookback before that window stay too, so every screen
  inside it reads its full window. stock_analyzed.<ticker>, which track records read, is never touched.
- stored picks (daily_picks, the screener's answer of each day): RETENTION_PICKS_DAYS back from the latest
  analysed day, but never a day whose screening rows are kept (the analysis would compute it again).
- run records: counted back from today; each job's latest run and runs marked running are kept.
- AI results: counted back from today (RETENTION_AI_DAYS); no screen or track record reads them.
- alert records: counted back from today; kept longer than ALERT_MAX_AGE_DAYS (checked in settings), so an
  event still being evaluated can never be alerted twice.
- rejected records (system_info.bad_data): counted back from when each was last seen
  (RETENTION_REJECTED_DAYS), so a record the source still sends stays.
- what the AI reads (the watermark datasets: filings, news, macro series): each dataset's items dated (a
  filing's day, an article's publication, an observation's date) before now minus its kind's setting
  (RETENTION_DISCLOSURES_DAYS, RETENTION_NEWS_DAYS, RETENTION_MACRO_DAYS; `Dataset.retention_setting`), with their
  earlier values; the watermark itself stays, so nothing deleted is ever read again.
- API rate-limit counters: no setting; a counter is read only during its own hourly window, and goes a day after
  that window ended (the day is slack for an API host's clock behind this one's), so the current window's
  counter is never deleted.
- lease plans (system_info.leases, the batches workers shared a run by): no setting; a plan whose batches are
  all done goes a week after it was planned (kept that long to see who did what); an unfinished one stays.
- day records (the catch-up's memory), the universe, track records: never deleted."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from lib.analysis.screener import Registry
from lib.config import Settings
from lib.display import count, table
from lib.errors import ConfigError
from lib.log import get_logger
from lib.spine.calendar import TradingCalendar
from lib.spine.datasets import Registry as Datasets
from lib.spine.registry import registry as default_datasets
from lib.spine.runner import JobContext
from lib.storage import Storage, naive_utc

log = get_logger("cleanup")


Delete = Callable[[Any, bool], int]  # (cutoff, dry_run) -> documents deleted (or counted)

# Nothing reads a rate-limit counter after its hour; the day only guards against clocks that disagree.
RATE_LIMIT_KEPT_DAYS = 1
# Nothing reads a finished lease plan (its days are recorded); a week shows who did which batch of recent runs.
LEASES_KEPT_DAYS = 7


@dataclass(frozen=True)
class Cut:
    """What one kind loses: everything dated before `before` (None: nothing to delete), and how."""

    kind: str
    setting: str
    days: int  # the setting's value (0 keeps forever), or a fixed rule's days when `setting` is empty
    before: dt.date | dt.datetime | None
    why: str
    delete: Delete

    @property
    def rule(self) -> str:
        """The setting and its value, or the fixed rule of a kind without a setting."""
        if not self.setting:
            return f"fixed: {self.days} day{'s' if self.days != 1 else ''}"
        return f"{self.setting}={self.days}"


def plan(storage: Storage, settings: Settings, calendar: TradingCalendar, registry: Registry,
         now: dt.datetime, *, job: str, datasets: Datasets | None = None,
         others: Sequence[tuple[str, TradingCalendar, str]] = ()) -> list[Cut]:
    """The cutoff of every kind. Market data counts back from its own latest day (the day records of `job`, the
    screened dataset's collection job in the registry); records count back from `now`, the wall clock (aware),
    as their times are. `others` are the other markets with screened stocks, as (namespace, calendar, job): their
    own collections get the same market cuts, their kinds named with the namespace ("us_prices"). A new kind of
    record is one more line here."""
    cuts = market_cuts(storage, settings, calendar, registry, job)
    for namespace, other_calendar, other_job in others:
        scoped = storage.scoped(namespace)
        cuts += market_cuts(scoped, settings, other_calendar, registry, other_job, namespace)
        cuts.append(_by_age(f"{namespace}rejected", "RETENTION_REJECTED_DAYS", settings.retention_rejected_days, now,
                            scoped.bad_data.delete_rejected_before,
                            "the market's rejected records last seen before {:%Y-%m-%d %H:%M} UTC"))
    return [
        *cuts,
        _by_age("runs", "RETENTION_RUNS_DAYS", settings.retention_runs_days, now, storage.jobs.delete_runs_before,
                "run records started before {:%Y-%m-%d %H:%M} UTC (each job's latest run is kept)"),
        _by_age("alerts", "RETENTION_ALERTS_DAYS", settings.retention_alerts_days, now,
                storage.alerts.delete_alerts_before,
                "alert records created before {:%Y-%m-%d %H:%M} UTC"),
        _by_age("ai", "RETENTION_AI_DAYS", settings.retention_ai_days, now, storage.ai.delete_ai_results_before,
                "AI results created before {:%Y-%m-%d %H:%M} UTC"),
        _by_age("rejected", "RETENTION_REJECTED_DAYS", settings.retention_rejected_days, now,
                storage.bad_data.delete_rejected_before,
                "rejected records (US, watermark datasets) last seen before {:%Y-%m-%d %H:%M} UTC"),
        _by_age("rate_limits", "", RATE_LIMIT_KEPT_DAYS, now, storage.access.delete_rate_limits_before,
                "API rate-limit counters of windows that ended before {:%Y-%m-%d %H:%M} UTC"),
        _by_age("leases", "", LEASES_KEPT_DAYS, now, storage.leases.delete_finished_before,
                "finished lease plans (batches shared by workers) planned before {:%Y-%m-%d %H:%M} UTC"),
        *_watermark_items(storage, settings, datasets or default_datasets(), now),
    ]


def market_cuts(storage: Storage, settings: Settings, calendar: TradingCalendar, registry: Registry, job: str,
                namespace: str = "") -> list[Cut]:
    """One market's own data (`storage` scoped to it): its bars, held bars and measure values counted back from its
    last collected day, its screening rows and picks from its latest analysed day, on its own calendar."""
    prices = _prices(storage, settings, job)
    cuts = [
        prices,
        _with_prices(
            prices, "quarantine", storage.bad_data.delete_quarantine_before, "quarantined bars dated before {}"
        ),
        _with_prices(prices, "cross_section", storage.cross_section.delete_cross_section_before,
                     "measure values (rs_rating) of days before {}"),
        screening := _screening(storage, settings, calendar, registry),
        _picks(storage, settings, screening),
    ]
    return [replace(cut, kind=f"{namespace}{cut.kind}") for cut in cuts] if namespace else cuts


def _watermark_items(storage: Storage, settings: Settings, datasets: Datasets, now: dt.datetime) -> list[Cut]:
    """Each watermark dataset with a retention setting: its items dated before now minus the setting's days."""
    cuts = []
    for dataset in datasets.with_cadence("watermark"):
        if dataset.retention_setting:
            days = getattr(settings, dataset.retention_setting.lower())
            delete = partial(storage.watermarks.delete_items_before, dataset.key)
            cuts.append(_by_age(dataset.job, dataset.retention_setting, days, now, delete,
                                "items dated before {:%Y-%m-%d %H:%M} UTC, with their earlier values"))
    return cuts


def _by_age(kind: str, setting: str, days: int, now: dt.datetime, delete: Delete, what: str) -> Cut:
    """A kind of record whose time says when it was written: kept `days` back from now."""
    if not days:
        return Cut(kind, setting, days, None, "kept forever", delete)
    before = naive_utc(now) - dt.timedelta(days=days)
    return Cut(kind, setting, days, before, what.format(before), delete)


def _with_prices(prices: Cut, kind: str, delete: Delete, what: str) -> Cut:
    """Data dated like the bars (held back from them, or computed from them) goes with them."""
    why = what.format(prices.before) if prices.before is not None else prices.why
    return Cut(kind, prices.setting, prices.days, prices.before, why, delete)


def _prices(storage: Storage, settings: Settings, job: str) -> Cut:
    days, setting = settings.retention_prices_days, "RETENTION_PRICES_DAYS"
    done = storage.jobs.done_days(job)
    if not days or not done:
        why = "kept forever" if not days else "nothing collected"
        return Cut("prices", setting, days, None, why, storage.bars.delete_bars_before)
    last = max(done)
    before = last - dt.timedelta(days=days)
    return Cut("prices", setting, days, before,
               f"bars dated before {before}: {days} days before the last collected day {last}",
               storage.bars.delete_bars_before)


def _screening(storage: Storage, settings: Settings, calendar: TradingCalendar, registry: Registry) -> Cut:
    days, setting = settings.retention_screening_days, "RETENTION_SCREENING_DAYS"
    delete = storage.analysis.delete_screening_before
    latest = storage.analysis.latest_screening_day()
    if not days or latest is None:
        return Cut("screening", setting, days, None, "kept forever" if not days else "nothing analysed", delete)
    lookback = max((s.lookback for s in registry), default=1)
    try:
        window = calendar.sessions_between(latest - dt.timedelta(days=days), latest)
        before = calendar.last_sessions(window[0], lookback)[0] if window else None
    except ConfigError:
        before = None  # outside the calendar: delete nothing rather than guess
    if before is None:
        return Cut("screening", setting, days, None, "calendar does not cover the window", delete)
    return Cut("screening", setting, days, before,
               f"rows dated before {before}: screens stay answerable from {window[0]} to {latest} (the latest "
               f"analysed day), each with its {lookback}-session lookback", delete)


def _picks(storage: Storage, settings: Settings, screening: Cut) -> Cut:
    days, setting = settings.retention_picks_days, "RETENTION_PICKS_DAYS"
    delete = storage.picks.delete_daily_picks_before
    latest = storage.picks.latest_analysis_day()
    if not days or latest is None:
        return Cut("picks", setting, days, None, "kept forever" if not days else "nothing analysed", delete)
    if screening.before is None:
        # Every day the screening index holds gets its picks computed again by the analysis: keep them all.
        return Cut("picks", setting, days, None, f"kept while the screening rows of their days are ({screening.why})",
                   delete)
    asked = latest - dt.timedelta(days=days)
    before = min(asked, screening.before)
    held = "" if before == asked else f" (held back from {asked}: the screening rows from {before} on are kept)"
    return Cut("picks", setting, days, before,
               f"picks of days before {before}: {days} days before the latest analysed day {latest}{held}", delete)


def apply(cut: Cut, dry_run: bool = False) -> int:
    """Delete (or, with dry_run, count) what the cut removes; idempotent."""
    return 0 if cut.before is None else cut.delete(cut.before, dry_run)


def cleanup(ctx: JobContext, calendar: TradingCalendar, registry: Registry, *, job: str,
            others: Sequence[tuple[str, TradingCalendar, str]] = ()) -> None:
    """The cleanup job: make sure the indexes exist, then delete each kind's expired documents (`others`: the
    other markets with screened stocks, as in `plan`)."""
    ctx.storage.ensure_indexes()
    for cut in plan(ctx.storage, ctx.settings, calendar, registry, ctx.clock(), job=job, others=others):
        deleted = apply(cut)
        ctx.counters[f"deleted_{cut.kind}"] = deleted
        log.info("%s: %s deleted; %s (%s)", cut.kind, count(deleted), cut.why, cut.rule)
        ctx.heartbeat()


def render_plan(cuts: list[Cut]) -> str:
    """What a run would delete now, as a table for people (the dry run)."""
    rows = [[c.kind, c.rule + (" (forever)" if c.setting and not c.days else ""), count(apply(c, dry_run=True)),
             c.why] for c in cuts]
    return "Cleanup dry run: nothing is deleted\n" + table(["kind", "setting", "would delete", "what"], rows,
                                                             right=(2,))
