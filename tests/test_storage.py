"""The storage layer. Every test runs on the embedded database and, when MONGODB_TEST_URI names a real
server, against that server too (the conformance run): the code uses plain MongoDB only."""

from __future__ import annotations

import datetime as dt
import uuid

import mongomock_ng
import pytest

from lib.storage import Storage, get_client
from lib.storage.dates import to_utc_midnight
from tests.conftest import real_mongodb_uri

NOW = dt.datetime(2025, 6, 16, 10, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(minutes=30)


@pytest.fixture(params=["embedded", "real"])
def store(request):
    if request.param == "embedded":
        yield Storage(mongomock_ng.MongoClient(), prefix="t_")
        return
    uri = real_mongodb_uri()
    if not uri:
        pytest.skip("conformance run: set MONGODB_TEST_URI=mongodb://... to run against a real server")
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    prefix = f"conf_{uuid.uuid4().hex[:8]}_"
    yield Storage(client, prefix=prefix)
    for name in ("system_info", "stock_data", "stock_analyzed", "us_etf", "us_system_info", "us_stock_data"):
        client.drop_database(f"{prefix}{name}")


def bar(day: dt.date, close: int, **extra):
    return {"date": to_utc_midnight(day), "open": close, "high": close, "low": close, "close": close,
            "volume": 10, "halted": False, **extra}


def test_bars_are_stored_once_per_day_and_rewrites_only_touch_changes(store):
    days = [dt.date(2025, 6, d) for d in (12, 13, 16)]
    assert store.bars.upsert_bars({"005930": [bar(d, 100 + i) for i, d in enumerate(days)]}) == 3
    assert store.bars.upsert_bars({"005930": [bar(d, 100 + i) for i, d in enumerate(days)]}) == 0
    assert store.bars.upsert_bars({"005930": [bar(days[1], 999)]}) == 1
    stored = store.bars.read_bars("005930")
    assert [b["close"] for b in stored] == [100, 999, 102]
    assert [b["date"] for b in stored] == [to_utc_midnight(d) for d in days]
    assert store.bars.read_bars("005930", start=days[1], end=days[1])[0]["close"] == 999


def test_a_day_cannot_be_inserted_twice(store):
    from pymongo.errors import DuplicateKeyError

    store.bars.upsert_bars({"000660": [bar(dt.date(2025, 6, 16), 1)]})
    with pytest.raises(DuplicateKeyError):
        store.stock_db["000660"].insert_one({"_id": to_utc_midnight(dt.date(2025, 6, 16)), "close": 2})


def test_the_lock_excludes_a_second_owner_until_it_goes_stale(store):
    assert store.jobs.acquire_lock("job", "a", NOW, TTL) == (True, None)
    acquired, holder = store.jobs.acquire_lock("job", "b", NOW + dt.timedelta(minutes=5), TTL)
    assert not acquired and holder["owner"] == "a"
    assert store.jobs.refresh_lock("job", "a", NOW + dt.timedelta(minutes=20), TTL)
    assert not store.jobs.acquire_lock("job", "b", NOW + dt.timedelta(minutes=45), TTL)[0]
    acquired, stale = store.jobs.acquire_lock("job", "b", NOW + dt.timedelta(minutes=51), TTL)
    assert acquired and stale["owner"] == "a"
    assert not store.jobs.refresh_lock("job", "a", NOW + dt.timedelta(minutes=52), TTL)
    store.jobs.release_lock("job", "a")  # not a's any more: nothing happens
    assert store.locks.find_one({"_id": "job"})["owner"] == "b"


def test_day_records_and_runs(store):
    store.ensure_indexes()
    store.jobs.mark_day(dt.date(2025, 6, 13), "completed", {"rows": 5}, job="daily_update")
    store.jobs.mark_day(dt.date(2025, 6, 16), "failed", {"error": "x"}, job="daily_update")
    assert store.jobs.done_days("daily_update") == {dt.date(2025, 6, 13)}
    assert store.job_status.find_one({"_id": "2025-06-13_daily_update"})["date_kst"] == "2025-06-13"
    store.jobs.start_run("r1", {"job_name": "daily_update", "start_time_utc": NOW.replace(tzinfo=None)})
    store.jobs.abandon_run("r1", NOW, "abandoned")
    assert store.jobs.runs("daily_update")[0]["status"] == "failed"
    assert store.jobs.forget_day(dt.date(2025, 6, 13), job="daily_update")
    assert store.jobs.done_days("daily_update") == set()


def test_the_embedded_client_is_shared_by_the_whole_process():
    get_client("mongomock://").demo.things.insert_one({"x": 1})
    assert get_client("mongomock://").demo.things.count_documents({}) == 1


def test_analysis_rows_are_overwritten_and_the_screening_index_answers_a_date_range(store):
    days = [dt.date(2025, 6, d) for d in (11, 12, 13, 16)]
    rows = [{"date": to_utc_midnight(d), "close": 100.0 + i, "rsi_14": None} for i, d in enumerate(days)]
    assert store.analysis.replace_analysis("005930", rows) == 4
    assert store.analysis.replace_analysis("000660", rows[:2]) == 2
    assert store.analysis.replace_analysis("005930", rows) == 0  # identical: nothing rewritten
    # recomputed without the first day (say it turned out halted) and a changed last value
    recomputed = [*rows[1:3], {**rows[3], "close": 999.0}]
    assert store.analysis.replace_analysis("005930", recomputed) == 1
    assert [r["close"] for r in store.analysis.read_analysis("005930")] == [101.0, 102.0, 999.0]
    window = store.analysis.screening_rows(dt.date(2025, 6, 12), dt.date(2025, 6, 16))
    assert sorted((r["date"].day, r["ticker"]) for r in window) == [
        (12, "000660"), (12, "005930"), (13, "005930"), (16, "005930")]
    assert {r["close"] for r in window if r["date"].day == 16} == {999.0}
    assert store.analysis.latest_screening_day() == dt.date(2025, 6, 16)
    assert store.analysis.screening_rows(None, dt.date(2025, 6, 11))[0]["ticker"] == "000660"


def test_last_closes_before_a_day_and_reading_only_some_fields(store):
    days = [dt.date(2025, 6, d) for d in (12, 13, 16)]
    store.bars.upsert_bars({"005930": [bar(d, 100 + i, base_price=99 + i) for i, d in enumerate(days)]})
    assert store.bars.last_closes_before(["005930", "000660"], days[2]) == {"005930": (days[1], 101.0)}
    assert store.bars.last_closes_before(["005930"], days[0]) == {}
    assert store.bars.read_bars("005930", fields=["close", "base_price"])[0] == {
        "date": to_utc_midnight(days[0]), "close": 100, "base_price": 99}


def test_quarantined_bars_are_kept_apart_and_cleared_when_a_clean_bar_is_stored(store):
    store.ensure_indexes()
    day = dt.date(2025, 6, 13)
    held = {"ticker": "005930", "day": day, "market": "KOSPI", "bar": bar(day, 200), "reason": "close doubled"}
    assert store.bad_data.quarantine_bars([held]) == 1
    assert store.bad_data.quarantine_bars([{**held, "reason": "seen again"}]) == 1  # one entry per ticker and day
    (entry,) = store.bad_data.quarantined("005930")
    assert entry["reason"] == "seen again" and entry["date_kst"] == "2025-06-13" and entry["bar"]["close"] == 200
    assert store.bad_data.last_quarantined_before(dt.date(2025, 6, 16)) == {"005930": (day, 200.0)}
    assert store.bad_data.last_quarantined_before(day) == {}
    assert store.bad_data.clear_quarantine({"000660": [bar(day, 5)]}) == 0
    assert store.bad_data.clear_quarantine({"005930": [bar(day, 100)]}) == 1 and store.bad_data.quarantined() == []


def test_corporate_actions_of_a_ticker_are_replaced_as_a_whole(store):
    store.ensure_indexes()

    def action(day, factor):
        return {"date": to_utc_midnight(day), "factor": factor, "kind": None, "base_price": 1,
                "previous_close": 2, "previous_date": to_utc_midnight(day), "shares_before": None,
                "shares_after": None}

    first, second = action(dt.date(2018, 5, 4), 0.02), action(dt.date(2024, 8, 21), 10.0)
    assert store.corporate_actions.replace_corporate_actions("005930", [first, second]) == 2
    assert store.corporate_actions.replace_corporate_actions("005930", [first, second]) == 0
    assert store.corporate_actions.replace_corporate_actions("000660", [first]) == 1
    reverse = [{**second, "kind": "reverse_split"}]
    assert store.corporate_actions.replace_corporate_actions("005930", reverse) == 2  # one gone
    assert [(a["ticker"], a["factor"], a["kind"]) for a in store.corporate_actions.corporate_actions("005930")] == [
        ("005930", 10.0, "reverse_split")]
    assert store.corporate_actions.corporate_actions("000660")[0]["date"] == to_utc_midnight(dt.date(2018, 5, 4))


def test_cross_section_values_by_ticker_and_day(store):
    june13, june16 = dt.date(2025, 6, 13), dt.date(2025, 6, 16)
    store.cross_section.save_cross_section({"005930": {"2025-06-13": {"rs_rating": 50.0}}, "000660": {}})
    store.cross_section.save_cross_section({"005930": {"2025-06-16": {"rs_rating": 70.0, "rs_return": 0.1}}})
    store.cross_section.save_cross_section({"005930": {"2025-06-13": {"rs_rating": 51.0}}})  # a day recomputed
    assert store.cross_section.cross_section_of("005930") == {
        "2025-06-13": {"rs_rating": 51.0}, "2025-06-16": {"rs_rating": 70.0, "rs_return": 0.1}}
    assert store.cross_section.cross_section_of("000660") == {}
    store.cross_section.mark_computed([june13, june16], ["rs_rating"], {june16: 2}, {june16: "abc"})
    assert store.cross_section.computed_days() == {june13: {"rs_rating"}, june16: {"rs_rating"}}
    assert store.cross_section.computed_days_with_prints()[june16] == ({"rs_rating"}, "abc")
    assert store.cross_section.cross_section_days.find_one({"_id": "2025-06-16"})["stocks"] == 2


def test_retention_deletes_only_before_the_cutoff_and_keeps_each_jobs_latest_run(store):
    days = [dt.date(2025, 6, d) for d in (11, 12, 13)]
    store.bars.upsert_bars({"005930": [bar(d, 100) for d in days]})
    store.analysis.replace_analysis("005930", [{"date": to_utc_midnight(d), "close": 1.0} for d in days])
    assert store.analysis.delete_screening_before(days[1], dry_run=True) == 1
    assert store.analysis.first_screening_day() == days[0]
    assert store.analysis.delete_screening_before(days[1]) == 1 and store.analysis.first_screening_day() == days[1]
    assert len(store.analysis.read_analysis("005930")) == 3  # what track records read is not touched
    assert store.bars.delete_bars_before(days[2]) == 2 and [b["close"] for b in store.bars.read_bars("005930")] == [100]
    start = NOW.replace(tzinfo=None)
    for i, (job, status) in enumerate([("a", "failed"), ("a", "completed"), ("b", "completed"), ("c", "running")]):
        store.jobs.start_run(f"r{i}", {"job_name": job, "start_time_utc": start + dt.timedelta(minutes=i)})
        store.jobs.finish_run(f"r{i}", {"status": status})
    assert store.jobs.delete_runs_before(start + dt.timedelta(days=1), dry_run=True) == 1
    assert store.jobs.delete_runs_before(start + dt.timedelta(days=1)) == 1
    assert sorted(r["_id"] for r in store.jobs.runs()) == ["r1", "r2", "r3"]


def test_failure_streaks_are_found_with_indexed_reads(store):
    store.ensure_indexes()
    start = NOW.replace(tzinfo=None)
    statuses = ["completed", "failed", "failed", "completed", "failed", "failed", "failed"]
    for i, status in enumerate(statuses):
        blocked = {"blocked_sources": {"pykrx": "LOGOUT"}} if i >= 2 else {}
        store.jobs.start_run(f"r{i}", {"job_name": "daily_update", "start_time_utc": start + dt.timedelta(hours=i)})
        store.jobs.finish_run(f"r{i}", {"status": status, **blocked})
    latest = store.jobs.latest_run("daily_update")
    assert latest["_id"] == "r6" and store.jobs.latest_run("daily_update", "completed")["_id"] == "r3"
    assert store.jobs.streak_start("daily_update", latest)["_id"] == "r4"
    assert store.jobs.count_runs_between("daily_update", store.jobs.streak_start("daily_update", latest), latest) == 3
    assert store.jobs.streak_start("daily_update", latest, source="pykrx")["_id"] == "r2"
    assert store.jobs.job_names("run") == ["daily_update"]


def test_an_alert_channel_is_claimed_by_one_run_only(store):
    assert store.alerts.open_alert("k", {"kind": "stale"}, ["telegram", "webhook"], NOW)
    assert not store.alerts.open_alert("k", {"kind": "stale"}, ["telegram"], NOW)
    assert store.alerts.claim_channel("k", "telegram", NOW, 3) and not store.alerts.claim_channel(
        "k", "telegram", NOW, 3
    )
    store.alerts.finish_channel("k", "telegram", NOW, "HTTP 500")
    assert store.alerts.claim_channel("k", "telegram", NOW, 2)  # a failed delivery may be tried again
    store.alerts.finish_channel("k", "telegram", NOW, "HTTP 500")
    assert not store.alerts.claim_channel("k", "telegram", NOW, 2)  # out of attempts
    store.alerts.finish_channel("k", "webhook", NOW, None)
    assert not store.alerts.claim_channel("k", "webhook", NOW, 3)  # sent: never again
    assert store.alerts.known_alert_keys(["k", "other"]) == {"k"}
    assert store.alerts.delete_alerts_before(NOW + dt.timedelta(seconds=1), dry_run=True) == 1


def test_collection_sizes_count_every_document(store):
    store.bars.upsert_bars({t: [bar(dt.date(2025, 6, 13), 1)] for t in ("005930", "000660")})
    store.jobs.mark_day(dt.date(2025, 6, 13), "completed", {}, job="daily_update")
    sizes = {s.name: s for s in store.sizes.collection_sizes()}
    assert sizes["stock_data.<ticker>"].documents == 2 and sizes["stock_data.<ticker>"].collections == 2
    assert sizes["system_info.job_status"].documents == 1 and sizes["system_info.job_status"].data_bytes > 0


def _holding(ticker: str, percent: float) -> dict:
    return {"ticker": ticker, "name": f"{ticker} Inc", "holding_percent": percent}


def test_a_holdings_snapshot_is_served_only_whole_and_a_later_answer_replaces_it_whole(store):
    fields = {"source": "replay", "source_as_of": None}
    store.etf.save_holdings("XLF", dt.date(2025, 7, 1), [_holding("JPM", 10.0), _holding("BAC", 5.0)], fields)
    july = [_holding("BRK-B", 12.0), _holding("JPM", 11.0), _holding("V", 8.0)]
    store.etf.save_holdings("XLF", dt.date(2025, 7, 29), july, fields)
    holdings = store.etf_db["collected_etf_holdings"]
    # A batch the server stopped applying after two of the three rows: neither reader takes them for a snapshot.
    holdings.delete_one({"_id": "XLF:2025-07-29:V"})
    collected, rows = store.etf.holdings_on("XLF", dt.date(2025, 7, 30))
    assert collected == dt.date(2025, 7, 1) and [r["stock_ticker"] for r in rows] == ["JPM", "BAC"]
    assert list(store.etf.holdings_history(["XLF"])["XLF"]) == ["2025-07-01"]
    # Collected again with another answer: the row only the earlier answer had is gone, the snapshot is whole.
    store.etf.save_holdings("XLF", dt.date(2025, 7, 29), [_holding("BRK-B", 12.0), _holding("V", 8.0)], fields)
    collected, rows = store.etf.holdings_on("XLF", dt.date(2025, 7, 30))
    assert collected == dt.date(2025, 7, 29) and [r["stock_ticker"] for r in rows] == ["BRK-B", "V"]
    assert "unit_size" not in rows[0] and [r["rank"] for r in rows] == [1, 2]
    assert holdings.count_documents({"collected_date": "2025-07-29"}) == 2
    # Rows stored before snapshots carried their size: nothing tells a cut one, so they are served as before.
    holdings.insert_one({"_id": "XLK:2025-07-01:AAPL", "etf_ticker": "XLK", "stock_ticker": "AAPL",
                         "stock_name": "Apple", "holding_percent": 14.0, "rank": 1, "collected_date": "2025-07-01"})
    assert store.etf.holdings_on("XLK", dt.date(2025, 7, 30))[0] == dt.date(2025, 7, 1)


def test_a_trending_table_is_served_only_whole(store):
    def rows(day: str) -> list[dict]:
        return [{"as_of_date": day, "period_days": period, "etf_ticker": etf, "rank_by_outperformance": rank,
                 "outperformance": 1.0 / rank, "is_trending": rank == 1}
                for period in (5, 10) for rank, etf in enumerate(("XLF", "XLU", "SPY"), start=1)]

    store.etf.save_trending(rows("2025-07-30") + rows("2025-07-31"))
    assert store.etf.latest_trending_day() == dt.date(2025, 7, 31)
    store.etf_db["analytics_trending_etfs"].delete_one({"_id": "2025-07-31:10:XLU"})  # a cut write
    assert store.etf.latest_trending_day() == dt.date(2025, 7, 30)
    assert {r["period_days"] for r in store.etf.trending_rows(dt.date(2025, 7, 31))} == {5}
    assert store.etf.trending_rows(dt.date(2025, 7, 31), 10) == []
    assert [r["etf_ticker"] for r in store.etf.trending_rows(dt.date(2025, 7, 30), 10)] == ["XLF", "XLU", "SPY"]
    store.etf.save_trending(rows("2025-07-31"))
    assert store.etf.latest_trending_day() == dt.date(2025, 7, 31)
    assert len(store.etf.trending_rows(dt.date(2025, 7, 31))) == 6
    # Computed again without an ETF (removed from the settings): its row goes, the table stays whole.
    store.etf.save_trending([r for r in rows("2025-07-31") if r["etf_ticker"] != "SPY"])
    assert [r["etf_ticker"] for r in store.etf.trending_rows(dt.date(2025, 7, 31), 10)] == ["XLF", "XLU"]


def test_the_screening_span_follows_every_write_without_sorting_the_index(store):
    days = [dt.date(2025, 6, d) for d in (11, 12, 13, 16)]
    rows = [{"date": to_utc_midnight(d), "close": 100.0 + i} for i, d in enumerate(days)]
    assert store.analysis.first_screening_day() is None and store.analysis.latest_screening_day() is None
    store.analysis.replace_analysis("005930", rows[1:3])
    store.analysis.replace_analysis("000660", rows)
    assert (store.analysis.first_screening_day(), store.analysis.latest_screening_day()) == (days[0], days[3])
    store.analysis.replace_analysis("000660", rows[1:3])  # its first and last day are no longer produced
    assert (store.analysis.first_screening_day(), store.analysis.latest_screening_day()) == (days[1], days[2])
    store.analysis.delete_screening_before(days[2])
    assert (store.analysis.first_screening_day(), store.analysis.latest_screening_day()) == (days[2], days[2])
    store.analysis.screening.delete_many({})  # a span read from the index when the document is missing
    store.system["analysis_state"].delete_many({})
    assert store.analysis.first_screening_day() is None


def test_a_market_scope_keeps_its_bars_universe_and_picks_apart_but_shares_job_records(store):
    us = store.scoped("us_")
    us.bars.upsert_bars({"AAPL": [bar(dt.date(2025, 6, 16), 196)]})
    us.universe.apply_universe([("AAPL", {"$set": {"is_active": True, "market_cap": 2.9e12}})])
    us.picks.daily_picks.insert_one({"_id": "2025-06-16:x:AAPL", "ticker": "AAPL"})
    store.jobs.mark_day(dt.date(2025, 6, 16), "completed", {}, job="us_stocks_update")

    assert us.bars.stored_tickers() == ["AAPL"] and store.bars.stored_tickers() == []
    assert [d["ticker"] for d in us.universe.universe()] == ["AAPL"] and store.universe.universe() == []
    assert store.picks.daily_picks.count_documents({}) == 0
    assert us.jobs.done_days("us_stocks_update") == {dt.date(2025, 6, 16)}  # one job_status for every market
    assert store.scoped("") is store and us.scoped("us_").namespace == "us_"
    assert us.stock_db.name.endswith("us_stock_data") and us.market_info.name.endswith("us_system_info")
