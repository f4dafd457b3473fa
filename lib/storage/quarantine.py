"""system_info.quarantine: bars kept out of stock_data because KRX's rules do not allow them
(lib/markets/krx/quarantine.py), each as the document it would have been, with the reason.
`_id` = "TICKER:YYYY-MM-DD"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReplaceOne

from lib.spine.calendar import from_stored, to_utc_midnight
from lib.storage.client import StoreBase


def quarantine_id(ticker: str, day: dt.date) -> str:
    """The quarantine key of a ticker's day."""
    return f"{ticker}:{day.isoformat()}"


class QuarantineStore(StoreBase):
    """Quarantined bars: written when refused, cleared when a clean bar for the same day is stored."""

    @property
    def quarantine(self) -> Any:
        """The quarantine collection."""
        return self.system["quarantine"]

    def _quarantine_indexes(self) -> None:
        self.quarantine.create_index([("date", ASCENDING)])
        self.quarantine.create_index([("ticker", ASCENDING), ("date", ASCENDING)])

    def quarantine_bars(self, items: Iterable[Mapping[str, Any]]) -> int:
        """Store quarantined bars (`ticker`, `day`, `market`, `bar`, `reason`), replacing an earlier verdict on
        the same day; returns how many."""
        ops = [
            ReplaceOne(
                {"_id": quarantine_id(item["ticker"], item["day"])},
                {
                    "ticker": item["ticker"],
                    "date": to_utc_midnight(item["day"]),
                    "date_kst": item["day"].isoformat(),
                    "market": item["market"],
                    "reason": item["reason"],
                    "bar": dict(item["bar"]),
                },
                upsert=True,
            )
            for item in items
        ]
        if ops:
            self._write("quarantine")
            self.quarantine.bulk_write(ops, ordered=False)
        return len(ops)

    def clear_quarantine(self, stored: Mapping[str, Iterable[Mapping[str, Any]]]) -> int:
        """Forget the quarantine entries of days now stored clean (bars by ticker); returns how many."""
        days = [bar["date"] for bars in stored.values() for bar in bars]
        if not days:
            return 0
        held = self.quarantine.find({"date": {"$gte": min(days), "$lte": max(days)}}, {"ticker": 1, "date": 1})
        wanted = {(t, bar["date"]) for t, bars in stored.items() for bar in bars}
        ids = [doc["_id"] for doc in held if (doc["ticker"], doc["date"]) in wanted]
        if ids:
            self._write("quarantine.clear")
            self.quarantine.delete_many({"_id": {"$in": ids}})
        return len(ids)

    def quarantined(self, ticker: str | None = None) -> list[dict[str, Any]]:
        """Quarantined bars (of one ticker, or all), oldest first, without `_id`."""
        query = {"ticker": ticker} if ticker else {}
        return list(self.quarantine.find(query, {"_id": 0}).sort([("date", ASCENDING), ("ticker", ASCENDING)]))

    def quarantine_count(self) -> int:
        """How many bars are held in the quarantine."""
        return self.quarantine.count_documents({})

    def latest_quarantined(self, limit: int | None = None, since: dt.date | None = None) -> list[dict[str, Any]]:
        """The newest `limit` (default all) quarantined bars of days on or after `since`, newest day first, without
        `_id`."""
        query = {"date": {"$gte": to_utc_midnight(since)}} if since else {}
        cursor = self.quarantine.find(query, {"_id": 0}).sort([("date", DESCENDING), ("ticker", ASCENDING)])
        return list(cursor if limit is None else cursor.limit(limit))

    def last_quarantined_before(self, day: dt.date) -> dict[str, tuple[dt.date, float]]:
        """Each ticker's latest quarantined (date, close) before `day`."""
        out: dict[str, tuple[dt.date, float]] = {}
        cursor = self.quarantine.find({"date": {"$lt": to_utc_midnight(day)}}, {"ticker": 1, "date": 1, "bar.close": 1})
        for doc in cursor.sort("date", DESCENDING):
            out.setdefault(doc["ticker"], (from_stored(doc["date"]), float(doc["bar"]["close"])))
        return out

    def delete_quarantine_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete (or, with dry_run, count) the quarantined bars dated before `day`."""
        query = {"date": {"$lt": to_utc_midnight(day)}}
        return self._delete_or_count(self.quarantine, query, "quarantine.cleanup", dry_run)
