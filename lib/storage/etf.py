"""The US ETF pipeline's database (`us_etf`), one collection per table of the seed:

collected_daily_etf_ohlc, collected_meta_etf, collected_etf_holdings, collected_daily_stock_history,
collected_meta_stock, analytics_trending_etfs, analytics_portfolio_allocation (one document per day and period),
analytics_monthly_portfolio (one per month), analytics_etf_top_holdings, analytics_sector_trending; refused
records are in system_info.bad_data (lib/storage/bad_data.py). Keys are the natural unique keys of the seed's
tables written into `_id`, so a day's rows cannot be stored twice and every write is idempotent.
`pipeline_recompute` is the pipeline's own memory of bars written for sessions whose derived rows were already
computed (lib/markets/us/recompute.py), kept until those rows are computed again.

One module per family: etf_bars.py (bars, facts, the recompute marks), etf_holdings.py, etf_analytics.py
(trending, portfolios, performance), etf_sectors.py (top holdings, sector months)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING

from lib.storage.etf_analytics import PORTFOLIOS, TRENDING, EtfAnalyticsStore
from lib.storage.etf_bars import ETF_BARS, STOCK_BARS, EtfBarsStore
from lib.storage.etf_holdings import HOLDINGS, HoldingsStore
from lib.storage.etf_sectors import TOP_HOLDINGS, EtfSectorsStore


class EtfStore(HoldingsStore, EtfBarsStore, EtfAnalyticsStore, EtfSectorsStore):
    """The US ETF pipeline's collections."""

    def _etf_indexes(self) -> None:
        db = self.etf_db
        for name in (ETF_BARS, STOCK_BARS):
            db[name].create_index([("ticker", ASCENDING), ("date", ASCENDING)])
            db[name].create_index([("date", ASCENDING)])
        db[HOLDINGS].create_index([("etf_ticker", ASCENDING), ("collected_date", DESCENDING)])
        db[TRENDING].create_index([("as_of_date", ASCENDING), ("period_days", ASCENDING)])
        db[PORTFOLIOS].create_index([("period_days", ASCENDING), ("as_of_date", DESCENDING)])
        db[PORTFOLIOS].create_index([("performance.status", ASCENDING)])
        db[TOP_HOLDINGS].create_index([("etf_ticker", ASCENDING), ("analysis_date", DESCENDING)])

    def _sync_keyed(self, name: str, docs: Sequence[dict[str, Any]]) -> int:
        """Insert new documents, replace changed ones, skip identical ones (keyed by `_id`); returns the number
        written. Existing documents are read with one `_id` range per key prefix (the ticker or the day), which
        an index answers on a server and the embedded store answers without a per-id scan."""
        if not docs:
            return 0
        coll = self.etf_db[name]
        groups: dict[str, list[str]] = {}
        for doc in docs:
            groups.setdefault(str(doc["_id"]).split(":", 1)[0], []).append(str(doc["_id"]))
        existing: dict[str, dict] = {}
        for ids in groups.values():
            for found in coll.find({"_id": {"$gte": min(ids), "$lte": max(ids)}}):
                existing[found["_id"]] = found
        new = [d for d in docs if d["_id"] not in existing]
        changed = [d for d in docs if d["_id"] in existing and existing[d["_id"]] != d]
        if new or changed:
            self._write(name)
            self._insert_or_replace(coll, new, changed)
        return len(new) + len(changed)
