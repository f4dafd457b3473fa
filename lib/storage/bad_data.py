"""system_info.bad_data: every item a dataset refused, with the reason and the raw value, in one collection.

Two uses share it, told apart by `held`:
- held bars (`held: true`): bars kept out of the bars store because they break the market's price rules (KRX's
  daily limit, lib/markets/krx/quarantine.py), each as the document it would have been; the collection reads
  their closes (a quarantined close is the last *delivered* one) and deletes an entry once a clean bar of the same
  ticker and day is stored. `_id` = "<dataset>:<TICKER>:<YYYY-MM-DD>". Cleanup follows the prices' retention.
- rejected items (`held: false`): records refused by validation (a US bar, holdings line or profile field);
  the same item seen again only moves `last_seen_utc`. `_id` = "<dataset>:<sha1 of the item>". Cleanup counts
  back from when each was last seen.

Each document: dataset (`market.kind`), key (the ticker), day (YYYY-MM-DD or null), date (the day as UTC
midnight, null without a day), reason, raw, source, held, first_seen_utc, last_seen_utc; held bars add market,
rejected items add job and, when a file served them, where (file and line).

Installs from before this store kept the same items in system_info.quarantine (held bars) and
us_etf.logs_rejected_records (rejected items): they are moved here on the first use of the store by a Storage
object (or by ensure_indexes), once: a document already here is never overwritten, and the old collection is
dropped when it is empty."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne

from lib.storage.client import StoreBase, naive_utc
from lib.storage.dates import from_stored, to_utc_midnight

BAD_DATA = "bad_data"
# The stores this one replaced: (database attribute, collection).
OLD_QUARANTINE = ("system", "quarantine")
OLD_REJECTED = ("etf_db", "logs_rejected_records")
# The dataset of the held bars written without one, and of every bar moved from system_info.quarantine: KRX's
# price-limit check was its only writer.
QUARANTINE_DATASET = "krx.bars"
# us_etf.logs_rejected_records held the US pipeline's refused records only, by kind (bars, holdings, profile):
# the dataset of those old documents, which name no dataset (every new record names its own).
OLD_REJECTED_MARKET = "us"
REJECTED_FIELDS = ("kind", "source", "ticker", "date", "raw", "reason")  # what makes two rejected items one


def quarantine_id(ticker: str, day: dt.date, dataset: str = QUARANTINE_DATASET) -> str:
    """The bad-data key of a held bar."""
    return f"{dataset}:{ticker}:{day.isoformat()}"


def rejected_id(record: Mapping[str, Any], dataset: str) -> str:
    """The bad-data key of a rejected item: the same item from the same source for the same reason is one."""
    body = json.dumps({k: record.get(k) for k in REJECTED_FIELDS}, sort_keys=True, default=str)
    return f"{dataset}:{hashlib.sha1(body.encode()).hexdigest()}"


def _dataset(record: Mapping[str, Any]) -> str:
    """A rejected record's dataset; the old us_etf.logs_rejected_records documents name only their kind."""
    return record.get("dataset") or f"{OLD_REJECTED_MARKET}.{record['kind']}"


