"""stock_analyzed.<ticker> (indicator rows), the screening index over every ticker, strategy track records."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lib.storage.client import StoreBase, day_bounds
from lib.storage.dates import to_utc_midnight

SCREENING = "screening_index"
SPAN = "screening_span"  # system_info.analysis_state: the first and last day the screening index holds


def screening_id(day: dt.datetime, ticker: str) -> str:
    """The screening index key: date first, so a range of `_id` is a range of days."""
    return f"{day:%Y-%m-%d}:{ticker}"


class AnalysisStore(StoreBase):
    """Indicator rows per ticker, mirrored into one screening index; track records in system_info."""

    @property
    def screening(self) -> Any:
        """One collection of every analysed row of every ticker, `_id` "YYYY-MM-DD:TICKER" so that one indexed
        range query on `_id` reads the whole universe over any run of dates."""
        return self.analyzed_db[SCREENING]

    def replace_analysis(self, ticker: str, rows: list[dict[str, Any]]) -> int:
        """Overwrite a ticker's indicator rows (stock_analyzed.<ticker> and its screening-index rows) with
        these; rows no longer produced are removed. Returns the rows written.

        The screening index is written first: stock_analyzed is what the next run compares against, so a run
        killed between the two writes leaves a difference that the next run repairs."""
        coll = self.analyzed_db[ticker]
        new, changed, stale = self._sync(coll, rows, f"stock_analyzed.{ticker}", whole=True, dry=True)
        if stale:
            self._write(f"stock_analyzed.{ticker}.stale")
            self.screening.delete_many({"_id": {"$in": [screening_id(d, ticker) for d in stale]}})
            coll.delete_many({"_id": {"$in": stale}})
        if new or changed:
            self._write(f"screening.{ticker}")

            def entry(row: dict[str, Any]) -> dict[str, Any]:
                return {**row, "_id": screening_id(row["date"], ticker), "ticker": ticker}

            self._insert_or_replace(self.screening, [entry(r) for r in new], [entry(r) for r in changed])
            self._write(f"stock_analyzed.{ticker}")
            self._insert_or_replace(coll, new, changed)
        if new or stale:
            self._update_span([r["date"] for r in new], stale)
        return len(new) + len(changed)

    def _update_span(self, added: list[dt.datetime], removed: list[dt.datetime]) -> None:
        """Keep the screening index's first and last day in one small document, so that readers (GET /status,
        the screener) never sort the index: widened atomically by the days added; read again from the index
        when there is none yet or rows of its first or last day were removed."""
        span = self._screening_span()
        ends = {span.get("first_day"), span.get("last_day")} if span else set()
        if span is None or any(f"{d:%Y-%m-%d}" in ends for d in removed):
            self.refresh_screening_span()
            return
        if added:
            self._write("analysis_state.screening_span")
            self.market_info["analysis_state"].update_one(
                {"_id": SPAN},
                {"$min": {"first_day": f"{min(added):%Y-%m-%d}"}, "$max": {"last_day": f"{max(added):%Y-%m-%d}"}},
                upsert=True,
            )

    def refresh_screening_span(self) -> None:
        """Read the screening index's first and last day from the index itself (two sorted reads) into the
        span document; after a write that may have moved them other than by adding days."""
        first, last = self._screening_end(ASCENDING), self._screening_end(DESCENDING)
        self._write("analysis_state.screening_span")
        if first is None or last is None:
            self.market_info["analysis_state"].delete_one({"_id": SPAN})
            return
        self.market_info["analysis_state"].replace_one(
            {"_id": SPAN}, {"_id": SPAN, "first_day": first.isoformat(), "last_day": last.isoformat()}, upsert=True
        )

    def _screening_span(self) -> dict[str, Any] | None:
        return self.market_info["analysis_state"].find_one({"_id": SPAN})

    def analysed_tickers(self) -> list[str]:
        """Tickers that have a stock_analyzed collection."""
        return sorted(name for name in self.analyzed_db.list_collection_names() if name != SCREENING)

    def read_analysis(self, ticker: str, end: dt.date | None = None) -> list[dict[str, Any]]:
        """A ticker's indicator rows (up to `end`, default all), oldest first."""
        query = {"_id": {"$lte": to_utc_midnight(end)}} if end else {}
        return list(self.analyzed_db[ticker].find(query, {"_id": 0}).sort("_id", ASCENDING))

    def recent_analysis(
        self, ticker: str, count: int, end: dt.date | None = None, start: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """A ticker's last `count` indicator rows between `start` and `end` (default: all), oldest first (one
        indexed read)."""
        bounds = day_bounds(start, end)
        query = {"_id": bounds} if bounds else {}
        docs = list(self.analyzed_db[ticker].find(query, {"_id": 0}).sort("_id", DESCENDING).limit(count))
        return docs[::-1]

    def screening_rows(self, start: dt.date | None, end: dt.date) -> list[dict[str, Any]]:
        """Every ticker's indicator rows from start to end (both included) in one indexed query."""
        lower = f"{start.isoformat()}:" if start else ""
        return list(self.screening.find({"_id": {"$gte": lower, "$lte": f"{end.isoformat()}:~"}}, {"_id": 0}))

    def first_screening_day(self) -> dt.date | None:
        """The oldest trading day in the screening index (one read of the span document the writers keep)."""
        return self._span_end("first_day", ASCENDING)

    def latest_screening_day(self) -> dt.date | None:
        """The newest trading day in the screening index (one read of the span document the writers keep)."""
        return self._span_end("last_day", DESCENDING)

    def _span_end(self, key: str, direction: int) -> dt.date | None:
        span = self._screening_span()
        if span is None:
            # Written before the span was kept (the next analysis run writes it), or nothing analysed: the index.
            return self._screening_end(direction)
        return dt.date.fromisoformat(span[key])

    def _screening_end(self, direction: int) -> dt.date | None:
        # The day is the `_id`'s prefix ("YYYY-MM-DD:TICKER"): an `_id`-only read is answered from the index on a
        # server (no document fetched) and copies no row on the embedded store (half the time there).
        doc = self.screening.find_one({}, {"_id": 1}, sort=[("_id", direction)])
        return dt.date.fromisoformat(doc["_id"][:10]) if doc else None

    def delete_screening_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete the screening-index rows dated before `day` (or, with dry_run, count them); the per-ticker
        stock_analyzed collections, which track records read, are not touched."""
        query = {"_id": {"$lt": f"{day.isoformat()}:"}}
        deleted = self._delete_or_count(self.screening, query, "screening.cleanup", dry_run)
        if deleted and not dry_run:
            self.refresh_screening_span()
        return deleted

    def save_strategy_stats(self, name: str, doc: Mapping[str, Any]) -> None:
        """Store a strategy's track record (replacing the previous one)."""
        self._write(f"strategy_stats.{name}")
        self.market_info["strategy_stats"].replace_one({"_id": name}, {"_id": name, **doc}, upsert=True)

    def strategy_stats_dates(self) -> dict[str, str | None]:
        """Each stored track record's as-of day (YYYY-MM-DD), by strategy name."""
        stats = self.market_info["strategy_stats"].find({}, {"as_of_date": 1})
        return {doc["_id"]: doc.get("as_of_date") for doc in stats}

    def strategy_stats(self, name: str) -> dict[str, Any] | None:
        """A strategy's stored track record."""
        return self.market_info["strategy_stats"].find_one({"_id": name}, {"_id": 0})
