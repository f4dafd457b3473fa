"""API keys compared in constant time; the per-key rate limit counts atomically under concurrency."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import mongomock_ng

from api.deps import key_id, key_matches
from lib.storage import Storage


def test_a_key_matches_only_exactly_and_every_configured_key_works():
    keys = ["alpha-1", "beta-2"]
    assert key_matches("alpha-1", keys) and key_matches("beta-2", keys)
    for wrong in ("alpha", "alpha-1 ", "ALPHA-1", "", None, "beta-2beta-2"):
        assert not key_matches(wrong, keys)
    assert not key_matches("alpha-1", [])
    assert key_id("alpha-1") != key_id("beta-2") and "alpha" not in key_id("alpha-1")


def test_the_rate_limit_counts_every_request_once_under_concurrency():
    storage = Storage(mongomock_ng.MongoClient(), prefix="t_")
    now = dt.datetime(2025, 6, 16, 10, 15, tzinfo=dt.UTC)
    with ThreadPoolExecutor(8) as pool:
        counts = list(pool.map(lambda _: storage.access.hit_rate_limit("k", now, 3600)[0], range(40)))
    assert sorted(counts) == list(range(1, 41))
    count, retry_after = storage.access.hit_rate_limit("k", now + dt.timedelta(hours=1), 3600)
    assert count == 1 and retry_after == 45 * 60  # a new window; the old one is gone
    assert storage.access.rate_limits.count_documents({"bucket": "k"}) == 1


def test_reservations_never_exceed_the_limit_under_concurrency_and_refunds_free_calls():
    storage = Storage(mongomock_ng.MongoClient(), prefix="t_")
    now = dt.datetime(2025, 6, 16, 10, 15, tzinfo=dt.UTC)
    with ThreadPoolExecutor(8) as pool:
        granted = list(pool.map(lambda _: storage.access.reserve_rate_limit("k", now, 3600, 3, 20)[0], range(16)))
    assert sorted(c for c in granted if c is not None) == [3, 6, 9, 12, 15, 18]  # 6 x 3 fit in 20, no more
    assert storage.access.rate_limit_count("k", now, 3600) == 18
    assert storage.access.reserve_rate_limit("k", now, 3600, 3, 20) == (None, 45 * 60)  # refused: nothing added
    storage.access.release_rate_limit("k", now, 3600, 2)
    assert storage.access.reserve_rate_limit("k", now, 3600, 3, 20)[0] == 19
    assert storage.access.reserve_rate_limit("new", now, 3600, 21, 20)[0] is None  # more than the limit: never granted
    assert storage.access.rate_limit_count("new", now, 3600) == 0
