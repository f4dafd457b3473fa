"""The embedded server's `_id` lookup (lib/storage/embedded.py) answers every query shape exactly as
mongomock-ng's own scan does: only faster; and its writes are atomic across threads, as a real server's are."""

from __future__ import annotations

import datetime as dt
import threading
import time

import mongomock_ng
import pytest
from bson import ObjectId
from mongomock_ng.collection import Collection

from lib.storage import embedded

QUERIES = [
    {"_id": "2025-06-16|005930|openai:a|p:v1"},  # stored
    {"_id": "2025-06-16|000000|openai:a|p:v1"},  # not stored
    {"_id": "2025-06-16|005930|openai:a|p:v1", "status": "ok"},  # stored, the other condition holds
    {"_id": "2025-06-16|005930|openai:a|p:v1", "status": "failed"},  # stored, the other condition fails
    {"_id": "2025-06-16|005930|openai:a|p:v1", "outcomes.5": {"$exists": False}},
    {"_id": "2025-06-16|000660|openai:a|p:v1", "outcomes.5": {"$exists": True}},
    {"_id": {"$in": ["2025-06-16|005930|openai:a|p:v1", "x"]}},  # strings: one pass with a set
    {"_id": {"$in": ["2025-06-16|000660|openai:a|p:v1", "2025-06-16|005930|openai:a|p:v1"]}, "status": "ok"},
    {"_id": {"$in": []}},
    {"_id": {"$in": ["7", 7]}},  # not only strings: the scan
    {"_id": {"$in": ["x"], "$ne": "y"}},  # more than $in: the scan
    {"_id": "7"},  # a string where the stored _id is the number 7: no match on a real server either
    {"_id": 7},
    {"status": "ok"},
    {},
]


def _filled(c):
    c.insert_many([
        {"_id": "2025-06-16|005930|openai:a|p:v1", "status": "ok", "outcomes": {}},
        {"_id": "2025-06-16|000660|openai:a|p:v1", "status": "failed", "outcomes": {"5": {"beat": True}}},
        {"_id": 7, "status": "ok"},
        {"_id": ObjectId("0123456789abcdef01234567"), "status": "ok", "when": dt.datetime(2025, 6, 16)},
    ])
    return c


@pytest.fixture
def collection():
    embedded.install()
    return _filled(mongomock_ng.MongoClient().db.things)


def _answers(c) -> list:
    return [sorted(map(str, (d["_id"] for d in c.find(q)))) for q in QUERIES] + \
           [c.count_documents(q) for q in QUERIES] + [c.find_one(q) for q in QUERIES]


def test_the_id_lookup_answers_every_query_shape_as_the_librarys_scan(collection, monkeypatch):
    assert Collection._iter_documents is not embedded.library_scan  # the lookup is installed
    fast = _answers(collection)
    monkeypatch.setattr(Collection, "_iter_documents", embedded.library_scan)
    assert _answers(collection) == fast


def test_writes_by_id_land_on_the_same_documents_as_with_the_scan(monkeypatch):
    def run(c):
        c.update_one({"_id": "2025-06-16|005930|openai:a|p:v1"}, {"$set": {"outcomes.5": {"beat": False}}})
        c.update_one({"_id": "2025-06-16|005930|openai:a|p:v1", "status": "failed"}, {"$set": {"hit": 1}})
        c.update_many({"_id": "2025-06-16|000660|openai:a|p:v1"}, {"$set": {"seen": True}})
        c.replace_one({"_id": "new"}, {"_id": "new", "status": "ok"}, upsert=True)
        c.update_one({"_id": "upserted"}, {"$set": {"status": "ok"}}, upsert=True)
        c.delete_one({"_id": 7})
        c.delete_one({"_id": "2025-06-16|000660|openai:a|p:v1", "status": "ok"})  # the condition fails: kept
        return sorted((str(d["_id"]), sorted(d.items(), key=str)) for d in c.find())

    embedded.install()
    fast = run(_filled(mongomock_ng.MongoClient().db.things))
    monkeypatch.setattr(Collection, "_iter_documents", embedded.library_scan)
    assert run(_filled(mongomock_ng.MongoClient().db.things)) == fast


def test_two_threads_claiming_at_once_never_get_the_same_lease(monkeypatch):
    # mongomock-ng finds the document, then updates it by _id: slowed between the two steps, two threads would
    # both find the free batch and both claim it. The embedded store's write lock makes the pair one step.
    from lib.storage import Storage

    store = Storage(mongomock_ng.MongoClient(), prefix="t_")
    now, ttl = dt.datetime(2025, 9, 30, 21, 0), dt.timedelta(minutes=10)
    store.leases.plan("s", [("0000", ["AAPL"]), ("0001", ["MSFT"])], "vm-a", now)
    found = Collection.find_one

    def slow_find_one(self, *args, **kwargs):
        document = found(self, *args, **kwargs)
        time.sleep(0.05)  # the other thread runs here
        return document

    monkeypatch.setattr(Collection, "find_one", slow_find_one)
    start = threading.Barrier(2)
    claimed: dict[str, str] = {}

    def worker(holder: str) -> None:
        start.wait()
        claimed[holder] = store.leases.claim("s", holder, now, ttl)["name"]

    threads = [threading.Thread(target=worker, args=(holder,)) for holder in ("vm-a", "vm-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed.values()) == ["0000", "0001"]
    holders = {d["name"]: d["holder"] for d in store.leases.leases.find({"kind": "batch"})}
    assert holders == {name: holder for holder, name in claimed.items()}
