"""Cross-sectional measures (measures/, e.g. rs_rating): system_info.cross_section holds one document per
ticker with its values by day (`values.YYYY-MM-DD.<column>`), merged into its stock_analyzed rows when it is
analysed; system_info.cross_section_days records which days are computed, and with which measures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ReplaceOne, UpdateOne

from lib.storage.client import StoreBase
from lib.storage.dates import to_utc_midnight


class CrossSectionStore(StoreBase):
    """Values of every cross-sectional measure by ticker and day."""

    @property
    def cross_section(self) -> Any:
        """Per-ticker documents of measure values by day."""
        return self.market_info["cross_section"]

    @property
    def cross_section_days(self) -> Any:
        """One document per computed day: which measures, over how many stocks."""
        return self.market_info["cross_section_days"]

    def computed_days(self) -> dict[dt.date, set[str]]:
        """The days whose measures are stored, with the names of the measures computed for each."""
        return {day: names for day, (names, _) in self.computed_days_with_prints().items()}

    def computed_days_with_prints(self) -> dict[dt.date, tuple[set[str], str | None]]:
        """Each computed day's measure names and the fingerprint its collection had when it was computed."""
        cursor = self.cross_section_days.find({}, {"measures": 1, "fingerprint": 1})
        return {dt.date.fromisoformat(d["_id"]): (set(d["measures"]), d.get("fingerprint")) for d in cursor}

    def save_cross_section(self, values: Mapping[str, Mapping[str, Mapping[str, float]]]) -> int:
        """Store values[ticker][YYYY-MM-DD] = {column: value}, replacing those days' earlier values; returns the
        tickers written."""
        ops = [
            UpdateOne({"_id": ticker}, {"$set": {f"values.{day}": dict(row) for day, row in days.items()}}, upsert=True)
            for ticker, days in values.items()
            if days
        ]
        if ops:
            self._write("cross_section")
            self.cross_section.bulk_write(ops, ordered=False)
        return len(ops)

    def mark_computed(
        self,
        days: Iterable[dt.date],
        measures: Iterable[str],
        ranked: Mapping[dt.date, int],
        prints: Mapping[dt.date, str],
    ) -> None:
        """Record days as computed with these measures (after their values are saved), with the fingerprint of
        each day's collection, so a day collected again (--redo) is computed again."""
        names = sorted(measures)
        ops = [
            ReplaceOne(
                {"_id": day.isoformat()},
                {"date": to_utc_midnight(day), "measures": names, "stocks": int(ranked.get(day, 0)),
                 "fingerprint": prints.get(day)},
                upsert=True,
            )
            for day in days
        ]
        if ops:
            self._write("cross_section_days")
            self.cross_section_days.bulk_write(ops, ordered=False)

    def cross_section_of(self, ticker: str) -> dict[str, dict[str, float]]:
        """A ticker's measure values by day ("YYYY-MM-DD" -> {column: value})."""
        doc = self.cross_section.find_one({"_id": ticker}, {"values": 1})
        return (doc or {}).get("values", {})

    def delete_cross_section_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete (or, with dry_run, count) the measure values of days before `day`, a value per ticker and day.
        The day records stay (marked pruned), so those days are not computed again."""
        query = {"date": {"$lt": to_utc_midnight(day)}, "pruned": {"$ne": True}}
        old = list(self.cross_section_days.find(query, {"stocks": 1}))
        values = sum(int(doc.get("stocks", 0)) for doc in old)
        if dry_run or not old:
            return values
        self._write("cross_section.cleanup")
        self.cross_section.update_many({}, {"$unset": {f"values.{doc['_id']}": "" for doc in old}})
        self.cross_section_days.update_many({"_id": {"$in": [doc["_id"] for doc in old]}}, {"$set": {"pruned": True}})
        return values
