"""How big each collection is: the server's own figures ($collStats, dbStats), or an estimate from a sample of
documents where the server has none (the embedded store)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import bson
from pymongo.errors import PyMongoError

from lib.storage.client import StoreBase

# Per-ticker collections (stock_data.005930, stock_analyzed.005930) are shown as one family each.
_TICKER_COLLECTION = re.compile(r"^[0-9A-Z]{6}$")
_SAMPLE = 20


@dataclass(frozen=True)
class CollectionSize:
    """One collection, or one family of per-ticker collections (`collections` > 1)."""

    name: str
    collections: int
    documents: int
    data_bytes: int
    storage_bytes: int | None  # on disk (compressed); None when estimated
    index_bytes: int | None
    estimated: bool


class SizesStore(StoreBase):
    """Document counts and sizes per collection of the pipeline's databases."""

    def _databases(self) -> list[Any]:
        return [self.system, self.stock_db, self.analyzed_db]

    def collection_sizes(self) -> list[CollectionSize]:
        """Every collection of every database, per-ticker collections grouped into one row per database."""
        out: list[CollectionSize] = []
        for db in self._databases():
            names = sorted(db.list_collection_names())
            tickers = [n for n in names if _TICKER_COLLECTION.match(n)]
            singles = [self._size(db, n) for n in names if n not in tickers]
            out += singles
            if tickers:
                out.append(self._family(db, tickers, singles))
        return out

    def _size(self, db: Any, name: str) -> CollectionSize:
        label = f"{db.name.removeprefix(self.prefix)}.{name}"
        try:
            stats = next(db[name].aggregate([{"$collStats": {"storageStats": {}}}]))["storageStats"]
        except (NotImplementedError, PyMongoError, StopIteration, KeyError):
            count, data = _estimate(db[name])
            return CollectionSize(label, 1, count, data, None, None, True)
        return CollectionSize(
            label, 1, int(stats.get("count", 0)), int(stats.get("size", 0)),
            int(stats.get("storageSize", 0)), int(stats.get("totalIndexSize", 0)), False,
        )

    def _family(self, db: Any, tickers: list[str], singles: list[CollectionSize]) -> CollectionSize:
        label = f"{db.name.removeprefix(self.prefix)}.<ticker>"
        try:
            stats = db.command("dbStats")
        except (NotImplementedError, PyMongoError):
            counts = [_estimate(db[name]) for name in tickers]
            return CollectionSize(
                label, len(tickers), sum(c for c, _ in counts), sum(d for _, d in counts), None, None, True
            )
        exact = [s for s in singles if not s.estimated]

        def rest(key: str, field: str) -> int:
            return max(0, int(stats.get(key, 0)) - sum(getattr(s, field) or 0 for s in exact))

        return CollectionSize(
            label, len(tickers), rest("objects", "documents"), rest("dataSize", "data_bytes"),
            rest("storageSize", "storage_bytes"), rest("indexSize", "index_bytes"), False,
        )


def _estimate(coll: Any) -> tuple[int, int]:
    """(documents, bytes): the count, times the mean BSON size of the first documents."""
    count = coll.estimated_document_count()
    if not count:
        return 0, 0
    sample = list(coll.find().limit(_SAMPLE))
    mean = sum(len(bson.encode(doc)) for doc in sample) / max(1, len(sample))
    return count, int(mean * count)
