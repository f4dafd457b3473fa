"""MongoDB access: the only module that imports pymongo. Plain MongoDB features only, so the embedded
mongomock:// client used by tests and the demo behaves like a real server."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pymongo
from pymongo import ASCENDING, DESCENDING, ReplaceOne, ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from lib.calendar import from_stored, to_utc_midnight
from lib.errors import ConfigError, TransientSourceError

DAY_JOB = "daily_update"
DONE_STATUSES = ("completed", "no_data")
SCREENING = "screening_index"


def screening_id(day: dt.datetime, ticker: str) -> str:
    """The screening index key: date first, so a range of `_id` is a range of days."""
    return f"{day:%Y-%m-%d}:{ticker}"


_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def get_client(uri: str | None = None) -> Any:
    """The process's MongoDB client for `uri` (default: MONGODB_URI from settings), created once.

    `mongomock://` gives the embedded in-memory server shared by everything in this process."""
    if uri is None:
        from lib.config import load_settings

        uri = load_settings().mongodb_uri_value
        if uri is None:
            raise ConfigError("MONGODB_URI is not set: set it in .env (mongodb://... for a real server)")
    with _clients_lock:
        client = _clients.get(uri)
        if client is None:
            if uri.startswith("mongomock://"):
                import mongomock_ng

                client = mongomock_ng.MongoClient(tz_aware=False)
            else:
                client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10_000, tz_aware=False)
            _clients[uri] = client
        return client


def reset_embedded_client() -> None:
    """Forget the embedded mongomock:// client (a fresh empty database), for tests."""
    with _clients_lock:
        _clients.pop("mongomock://", None)


