"""system_info.target_tickers: the analysis universe and each ticker's analysis progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne

from lib.storage.client import StoreBase


def listed_on(doc: dict[str, Any]) -> str | None:
    """Where a universe document's stock is listed: KRX's board (`market`), or a US stock's exchange code."""
    return doc.get("market") or doc.get("exchange")


class UniverseStore(StoreBase):
    """Universe documents, largest market cap first."""

    def _universe_indexes(self) -> None:
        self.tickers.create_index([("ticker", ASCENDING)], unique=True)
        self.tickers.create_index([("is_active", ASCENDING), ("market_cap", DESCENDING)])

    def universe(self, active_only: bool = False) -> list[dict]:
        """target_tickers documents, largest market cap first."""
        query = {"is_active": True} if active_only else {}
        return list(self.tickers.find(query, {"_id": 0}).sort("market_cap", DESCENDING))

    def count_active(self) -> int:
        """How many tickers are in the universe now."""
        return self.tickers.count_documents({"is_active": True})

    def ticker_doc(self, ticker: str) -> dict | None:
        """One target_tickers document."""
        return self.tickers.find_one({"ticker": ticker}, {"_id": 0})

    def find_tickers(
        self, query: dict[str, Any], sort: list[tuple[str, int]] | None = None, skip: int = 0, limit: int = 0
    ) -> tuple[list[dict], int]:
        """A page of target_tickers documents matching `query`, and how many match in all."""
        cursor = self.tickers.find(query, {"_id": 0})
        if sort:
            cursor = cursor.sort(sort)
        return list(cursor.skip(skip).limit(limit)), self.tickers.count_documents(query)

    def universe_as_of(self) -> dt.date | None:
        """The trading day the universe was last refreshed from."""
        doc = self.tickers.find_one({}, {"as_of_date": 1}, sort=[("as_of_date", DESCENDING)])
        return dt.date.fromisoformat(doc["as_of_date"]) if doc and doc.get("as_of_date") else None

    def apply_universe(self, updates: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Apply (ticker, MongoDB update) pairs in one bulk write; returns the number applied."""
        ops = [UpdateOne({"ticker": ticker}, update, upsert=True) for ticker, update in updates]
        if not ops:
            return 0
        self._write("target_tickers")
        self.tickers.bulk_write(ops, ordered=False)
        return len(ops)

    def set_last_analyzed(self, ticker: str, day: dt.date) -> None:
        """Record that a ticker's analysis is complete through this KST trading day."""
        self._write(f"target_tickers.{ticker}.analyzed")
        self.tickers.update_one({"ticker": ticker}, {"$set": {"last_analyzed_date": day.isoformat()}})