def _held_doc(item: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    bar = dict(item["bar"])
    return {
        "dataset": dataset, "key": item["ticker"], "day": item["day"].isoformat(), "date": to_utc_midnight(item["day"]),
        "reason": item["reason"], "raw": bar, "source": bar.get("source"), "held": True, "market": item["market"],
    }


def _rejected_doc(record: Mapping[str, Any]) -> dict[str, Any]:
    day = record.get("date")
    doc = {
        "dataset": _dataset(record), "key": record["ticker"], "day": day,
        "date": to_utc_midnight(dt.date.fromisoformat(day)) if day else None,
        "reason": record["reason"], "raw": record.get("raw"), "source": record.get("source"), "held": False,
    }
    return doc | {k: record[k] for k in ("job", "where") if record.get(k) is not None}


def _as_quarantined(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A held bar in the shape the quarantine's readers know (ticker, date, date_kst, market, reason, bar)."""
    return {"ticker": doc["key"], "date": doc["date"], "date_kst": doc["day"], "market": doc.get("market", ""),
            "reason": doc["reason"], "bar": doc["raw"]}


def _as_rejected(doc: Mapping[str, Any]) -> dict[str, Any]:
    """A rejected item in the shape its readers know (kind, source, ticker, date, raw, reason, job, where)."""
    out = {"dataset": doc["dataset"], "kind": doc["dataset"].partition(".")[2], "source": doc.get("source"),
           "ticker": doc["key"], "key": doc["key"], "date": doc["day"], "raw": doc.get("raw"), "reason": doc["reason"]}
    out |= {k: doc[k] for k in ("job", "where") if k in doc}
    return out | {"first_seen_utc": doc.get("first_seen_utc"), "last_seen_utc": doc.get("last_seen_utc")}


HELD = {"held": True}


class BadDataStore(StoreBase):
    """The one bad-data store (see the module docstring)."""

    _bad_data_moved = False

    @property
    def bad_data(self) -> Any:
        """The bad-data collection, after moving what the old stores still hold (once per Storage object)."""
        if not self._bad_data_moved:
            self.move_old_bad_data()
            self._bad_data_moved = True
        return self.market_info[BAD_DATA]

    def _bad_data_indexes(self) -> None:
        coll = self.bad_data
        coll.create_index([("held", ASCENDING), ("date", ASCENDING)])
        coll.create_index([("held", ASCENDING), ("key", ASCENDING), ("date", ASCENDING)])
        coll.create_index([("last_seen_utc", DESCENDING)])

    # --- moving an older install's documents -------------------------------------------------------------

    def move_old_bad_data(self) -> int:
        """Move the documents of system_info.quarantine and us_etf.logs_rejected_records here (idempotent: an
        entry already here is kept as it is; a move interrupted anywhere is finished by the next call); returns
        how many were moved."""
        moved = 0
        for (db, name), convert in ((OLD_QUARANTINE, self._old_held), (OLD_REJECTED, self._old_rejected)):
            old = getattr(self, db)[name]
            docs = list(old.find())
            if not docs:
                continue
            ops = []
            for doc in docs:
                key, body = convert(doc)
                seen = {k: body.pop(k) for k in ("first_seen_utc", "last_seen_utc") if k in body}
                update: dict[str, Any] = {"$setOnInsert": body}
                if seen:  # the earliest first and latest last sighting, if the item is here already
                    update |= {"$min": {"first_seen_utc": seen["first_seen_utc"]},
                               "$max": {"last_seen_utc": seen["last_seen_utc"]}}
                else:  # system_info.quarantine did not record when a bar was held
                    body |= {"first_seen_utc": None, "last_seen_utc": None}
                ops.append(UpdateOne({"_id": key}, update, upsert=True))
            self._write(f"{BAD_DATA}.move")
            self.market_info[BAD_DATA].bulk_write(ops, ordered=False)
            self._write(f"{name}.moved")
            old.delete_many({"_id": {"$in": [doc["_id"] for doc in docs]}})
            moved += len(docs)
            if old.estimated_document_count() == 0:
                old.drop()
        return moved

    @staticmethod
    def _old_held(doc: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        day = dt.date.fromisoformat(doc["date_kst"])
        item = {"ticker": doc["ticker"], "day": day, "market": doc.get("market", ""), "bar": doc["bar"],
                "reason": doc["reason"]}
        return quarantine_id(doc["ticker"], day), _held_doc(item, QUARANTINE_DATASET)

    @staticmethod
    def _old_rejected(doc: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        body = _rejected_doc(doc)
        body |= {k: doc[k] for k in ("first_seen_utc", "last_seen_utc") if k in doc}
        return rejected_id(doc, body["dataset"]), body

    # --- held bars (the quarantine) ----------------------------------------------------------------------

    def quarantine_bars(
        self, items: Iterable[Mapping[str, Any]], now: dt.datetime | None = None, dataset: str = QUARANTINE_DATASET
    ) -> int:
        """Hold bars out (`ticker`, `day`, `market`, `bar`, `reason`), replacing an earlier verdict on the same
        day; `now` is when they were seen. Returns how many."""
        seen = naive_utc(now) if now else None
        ops = [
            UpdateOne(
                {"_id": quarantine_id(item["ticker"], item["day"], dataset)},
                {"$set": {**_held_doc(item, dataset), "last_seen_utc": seen}, "$setOnInsert": {"first_seen_utc": seen}},
                upsert=True,
            )
            for item in items
        ]
        if ops:
            coll = self.bad_data
            self._write("quarantine")
            coll.bulk_write(ops, ordered=False)
        return len(ops)

    def clear_quarantine(self, stored: Mapping[str, Iterable[Mapping[str, Any]]]) -> int:
        """Forget the held bars of days now stored clean (bars by ticker); returns how many."""
        days = [bar["date"] for bars in stored.values() for bar in bars]
        if not days:
            return 0
        coll = self.bad_data
        held = coll.find({**HELD, "date": {"$gte": min(days), "$lte": max(days)}}, {"key": 1, "date": 1})
        wanted = {(t, bar["date"]) for t, bars in stored.items() for bar in bars}
        ids = [doc["_id"] for doc in held if (doc["key"], doc["date"]) in wanted]
        if ids:
            self._write("quarantine.clear")
            coll.delete_many({"_id": {"$in": ids}})
        return len(ids)

    def quarantined(self, ticker: str | None = None) -> list[dict[str, Any]]:
        """Held bars (of one ticker, or all), oldest first."""
        query = {**HELD, "key": ticker} if ticker else HELD
        return [_as_quarantined(d) for d in self.bad_data.find(query).sort([("date", ASCENDING), ("key", ASCENDING)])]

    def quarantine_count(self) -> int:
        """How many bars are held."""
        return self.bad_data.count_documents(HELD)

    def latest_quarantined(self, limit: int | None = None, since: dt.date | None = None) -> list[dict[str, Any]]:
        """The newest `limit` (default all) held bars of days on or after `since`, newest day first."""
        query = {**HELD, "date": {"$gte": to_utc_midnight(since)}} if since else HELD
        cursor = self.bad_data.find(query).sort([("date", DESCENDING), ("key", ASCENDING)])
        return [_as_quarantined(d) for d in (cursor if limit is None else cursor.limit(limit))]

    def last_quarantined_before(self, day: dt.date) -> dict[str, tuple[dt.date, float]]:
        """Each ticker's latest held (date, close) before `day`."""
        out: dict[str, tuple[dt.date, float]] = {}
        query = {**HELD, "date": {"$lt": to_utc_midnight(day)}}
        cursor = self.bad_data.find(query, {"key": 1, "date": 1, "raw.close": 1})
        for doc in cursor.sort("date", DESCENDING):
            out.setdefault(doc["key"], (from_stored(doc["date"]), float(doc["raw"]["close"])))
        return out

    def delete_quarantine_before(self, day: dt.date, dry_run: bool = False) -> int:
        """Delete (or, with dry_run, count) the held bars dated before `day`."""
        query = {**HELD, "date": {"$lt": to_utc_midnight(day)}}
        return self._delete_or_count(self.bad_data, query, "quarantine.cleanup", dry_run)

    # --- rejected items -----------------------------------------------------------------------------------

    def record_rejected(self, records: Iterable[Mapping[str, Any]], now: dt.datetime) -> int:
        """Keep refused records (`kind` or `dataset`, `source`, `ticker`, `date`, `raw`, `reason`, optional `job`
        and `where`) with their raw value and reason; the same record seen again only updates last_seen_utc.
        Returns how many were new."""
        ops = []
        for record in records:
            doc = _rejected_doc(record)
            ops.append(UpdateOne({"_id": rejected_id(record, doc["dataset"])},
                                 {"$setOnInsert": {**doc, "first_seen_utc": naive_utc(now)},
                                  "$set": {"last_seen_utc": naive_utc(now)}}, upsert=True))
        if not ops:
            return 0
        coll = self.bad_data
        self._write("rejected")
        return coll.bulk_write(ops, ordered=False).upserted_count

    def rejected_records(self, limit: int = 100, dataset: str | None = None) -> list[dict]:
        """The most recently seen rejected items (of one dataset, or all)."""
        query = {"held": False, **({"dataset": dataset} if dataset else {})}
        cursor = self.bad_data.find(query).sort("last_seen_utc", DESCENDING).limit(limit)
        return [_as_rejected(d) for d in cursor]

    def rejected_count(self) -> int:
        """How many refused items are kept (every dataset's)."""
        return self.bad_data.count_documents({"held": False})

    def delete_rejected_before(self, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete the rejected items last seen before `cutoff` (or, with dry_run, count them); returns how many.
        An item the source still sends is seen again on every run, so it stays."""
        query = {"held": False, "last_seen_utc": {"$lt": naive_utc(cutoff)}}
        return self._delete_or_count(self.bad_data, query, "rejected.cleanup", dry_run)
