"""stock_data.<ticker>: one document per KST trading day, `_id` = the date (the unique date index)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lib.calendar import to_utc_midnight
from lib.storage.client import StoreBase


class BarsStore(StoreBase):
    """Daily bars: written insert-new / replace-changed / skip-identical, read in date order."""

    def upsert_bars(self, bars_by_ticker: Mapping[str, list[dict[str, Any]]]) -> int:
        """Store daily bars, one document per ticker and date; returns how many documents were written.

        A bar's `_id` is its trading date, so the unique `_id` index is the unique index on the date and a
        day can never be stored twice."""
        written = 0
        for ticker, bars in bars_by_ticker.items():
            new, changed, _ = self._sync(self.stock_db[ticker], bars, f"stock_data.{ticker}")
            written += len(new) + len(changed)
        return written

    def read_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored bars in date order, without MongoDB's _id."""
        query: dict[str, Any] = {}
        if start or end:
            query["_id"] = {}
            if start:
                query["_id"]["$gte"] = to_utc_midnight(start)
            if end:
                query["_id"]["$lte"] = to_utc_midnight(end)
        return list(self.stock_db[ticker].find(query, {"_id": 0}).sort("_id", ASCENDING))

    def recent_bars(self, ticker: str, count: int, start: dt.date | None = None) -> list[dict]:
        """A ticker's last `count` stored bars (from `start` when given), oldest first (one indexed read)."""
        query = {"_id": {"$gte": to_utc_midnight(start)}} if start else {}
        docs = list(self.stock_db[ticker].find(query, {"_id": 0}).sort("_id", DESCENDING).limit(count))
        return docs[::-1]

    def delete_bars_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete every ticker's bars dated before `day` (or, with dry_run, count them); returns how many."""
        query = {"_id": {"$lt": to_utc_midnight(day)}}
        if dry_run:
            return sum(self.stock_db[t].count_documents(query) for t in self.stored_tickers())
        self._write("stock_data.cleanup")
        return sum(self.stock_db[t].delete_many(query).deleted_count for t in self.stored_tickers())

    def stored_tickers(self) -> list[str]:
        """Tickers that have a stock_data collection."""
        return sorted(self.stock_db.list_collection_names())
