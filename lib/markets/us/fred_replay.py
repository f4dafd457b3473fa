"""FRED's answers replayed from recorded CSVs (US_MACRO_REPLAY_DIR, the demo's data/sample/macro/fred): one
`<SERIES>.csv` per series as FRED's download gives it (`observation_date,<SERIES>`, a blank value where FRED
has none), served in the JSON shape of series/observations so the reader parses it like a live answer.

A CSV is one vintage (the day it was downloaded); the replay dates each value's real-time start at a stated
publication lag after its observation (`PUBLISHED_AFTER`), never earlier than FRED published it for the
series recorded here, and serves only what was published by the query's `realtime_end`. Revisions between
two vintages are not in a CSV: tests/fixtures/macro holds a real two-vintage answer for that."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from lib.errors import BadDataError, ConfigError
from lib.markets.us.fred import years_before

# Days from an observation's date to its publication, by frequency: a daily rate is posted the next day (H.15,
# H.10, Cboe's close); a monthly CPI about six weeks after the month starts. 55 days covers every CPI release of
# 2022-2025 (the latest, September 2025's, came on 2025-10-24 after the shutdown: 53 days).
PUBLISHED_AFTER = {"daily": 1, "monthly": 55}
REPLAY_UNITS = ("lin", "pc1")


class FredReplay:
    """series/observations answered from the recorded CSVs of a folder."""

    network = False

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ConfigError(f"US_MACRO_REPLAY_DIR={folder} is not a folder: point it at recorded FRED CSVs "
                              "(data/sample/macro/fred) or leave it blank to read FRED")
        self.folder = folder
        self._cache: dict[str, list[tuple[dt.date, float | None]]] = {}

    def _rows(self, series: str) -> list[tuple[dt.date, float | None]]:
        """The recorded observations of a series, oldest first (None: FRED has no value that day)."""
        if series in self._cache:
            return self._cache[series]
        path = self.folder / f"{series}.csv"
        if not path.is_file():
            raise ConfigError(f"US_MACRO_REPLAY_DIR has no {series}.csv: record it (FRED's CSV download) or drop "
                              f"{series} from US_MACRO_SERIES")
        rows: list[tuple[dt.date, float | None]] = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if len(header) != 2 or header[1] != series:
                raise BadDataError(f"{path}: header {header!r} is not observation_date,{series}")
            for number, (day, value) in enumerate(reader, start=2):
                try:
                    rows.append((dt.date.fromisoformat(day), float(value) if value.strip() not in ("", ".")
                                 else None))
                except ValueError:
                    raise BadDataError(f"{path} line {number}: {day!r},{value!r} is not a date and a number") \
                        from None
        self._cache[series] = sorted(rows)
        return self._cache[series]

    def observations(self, series: str, units: str, observation_start: dt.date, realtime_start: dt.date,
                     realtime_end: dt.date) -> dict[str, Any]:
        """What FRED would have answered at `realtime_end` (see the module docstring)."""
        if units not in REPLAY_UNITS:
            raise ConfigError(f"the FRED replay computes units {' and '.join(REPLAY_UNITS)} only, not {units} "
                              f"({series})")
        rows = self._rows(series)
        monthly = all(day.day == 1 for day, _ in rows)
        lag = dt.timedelta(days=PUBLISHED_AFTER["monthly" if monthly else "daily"])
        levels = dict(rows)
        observations = []
        for day, value in rows:
            published = day + lag
            if day < observation_start or published > realtime_end:
                continue
            if units == "pc1":
                base = levels.get(years_before(day, 1))
                value = (value / base - 1) * 100 if value is not None and base else None
            observations.append({
                "realtime_start": max(published, realtime_start).isoformat(),
                "realtime_end": realtime_end.isoformat(),
                "date": day.isoformat(),
                "value": "." if value is None else repr(value) if units == "lin" else f"{value:.5f}",
            })
        return {
            "realtime_start": realtime_start.isoformat(), "realtime_end": realtime_end.isoformat(),
            "observation_start": observation_start.isoformat(), "units": units, "output_type": 1,
            "file_type": "json", "count": len(observations), "observations": observations,
        }
