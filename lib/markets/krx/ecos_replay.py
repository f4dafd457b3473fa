"""ECOS's answers replayed from recorded CSVs (KRX_MACRO_REPLAY_DIR, the demo's data/sample/macro/ecos): one
`<STAT_CODE>_<ITEM_CODE>.csv` per series (`TIME,DATA_VALUE` as ECOS gives them: YYYYMMDD or YYYYMM), served in
the JSON shape of StatisticSearch so the reader parses it like a live answer. A series without a file, or a
range without rows, answers no rows (what the client makes of ECOS's INFO-200, no data). Only what was known by
the end of the query's range is served (ecos_series.known_at), as ECOS would have answered on that day."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from lib.errors import BadDataError, ConfigError
from lib.markets.krx.ecos_series import SEOUL, EcosSeries, known_at, parse_time

NO_DATA = {"StatisticSearch": {"list_total_count": 0, "row": []}}  # the client's form of ECOS's INFO-200


class EcosReplay:
    """StatisticSearch answered from the recorded CSVs of a folder."""

    network = False

    def __init__(self, folder: Path) -> None:
        if not folder.is_dir():
            raise ConfigError(f"KRX_MACRO_REPLAY_DIR={folder} is not a folder: point it at recorded ECOS CSVs "
                              "(data/sample/macro/ecos) or leave it blank to read ECOS")
        self.folder = folder

    def _rows(self, series: EcosSeries) -> list[tuple[dt.date, str, str]]:
        path = self.folder / f"{series.stat_code}_{series.item_code}.csv"
        if not path.is_file():
            return []
        rows = []
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            if next(reader, []) != ["TIME", "DATA_VALUE"]:
                raise BadDataError(f"{path}: the header is not TIME,DATA_VALUE")
            for number, (time, value) in enumerate(reader, start=2):
                try:
                    rows.append((parse_time(time, series.cycle), time, value))
                except ValueError:
                    raise BadDataError(f"{path} line {number}: TIME {time!r} is not a {series.cycle} period") \
                        from None
        return sorted(rows)

    def search(self, series: EcosSeries, start: dt.date, end: dt.date) -> dict[str, Any]:
        """What ECOS would have answered at the end of `end` (Seoul)."""
        asked_at = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=SEOUL)
        first = start if series.cycle == "D" else start.replace(day=1)
        rows = [{"STAT_CODE": series.stat_code, "STAT_NAME": series.name, "ITEM_CODE1": series.item_code,
                 "ITEM_NAME1": series.name, "UNIT_NAME": series.unit, "TIME": time, "DATA_VALUE": value}
                for day, time, value in self._rows(series)
                if first <= day <= end and known_at(day, series) < asked_at]
        if not rows:
            return NO_DATA
        return {"StatisticSearch": {"list_total_count": len(rows), "row": rows}}
