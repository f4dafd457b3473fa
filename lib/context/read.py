"""Reading what the AI may use, point in time: a stock's filings and news and the macro readings known at a
cutoff, from every registered watermark dataset of that kind. A day's cutoff is its end in the market's zone:
a filing dated that day counts (its source gives a date only), anything published or first known later does
not, whenever it was collected."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from lib.spine.datasets import Dataset, Registry
from lib.spine.watermark import Item, items_known_at

if TYPE_CHECKING:
    from lib.storage import Storage


def day_cutoff(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The last moment of `day` in `tz` (aware): what an analysis dated `day` may know."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz) - dt.timedelta(milliseconds=1)


def moment_of(now: dt.datetime, day: dt.date | None, tz: ZoneInfo) -> dt.datetime:
    """What an answer is as of: the cutoff of `day` in `tz`, today's when `day` is None or from today on. Today's
    too, not now: a filing dated today counts as known at the day's end (its source gives a date only), so an
    answer as of now would hide every filing collected today until midnight; nothing stored is later than now."""
    today = now.astimezone(tz).date()
    return day_cutoff(today if day is None or day > today else day, tz)


def of_kind(registry: Registry, kind: str) -> tuple[Dataset, ...]:
    """The registered watermark datasets of a kind ("news": krx.news, us.news, ...)."""
    return tuple(d for d in registry.with_cadence("watermark") if d.kind == kind)


def _of_stock(storage: Storage, registry: Registry, kind: str, ticker: str, moment: dt.datetime,
              since: dt.datetime | None) -> list[Item]:
    found: list[Item] = []
    for dataset in of_kind(registry, kind):
        found += items_known_at(storage, dataset.key, moment, since, moment, {"ticker": ticker})
    return sorted(found, key=lambda item: (item.at, item.key))


def disclosures(storage: Storage, registry: Registry, ticker: str, moment: dt.datetime,
                since: dt.datetime | None = None) -> list[Item]:
    """The stock's filings known at `moment`, dated from `since`, oldest first (`data`: items.DisclosureData)."""
    return _of_stock(storage, registry, "disclosures", ticker, moment, since)


def articles(storage: Storage, registry: Registry, ticker: str, moment: dt.datetime,
             since: dt.datetime | None = None) -> list[Item]:
    """The stock's news articles known at `moment`, published from `since`, oldest first (`data`:
    items.NewsData); lib/context/dedup.py groups them into stories."""
    return _of_stock(storage, registry, "news", ticker, moment, since)


@dataclass(frozen=True)
class Reading:
    """A macro series' latest value known at a moment, and the one before it."""

    source: str  # "fred", "ecos"
    series: str
    name: str
    unit: str
    frequency: str
    date: dt.date  # the observation's date
    value: float | None
    known_at: dt.datetime  # naive UTC
    previous_date: dt.date | None
    previous: float | None

    @property
    def change(self) -> float | None:
        """value - previous, in the series' unit."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def macro_history(storage: Storage, registry: Registry, moment: dt.datetime, since: dt.datetime | None = None,
                  series: str | None = None) -> dict[str, list[Item]]:
    """Each macro series' observations known at `moment` (one series, or all), dated from `since`, oldest first."""
    by_series: dict[str, list[Item]] = defaultdict(list)
    fields = {"series": series} if series else None
    for dataset in of_kind(registry, "macro"):
        for item in items_known_at(storage, dataset.key, moment, since, moment, fields):
            by_series[item.data["series"]].append(item)
    return dict(by_series)


def macro_latest(storage: Storage, registry: Registry, moment: dt.datetime,
                 lookback: dt.timedelta = dt.timedelta(days=400)) -> list[Reading]:
    """Each series' latest non-missing reading known at `moment` (within `lookback`), with the one before it."""
    readings = []
    for series, items in sorted(macro_history(storage, registry, moment, moment - lookback).items()):
        known = [i for i in items if i.data.get("value") is not None]
        if not known:
            continue
        last, before = known[-1], (known[-2] if len(known) > 1 else None)
        data = last.data
        readings.append(Reading(
            data.get("source", ""), series, data.get("name", series), data.get("unit", ""), data.get("frequency", ""),
            last.at.date(), data["value"], last.known_at, before.at.date() if before else None,
            before.data["value"] if before else None,
        ))
    return readings
