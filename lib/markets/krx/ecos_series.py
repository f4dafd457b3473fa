"""The ECOS series krx.macro reads, and how a StatisticSearch answer becomes items (pure).

ECOS keeps no vintages, so the collector decides when a value became known (`known_at`), and the dataset stores
with `vintages = False`: a value ECOS later changes counts from the run that read it (lib/spine/watermark_page.py).
- A daily value (base rate, KTB yield, KRW/USD) is known at the end of its day in Seoul: the KTB closing quotes
  come after the 15:30 close, and an analysis dated that day (cut off at the day's end) may use it.
- A monthly CPI is known at the end of the 7th day of the next month in Seoul: Statistics Korea publishes in the
  first days of the month (May 2025's index on 2025-06-04, June 2025's on 2025-07-02; December's even before
  the month ends), so the 7th is never earlier than the release.
The CPI is read as its index (901Y009, 2020=100) and stored as the % change from a year ago, computed here from
the index 12 months earlier: the query reaches 12 months further back for those bases."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from lib.markets.krx.settings import ECOS_SERIES
from lib.spine.watermark import Item, Rejected

SEOUL = ZoneInfo("Asia/Seoul")
CPI_PUBLISHED_BY_DAY = 7  # of the following month (see the module docstring)


@dataclass(frozen=True)
class EcosSeries:
    """One ECOS series: its table and item codes, cycle (D daily, M monthly) and description for people;
    `yoy`: stored as the % change from the value 12 months earlier instead of the value itself."""

    stat_code: str
    item_code: str
    cycle: str
    name: str
    unit: str
    frequency: str
    yoy: bool = False

    @property
    def code(self) -> str:
        """"STAT_CODE/ITEM_CODE", the series' name in the settings and in the items."""
        return f"{self.stat_code}/{self.item_code}"


SERIES: dict[str, EcosSeries] = {s.code: s for s in (
    EcosSeries("722Y001", "0101000", "D", "Bank of Korea base rate", "%", "daily"),
    EcosSeries("817Y002", "010200000", "D", "Korea Treasury Bond 3-year yield", "%", "daily"),
    EcosSeries("731Y001", "0000001", "D", "KRW per USD, Seoul base rate (매매기준율)", "KRW per USD", "daily"),
    EcosSeries("901Y009", "0", "M", "Korea CPI, % change from a year ago", "%", "monthly", yoy=True),
)}
assert tuple(SERIES) == ECOS_SERIES, "lib/markets/krx/settings.py ECOS_SERIES and this table must agree"


def period(day: dt.date, cycle: str) -> str:
    """ECOS's TIME for a date: YYYYMMDD (D) or YYYYMM (M)."""
    return day.strftime("%Y%m%d" if cycle == "D" else "%Y%m")


def parse_time(text: str, cycle: str) -> dt.date:
    """ECOS's TIME as a date (a month as its first day); ValueError when it is not one."""
    text = text.strip()
    if cycle == "D" and len(text) == 8:
        return dt.datetime.strptime(text, "%Y%m%d").date()
    if cycle == "M" and len(text) == 6:
        return dt.datetime.strptime(text, "%Y%m").date()
    raise ValueError(text)


def months_before(day: dt.date, months: int) -> dt.date:
    """The first of the month `months` before `day`'s month."""
    index = day.year * 12 + day.month - 1 - months
    return dt.date(index // 12, index % 12 + 1, 1)


def known_at(day: dt.date, series: EcosSeries) -> dt.datetime:
    """When a value observed on `day` counts as known (see the module docstring), aware."""
    if series.cycle == "M":
        published = months_before(day, -1).replace(day=CPI_PUBLISHED_BY_DAY)
    else:
        published = day
    return dt.datetime.combine(published + dt.timedelta(days=1), dt.time(0), tzinfo=SEOUL) - dt.timedelta(
        milliseconds=1)


def _number(text: Any) -> float | None:
    """DATA_VALUE as a number; None where ECOS has none (blank or '-'); ValueError for anything else."""
    cleaned = str(text).replace(",", "").strip()
    return None if cleaned in ("", "-") else float(cleaned)


def items_of(rows: list[Any], series: EcosSeries) -> tuple[list[Item], list[Rejected]]:
    """The answer's rows as items: one per observation, or per month with a base 12 months earlier (yoy)."""
    values: dict[dt.date, float | None] = {}
    rejected: list[Rejected] = []
    for row in rows:
        try:
            day = parse_time(str(row["TIME"]), series.cycle)
            values[day] = _number(row["DATA_VALUE"])
        except (KeyError, TypeError, ValueError):
            time = row.get("TIME") if isinstance(row, dict) else None
            rejected.append(Rejected(f"TIME {time!r} or DATA_VALUE is not a {series.cycle} period and a number",
                                     row, f"{series.code}:{time}"))
    items = []
    for day, value in sorted(values.items()):
        if series.yoy:
            base = values.get(months_before(day, 12))
            if base is None:  # the first year of the answer only serves as the base of the next
                continue
            value = round((value / base - 1) * 100, 3) if value is not None and base else None
        data = {"series": series.code, "name": series.name, "value": value, "unit": series.unit,
                "frequency": series.frequency, "source": "ecos"}
        items.append(Item(f"{series.code}:{day.isoformat()}", dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC),
                          data, known_at(day, series)))
    return items, rejected


def refuse(item: Item) -> str | None:
    """Why an ECOS item cannot be stored: a non-finite value or an impossible date."""
    value = item.data["value"]
    if value is not None and not math.isfinite(value):
        return f"value {value} is not a finite number"
    if item.at.year < 1900 or (item.known_at is not None and item.at > item.known_at):
        return f"observation date {item.at.date()} is impossible (known from {item.known_at})"
    return None
