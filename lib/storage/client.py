"""The process's MongoDB client and what every collection family shares: the write seam, the sync of a
date-keyed collection, naive-UTC times. With the other modules of this package, the only code that imports
pymongo."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import pymongo
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError, PyMongoError, ServerSelectionTimeoutError

from lib.errors import ConfigError, TransientSourceError
from lib.storage import embedded
from lib.storage.dates import to_utc_midnight
from lib.storage.uri import checked_uri, construction_error, driver_warnings_logged

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
CONNECT_TIMEOUT_SECONDS = 10.0  # the scripts' bound on finding and connecting to the server


def get_client(
    uri: str | None = None,
    timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
    operation_timeout_seconds: float | None = None,
) -> Any:
    """The process's MongoDB client for `uri` (default: MONGODB_URI from settings), created once.

    `mongomock://` gives the embedded in-memory server shared by everything in this process.
    `timeout_seconds` bounds server selection and connecting: the API asks for a short one so that a
    database that is down answers 503 in seconds. `operation_timeout_seconds` (default: MONGODB_TIMEOUT_SECONDS)
    bounds every operation, retries included (the driver's timeoutMS), so a server that accepts connections but
    stops answering fails the operation instead of hanging it."""
    if uri is None or (operation_timeout_seconds is None and not uri.startswith("mongomock://")):
        from lib.config import load_settings

        settings = load_settings()
        uri = uri or settings.mongodb_uri_value
        if uri is None:
            raise ConfigError("MONGODB_URI is not set: set it in .env (mongodb://... for a real server)")
        operation_timeout_seconds = operation_timeout_seconds or settings.mongodb_timeout_seconds
    key = uri if uri.startswith("mongomock://") else f"{uri}#{timeout_seconds}#{operation_timeout_seconds}"
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if uri.startswith("mongomock://"):
                import mongomock_ng

                client = mongomock_ng.MongoClient(tz_aware=False)
            else:
                client = _real_client(uri, timeout_seconds, operation_timeout_seconds or timeout_seconds)
            _clients[key] = client
        return client


def _real_client(uri: str, timeout_seconds: float, operation_timeout_seconds: float) -> Any:
    """A pymongo client; a URI it cannot use is ConfigError (exit 2), an SRV name DNS cannot look up is
    TransientSourceError (exit 1), each one line without the password."""
    checked = checked_uri(uri)
    ms = int(timeout_seconds * 1000)
    try:
        with driver_warnings_logged(uri):
            return pymongo.MongoClient(
                checked,
                serverSelectionTimeoutMS=ms,
                connectTimeoutMS=ms,
                timeoutMS=int(operation_timeout_seconds * 1000),
                tz_aware=False,
            )
    except (pymongo.errors.ConfigurationError, ValueError) as exc:
        raise construction_error(exc, uri) from None


def _short_reason(exc: PyMongoError) -> str:
    """A driver error's host and reason: the driver appends its timeouts and whole topology description."""
    return str(exc).split(" (configured timeouts")[0].split(", Timeout:")[0]


def reset_embedded_client() -> None:
    """Forget the embedded mongomock:// client (a fresh empty database), for tests."""
    with _clients_lock:
        _clients.pop("mongomock://", None)


def close_clients() -> None:
    """Close and forget every client of this process (tests, and a process done with the database), so no
    driver monitor thread outlives it."""
    with _clients_lock:
        clients = list(_clients.values())
        _clients.clear()
    for client in clients:
        client.close()


def naive_utc(moment: dt.datetime) -> dt.datetime:
    """An aware moment as the naive UTC datetime BSON stores."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def day_bounds(start: dt.date | None, end: dt.date | None) -> dict[str, dt.datetime]:
    """The stored-date bounds of the days from `start` to `end` (both included, either open when None)."""
    bounds: dict[str, dt.datetime] = {}
    if start:
        bounds["$gte"] = to_utc_midnight(start)
    if end:
        bounds["$lte"] = to_utc_midnight(end)
    return bounds


class StoreBase:
    """The databases every collection family lives in, on one shared client."""

    def __init__(
        self,
        client: Any,
        prefix: str = "",
        on_write: Callable[[str], None] | None = None,
        root: StoreBase | None = None,
        namespace: str = "",
    ) -> None:
        self.client = client
        if type(client).__module__.startswith("mongomock_ng"):
            embedded.install()  # find a document by its _id without a scan (lib/storage/embedded.py)
        self.prefix = prefix
        self.namespace = namespace
        self.system = client[f"{prefix}system_info"]  # shared by every market: job records, locks, alerts, AI
        # A market's own collections (see Storage.scoped): its bars, indicator rows, universe, picks, track
        # records, corporate actions, cross-section and held bars. The first market's namespace is "" (the
        # original names: stock_data, stock_analyzed, system_info.*); another's is its prefix ("us_stock_data").
        self.stock_db = client[f"{prefix}{namespace}stock_data"]
        self.analyzed_db = client[f"{prefix}{namespace}stock_analyzed"]
        self.market_info = client[f"{prefix}{namespace}system_info"] if namespace else self.system
        self.etf_db = client[f"{prefix}us_etf"]  # the US ETF pipeline's database (lib/storage/etf.py)
        self.datasets_db = client[f"{prefix}datasets"]  # the watermark datasets' (lib/storage/watermarks.py)
        self.tickers = self.market_info["target_tickers"]
        self.job_status = self.system["job_status"]
        self.locks = self.system["locks"]
        # Fault-injection seam: called before every write, so tests can kill a run at any write. A family's
        # repository asks its root (Storage), so one hook set on the root sees every family's writes.
        self.on_write = on_write
        self._root = root if root is not None else self

    def _write(self, what: str) -> None:
        hook = self._root.on_write
        if hook is not None:
            hook(what)

    def _delete_or_count(self, coll: Any, query: dict[str, Any], what: str, dry_run: bool) -> int:
        """Delete the documents matching `query` (or, with dry_run, only count them); returns how many."""
        if dry_run:
            return coll.count_documents(query)
        self._write(what)
        return coll.delete_many(query).deleted_count

    @staticmethod
    def database_failure(exc: BaseException) -> TransientSourceError | None:
        """A driver error as one transient line (host and reason, no topology dump), or None when `exc` is not
        the database's: the job runner's way to tell a stalled or lost server from a bug without pymongo."""
        if not isinstance(exc, PyMongoError):
            return None
        reason = _short_reason(exc)
        what = "did not answer in time" if exc.timeout else "failed"
        return TransientSourceError(
            f"MongoDB {what} during the run: {exc.__class__.__name__}: {reason}; try again later"
        )

    def ping(self, timeout_seconds: float | None = None) -> None:
        """Fail fast with one clear line when the server cannot be reached or does not answer within
        `timeout_seconds` (default: the client's operation timeout)."""
        try:
            with pymongo.timeout(timeout_seconds) if timeout_seconds else contextlib.nullcontext():
                self.client.admin.command("ping")
        except PyMongoError as exc:
            reason = _short_reason(exc)
            if exc.timeout and not isinstance(exc, ServerSelectionTimeoutError):
                raise TransientSourceError(
                    f"MongoDB did not answer in time: {exc.__class__.__name__}: {reason}; the server accepts "
                    "connections but does not reply (overloaded or stuck?): try again later"
                ) from None
            raise TransientSourceError(
                f"MongoDB is not reachable: {exc.__class__.__name__}: {reason}; is the server running and "
                "MONGODB_URI right?"
            ) from None

    def _sync(
        self,
        coll: Any,
        docs: list[dict[str, Any]],
        what: str,
        whole: bool = False,
        dry: bool = False,
        known: list[dict] | None = None,
    ) -> tuple[list[dict], list[dict], list[Any]]:
        """Make `coll` hold `docs` (keyed by their `date`, used as `_id`): insert new ones, replace changed ones,
        skip identical ones. One read (none when `known` already holds the documents of the range) and at most
        two writes; returns (new, changed, stale ids). With `whole`, the read covers the whole collection and
        the stale ids are those `docs` no longer has (not deleted). With `dry`, nothing is written: the caller
        writes (in its own order)."""
        if not docs and not whole:
            return [], [], []
        days = [doc["date"] for doc in docs]
        query = {} if whole or not days else {"_id": {"$gte": min(days), "$lte": max(days)}}
        if known is not None and not whole:
            existing = {d["_id"]: d for d in known if min(days) <= d["_id"] <= max(days)}
        else:
            existing = {d["_id"]: d for d in coll.find(query)}
        keyed = [{"_id": doc["date"], **doc} for doc in docs]
        new = [doc for doc in keyed if doc["_id"] not in existing]
        changed = [doc for doc in keyed if doc["_id"] in existing and existing[doc["_id"]] != doc]
        stale = sorted(set(existing) - set(days)) if whole else []
        if (new or changed) and not dry:
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
