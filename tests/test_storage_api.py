"""Storage the API reads and writes (precomputed picks, AI results, rate limits, latest days), on the embedded
database and, with MONGODB_TEST_URI, on a real server."""

from __future__ import annotations

import datetime as dt

from tests.test_storage import store  # noqa: F401 - the embedded/real fixture

D = dt.date


def test_precomputed_picks_are_replaced_and_found_by_strategy_and_day(store):  # noqa: F811
    docs = [{"strategy": "volume_spike", "date": d.isoformat(), "params": {}, "count": 0, "picks": []}
            for d in (D(2025, 6, 13), D(2025, 6, 16))]
    assert store.picks.save_daily_picks(docs) == 2
    assert store.picks.save_daily_picks([{**docs[1], "count": 1, "picks": [{"ticker": "005930"}]}]) == 1
    assert store.picks.daily_picks_for("volume_spike", D(2025, 6, 16))["count"] == 1
    assert set(store.picks.daily_picks_days("volume_spike")) == {"2025-06-13", "2025-06-16"}
    assert store.picks.daily_picks_days("volume") == {}  # a prefix of another name is not that strategy
    assert store.picks.latest_analysis_day() is None
    store.picks.save_picks_state(D(2025, 6, 13), D(2025, 6, 16), ["volume_spike"])
    assert store.picks.latest_analysis_day() == D(2025, 6, 16) == store.picks.latest_picks_day("volume_spike")
    rows = [{"ticker": "005930", "rsi_14": 55.0}, {"ticker": "000660", "rsi_14": None}]
    store.picks.save_latest_values(D(2025, 6, 16), rows)
    store.picks.save_latest_values(D(2025, 6, 16), [{"ticker": "005930", "rsi_14": 56.0}])
    assert store.picks.latest_values("rsi_14") == {"005930": 56.0}
    # The next day's snapshot cut after its first ticker, the analysis state still at 06-16: the values served
    # for 06-16 never mix in the next day's.
    both = [{"ticker": "005930", "rsi_14": 56.0}, {"ticker": "000660", "rsi_14": 3.0}]
    store.picks.save_latest_values(D(2025, 6, 16), both)
    store.system["latest_values"].replace_one({"_id": "005930"}, {"rsi_14": 70.0, "date": "2025-06-17"})
    assert store.picks.latest_values("rsi_14", D(2025, 6, 16)) == {"000660": 3.0}


def test_only_successful_ai_results_are_served_from_the_cache(store):  # noqa: F811
    base = {"cache_key": "k", "created_utc": dt.datetime(2025, 6, 16, 10)}
    store.ai.save_ai_result({"_id": "a" * 32, "status": "failed", **base})
    assert store.ai.cached_ai_result("k") is None
    store.ai.save_ai_result({"_id": "b" * 32, "status": "ok", **base})
    store.ai.save_ai_result({"_id": "c" * 32, "status": "ok", **base, "created_utc": dt.datetime(2025, 6, 16, 11)})
    assert store.ai.cached_ai_result("k")["_id"] == "c" * 32
    assert store.ai.ai_result("a" * 32)["status"] == "failed"


def test_rate_limit_windows_count_and_expire(store):  # noqa: F811
    now = dt.datetime(2025, 6, 16, 10, 59, 30, tzinfo=dt.UTC)
    assert [store.access.hit_rate_limit("key", now, 3600)[0] for _ in range(3)] == [1, 2, 3]
    assert store.access.hit_rate_limit("key", now, 3600)[1] == 30
    assert store.access.hit_rate_limit("key", now + dt.timedelta(minutes=1), 3600)[0] == 1
    assert store.access.rate_limits.count_documents({}) == 1


def test_the_last_collected_day_is_one_read(store):  # noqa: F811
    assert store.jobs.last_done_day("daily_update") is None
    for day, status in (("2025-06-12", "completed"), ("2025-06-13", "no_data"), ("2025-06-16", "failed")):
        store.jobs.mark_day(D.fromisoformat(day), status, {}, job="daily_update")
    assert store.jobs.last_done_day("daily_update") == D(2025, 6, 13)