def _naive_utc(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


class Storage:
    """The pipeline's databases: system_info, stock_data (one collection per ticker), stock_analyzed."""

    def __init__(
        self,
        client: Any,
        prefix: str = "",
        on_write: Callable[[str], None] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.system = client[f"{prefix}system_info"]
        self.stock_db = client[f"{prefix}stock_data"]
        self.analyzed_db = client[f"{prefix}stock_analyzed"]
        self.tickers = self.system["target_tickers"]
        self.job_status = self.system["job_status"]
        self.locks = self.system["locks"]
        # Fault-injection seam: called before every write, so tests can kill a run at any write.
        self.on_write = on_write

    def _write(self, what: str) -> None:
        if self.on_write is not None:
            self.on_write(what)

    def ping(self) -> None:
        """Fail fast with one clear line when the server cannot be reached."""
        try:
            self.client.admin.command("ping")
        except PyMongoError as exc:
            raise TransientSourceError(f"MongoDB is not reachable: {exc.__class__.__name__}: {exc}") from None

    def ensure_indexes(self) -> None:
        """Create the system indexes (idempotent)."""
        self._write("indexes")
        self.tickers.create_index([("ticker", ASCENDING)], unique=True)
        self.tickers.create_index([("is_active", ASCENDING), ("market_cap", DESCENDING)])
        self.job_status.create_index([("kind", ASCENDING), ("job_name", ASCENDING), ("date_kst", ASCENDING)])
        self.job_status.create_index([("kind", ASCENDING), ("start_time_utc", DESCENDING)])

    # --- stock_data -------------------------------------------------------------------------------

    def _sync(
        self, coll: Any, docs: list[dict[str, Any]], what: str, whole: bool = False
    ) -> tuple[list[dict], list[dict], list[Any]]:
        """Make `coll` hold `docs` (keyed by their `date`, used as `_id`): insert new ones, replace changed ones,
        skip identical ones. One read and at most two writes; returns (new, changed, stale ids). With `whole`,
        the read covers the whole collection and the stale ids are those `docs` no longer has (not deleted)."""
        if not docs and not whole:
            return [], [], []
        days = [doc["date"] for doc in docs]
        query = {} if whole or not days else {"_id": {"$gte": min(days), "$lte": max(days)}}
        existing = {d["_id"]: d for d in coll.find(query)}
        keyed = [{"_id": doc["date"], **doc} for doc in docs]
        new = [doc for doc in keyed if doc["_id"] not in existing]
        changed = [doc for doc in keyed if doc["_id"] in existing and existing[doc["_id"]] != doc]
        stale = sorted(set(existing) - set(days)) if whole else []
        if new or changed:
            self._write(what)
            self._insert_or_replace(coll, new, changed)
        return new, changed, stale

    @staticmethod
    def _insert_or_replace(coll: Any, new: list[dict[str, Any]], changed: list[dict[str, Any]]) -> None:
        changed = list(changed)
        if new:
            try:
                coll.insert_many(new, ordered=False)
            except BulkWriteError as exc:
                # Only a document stored meanwhile can collide (we hold the lock, so this is rare): replace it.
                if any(err.get("code") != 11000 for err in exc.details.get("writeErrors", [])):
                    raise
                failed = {err["op"]["_id"] for err in exc.details["writeErrors"]}
                changed += [doc for doc in new if doc["_id"] in failed]
        if changed:
            coll.bulk_write([ReplaceOne({"_id": doc["_id"]}, doc, upsert=True) for doc in changed])

    def upsert_bars(self, bars_by_ticker: Mapping[str, list[dict[str, Any]]]) -> int:
        """Store daily bars, one document per ticker and date; returns how many documents were written.

        A bar's `_id` is its trading date, so the unique `_id` index is the unique index on the date and a
        day can never be stored twice."""
        written = 0
        for ticker, bars in bars_by_ticker.items():
            new, changed, _ = self._sync(self.stock_db[ticker], bars, f"stock_data.{ticker}")
            written += len(new) + len(changed)
        return written

    def read_bars(self, ticker: str, start: dt.date | None = None, end: dt.date | None = None) -> list[dict]:
        """A ticker's stored bars in date order, without MongoDB's _id."""
        query: dict[str, Any] = {}
        if start or end:
            query["_id"] = {}
            if start:
                query["_id"]["$gte"] = to_utc_midnight(start)
            if end:
                query["_id"]["$lte"] = to_utc_midnight(end)
        return list(self.stock_db[ticker].find(query, {"_id": 0}).sort("_id", ASCENDING))

    def stored_tickers(self) -> list[str]:
        """Tickers that have a stock_data collection."""
        return sorted(self.stock_db.list_collection_names())

    # --- job_status: days -------------------------------------------------------------------------

    def done_days(self) -> set[dt.date]:
        """KST trading days whose collection is finished (completed, or recorded as published without data)."""
        cursor = self.job_status.find(
            {"kind": "day", "job_name": DAY_JOB, "status": {"$in": list(DONE_STATUSES)}}, {"date_kst": 1}
        )
        return {dt.date.fromisoformat(doc["date_kst"]) for doc in cursor}

    def day_fingerprints(self) -> dict[dt.date, str]:
        """The digest of each completed day's closes and volumes, to catch a stale answer repeating a day."""
        cursor = self.job_status.find(
            {"kind": "day", "job_name": DAY_JOB, "fingerprint": {"$exists": True}}, {"date_kst": 1, "fingerprint": 1}
        )
        return {dt.date.fromisoformat(doc["date_kst"]): doc["fingerprint"] for doc in cursor}

    def day_records(self) -> list[dict]:
        """Every day record, oldest first."""
        return list(self.job_status.find({"kind": "day", "job_name": DAY_JOB}).sort("date_kst", ASCENDING))

    def mark_day(self, day: dt.date, status: str, fields: Mapping[str, Any]) -> None:
        """Record a day's collection outcome; only 'completed' and 'no_data' count as done."""
        self._write(f"job_status.day.{day}")
        doc = {"kind": "day", "job_name": DAY_JOB, "date_kst": day.isoformat(), "status": status, **fields}
        self.job_status.update_one({"_id": f"{day.isoformat()}_{DAY_JOB}"}, {"$set": doc}, upsert=True)

    def forget_day(self, day: dt.date) -> bool:
        """Make a day pending again (its stored bars stay until overwritten); True if it was recorded."""
        self._write(f"job_status.forget.{day}")
        result = self.job_status.delete_one({"_id": f"{day.isoformat()}_{DAY_JOB}"})
        return result.deleted_count == 1

    # --- job_status: runs -------------------------------------------------------------------------

    def start_run(self, run_id: str, doc: Mapping[str, Any]) -> None:
        """Insert a run record in state 'running'."""
        self._write("job_status.run.start")
        self.job_status.insert_one({"_id": run_id, "kind": "run", "status": "running", **doc})

    def finish_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Close a run record with its final status and counts."""
        self._write("job_status.run.finish")
        self.job_status.update_one({"_id": run_id}, {"$set": dict(fields)})

    def abandon_run(self, run_id: str, ended: dt.datetime, reason: str) -> None:
        """Mark a run that died without closing its record (kill -9, power loss) as failed."""
        self._write("job_status.run.abandon")
        self.job_status.update_one(
            {"_id": run_id, "status": "running"},
            {"$set": {"status": "failed", "end_time_utc": _naive_utc(ended), "error": reason}},
        )

    def runs(self, job_name: str | None = None, limit: int = 20) -> list[dict]:
        """The most recent run records, newest first."""
        query: dict[str, Any] = {"kind": "run"}
        if job_name:
            query["job_name"] = job_name
        return list(self.job_status.find(query).sort("start_time_utc", DESCENDING).limit(limit))

    # --- locks ------------------------------------------------------------------------------------

    def acquire_lock(
        self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta
    ) -> tuple[bool, dict | None]:
        """Take the named lock. Returns (acquired, previous holder); the holder is stale if we took it."""
        now = _naive_utc(now)
        fields = {"owner": owner, "acquired_utc": now, "heartbeat_utc": now, "expires_utc": now + ttl}
        self._write(f"locks.{name}.acquire")
        try:
            self.locks.insert_one({"_id": name, **fields})
            return True, None
        except DuplicateKeyError:
            pass
        previous = self.locks.find_one_and_update(
            {"_id": name, "expires_utc": {"$lt": now}},
            {"$set": fields},
            return_document=ReturnDocument.BEFORE,
        )
        if previous is not None:
            return True, previous
        return False, self.locks.find_one({"_id": name})

    def refresh_lock(self, name: str, owner: str, now: dt.datetime, ttl: dt.timedelta) -> bool:
        """Extend our lock; False when someone else holds it now."""
        now = _naive_utc(now)
        self._write(f"locks.{name}.refresh")
        result = self.locks.update_one(
            {"_id": name, "owner": owner}, {"$set": {"heartbeat_utc": now, "expires_utc": now + ttl}}
        )
        return result.matched_count == 1

    def release_lock(self, name: str, owner: str) -> None:
        """Give the lock back if we still hold it."""
        self._write(f"locks.{name}.release")
        self.locks.delete_one({"_id": name, "owner": owner})

    # --- stock_analyzed and the screening index ------------------------------------------------------

    @property
    def screening(self) -> Any:
        """One collection of every analysed row of every ticker, `_id` "YYYY-MM-DD:TICKER" so that one indexed
        range query on `_id` reads the whole universe over any run of dates."""
        return self.analyzed_db[SCREENING]

    def replace_analysis(self, ticker: str, rows: list[dict[str, Any]]) -> int:
        """Overwrite a ticker's indicator rows (stock_analyzed.<ticker> and its screening-index rows) with
        these; rows no longer produced are removed. Returns the rows written."""
        coll = self.analyzed_db[ticker]
        new, changed, stale = self._sync(coll, rows, f"stock_analyzed.{ticker}", whole=True)
        if stale:
            self._write(f"stock_analyzed.{ticker}.stale")
            coll.delete_many({"_id": {"$in": stale}})
            self.screening.delete_many({"_id": {"$in": [screening_id(d, ticker) for d in stale]}})
        if new or changed:
            self._write(f"screening.{ticker}")

            def entry(row: dict[str, Any]) -> dict[str, Any]:
                return {**row, "_id": screening_id(row["date"], ticker), "ticker": ticker}

            self._insert_or_replace(self.screening, [entry(r) for r in new], [entry(r) for r in changed])
        return len(new) + len(changed)

    def analysed_tickers(self) -> list[str]:
        """Tickers that have a stock_analyzed collection."""
        return sorted(name for name in self.analyzed_db.list_collection_names() if name != SCREENING)

    def read_analysis(self, ticker: str) -> list[dict[str, Any]]:
        """A ticker's indicator rows, oldest first."""
        return list(self.analyzed_db[ticker].find({}, {"_id": 0}).sort("_id", ASCENDING))

    def screening_rows(self, start: dt.date | None, end: dt.date) -> list[dict[str, Any]]:
        """Every ticker's indicator rows from start to end (both included) in one indexed query."""
        lower = f"{start.isoformat()}:" if start else ""
        return list(self.screening.find({"_id": {"$gte": lower, "$lte": f"{end.isoformat()}:~"}}, {"_id": 0}))

    def latest_screening_day(self) -> dt.date | None:
        """The newest trading day in the screening index."""
        doc = self.screening.find_one({}, {"date": 1}, sort=[("_id", DESCENDING)])
        return from_stored(doc["date"]) if doc else None

    def set_last_analyzed(self, ticker: str, day: dt.date) -> None:
        """Record that a ticker's analysis is complete through this KST trading day."""
        self._write(f"target_tickers.{ticker}.analyzed")
        self.tickers.update_one({"ticker": ticker}, {"$set": {"last_analyzed_date": day.isoformat()}})

    def save_strategy_stats(self, name: str, doc: Mapping[str, Any]) -> None:
        """Store a strategy's track record (replacing the previous one)."""
        self._write(f"strategy_stats.{name}")
        self.system["strategy_stats"].replace_one({"_id": name}, {"_id": name, **doc}, upsert=True)

    def strategy_stats(self, name: str) -> dict[str, Any] | None:
        """A strategy's stored track record."""
        return self.system["strategy_stats"].find_one({"_id": name}, {"_id": 0})

    # --- target_tickers ---------------------------------------------------------------------------

    def universe(self, active_only: bool = False) -> list[dict]:
        """target_tickers documents, largest market cap first."""
        query = {"is_active": True} if active_only else {}
        return list(self.tickers.find(query, {"_id": 0}).sort("market_cap", DESCENDING))

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

