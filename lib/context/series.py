"""What the macro readers share (one per source, in its market's module): dates counted back in whole years, the
page of one series in a list read one series a page (the cursor names the next series; the last one moves
`read_through` to the read's moment), and the checks every observation passes."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

from lib.spine.watermark import Item, Mark, Page, Rejected


def years_before(day: dt.date, years: int) -> dt.date:
    """The same date `years` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def series_page(items: Sequence[Item], rejected: Sequence[Rejected], now: dt.datetime,
                next_series: str | None) -> Page:
    """One series' page: the cursor names the next series; after the last (`next_series` None) the watermark
    reads through `now`, so the lag says how long ago the series were checked, not how old a monthly value is."""
    done = next_series is None
    return Page(tuple(items), Mark(now if done else None, next_series), not done, tuple(rejected))


def refuse_observation(item: Item) -> str | None:
    """Why an observation (items.MacroData) cannot be stored: a non-finite value or an impossible date."""
    value = item.data["value"]
    if value is not None and not math.isfinite(value):
        return f"value {value} is not a finite number"
    if item.at.year < 1900 or (item.known_at is not None and item.at > item.known_at):
        return f"observation date {item.at.date()} is impossible (known from {item.known_at})"
    return None
