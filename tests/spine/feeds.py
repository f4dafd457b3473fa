"""Two small watermark feeds over real data, shaped like the sources that will use the cadence:

- `CloseSeries`: XLF's adjusted closes as a revisable series (FRED's shape: observations with the moment their
  value became known, paged by an opaque cursor). The fixture's closes are adjusted for the 2024-12-23 dividend
  (0.206 USD); before that ex-date the published closes were not, so each earlier observation has two real
  vintages: close / f known at its own close, and close known at the ex-date's close, f = prev / (prev + 0.206)
  (yfinance's factor 1 - dividend / raw previous close).
- `MoveEvents`: SPY's and QQQ's daily moves of 1.5 % or more (from us_etf_small.csv) as an event stream
  published at each close, paged by time with an inclusive `since`, so consecutive pages overlap."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lib.spine.watermark import Item, Mark, Page, Rejected, WatermarkReader

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CLOSE_UTC = dt.time(21, 0)  # 16:00 New York in winter: when a session's close is published


def at_close(day: dt.date) -> dt.datetime:
    """A session's close, aware UTC."""
    return dt.datetime.combine(day, CLOSE_UTC, tzinfo=dt.UTC)


def xlf_vintages() -> list[dict[str, Any]]:
    """Every published value of every XLF observation, as FRED would list them (strings), oldest first."""
    frame = pd.read_csv(FIXTURES / "xlf_dividend_small.csv", parse_dates=["date"])
    rows: list[dict[str, Any]] = []
    factor, ex_day = 1.0, None
    for i, row in frame.iterrows():
        if row["dividends"] > 0:
            previous = float(frame.loc[i - 1, "close"])
            factor, ex_day = previous / (previous + float(row["dividends"])), row["date"].date()
    for _, row in frame.iterrows():
        day, close = row["date"].date(), float(row["close"])
        if ex_day is not None and day < ex_day:
            rows.append({"date": day.isoformat(), "value": repr(close / factor), "known": at_close(day).isoformat()})
            rows.append({"date": day.isoformat(), "value": repr(close), "known": at_close(ex_day).isoformat()})
        else:
            rows.append({"date": day.isoformat(), "value": repr(close), "known": at_close(day).isoformat()})
    return sorted(rows, key=lambda r: (r["known"], r["date"]))


@dataclass(frozen=True)
class SeriesQuery:
    """Observations known after `after` (a cursor "known|date") and by `until`, at most `limit`."""

    after: str | None
    until: dt.datetime
    limit: int


class CloseSeries(WatermarkReader):
    """XLF's adjusted closes, with their real re-basing revision (see the module docstring)."""

    name = "xlf_series"
    network = True
    backoff_seconds = 0.0

    def __init__(self, limit: int = 10, failures: dict[int, Callable[[], Any]] | None = None,
                 edit: Callable[[list[dict]], list[dict]] | None = None) -> None:
        self.limit = limit
        self.failures = failures or {}  # call number (1-based) -> raises
        self.edit = edit  # changes the raw rows of an answer (a broken row)
        self.calls: list[SeriesQuery] = []
        self.rows_served = 0

    def build_query(self, mark: Mark, now: dt.datetime) -> SeriesQuery:
        return SeriesQuery(mark.cursor, now.astimezone(dt.UTC), self.limit)

    def fetch_raw(self, query: SeriesQuery) -> Any:
        self.calls.append(query)
        failure = self.failures.get(len(self.calls))
        if failure is not None:
            failure()
        known = [r for r in xlf_vintages() if dt.datetime.fromisoformat(r["known"]) <= query.until]
        after = [r for r in known if query.after is None or f"{r['known']}|{r['date']}" > query.after]
        rows = after[: query.limit]
        self.rows_served += len(rows)
        rows = self.edit(rows) if self.edit else rows
        return {"observations": rows, "has_more": len(after) > query.limit}

    def normalise(self, raw: Any, query: SeriesQuery) -> Page:
        items, rejected = [], []
        for row in raw["observations"]:
            day = dt.date.fromisoformat(row["date"])
            try:
                value = float(row["value"])
            except ValueError:
                rejected.append(Rejected(f"value {row['value']!r} is not a number", row, f"XLF:{day}"))
                continue
            items.append(Item(f"XLF:{day}", dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC), {"value": value},
                              dt.datetime.fromisoformat(row["known"])))
        rows = raw["observations"]
        cursor = f"{rows[-1]['known']}|{rows[-1]['date']}" if rows else query.after
        # The last page leaves nothing known by `until` unread; a middle page reads through its last row only.
        through = dt.datetime.fromisoformat(rows[-1]["known"]) if raw["has_more"] else query.until
        return Page(tuple(items), Mark(through, cursor), raw["has_more"], tuple(rejected))

    def validate(self, item: Item) -> str | None:
        return None if item.data["value"] > 0 else f"close {item.data['value']} is not positive"


def spy_qqq_moves(threshold: float = 0.015) -> list[dict[str, Any]]:
    """Real daily moves of at least `threshold` of SPY and QQQ, as a news-like feed's raw rows, oldest first."""
    frame = pd.read_csv(FIXTURES / "us_etf_small.csv", parse_dates=["date"]).sort_values(["ticker", "date"])
    frame["move"] = frame.groupby("ticker")["close"].pct_change()
    big = frame.loc[frame["move"].abs() >= threshold]
    rows = [{"id": f"{r.ticker}:{r.date.date()}", "time": at_close(r.date.date()).isoformat(), "ticker": r.ticker,
             "move_pct": round(float(r.move) * 100, 2)} for r in big.itertuples()]
    return sorted(rows, key=lambda r: (r["time"], r["id"]))


@dataclass(frozen=True)
class EventsQuery:
    """Events published from `since` (included) to `until`, at most `limit`."""

    since: dt.datetime | None
    until: dt.datetime
    limit: int


class MoveEvents(WatermarkReader):
    """SPY's and QQQ's big moves, paged by time with overlapping pages (see the module docstring)."""

    name = "moves"
    network = False

    def __init__(self, limit: int = 3, broken: frozenset[str] = frozenset()) -> None:
        self.limit = limit
        self.broken = broken  # ids served without a time (a malformed row)
        self.calls: list[EventsQuery] = []

    def build_query(self, mark: Mark, now: dt.datetime) -> EventsQuery:
        return EventsQuery(mark.read_through and mark.read_through.replace(tzinfo=dt.UTC), now.astimezone(dt.UTC),
                           self.limit)

    def fetch_raw(self, query: EventsQuery) -> Any:
        self.calls.append(query)
        rows = [r for r in spy_qqq_moves() if dt.datetime.fromisoformat(r["time"]) <= query.until
                and (query.since is None or dt.datetime.fromisoformat(r["time"]) >= query.since)]
        page = [dict(r, time="") if r["id"] in self.broken else r for r in rows[: query.limit]]
        return {"events": page, "more": len(rows) > query.limit}

    def normalise(self, raw: Any, query: EventsQuery) -> Page:
        items, rejected, times = [], [], []
        for row in raw["events"]:
            try:
                moment = dt.datetime.fromisoformat(row["time"])
            except ValueError:
                rejected.append(Rejected(f"time {row['time']!r} is not ISO 8601", row, row["id"]))
                continue
            times.append(moment)
            items.append(Item(row["id"], moment, {"ticker": row["ticker"], "move_pct": row["move_pct"]}, moment))
        through = max(times, default=query.since) if raw["more"] else query.until
        return Page(tuple(items), Mark(through), raw["more"], tuple(rejected))
