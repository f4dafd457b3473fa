"""system_info.ai_results: every LLM analysis, with its raw reply, usage and cache key."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lib.storage.client import StoreBase, naive_utc


class AiStore(StoreBase):
    """LLM results: `_id` is the result id; a successful result is found again by its cache key."""

    @property
    def ai_results(self):  # noqa: ANN201 - a pymongo collection
        """The results collection."""
        return self.system["ai_results"]

    def _ai_indexes(self) -> None:
        self.ai_results.create_index([("cache_key", ASCENDING), ("status", ASCENDING), ("created_utc", DESCENDING)])
        self.ai_results.create_index([("tickers", ASCENDING), ("created_utc", DESCENDING)])
        self.ai_results.create_index([("created_utc", ASCENDING)])  # the retention's range delete

    def save_ai_result(self, doc: dict[str, Any]) -> None:
        """Store one result (its `_id` is the result id)."""
        self._write("ai_results")
        self.ai_results.insert_one(dict(doc))

    def ai_result(self, result_id: str) -> dict[str, Any] | None:
        """A stored result by id."""
        return self.ai_results.find_one({"_id": result_id})

    def cached_ai_result(self, cache_key: str) -> dict[str, Any] | None:
        """The newest successful result stored under this cache key."""
        return self.ai_results.find_one(
            {"cache_key": cache_key, "status": "ok"}, sort=[("created_utc", DESCENDING)]
        )

    def ai_results_for(self, ticker: str, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` results whose tickers include `ticker`, newest first (asked, then data day), without
        their raw replies."""
        cursor = self.ai_results.find({"tickers": ticker}, {"raw_reply": 0, "parse_errors": 0})
        return list(cursor.sort([("created_utc", DESCENDING), ("data_date", DESCENDING)]).limit(limit))

    def delete_ai_results_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the results created before `cutoff` (or, with dry_run, count them); returns how many."""
        query = {"created_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.ai_results, query, "ai_results.cleanup", dry_run)
