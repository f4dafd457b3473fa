"""The watermark datasets' family (event streams and revisable series, lib/spine/watermark.py), in the `datasets`
database: `watermarks` (how far each dataset has read, `_id` = its key), `items` (every dataset's items, each
once: `_id` = "<dataset>|<natural key>", its latest value current), `vintages` (the earlier values of revised
items, each with the `known_at` it had and the `superseded_at` of the value that replaced it) and `rejected`
(items refused, with the reason and the raw value) and `read_times` (when each key of a rotating list was last
read). All times naive UTC, to the millisecond BSON keeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from pymongo import ASCENDING, ReplaceOne
from pymongo.errors import BulkWriteError

from lib.storage.client import StoreBase, naive_utc


def item_id(dataset: str, key: str) -> str:
    """The stored `_id` of a dataset's item: its natural key, prefixed so every dataset shares one collection."""
    return f"{dataset}|{key}"


def vintage_id(dataset: str, key: str, known_at: dt.datetime) -> str:
    """The stored `_id` of an earlier value: the item and when that value became known (so a rerun rewrites it)."""
    return f"{dataset}|{key}|{stored_time(known_at).isoformat()}"


def stored_time(moment: dt.datetime) -> dt.datetime:
    """A moment as BSON gives it back (naive UTC, milliseconds): compared before writing, so that a re-read of an
    unchanged item is never taken for a revision."""
    moment = naive_utc(moment)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class WatermarksStore(StoreBase):
    """Watermarks, items on their natural keys and their vintages (refused items go to the bad-data store)."""

    @property
    def watermarks(self) -> Any:
        """One document per dataset: `read_through`, `cursor`, `moved_at` (the as-of of the run that moved it)."""
        return self.datasets_db["watermarks"]

    @property
    def wm_items(self) -> Any:
        """Every watermark dataset's items."""
        return self.datasets_db["items"]

    @property
    def wm_vintages(self) -> Any:
        """The earlier values of revised items."""
        return self.datasets_db["vintages"]

    def _watermark_indexes(self) -> None:
        self.wm_items.create_index([("dataset", ASCENDING), ("at", ASCENDING)])
        self.wm_items.create_index([("dataset", ASCENDING), ("known_at", ASCENDING)])
        # per stock: a stock's news and filings, read by the routes and the AI context
        self.wm_items.create_index([("dataset", ASCENDING), ("data.ticker", ASCENDING), ("at", ASCENDING)])
        self.wm_vintages.create_index([("dataset", ASCENDING), ("data.ticker", ASCENDING), ("at", ASCENDING)])
        self.wm_vintages.create_index([("dataset", ASCENDING), ("key", ASCENDING), ("known_at", ASCENDING)])
        self.wm_vintages.create_index([("dataset", ASCENDING), ("known_at", ASCENDING), ("superseded_at", ASCENDING)])
        self.wm_read_times.create_index([("dataset", ASCENDING)])

    # --- the watermark ----------------------------------------------------------------------------

    def watermark(self, dataset: str) -> dict | None:
        """The dataset's watermark document, None before its first stored page."""
        return self.watermarks.find_one({"_id": dataset})

    def save_watermark(
        self, dataset: str, read_through: dt.datetime | None, cursor: str | None, moved_at: dt.datetime
    ) -> None:
        """Move the watermark: called only once the items it covers are stored."""
        doc = {
            "read_through": stored_time(read_through) if read_through else None,
            "cursor": cursor,
            "moved_at": stored_time(moved_at),
        }
        self._write(f"watermarks.{dataset}")
        self.watermarks.replace_one({"_id": dataset}, doc, upsert=True)

    # --- items and vintages -----------------------------------------------------------------------

    def stored_items(self, dataset: str, keys: Iterable[str]) -> dict[str, dict]:
        """The stored items of these natural keys, by key (one read)."""
        ids = [item_id(dataset, key) for key in dict.fromkeys(keys)]
        if not ids:
            return {}
        return {doc["key"]: doc for doc in self.wm_items.find({"_id": {"$in": ids}})}

    def _replace_all(self, coll: Any, docs: list[Mapping[str, Any]], what: str) -> None:
        # Replace-or-insert on `_id`: a rerun after a kill rewrites the same documents instead of adding copies.
        if docs:
            self._write(what)
            coll.bulk_write([ReplaceOne({"_id": doc["_id"]}, dict(doc), upsert=True) for doc in docs], ordered=False)

    def store_vintages(self, docs: list[Mapping[str, Any]]) -> None:
        """Keep earlier values (written before the item that supersedes them, so none is ever lost)."""
        self._replace_all(self.wm_vintages, docs, "watermarks.vintages")

    def store_items(self, docs: list[Mapping[str, Any]]) -> None:
        """Insert new items and replace revised ones, each on its `_id`. New ones (`revisions` 0: not stored when
        the page was planned, under the dataset's lock) are inserted in one batch, far cheaper than an upsert
        each (the embedded store scans the collection per upsert); one found stored after all (a plan made
        before a kill's last write) is replaced instead, so a rerun still ends with each item once."""
        new = [dict(doc) for doc in docs if not doc.get("revisions")]
        self._replace_all(self.wm_items, [doc for doc in docs if doc.get("revisions")], "watermarks.items")
        if not new:
            return
        self._write("watermarks.items")
        try:
            self.wm_items.insert_many(new, ordered=False)
        except BulkWriteError as exc:
            duplicates = {e["op"]["_id"] for e in exc.details.get("writeErrors", []) if e.get("code") == 11000}
            if len(duplicates) != len(exc.details.get("writeErrors", [])):
                raise
            self._replace_all(self.wm_items, [doc for doc in new if doc["_id"] in duplicates], "watermarks.items")

    def item_count(self, dataset: str) -> int:
        """How many items the dataset holds (each once)."""
        return self.wm_items.count_documents({"dataset": dataset})

    def vintage_count(self, dataset: str) -> int:
        """How many earlier values the dataset keeps."""
        return self.wm_vintages.count_documents({"dataset": dataset})

    def items_known_at(
        self, dataset: str, moment: dt.datetime, start: dt.datetime | None = None, end: dt.datetime | None = None,
        fields: Mapping[str, Any] | None = None,
    ) -> list[dict]:
        """Point in time: each item's value that was current at `moment` (never one known later), with item times
        from `start` to `end` (both included, either open), oldest item first. `fields`: equality on data
        fields ({"ticker": "005930"} matches `data.ticker`)."""
        moment = stored_time(moment)
        span: dict[str, Any] = {}
        if start:
            span["$gte"] = stored_time(start)
        if end:
            span["$lte"] = stored_time(end)
        times: dict[str, Any] = {"at": span} if span else {}
        times |= {f"data.{name}": value for name, value in (fields or {}).items()}
        current = self.wm_items.find({"dataset": dataset, "known_at": {"$lte": moment}, **times}, {"_id": 0})
        # The current value was not yet known at `moment`: the vintage whose validity covers it is.
        earlier = self.wm_vintages.find(
            {"dataset": dataset, "known_at": {"$lte": moment}, "superseded_at": {"$gt": moment}, **times}, {"_id": 0}
        )
        return sorted([*current, *earlier], key=lambda doc: (doc["at"], doc["key"]))

    def item_history(self, dataset: str, key: str) -> list[dict]:
        """Every value an item has had, oldest first: its vintages then its current value (without `_id`)."""
        vintages = self.wm_vintages.find({"dataset": dataset, "key": key}, {"_id": 0}).sort("known_at", ASCENDING)
        current = self.wm_items.find_one({"_id": item_id(dataset, key)}, {"_id": 0})
        return [*vintages, *([current] if current else [])]

    # --- per-key read times (a reader that reads a rotating part of a list each run) -------------------

    @property
    def wm_read_times(self) -> Any:
        """When each key of a dataset's list (a ticker) was last read: `_id` "<dataset>|<key>", `read_at`."""
        return self.datasets_db["read_times"]

    def read_times(self, dataset: str) -> dict[str, dt.datetime]:
        """{key: last read (naive UTC)} of the dataset's list."""
        return {doc["key"]: doc["read_at"] for doc in self.wm_read_times.find({"dataset": dataset})}

    def save_read_time(self, dataset: str, key: str, read_at: dt.datetime) -> None:
        """Record that `key` was read (called once its page is stored)."""
        self._write(f"watermarks.read_times.{dataset}")
        self.wm_read_times.replace_one({"_id": item_id(dataset, key)},
                                       {"dataset": dataset, "key": key, "read_at": stored_time(read_at)}, upsert=True)

    def delete_items_before(self, dataset: str, cutoff: dt.datetime, dry_run: bool = False) -> int:
        """Delete (or, with dry_run, count) the items dated before `cutoff`, with their vintages (retention);
        returns how many items."""
        query = {"dataset": dataset, "at": {"$lt": naive_utc(cutoff)}}
        # Vintages first: a kill in between leaves items without history, never history without its item.
        self._delete_or_count(self.wm_vintages, query, "watermarks.vintages.cleanup", dry_run)
        return self._delete_or_count(self.wm_items, query, "watermarks.items.cleanup", dry_run)
