"""A seam in the embedded store that cuts a multi-document write partway: the server applied some documents of
a batch (an unordered insert_many, a bulk_write, a delete_many or update_many matching several) when the
process died. The kill-at-every-write tests only die between writes; these die inside one."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import mongomock_ng
from mongomock_ng.collection import Collection

from lib.storage import Storage
from tests.conftest import CLOCK_START, FakeClock, isolated_env, replay_settings
from tests.helpers import SimulatedKill, evening, run_collection

PER_TICKER = ("stock_data", "stock_analyzed")  # databases with one collection per ticker


def _point(coll: Any) -> str:
    """The write point a collection stands for: `<db>.<ticker>` of a per-ticker family counts as one."""
    db = coll.database.name
    if db.endswith(PER_TICKER) and coll.name != "screening_index":
        return f"{db}.<ticker>"
    return f"{db}.{coll.name}"


@dataclass(frozen=True)
class Cut:
    """Cut the `call`-th multi-document write (1-based) keeping `keep` of its n documents: "first" applies only
    the first one, "rest" all but the first (so both "the first is there" and "the first is missing")."""

    call: int
    keep: str  # "first" | "rest"

    def subset(self, items: list[Any]) -> list[Any]:
        """The documents (or operations) the server applied before the process died."""
        return items[:1] if self.keep == "first" else items[1:]


@dataclass
class BatchCut:
    """Counts the embedded store's multi-document writes (name of the collection, number of documents) and, with
    `cut`, applies only part of the chosen one and kills the process (SimulatedKill)."""

    cut: Cut | None = None
    calls: list[tuple[str, int]] = field(default_factory=list)
    fired: bool = False

    def _many(self, coll: Any, items: list[Any]) -> list[Any] | None:
        """The subset to apply when this is the write to cut, else None (apply everything)."""
        if len(items) < 2 or self.fired:
            return None
        self.calls.append((_point(coll), len(items)))
        if self.cut is not None and len(self.calls) == self.cut.call:
            self.fired = True
            return self.cut.subset(items)
        return None

    @contextlib.contextmanager
    def installed(self) -> Iterator[BatchCut]:
        """Patch every embedded collection while the block runs."""
        originals = {name: getattr(Collection, name) for name in
                     ("insert_many", "bulk_write", "delete_many", "update_many")}
        cutter = self

        def insert_many(coll, documents, ordered=True, *args, **kwargs):
            documents = list(documents)
            part = cutter._many(coll, documents)
            if part is None:
                return originals["insert_many"](coll, documents, ordered, *args, **kwargs)
            originals["insert_many"](coll, part, ordered, *args, **kwargs)
            raise SimulatedKill

        def bulk_write(coll, requests, *args, **kwargs):
            requests = list(requests)
            part = cutter._many(coll, requests)
            if part is None:
                return originals["bulk_write"](coll, requests, *args, **kwargs)
            originals["bulk_write"](coll, part, *args, **kwargs)
            raise SimulatedKill

        def matched(coll, filter_):
            return [d["_id"] for d in coll.find(filter_, {"_id": 1})]

        def delete_many(coll, filter, *args, **kwargs):  # noqa: A002 - pymongo's parameter name
            part = cutter._many(coll, matched(coll, filter))
            if part is None:
                return originals["delete_many"](coll, filter, *args, **kwargs)
            originals["delete_many"](coll, {"_id": {"$in": part}})
            raise SimulatedKill

        def update_many(coll, filter, update, *args, **kwargs):  # noqa: A002
            part = cutter._many(coll, matched(coll, filter))
            if part is None:
                return originals["update_many"](coll, filter, update, *args, **kwargs)
            originals["update_many"](coll, {"_id": {"$in": part}}, update)
            raise SimulatedKill

        patched = {"insert_many": insert_many, "bulk_write": bulk_write, "delete_many": delete_many,
                   "update_many": update_many}
        for name, fn in patched.items():
            setattr(Collection, name, fn)
        try:
            yield self
        finally:
            for name, fn in originals.items():
                setattr(Collection, name, fn)


def cut_points(calls: list[tuple[str, int]], both: bool = True) -> list[Cut]:
    """The cuts a test replays: the first and the last multi-document write of each write point (a collection;
    a per-ticker family counts as one), each kept to its first document and to all but its first; with `both`
    False (fewer replays), the first write of a point keeps its first document and the last all but its
    first."""
    chosen: dict[str, list[int]] = {}
    for i, (point, _) in enumerate(calls, start=1):
        chosen.setdefault(point, []).append(i)
    cuts: set[Cut] = set()
    for indices in chosen.values():
        first, last = indices[0], indices[-1]
        if both:
            cuts |= {Cut(i, keep) for i in (first, last) for keep in ("first", "rest")}
        else:
            cuts |= {Cut(first, "first")} | ({Cut(last, "rest")} if last != first else set())
    return sorted(cuts, key=lambda c: (c.call, c.keep))


def copy_store(source: Any, target: Any, indexes: bool = False) -> None:
    """Copy every document of one embedded client into another (a collected store to start several runs from);
    with `indexes`, every collection's indexes too (unique ones constrain later writes)."""
    for db_name in source.list_database_names():
        for name in source[db_name].list_collection_names():
            docs = list(source[db_name][name].find({}))
            if docs:
                target[db_name][name].insert_many(docs)
            if indexes:
                for index, info in source[db_name][name].index_information().items():
                    if index != "_id_":
                        target[db_name][name].create_index(info["key"], name=index, unique=info.get("unique", False))


@dataclass(frozen=True)
class StoreTemplate:
    """A store built once for a module, and the fake clock's time after it was built: each test gets a copy (its
    indexes too) in its own `storage`, its clock set to that time, as if it had built the store itself."""

    client: Any
    now: dt.datetime
    tickers: tuple[str, ...]  # the stocks collected

    def copy_into(self, storage: Storage, clock: FakeClock) -> Storage:
        copy_store(self.client, storage.client, indexes=True)
        clock.now = self.now
        return storage


def collected_once(day: dt.date, **overrides: Any) -> StoreTemplate:
    """manual_setup through `day`'s evening on the replay panel (`make_settings(**overrides)`), from a fresh clock
    and without a developer's environment: the template of a module's `collected` fixture."""
    with isolated_env():
        store, clock = Storage(mongomock_ng.MongoClient(), prefix="test_"), FakeClock(CLOCK_START)
        assert run_collection("manual_setup", store, replay_settings(**overrides), evening(day), clock) == 0
    return StoreTemplate(store.client, clock.now, tuple(store.bars.stored_tickers()))
