"""krx.macro: the Bank of Korea's ECOS series (base rate, KTB 3-year yield, KRW/USD, CPI year on year) on the
watermark cadence (lib/spine/watermark.py).

One page per series, in the order of KRX_MACRO_SERIES: the cursor names the next series, so a run killed
mid-list resumes there; `read_through` moves to the moment of the read once the last series is stored, so the
lag says how long ago the series were last checked, not how old the last monthly value is. Each run re-reads
KRX_MACRO_REREAD_DAYS back from the last read (ECOS corrects recent values now and then); the first run reads
KRX_MACRO_FIRST_RUN_YEARS. ECOS keeps no vintages: when a value counts as known is set in ecos_series.py, and a
changed value counts from the run that read it (`vintages = False`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from lib.errors import BadDataError
from lib.markets.krx.ecos_series import SEOUL, SERIES, EcosSeries, items_of, months_before, refuse
from lib.spine.watermark import Item, Mark, Page, WatermarkReader

if TYPE_CHECKING:
    from lib.config import Settings


class SearchSource(Protocol):
    """ECOS's StatisticSearch: the live client (ecos_client.py) or the recorded answers (ecos_replay.py)."""

    network: bool

    def search(self, series: EcosSeries, start: dt.date, end: dt.date) -> dict[str, Any]: ...


@dataclass(frozen=True)
class EcosQuery:
    """One series from `start` to `end` (dates in Seoul); `next_series` is the cursor once it is stored (None:
    the list is done at `now`)."""

    series: EcosSeries
    start: dt.date
    end: dt.date
    now: dt.datetime
    next_series: str | None


def years_before(day: dt.date, years: int) -> dt.date:
    """The same date `years` earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


class EcosMacroReader(WatermarkReader):
    """krx.macro's reader (see the module docstring)."""

    name = "ecos"
    vintages = False
    min_gap_seconds = 0.6  # about 300 calls per 180 s

    def __init__(self, series: tuple[EcosSeries, ...], source: SearchSource, first_run_years: int,
                 reread_days: int) -> None:
        if not series:
            raise ValueError("name at least one ECOS series")
        self.series = series
        self.source = source
        self.network = source.network
        self.first_run_years = first_run_years
        self.reread_days = reread_days

    def build_query(self, mark: Mark, now: dt.datetime) -> EcosQuery:
        codes = [s.code for s in self.series]
        index = codes.index(mark.cursor) if mark.cursor in codes else 0  # a series dropped from the list: restart
        today = now.astimezone(SEOUL).date()
        if mark.read_through is None:
            start = years_before(today, self.first_run_years)
        else:
            last = mark.read_through.replace(tzinfo=dt.UTC).astimezone(SEOUL).date()
            start = last - dt.timedelta(days=self.reread_days)
        nxt = codes[index + 1] if index + 1 < len(codes) else None
        return EcosQuery(self.series[index], min(start, today), today, now, nxt)

    def fetch_raw(self, query: EcosQuery) -> Any:
        start = months_before(query.start, 12) if query.series.yoy else query.start  # the year-ago bases
        return self.source.search(query.series, start, query.end)

    def normalise(self, raw: Any, query: EcosQuery) -> Page:
        found = raw.get("StatisticSearch") if isinstance(raw, dict) else None
        rows = found.get("row", []) if isinstance(found, dict) else None
        if not isinstance(rows, list):
            raise BadDataError(f"ECOS {query.series.code}: the answer has no StatisticSearch rows")
        items, rejected = items_of(rows, query.series)
        done = query.next_series is None
        return Page(tuple(items), Mark(query.now if done else None, query.next_series), not done, tuple(rejected))

    def validate(self, item: Item) -> str | None:
        return refuse(item)


def macro_reader(settings: Settings) -> EcosMacroReader:
    """krx.macro's reader from the settings: the recorded answers of KRX_MACRO_REPLAY_DIR, else ECOS itself."""
    from lib.markets.krx.settings import krx_settings

    krx = krx_settings(settings)
    source: SearchSource
    if krx.macro_replay_dir:
        from lib.markets.krx.ecos_replay import EcosReplay

        source = EcosReplay(krx.macro_replay_dir)
    else:
        from lib.errors import ConfigError
        from lib.markets.krx.ecos_client import EcosClient

        key = krx.ecos_api_key.get_secret_value() if krx.ecos_api_key else ""
        if not key:
            raise ConfigError("ECOS_API_KEY is blank: set it in .env (a free key from ecos.bok.or.kr)")
        source = EcosClient(key, krx.request_timeout_seconds)
    series = tuple(SERIES[code] for code in krx.macro_series)
    return EcosMacroReader(series, source, krx.macro_first_run_years, krx.macro_reread_days)
