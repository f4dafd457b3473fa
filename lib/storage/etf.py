"""The US ETF pipeline's database (`us_etf`), one collection per table of the seed:

collected_daily_etf_ohlc, collected_meta_etf, collected_etf_holdings, collected_daily_stock_history,
collected_meta_stock, analytics_trending_etfs, analytics_portfolio_allocation (one document per day and period),
analytics_monthly_portfolio (one per month), logs_rejected_records. Keys are the natural unique keys of the
seed's tables written into `_id`, so a day's rows cannot be stored twice and every write is idempotent.
`pipeline_recompute` is the pipeline's own memory of bars written for sessions whose derived rows were already
computed (lib/markets/us/recompute.py), kept until those rows are computed again."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne

from lib.storage.client import day_bounds, naive_utc
from lib.storage.dates import from_stored, to_utc_midnight
from lib.storage.etf_holdings import HOLDINGS, HoldingsStore
from lib.storage.units import DIGEST, SIZE, is_complete, with_unit, without_unit

ETF_BARS = "collected_daily_etf_ohlc"
ETF_META = "collected_meta_etf"
STOCK_BARS = "collected_daily_stock_history"
STOCK_META = "collected_meta_stock"
TRENDING = "analytics_trending_etfs"
PORTFOLIOS = "analytics_portfolio_allocation"
MONTHLY = "analytics_monthly_portfolio"
REJECTED = "logs_rejected_records"
RECOMPUTE = "pipeline_recompute"
# A past portfolio's point-in-time mark and concentration (lib/markets/us/etf/marks.py), read with its performance.
MARK_FIELDS = {"holdings_known": 1, "holdings_as_of": 1, "holdings_stale": 1, "concentration": 1}

# Called with every bar about to be stored next to the stored one it replaces (None: new) and each ticker's
# latest stored bar date, before anything is written.
BeforeWrite = Callable[[list[tuple[dict[str, Any], dict[str, Any] | None]], dict[str, dt.date]], None]


def bar_id(ticker: str, day: dt.date) -> str:
    """The key of a ticker's daily bar."""
    return f"{ticker}:{day.isoformat()}"


