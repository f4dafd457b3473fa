"""us.macro: FRED's series (CPI YoY, the 10y-2y spread, fed funds, the 10y yield, VIX, KRW per USD) with their
vintages, on the watermark cadence (lib/spine/watermark.py).

One page per series, in the order of US_MACRO_SERIES: the cursor names the next series, so a run killed
mid-list resumes there; `read_through` moves to the moment of the read once the last series is stored, so the
lag says how long ago the series were last checked, not how old the last monthly value is.

Vintages come from FRED's real-time periods (ALFRED), read the cheap way: each query asks for the values
current at any time from the last read (`realtime_start`, the first run: its window's start) to today, with
`output_type=1`, so FRED returns one row per value with the day it became current (`realtime_start`). A value
revised since the last read arrives as a second row with its own date and is stored as a new vintage; a value
unchanged since is one row dated (clipped by FRED) at the query's realtime_start and changes nothing. Why
not every ALFRED period of the re-read window each run: the same single request per series would return each
observation's whole revision history again, when only what changed since the last read is new. Each
value counts as known at the end of its realtime_start day in New York (FRED dates vintages by day only; the
US market's day cutoff is the same moment); the dates asked for are FRED's own (St. Louis) days, since it
refuses a realtime_end after its today. The observations re-read go back US_MACRO_REREAD_DAYS from the last
read (a revision can reach back that far); the first run reads US_MACRO_FIRST_RUN_YEARS."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from lib.errors import BadDataError
from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings

NEW_YORK = ZoneInfo("America/New_York")
ST_LOUIS = ZoneInfo("America/Chicago")  # FRED's own day: a realtime_end after it is refused (HTTP 400)
MISSING = "."  # FRED's value where it has none (a holiday, a release not made)

# For people: what each series is, in which unit and how often, by (id, units). A series not listed here is
# read all the same and shown by its id.
DESCRIPTIONS: dict[tuple[str, str], tuple[str, str, str]] = {
    ("CPIAUCSL", "pc1"): ("US CPI, % change from a year ago", "%", "monthly"),
    ("CPIAUCSL", "lin"): ("US CPI, index 1982-84=100", "index", "monthly"),
    ("T10Y2Y", "lin"): ("US 10-year minus 2-year Treasury yield", "percentage points", "daily"),
    ("DFF", "lin"): ("US federal funds effective rate", "%", "daily"),
    ("DGS10", "lin"): ("US 10-year Treasury yield", "%", "daily"),
    ("VIXCLS", "lin"): ("CBOE VIX, S&P 500 expected volatility", "index", "daily"),
    ("DEXKOUS", "lin"): ("KRW per USD, New York noon buying rate", "KRW per USD", "daily"),
}


@dataclass(frozen=True)
class FredSeries:
    """One series as read: FRED's id and units, and its description for people."""

    id: str
    units: str
    name: str
    unit: str
    frequency: str


def series_of(entries: list[str]) -> tuple[FredSeries, ...]:
    """US_MACRO_SERIES ("CPIAUCSL:pc1", "DFF") as series with their descriptions."""
    found = []
    for entry in entries:
        series, _, units = entry.partition(":")
        units = units or "lin"
        name, unit, frequency = DESCRIPTIONS.get((series, units), (f"{series} ({units})", "", ""))
        found.append(FredSeries(series, units, name, unit, frequency))
    return tuple(found)


class ObservationSource(Protocol):
    """FRED's series/observations: the live client (fred_client.py) or the recorded answers (fred_replay.py)."""

    network: bool

    def observations(self, series: str, units: str, observation_start: dt.date, realtime_start: dt.date,
                     realtime_end: dt.date) -> dict[str, Any]: ...


@dataclass(frozen=True)
class FredQuery:
    """One series' observations from `observation_start`, with the values current from `realtime_start` to
    `realtime_end`; `next_series` is the cursor once it is stored (None: the list is done at `now`)."""

    series: FredSeries
    observation_start: dt.date
    realtime_start: dt.date
    realtime_end: dt.date
    now: dt.datetime
    next_series: str | None


