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
        return self.market_info[DAILY_PICKS]

    def _picks_indexes(self) -> None:
        self.daily_picks.create_index([("date", DESCENDING)])

    def save_picks_state(self, first_day: dt.date, latest_day: dt.date, strategies: list[str]) -> None:
        """Record which days have stored picks (one small document, so the API never scans for them)."""
        self._write("daily_picks.state")
        doc = {"first_day": first_day.isoformat(), "latest_day": latest_day.isoformat(), "strategies": strategies}
        self.market_info["analysis_state"].replace_one({"_id": DAILY_PICKS}, {"_id": DAILY_PICKS, **doc}, upsert=True)

    def picks_state(self) -> dict[str, Any] | None:
        """The first and latest day with stored picks, and the strategies computed: one read by `_id`."""
        return self.market_info["analysis_state"].find_one({"_id": DAILY_PICKS}, {"_id": 0})

    def latest_analysis_day(self) -> dt.date | None:
        """The newest day whose analysis completed (its picks are stored)."""
        state = self.picks_state()
        return dt.date.fromisoformat(state["latest_day"]) if state else None

    def save_latest_values(self, day: dt.date, rows: list[dict[str, Any]]) -> None:
        """Replace the snapshot of every ticker's indicator values on the latest analysed day (`_id` ticker)."""
        self._write("latest_values")
        docs = [{**{k: v for k, v in r.items() if k not in ("_id", "date")}, "_id": r["ticker"],
                 "date": day.isoformat()} for r in rows]
        self.market_info["latest_values"].delete_many({"_id": {"$nin": [d["_id"] for d in docs]}})
        existing = {d["_id"] for d in self.market_info["latest_values"].find({}, {"_id": 1})}
        self._insert_or_replace(
            self.market_info["latest_values"], [d for d in docs if d["_id"] not in existing],
            [d for d in docs if d["_id"] in existing],
        )

    def latest_values(self, column: str, day: dt.date | None = None) -> dict[str, Any]:
        """One indicator column of every ticker on the latest analysed day (a small collection, no scan of
        the screening index); with `day`, only the values of that day (a snapshot cut partway mixes two days
        until the next run writes it again)."""
        query = {"date": day.isoformat()} if day is not None else {}
        return {d["_id"]: d.get(column) for d in self.market_info["latest_values"].find(query, {column: 1})}

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
        state = self.picks_state()
        if state and strategy in state.get("strategies", []):
            return dt.date.fromisoformat(state["latest_day"])
        doc = self.daily_picks.find_one(
            {"_id": {"$gte": f"{strategy}:", "$lt": f"{strategy};"}}, {"date": 1}, sort=[("_id", DESCENDING)]
        )
        return dt.date.fromisoformat(doc["date"]) if doc else None

    def delete_daily_picks_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete the stored picks dated before `day` (or, with dry_run, count them), and move the first day the
        API answers to `day` at the earliest, so no request looks for what is gone; returns how many."""
        query = {"date": {"$lt": day.isoformat()}}
        deleted = self._delete_or_count(self.daily_picks, query, "daily_picks.cleanup", dry_run)
        if not dry_run:
            self.market_info["analysis_state"].update_one(
                {"_id": DAILY_PICKS, "first_day": {"$lt": day.isoformat()}}, {"$set": {"first_day": day.isoformat()}}
            )
        return deleted
