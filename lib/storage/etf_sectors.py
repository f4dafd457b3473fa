"""us_etf's sector analytics: analytics_etf_top_holdings (an ETF's top holdings' figures per period and session;
the rows of one ETF, period and session are one unit, `_id` "YYYY-MM-DD:ETF:N:TICKER") and
analytics_sector_trending (one document per rebalance month holding every sector ETF's row, so a month is
written in one piece)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pymongo import DESCENDING

from lib.storage.client import StoreBase
from lib.storage.etf_analytics import TRENDING
from lib.storage.units import is_complete, with_unit, without_unit

TOP_HOLDINGS = "analytics_etf_top_holdings"
SECTOR_TRENDING = "analytics_sector_trending"


class EtfSectorsStore(StoreBase):
    """The top-holdings and sector tables; a base of EtfStore."""

    _sync_keyed: Callable[[str, Sequence[dict[str, Any]]], int]  # EtfStore's
    _drop_stale: Callable[[str, Iterable[str], Sequence[dict[str, Any]]], int]  # HoldingsStore's

    def save_top_holdings(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store top-holdings rows (each with analysis_date, etf_ticker, period_days, stock_ticker); the rows of one
        ETF, period and session are one unit, and rows of it a different answer left are removed."""
        units: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            prefix = f"{r['analysis_date']}:{r['etf_ticker']}:{r['period_days']}:"
            units.setdefault(prefix, []).append({"_id": prefix + r["stock_ticker"], **r})
        docs = [doc for unit in units.values() for doc in with_unit(unit)]
        return self._sync_keyed(TOP_HOLDINGS, docs) + self._drop_stale(TOP_HOLDINGS, units, docs)

    def top_holdings_day(self, etf: str, on_or_before: dt.date | None = None) -> dt.date | None:
        """The newest session with top-holdings rows of this ETF (on or before the date)."""
        query: dict[str, Any] = {"etf_ticker": etf}
        if on_or_before is not None:
            query["analysis_date"] = {"$lte": on_or_before.isoformat()}
        doc = self.etf_db[TOP_HOLDINGS].find_one(query, {"analysis_date": 1}, sort=[("analysis_date", DESCENDING)])
        return dt.date.fromisoformat(doc["analysis_date"]) if doc else None

    def top_holdings(self, etf: str, day: dt.date) -> list[dict]:
        """An ETF's whole top-holdings units of a session, by period then rank (the TOP5 row last)."""
        units: dict[int, list[dict]] = {}
        for doc in self.etf_db[TOP_HOLDINGS].find({"etf_ticker": etf, "analysis_date": day.isoformat()}, {"_id": 0}):
            units.setdefault(doc["period_days"], []).append(doc)
        rows = [without_unit(r) for unit in units.values() if is_complete(unit) for r in unit]
        return sorted(rows, key=lambda r: (r["period_days"], r["rank_position"] or 99))

    def etf_trend(self, etf: str, on_or_before: dt.date, sessions: int) -> list[dict]:
        """One ETF's trending rows (every period) of the newest `sessions` sessions on or before the date, newest
        first; only days whose tables are whole (latest_trending_day) count."""
        whole = self.latest_trending_day(on_or_before)  # type: ignore[attr-defined]  # EtfAnalyticsStore's
        if whole is None:
            return []
        query = {"etf_ticker": etf, "as_of_date": {"$lte": whole.isoformat()}}
        cursor = self.etf_db[TRENDING].find(query, {"_id": 0}).sort("as_of_date", DESCENDING)
        return [without_unit(r) for r in cursor.limit(sessions * 3)]

    def save_sector_month(self, month: str, doc: dict[str, Any]) -> int:
        """Store a rebalance month's sector table (one document)."""
        return self._sync_keyed(SECTOR_TRENDING, [{"_id": month, "month": month, **doc}])

    def sector_months(self, on_or_before: dt.date | None = None, limit: int = 24) -> list[dict]:
        """The newest `limit` monthly sector tables whose month ended (its base session) on or before the date,
        newest first."""
        query = {"end_session": {"$lte": on_or_before.isoformat()}} if on_or_before else {}
        cursor = self.etf_db[SECTOR_TRENDING].find(query, {"_id": 0}).sort("month", DESCENDING)
        return list(cursor.limit(limit))