def day_end(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """The last millisecond of `day` in `tz` (aware): when a value dated that day counts as known."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz) - dt.timedelta(milliseconds=1)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same date `years` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class FredMacroReader(WatermarkReader):
    """us.macro's reader (see the module docstring)."""

    name = "fred"
    vintages = True
    min_gap_seconds = 0.5  # FRED allows 120 requests a minute

    def __init__(self, series: tuple[FredSeries, ...], source: ObservationSource, first_run_years: int,
                 reread_days: int) -> None:
        if not series:
            raise ValueError("name at least one FRED series")
        self.series = series
        self.source = source
        self.network = source.network
        self.first_run_years = first_run_years
        self.reread_days = reread_days

    def build_query(self, mark: Mark, now: dt.datetime) -> FredQuery:
        ids = [s.id for s in self.series]
        index = ids.index(mark.cursor) if mark.cursor in ids else 0  # a series dropped from the list: restart
        today = now.astimezone(ST_LOUIS).date()
        if mark.read_through is None:  # never completed a pass: the first run's window, vintages included
            start = years_before(today, self.first_run_years)
            realtime_start = start
        else:
            last = mark.read_through.replace(tzinfo=dt.UTC).astimezone(ST_LOUIS).date()
            start = last - dt.timedelta(days=self.reread_days)
            realtime_start = last - dt.timedelta(days=1)  # a day of overlap, for a revision dated the last read's day
        nxt = ids[index + 1] if index + 1 < len(ids) else None
        return FredQuery(self.series[index], start, min(realtime_start, today), today, now, nxt)

    def fetch_raw(self, query: FredQuery) -> Any:
        return self.source.observations(query.series.id, query.series.units, query.observation_start,
                                        query.realtime_start, query.realtime_end)

    def normalise(self, raw: Any, query: FredQuery) -> Page:
        rows = raw.get("observations") if isinstance(raw, dict) else None
        if not isinstance(rows, list):
            raise BadDataError(f"FRED {query.series.id}: the answer has no observations list")
        series = query.series
        items, rejected = [], []
        for row in rows:
            item = _item(row, series) if isinstance(row, dict) else "not an object"
            if isinstance(item, str):
                key = f"{series.id}:{row.get('date')}" if isinstance(row, dict) else None
                rejected.append(Rejected(item, row, key))
            else:
                items.append(item)
        done = query.next_series is None
        return Page(tuple(items), Mark(query.now if done else None, query.next_series), not done, tuple(rejected))

    def validate(self, item: Item) -> str | None:
        value = item.data["value"]
        if value is not None and not math.isfinite(value):
            return f"value {value} is not a finite number"
        if item.at.year < 1900 or (item.known_at is not None and item.at > item.known_at):
            return f"observation date {item.at.date()} is impossible (known from {item.known_at})"
        return None


def _item(row: dict[str, Any], series: FredSeries) -> Item | str:
    """An observation row as an Item, or why it cannot be one."""
    try:
        day = dt.date.fromisoformat(str(row["date"]))
        known = dt.date.fromisoformat(str(row["realtime_start"]))
    except (KeyError, ValueError):
        return f"date {row.get('date')!r} or realtime_start {row.get('realtime_start')!r} is not YYYY-MM-DD"
    raw = row.get("value")
    if raw == MISSING:
        value = None
    else:
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return f"value {raw!r} is not a number (FRED writes '.' for a missing one)"
    data = {"series": series.id, "name": series.name, "value": value, "unit": series.unit,
            "frequency": series.frequency, "source": "fred"}
    return Item(f"{series.id}:{day.isoformat()}", dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC), data,
                day_end(known, NEW_YORK))


def macro_reader(settings: Settings) -> FredMacroReader:
    """us.macro's reader from the settings: the recorded answers of US_MACRO_REPLAY_DIR, else FRED itself."""
    from lib.markets.us.settings import us_settings

    us = us_settings(settings)
    source: ObservationSource
    if us.macro_replay_dir:
        from lib.markets.us.fred_replay import FredReplay

        source = FredReplay(us.macro_replay_dir)
    else:
        from lib.errors import ConfigError
        from lib.markets.us.fred_client import FredClient

        key = us.fred_api_key.get_secret_value() if us.fred_api_key else ""
        if not key:
            raise ConfigError("FRED_API_KEY is blank: set it in .env (a free key from fred.stlouisfed.org)")
        source = FredClient(key, us.request_timeout_seconds)
    return FredMacroReader(series_of(us.macro_series), source, us.macro_first_run_years, us.macro_reread_days)
