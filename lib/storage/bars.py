"""stock_data.<ticker>: one document per KST trading day, `_id` = the date (the unique date index)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lib.storage.client import StoreBase, day_bounds
from lib.storage.dates import from_stored, to_utc_midnight

RECENT = dt.timedelta(days=31)  # a listed stock has a bar every session, halted or not


def _by_id(doc: Mapping[str, Any]) -> Any:
    return doc["_id"]


class BarsStore(StoreBase):
    """Daily bars: written insert-new / replace-changed / skip-identical, read in date order."""

    def upsert_bars(
        self,
        bars_by_ticker: Mapping[str, list[dict[str, Any]]],
        stored: Mapping[str, list[dict[str, Any]]] | None = None,
    ) -> int:
        """Store daily bars, one document per ticker and date; returns how many documents were written.

        A bar's `_id` is its trading date, so the unique `_id` index is the unique index on the date and a
        day can never be stored twice. `stored` (from bars_around, read just before) saves reading each
        ticker's documents again."""
        written = 0
        for ticker, bars in bars_by_ticker.items():
            known = stored.get(ticker, []) if stored is not None else None
            new, changed, _ = self._sync(self.stock_db[ticker], bars, f"stock_data.{ticker}", known=known)
            written += len(new) + len(changed)
        return written

    def bars_around(self, tickers: Iterable[str], first: dt.date, last: dt.date) -> dict[str, list[dict[str, Any]]]:
        """Each ticker's stored documents (with `_id`) from a month before `first` through `last`: one read per
        ticker that serves both the check of a batch against the previous close and its write."""
        query = {"_id": {"$gte": to_utc_midnight(first) - RECENT, "$lte": to_utc_midnight(last)}}
        return {t: sorted(self.stock_db[t].find(query), key=_by_id) for t in tickers}

    def count_per_day(self, tickers: Iterable[str], days: Iterable[dt.date]) -> dict[dt.date, int]:
        """How many of the tickers have a stored bar on each of these days (one indexed read per ticker)."""
        wanted = {to_utc_midnight(d) for d in days}
        if not wanted:
            return {}
        query = {"_id": {"$gte": min(wanted), "$lte": max(wanted)}}
        counts: dict[dt.date, int] = {}
        for ticker in tickers:
            for doc in self.stock_db[ticker].find(query, {"_id": 1}):
                if doc["_id"] in wanted:
                    day = from_stored(doc["_id"])
                    counts[day] = counts.get(day, 0) + 1
        return counts

    def read_bars(
        self,
        ticker: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        fields: Iterable[str] | None = None,
    ) -> list[dict]:
        """A ticker's stored bars in date order, without MongoDB's _id (only `fields` and `date` if given)."""
        bounds = day_bounds(start, end)
        query = {"_id": bounds} if bounds else {}
        projection: dict[str, int] = {"_id": 0}
        if fields is not None:
            projection |= {"date": 1} | dict.fromkeys(fields, 1)
        return list(self.stock_db[ticker].find(query, projection).sort("_id", ASCENDING))

    def last_closes_before(
        self, tickers: Iterable[str], day: dt.date, recent: Mapping[str, list[dict[str, Any]]] | None = None
    ) -> dict[str, tuple[dt.date, float]]:
        """Each ticker's last stored (date, close) before `day`; tickers with nothing stored before it are absent.
        `recent` (from bars_around for the same day) answers for the tickers it has a bar before `day` of."""
        stamp = to_utc_midnight(day)
        out: dict[str, tuple[dt.date, float]] = {}
        for ticker in tickers:
            earlier = [doc for doc in (recent or {}).get(ticker, []) if doc["_id"] < stamp]
            doc = earlier[-1] if earlier else None
            if doc is None:
                doc = self.stock_db[ticker].find_one({"_id": {"$lt": stamp}}, {"close": 1}, sort=[("_id", DESCENDING)])
            if doc is not None:
                out[ticker] = (from_stored(doc["_id"]), float(doc["close"]))
        return out

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
