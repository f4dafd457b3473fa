"""How big each collection is: the server's own figures ($collStats, dbStats), or an estimate from a sample of
documents where the server has none (the embedded store)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import bson
from pymongo.errors import PyMongoError

from lib.storage.client import StoreBase

# Per-ticker collections (stock_data.005930, us_stock_data.BRK-B) are shown as one family each: a KRX code or a
# US symbol (upper case; the pipeline's own collections are lower case).
_TICKER_COLLECTION = re.compile(r"^(?:[0-9A-Z]{6}|[A-Z][A-Z0-9]{0,5}(?:[.\-][A-Z0-9]{1,2})?)$")
_SAMPLE = 10  # per-ticker collections sampled for an estimate


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

    def _databases(self, namespaces: Iterable[str] = ()) -> list[Any]:
        # A database that was never written lists no collection.
        scoped = [self.client[f"{self.prefix}{ns}{name}"] for ns in dict.fromkeys(namespaces) if ns
                  for name in ("stock_data", "stock_analyzed", "system_info")]
        every = [self.system, self.stock_db, self.analyzed_db, *scoped, self.etf_db, self.datasets_db]
        return list({db.name: db for db in every}.values())  # once each, whatever scope this store has

    def collection_sizes(self, namespaces: Iterable[str] = ()) -> list[CollectionSize]:
        """Every collection of every database (with each market's own under `namespaces`: "us_"), per-ticker
        collections grouped into one row per database."""
        try:
            self.system.command("dbStats")
            measured = True
        except (NotImplementedError, PyMongoError):
            measured = False  # the embedded store (or no privilege): estimate from samples
        out: list[CollectionSize] = []
        for db in self._databases(namespaces):
            names = sorted(db.list_collection_names())
            tickers = [n for n in names if _TICKER_COLLECTION.match(n)]
            singles = [self._size(db, n, measured) for n in names if n not in tickers]
            out += singles
            if tickers:
                out.append(self._family(db, tickers, singles, measured))
        return out

    def _label(self, db: Any, name: str) -> str:
        return f"{db.name.removeprefix(self.prefix)}.{name}"

    def _size(self, db: Any, name: str, measured: bool) -> CollectionSize:
        if measured:
            try:
                stats = next(db[name].aggregate([{"$collStats": {"storageStats": {}}}]))["storageStats"]
                return CollectionSize(
                    self._label(db, name), 1, int(stats.get("count", 0)), int(stats.get("size", 0)),
                    int(stats.get("storageSize", 0)), int(stats.get("totalIndexSize", 0)), False,
                )
            except (PyMongoError, StopIteration, KeyError):
                pass
        count = db[name].estimated_document_count()
        return CollectionSize(self._label(db, name), 1, count, count * _mean_size([db[name]], 5), None, None, True)

    def _family(self, db: Any, tickers: list[str], singles: list[CollectionSize], measured: bool) -> CollectionSize:
        label = self._label(db, "<ticker>")
        if measured:
            stats = db.command("dbStats")
            exact = [s for s in singles if not s.estimated]

            def rest(key: str, field: str) -> int:
                return max(0, int(stats.get(key, 0)) - sum(getattr(s, field) or 0 for s in exact))

            return CollectionSize(
                label, len(tickers), rest("objects", "documents"), rest("dataSize", "data_bytes"),
                rest("storageSize", "storage_bytes"), rest("indexSize", "index_bytes"), False,
            )
        count = sum(db[name].estimated_document_count() for name in tickers)
        sample = [db[name] for name in tickers[:: max(1, len(tickers) // _SAMPLE)][:_SAMPLE]]
        return CollectionSize(label, len(tickers), count, count * _mean_size(sample), None, None, True)


def _mean_size(collections: list[Any], per: int = 1) -> int:
    """The mean BSON size of the first `per` documents of each of these collections."""
    docs = [doc for coll in collections for doc in coll.find().limit(per)]
    return int(sum(len(bson.encode(doc)) for doc in docs) / len(docs)) if docs else 0
