"""us_etf's analytics: analytics_trending_etfs (a day's table per period is one unit), the daily portfolios
(analytics_portfolio_allocation, one document per day and period), the monthly ones
(analytics_monthly_portfolio, one per month), and their realised performance."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne

from lib.storage.client import StoreBase
from lib.storage.units import DIGEST, SIZE, is_complete, with_unit, without_unit

TRENDING = "analytics_trending_etfs"
PORTFOLIOS = "analytics_portfolio_allocation"
MONTHLY = "analytics_monthly_portfolio"
# A past portfolio's point-in-time mark and concentration (lib/markets/us/etf/marks.py), read with its performance.
MARK_FIELDS = {"holdings_known": 1, "holdings_as_of": 1, "holdings_stale": 1, "concentration": 1}


class EtfAnalyticsStore(StoreBase):
    """The ETF pipeline's derived tables; a base of EtfStore."""

    _sync_keyed: Callable[[str, Sequence[dict[str, Any]]], int]  # EtfStore's
    _drop_stale: Callable[[str, Iterable[str], Sequence[dict[str, Any]]], int]  # HoldingsStore's

    def save_trending(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store trending rows (each with as_of_date, period_days and etf_ticker); each day's table of a period
        is one unit (lib/storage/units.py), served only once every row of it is stored, and rows of an ETF the
        table no longer has are removed."""
        tables: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for r in rows:
            tables.setdefault((r["as_of_date"], r["period_days"]), []).append(
                {"_id": f"{r['as_of_date']}:{r['period_days']}:{r['etf_ticker']}", **r})
        docs = [doc for table in tables.values() for doc in with_unit(table)]
        written = self._sync_keyed(TRENDING, docs)
        return written + self._drop_stale(TRENDING, [f"{day}:{period}:" for day, period in tables], docs)

    def trending_rows(self, day: dt.date, period: int | None = None) -> list[dict]:
        """A day's whole trending tables (one period or all), best outperformance first."""
        query: dict[str, Any] = {"as_of_date": day.isoformat()}
        if period is not None:
            query["period_days"] = period
        tables: dict[int, list[dict]] = {}
        for doc in self.etf_db[TRENDING].find(query, {"_id": 0}):
            tables.setdefault(doc["period_days"], []).append(doc)
        rows = [without_unit(r) for table in tables.values() if is_complete(table) for r in table]
        return sorted(rows, key=lambda r: (r["period_days"], r["rank_by_outperformance"] or 10**6, r["etf_ticker"]))

    def latest_trending_day(self, on_or_before: dt.date | None = None) -> dt.date | None:
        """The newest day whose trending tables are whole (a table a cut write left incomplete is not one)."""
        query = {"as_of_date": {"$lte": on_or_before.isoformat()}} if on_or_before else {}
        fields = {"as_of_date": 1, "period_days": 1, SIZE: 1, DIGEST: 1}
        cursor = self.etf_db[TRENDING].find(query, fields).sort("as_of_date", DESCENDING)
        for day, docs in itertools.groupby(cursor, key=lambda d: d["as_of_date"]):
            tables: dict[int, list[dict]] = {}
            for doc in docs:
                tables.setdefault(doc["period_days"], []).append(doc)
            if all(is_complete(table) for table in tables.values()):
                return dt.date.fromisoformat(day)
        return None

    def save_portfolios(self, docs: Sequence[dict[str, Any]]) -> int:
        """Store daily portfolios (each with as_of_date and period_days), keeping the performance already
        evaluated for any of them."""
        keyed = [{"_id": f"{d['as_of_date']}:{d['period_days']}", **d} for d in docs]
        return self._save_keeping_performance(PORTFOLIOS, keyed)

    def _save_keeping_performance(self, name: str, docs: list[dict[str, Any]]) -> int:
        if not docs:
            return 0
        ids = [d["_id"] for d in docs]
        stored = {d["_id"]: d for d in self.etf_db[name].find({"_id": {"$gte": min(ids), "$lte": max(ids)}})}
        full = []
        for doc in docs:
            before = stored.get(doc["_id"])
            if before is not None and "performance" in before and "performance" not in doc:
                rest = {k: v for k, v in before.items() if k != "performance"}
                # The same portfolio saved again keeps its performance; a changed one (a --redo after a corrected
                # file) is saved without it, so the performance step evaluates the new positions.
                if rest == doc:
                    doc = {**doc, "performance": before["performance"]}
            full.append(doc)
        return self._sync_keyed(name, full)

    def portfolio(self, day: dt.date, period: int) -> dict | None:
        """One stored daily portfolio."""
        return self.etf_db[PORTFOLIOS].find_one({"_id": f"{day.isoformat()}:{period}"}, {"_id": 0})

    def latest_portfolio_day(self, period: int, on_or_before: dt.date | None = None) -> dt.date | None:
        """The newest day with a portfolio of that period."""
        query: dict[str, Any] = {"period_days": period}
        if on_or_before:
            query["as_of_date"] = {"$lte": on_or_before.isoformat()}
        doc = self.etf_db[PORTFOLIOS].find_one(query, {"as_of_date": 1}, sort=[("as_of_date", DESCENDING)])
        return dt.date.fromisoformat(doc["as_of_date"]) if doc else None

    def first_portfolio_day(self) -> dt.date | None:
        """The oldest day with a daily portfolio."""
        doc = self.etf_db[PORTFOLIOS].find_one({}, {"as_of_date": 1}, sort=[("as_of_date", ASCENDING)])
        return dt.date.fromisoformat(doc["as_of_date"]) if doc else None

    def portfolio_history(self, period: int, limit: int) -> list[dict]:
        """The newest `limit` daily portfolios of a period, newest first: dates, performance and each position's
        ticker (one indexed read)."""
        fields = {"_id": 0, "as_of_date": 1, "valid_from": 1, "valid_until": 1, "benchmark": 1, "performance": 1,
                  "positions.ticker": 1, **MARK_FIELDS}
        cursor = self.etf_db[PORTFOLIOS].find({"period_days": period}, fields).sort("as_of_date", DESCENDING)
        return list(cursor.limit(limit))

    def monthly_history(self, limit: int) -> list[dict]:
        """The newest `limit` monthly portfolios, newest first, like portfolio_history."""
        fields = {"_id": 0, "month": 1, "base_session": 1, "valid_from": 1, "valid_until": 1, "benchmark": 1,
                  "performance": 1, "positions.ticker": 1, **MARK_FIELDS}
        return list(self.etf_db[MONTHLY].find({}, fields).sort("_id", DESCENDING).limit(limit))

    def save_monthly(self, month: str, doc: Mapping[str, Any]) -> int:
        """Store a month's merged portfolio, keeping its performance if already evaluated."""
        return self._save_keeping_performance(MONTHLY, [{"_id": month, "month": month, **doc}])

    def monthly(self, month: str | None = None) -> dict | None:
        """A month's portfolio (YYYY-MM), or the latest."""
        if month is not None:
            return self.etf_db[MONTHLY].find_one({"_id": month}, {"_id": 0})
        return self.etf_db[MONTHLY].find_one({}, {"_id": 0}, sort=[("_id", DESCENDING)])

    def monthly_months(self) -> list[str]:
        """Every month with a merged portfolio, oldest first."""
        return sorted(d["_id"] for d in self.etf_db[MONTHLY].find({}, {"_id": 1}))

    def unfinished_portfolios(self, since: dt.date | None = None) -> tuple[list[dict], list[dict]]:
        """Daily and monthly portfolios whose performance is not final yet (with their `_id`); with `since`, also
        the final ones whose period ends on or after that day."""
        query: dict[str, Any] = {"performance.status": {"$ne": "final"}}
        if since is not None:
            query = {"$or": [query, {"performance.end": {"$gte": since.isoformat()}}]}
        return list(self.etf_db[PORTFOLIOS].find(query)), list(self.etf_db[MONTHLY].find(query))

    def months_based_on(self, sessions: Iterable[dt.date]) -> list[dict]:
        """The monthly portfolios merged from the daily portfolios of these sessions."""
        days = sorted({d.isoformat() for d in sessions})
        return list(self.etf_db[MONTHLY].find({"base_session": {"$in": days}}).sort("_id", ASCENDING)) if days else []

    def set_performances(self, monthly: bool, performances: Mapping[str, Mapping[str, Any]]) -> int:
        """Record portfolios' realised performance ({_id: performance}) in one write; returns how many changed."""
        coll = self.etf_db[MONTHLY if monthly else PORTFOLIOS]
        if not performances:
            return 0
        ids = list(performances)
        stored = {d["_id"]: d.get("performance") for d in coll.find({"_id": {"$gte": min(ids), "$lte": max(ids)}},
                                                                     {"performance": 1})}
        ops = [UpdateOne({"_id": key}, {"$set": {"performance": dict(perf)}})
               for key, perf in performances.items() if key in stored and stored[key] != dict(perf)]
        if ops:
            self._write(f"{coll.name}.performance")
            coll.bulk_write(ops, ordered=False)
        return len(ops)