class EtfStore(HoldingsStore):
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
        db[REJECTED].create_index([("last_seen_utc", DESCENDING)])

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

    # --- collected ----------------------------------------------------------------------------------

    def upsert_etf_bars(self, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None = None) -> int:
        """Store ETF bars (each with ticker and date); returns how many documents were written. `before_write`
        sees what is about to change before anything is written."""
        return self._sync_bars(ETF_BARS, docs, before_write)

    def upsert_stock_bars(self, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None = None) -> int:
        """Store stock bars (each with ticker and date); returns how many documents were written."""
        return self._sync_bars(STOCK_BARS, docs, before_write)

    def _sync_bars(self, name: str, docs: Sequence[dict[str, Any]], before_write: BeforeWrite | None) -> int:
        """Like _sync_keyed, reading each ticker's stored bars from its first date here to its last stored one
        (one `_id` range per ticker), so `before_write` also learns whether later bars are stored."""
        keyed = [{"_id": bar_id(d["ticker"], from_stored(d["date"])), **d} for d in docs]
        if not keyed:
            return 0
        coll = self.etf_db[name]
        firsts: dict[str, str] = {}
        for doc in keyed:
            firsts[doc["ticker"]] = min(firsts.get(doc["ticker"], doc["_id"]), doc["_id"])
        existing: dict[str, dict] = {}
        latest: dict[str, dt.date] = {}
        for ticker, first in firsts.items():
            for found in coll.find({"_id": {"$gte": first, "$lte": f"{ticker}:~"}}):
                existing[found["_id"]] = found
                day = from_stored(found["date"])
                latest[ticker] = max(latest.get(ticker, day), day)
        new = [d for d in keyed if d["_id"] not in existing]
        changed = [d for d in keyed if d["_id"] in existing and existing[d["_id"]] != d]
        if not new and not changed:
            return 0
        if before_write is not None:
            before_write([(d, existing.get(d["_id"])) for d in keyed], latest)
        self._write(name)
        self._insert_or_replace(coll, new, changed)
        return len(new) + len(changed)

    def _closes(
        self, name: str, tickers: Iterable[str], start: dt.date, end: dt.date
    ) -> dict[str, dict[dt.date, float]]:
        # One read of the date range, tickers picked here: the pipeline follows a few dozen tickers, and one
        # range read beats a per-ticker (or $in) query on both the server and the embedded store.
        wanted = set(tickers)
        out: dict[str, dict[dt.date, float]] = {t: {} for t in wanted}
        query = {"date": {"$gte": to_utc_midnight(start), "$lte": to_utc_midnight(end)}}
        for doc in self.etf_db[name].find(query, {"ticker": 1, "date": 1, "close": 1}):
            if doc["ticker"] in wanted:
                out[doc["ticker"]][from_stored(doc["date"])] = doc["close"]
        return out

    def etf_closes(self, tickers: Iterable[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, float]]:
        """Stored ETF closes by ticker and date."""
        return self._closes(ETF_BARS, tickers, start, end)

    def stock_closes(self, tickers: Iterable[str], start: dt.date, end: dt.date) -> dict[str, dict[dt.date, float]]:
        """Stored stock closes by ticker and date."""
        return self._closes(STOCK_BARS, tickers, start, end)

    def etf_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored ETF bars in date order."""
        return self._bars(ETF_BARS, ticker, start, end)

    def stock_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored stock bars in date order."""
        return self._bars(STOCK_BARS, ticker, start, end)

    def _bars(self, name: str, ticker: str, start: dt.date | None, end: dt.date | None) -> list[dict]:
        query: dict[str, Any] = {"ticker": ticker}
        if bounds := day_bounds(start, end):
            query["date"] = bounds
        return list(self.etf_db[name].find(query, {"_id": 0}).sort("date", ASCENDING))

    def save_etf_meta(self, docs: Sequence[dict[str, Any]]) -> int:
        """Store the static ETF metadata (keyed by ticker)."""
        return self._sync_keyed(ETF_META, list(docs))

    def etf_meta(self) -> dict[str, dict]:
        """The ETF metadata by ticker."""
        return {d["_id"]: d for d in self.etf_db[ETF_META].find({})}

    def save_stock_profiles(self, docs: Mapping[str, Mapping[str, Any]]) -> int:
        """Store stocks' latest profiles ({ticker: name, sector, shares, market cap, as_of})."""
        return self._sync_keyed(STOCK_META, [{"_id": t, "ticker": t, **doc} for t, doc in sorted(docs.items())])

    def stock_profiles(self, tickers: Iterable[str]) -> dict[str, dict]:
        """The stored profiles of these tickers."""
        return {d["_id"]: d for d in self.etf_db[STOCK_META].find({"_id": {"$in": sorted(set(tickers))}})}

    # --- analytics ----------------------------------------------------------------------------------

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

    # --- derived rows to compute again --------------------------------------------------------------

    def mark_recompute(self, marks: Iterable[tuple[str, str, dt.date, str]]) -> None:
        """Remember bars written for sessions whose derived rows were already computed: (kind "etf"/"stock",
        ticker, date, why), one document each, until clear_recompute."""
        ops = [
            UpdateOne({"_id": f"{kind}:{ticker}:{day.isoformat()}"},
                      {"$set": {"kind": kind, "ticker": ticker, "date": day.isoformat(), "why": why}}, upsert=True)
            for kind, ticker, day, why in marks
        ]
        if ops:
            self._write(RECOMPUTE)
            self.etf_db[RECOMPUTE].bulk_write(ops, ordered=False)

    def recompute_pending(self) -> list[dict]:
        """The bars whose dependants are still to be computed again, oldest first."""
        return sorted(self.etf_db[RECOMPUTE].find({}), key=lambda d: (d["date"], d["_id"]))

    def clear_recompute(self, ids: Iterable[str]) -> None:
        """Forget these marks (their dependants are computed again); marks added meanwhile stay."""
        ids = sorted(set(ids))
        if ids:
            self._write(f"{RECOMPUTE}.clear")
            self.etf_db[RECOMPUTE].delete_many({"_id": {"$in": ids}})

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

    # --- rejected records ---------------------------------------------------------------------------

    def record_rejected(self, records: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
        """Keep refused records with their raw value and reason; the same record seen again only updates
        last_seen_utc. Returns how many were new."""
        ops = []
        for record in records:
            body = json.dumps(
                {k: record.get(k) for k in ("kind", "source", "ticker", "date", "raw", "reason")},
                sort_keys=True, default=str,
            )
            key = hashlib.sha1(body.encode()).hexdigest()
            first = {**record, "first_seen_utc": naive_utc(now)}
            ops.append(UpdateOne({"_id": key}, {"$setOnInsert": first, "$set": {"last_seen_utc": naive_utc(now)}},
                                 upsert=True))
        if not ops:
            return 0
        self._write(REJECTED)
        result = self.etf_db[REJECTED].bulk_write(ops, ordered=False)
        return result.upserted_count

    def rejected_records(self, limit: int = 100) -> list[dict]:
        """The most recently seen rejected records."""
        return list(self.etf_db[REJECTED].find({}, {"_id": 0}).sort("last_seen_utc", DESCENDING).limit(limit))

    def delete_rejected_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the rejected records last seen before `cutoff` (or, with dry_run, count them); returns how
        many. A record the source still sends is seen again on every run, so it stays."""
        query = {"last_seen_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.etf_db[REJECTED], query, f"{REJECTED}.cleanup", dry_run)
