"""system_info.daily_picks: each strategy's picks (default parameters) and its track record as of each
analysed day, computed by the analysis job so that GET /screener is one indexed read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from pymongo import DESCENDING

from lib.storage.client import StoreBase

DAILY_PICKS = "daily_picks"


def picks_id(strategy: str, day: dt.date) -> str:
    """A day's picks document key: strategy first, then the date, so one strategy's days are one `_id` range."""
    return f"{strategy}:{day.isoformat()}"


class PicksStore(StoreBase):
    """Precomputed screener answers, one document per strategy and day."""

    @property
    def daily_picks(self):  # noqa: ANN201 - a pymongo collection
        """The precomputed picks collection."""
        return self.system[DAILY_PICKS]

    def _picks_indexes(self) -> None:
        self.daily_picks.create_index([("date", DESCENDING)])

    def latest_analysis_day(self) -> dt.date | None:
        """The newest day whose analysis completed (its picks are stored)."""
        doc = self.daily_picks.find_one({}, {"date": 1}, sort=[("date", DESCENDING)])
        return dt.date.fromisoformat(doc["date"]) if doc else None

    def save_daily_picks(self, docs: Iterable[dict[str, Any]]) -> int:
        """Store (replace) precomputed picks documents, each with `strategy` and `date` (YYYY-MM-DD)."""
        keyed = [{"_id": picks_id(d["strategy"], dt.date.fromisoformat(d["date"])), **d} for d in docs]
        if not keyed:
            return 0
        self._write("daily_picks")
        existing = {d["_id"] for d in self.daily_picks.find({"_id": {"$in": [d["_id"] for d in keyed]}}, {"_id": 1})}
        self._insert_or_replace(
            self.daily_picks, [d for d in keyed if d["_id"] not in existing], [d for d in keyed if d["_id"] in existing]
        )
        return len(keyed)

    def daily_picks_for(self, strategy: str, day: dt.date) -> dict[str, Any] | None:
        """One strategy's stored picks of one day."""
        return self.daily_picks.find_one({"_id": picks_id(strategy, day)}, {"_id": 0})

    def daily_picks_days(self, strategy: str) -> dict[str, dict[str, Any]]:
        """The days a strategy has stored picks for, with each document's `params` (not the picks)."""
        cursor = self.daily_picks.find(
            {"_id": {"$gte": f"{strategy}:", "$lt": f"{strategy};"}}, {"date": 1, "params": 1, "_id": 0}
        )
        return {doc["date"]: doc for doc in cursor}

    def latest_picks_day(self, strategy: str) -> dt.date | None:
        """The newest day a strategy has stored picks for."""
        doc = self.daily_picks.find_one(
            {"_id": {"$gte": f"{strategy}:", "$lt": f"{strategy};"}}, {"date": 1}, sort=[("_id", DESCENDING)]
        )
        return dt.date.fromisoformat(doc["date"]) if doc else None
