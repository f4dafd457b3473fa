"""tools/store_dump.py: two stores holding the same documents compare equal whatever their runs' ids and times;
a changed value, a missing document, an extra collection or a changed type is reported; a wrong file is exit 2."""

from __future__ import annotations

import datetime as dt
import gzip

import mongomock_ng
import pytest

from lib.storage import Storage
from tools.store_compare import compare
from tools.store_dump import main, snapshot, write_dump

DAY = dt.date(2025, 6, 16)


def demo_like_store(run_id: str, started: dt.datetime, close: float = 70_000, pid: int = 4242) -> Storage:
    """What a collection run leaves: a run record, a day record naming the run, a lock, bars, a universe entry."""
    store = Storage(mongomock_ng.MongoClient(tz_aware=False), prefix="t_")
    store.ensure_indexes()
    store.jobs.start_run(run_id, {"job_name": "daily_update", "start_time_utc": started, "host": "vm-1", "pid": pid})
    store.jobs.mark_day(DAY, "completed", {"run_id": run_id, "rows": 2}, job="daily_update")
    store.jobs.acquire_lock("daily_update", run_id, started, dt.timedelta(minutes=10))
    store.bars.upsert_bars({
        "005930": [{"date": dt.datetime(2025, 6, 13), "close": 69_500, "volume": 10},
                   {"date": dt.datetime(2025, 6, 16), "close": close, "volume": 12}],
    })
    store.universe.apply_universe([("005930", {"$set": {"name": "삼성전자", "market": "KOSPI", "is_active": True}})])
    store.jobs.finish_run(run_id, {"status": "completed", "end_time_utc": started + dt.timedelta(seconds=42)})
    return store


def dumps_of(a: Storage, b: Storage) -> tuple[dict, dict]:
    return snapshot(a.client), snapshot(b.client)


def first_run() -> Storage:
    return demo_like_store("daily_update_20251205T120000_1a2b3c4d", dt.datetime(2025, 12, 5, 12))


def test_run_ids_run_times_host_pid_and_server_ids_are_masked_so_two_runs_compare_equal():
    later = demo_like_store("daily_update_20261205T203015_9f8e7d6c", dt.datetime(2026, 12, 5, 20, 30, 15), pid=77)
    a, b = dumps_of(first_run(), later)
    assert compare(a, b) == []
    jobs = a["databases"]["t_system_info"]["job_status"]
    day, run = jobs
    assert day["run_id"] == run["_id"] == "daily_update_<run>"  # the job's name stays
    assert run["start_time_utc"] == run["end_time_utc"] == {"$masked": "datetime"}
    assert (run["host"], run["pid"]) == ({"$masked": "string"}, {"$masked": "int"})
    lock = a["databases"]["t_system_info"]["locks"][0]
    assert lock["owner"] == "daily_update_<run>" and lock["heartbeat_utc"] == {"$masked": "datetime"}
    assert a["databases"]["t_system_info"]["target_tickers"][0]["_id"] == {"$masked": "ObjectId"}
    # data dates are kept, as datetimes (not strings)
    assert a["databases"]["t_stock_data"]["005930"][1]["date"] == {"$date": "2025-06-16T00:00:00"}


def test_a_changed_close_is_reported_with_its_path_and_both_values(tmp_path, capsys):
    a, b = dumps_of(first_run(), demo_like_store("daily_update_20251205T120000_1a2b3c4d",
                                                 dt.datetime(2025, 12, 5, 12), close=70_100))
    report = compare(a, b)
    assert report[0] == "t_stock_data.005930: 2 documents in A, 2 in B; 1 differ, 0 only in A, 0 only in B"
    assert report[1] == '  _id {"$date":"2025-06-16T00:00:00"}: 1 field(s) differ'
    assert report[2] == "    close: A 70000 (int)  B 70100 (int)"
    write_dump(tmp_path / "a.json.gz", a)
    write_dump(tmp_path / "b.json.gz", b)
    assert main(["compare", str(tmp_path / "a.json.gz"), str(tmp_path / "b.json.gz")]) == 1
    assert "    close: A 70000 (int)  B 70100 (int)" in capsys.readouterr().out.splitlines()


def test_a_missing_document_and_an_extra_collection_are_reported():
    a_store, b_store = first_run(), first_run()
    b_store.jobs.forget_day(DAY, job="daily_update")
    b_store.etf_db["collected_meta_etf"].insert_one({"_id": "SPY", "ticker": "SPY"})
    report = compare(*dumps_of(a_store, b_store))
    assert "only in B: collection t_us_etf.collected_meta_etf (1 documents)" in report
    assert "t_system_info.job_status: 2 documents in A, 1 in B; 0 differ, 1 only in A, 0 only in B" in report
    assert '  only in A: _id "2025-06-16_daily_update"' in report


def test_an_int_and_the_same_float_differ():
    a_store, b_store = first_run(), first_run()
    b_store.stock_db["005930"].update_one({"_id": dt.datetime(2025, 6, 13)}, {"$set": {"volume": 10.0}})
    report = compare(*dumps_of(a_store, b_store))
    assert "    volume: A 10 (int)  B 10.0 (float)" in report


def test_the_same_store_gives_the_same_bytes(tmp_path):
    a, b = dumps_of(first_run(), first_run())
    write_dump(tmp_path / "a.json.gz", a)
    write_dump(tmp_path / "b.json.gz", b)
    assert (tmp_path / "a.json.gz").read_bytes() == (tmp_path / "b.json.gz").read_bytes()
    assert main(["compare", str(tmp_path / "a.json.gz"), str(tmp_path / "b.json.gz")]) == 0


@pytest.mark.parametrize("content, says", [
    (None, "no such file"),
    (b"# a README\n", "not a store dump (gzip of JSON)"),
    ("gzip", 'JSON, but not a store dump (no "format": "store_dump")'),
])
def test_a_missing_file_or_one_that_is_not_a_dump_is_one_line_and_exit_2(tmp_path, capsys, content, says):
    good = tmp_path / "good.json.gz"
    write_dump(good, snapshot(first_run().client))
    wrong = tmp_path / "wrong.json.gz"
    if content == "gzip":
        wrong.write_bytes(gzip.compress(b'{"databases": {}}'))
    elif content is not None:
        wrong.write_bytes(content)
    assert main(["compare", str(good), str(wrong)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and str(wrong) in err[0]

