"""Each registered dataset's collection as check_db, alerts and `/health` read it: for the session cadence the
collected range, holes, no_data and not-done days and how far behind its own calendar it is; which datasets this
install runs. Everything comes from the registry (lib/spine/registry.py) and the stored day records: a market plugged in
as a new package shows up here with no edit."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from lib.config import Settings
from lib.errors import ConfigError
from lib.spine.calendar import TradingCalendar
from lib.spine.datasets import Dataset, Registry
from lib.storage import DONE_STATUSES


@dataclass
class DayNote:
    """A day that is not plainly completed: no_data, or a status that is not done (failed...)."""

    day: dt.date
    status: str
    still_a_session: bool | None  # for no_data: does the calendar still call it a trading day?
    error: str | None = None


@dataclass
class MarketStatus:
    """One dataset's collection as its day records tell it."""

    job_name: str
    label: str
    first_day: dt.date | None
    last_day: dt.date | None
    completed: int
    no_data: list[DayNote]
    not_done: list[DayNote]  # day records whose status is not done (failed, ...)
    holes: list[dt.date] | None  # sessions between the first and last done day without a done record
    behind: int | None  # sessions after the last done day, up to yesterday
    latest_session: dt.date | None  # the latest session up to today
    stale: bool
    expected: bool = True  # configured (MARKETS) or set up: a market with nothing collected needs attention
    dataset: str | None = None  # its registry key (market.kind); None for day records no market registers

    @property
    def sessions(self) -> int:
        """Done days: completed plus no_data."""
        return self.completed + len(self.no_data)


@dataclass(frozen=True)
class Tracked:
    """A dataset whose day records status reads, with its calendar built from the settings (None: unknown)."""

    dataset: Dataset
    calendar: TradingCalendar | None
    registered: bool = True


def unregistered(job: str) -> Dataset:
    """A stand-in for day records no registered market keeps (a market removed, a renamed job): shown, no calendar."""
    return Dataset(market="", kind=job, label=job, cadence="session", job=job, lock="", tz=ZoneInfo("UTC"),
                   setup="run its first collection", redo="collect it again",
                   closed_setting="the market's extra-closed-days setting")


def tracked(registry: Registry, settings: Settings, recorded: set[str]) -> list[Tracked]:
    """Every registered session dataset with its calendar, then the day-record jobs no dataset claims."""
    out = [Tracked(d, d.calendar(settings) if d.calendar else None) for d in registry.with_cadence("session")]
    known = {t.dataset.job for t in out}
    out += [Tracked(unregistered(job), None, False) for job in sorted(recorded - known)]
    return out


def expected_jobs(settings: Settings, registry: Registry, recorded: set[str]) -> set[str]:
    """The day-record jobs of the datasets this install runs: those of the markets MARKETS names, else those set
    up so far (any day record) or else the first registered dataset's (a fresh install's first step), with those
    a setting turned on (a dataset with an on/off switch that is on: US_STOCKS=true)."""
    sessions = registry.with_cadence("session")
    if settings.markets:
        # a dataset off on this install (US_STOCKS=false) is expected only once it has day records
        return {d.job for d in sessions if d.market in settings.markets
                and (d.off is None or not d.off(settings) or d.job in recorded)}
    switched_on = {d.job for d in sessions if d.off is not None and not d.off(settings)}
    return (recorded or {d.job for d in sessions[:1]}) | switched_on


def expected_watermarks(settings: Settings, registry: Registry, run: set[str]) -> tuple[Dataset, ...]:
    """The watermark datasets this install runs: those of the markets MARKETS names, else those whose job has
    run here (`run`: the job names with run records). A registered dataset of a market not run here is left out,
    so it never reads "nothing read yet" for ever (as the session datasets, expected_jobs)."""
    datasets = registry.with_cadence("watermark")
    if settings.markets:
        return tuple(d for d in datasets if d.market in settings.markets)
    return tuple(d for d in datasets if d.job in run)


def sessions_or_none(calendar: TradingCalendar | None, start: dt.date, end: dt.date) -> list[dt.date] | None:
    """The calendar's sessions in [start, end] (clipped to its end); None when unknown or outside it."""
    if calendar is None:
        return None
    try:
        return calendar.sessions_between(start, min(end, calendar.last))
    except ConfigError:
        return None


def market_status(item: Tracked, days: list[dict[str, Any]], today: dt.date, stale_after: int) -> MarketStatus:
    """A dataset's collection from its day records, as of its own `today`."""
    done = {dt.date.fromisoformat(d["date_kst"]) for d in days if d["status"] in DONE_STATUSES}
    calendar = item.calendar

    def still_session(day: dt.date) -> bool | None:
        if calendar is None:
            return None
        try:
            return calendar.is_session(day)
        except ConfigError:
            return None

    no_data: list[DayNote] = []
    not_done: list[DayNote] = []
    for record in days:
        day = dt.date.fromisoformat(record["date_kst"])
        if record["status"] == "no_data":
            no_data.append(DayNote(day, "no_data", still_session(day), record.get("error")))
        elif record["status"] not in DONE_STATUSES:
            not_done.append(DayNote(day, record["status"], None, record.get("error")))
    first, last = (min(done), max(done)) if done else (None, None)
    holes = behind = None
    if first and last:
        inside = sessions_or_none(calendar, first, last)
        holes = None if inside is None else [d for d in inside if d not in done]
        after = sessions_or_none(calendar, last + dt.timedelta(days=1), today - dt.timedelta(days=1))
        behind = None if after is None else len(after)
    up_to_today = sessions_or_none(calendar, today - dt.timedelta(days=30), today)
    latest = up_to_today[-1] if up_to_today else None
    return MarketStatus(
        item.dataset.job, item.dataset.label, first, last, len(done) - len(no_data), no_data, not_done, holes,
        behind, latest, behind is not None and behind >= stale_after,
        dataset=item.dataset.key if item.registered else None,
    )
