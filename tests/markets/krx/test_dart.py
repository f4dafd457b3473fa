"""krx.disclosures on recorded OpenDART answers: what is kept and how, the watermark by KST day, OpenDART's
status codes, a refused key that never shows, a kill at any write, the point-in-time read, and collect.py."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import mongomock_ng
import pytest

import collect
from lib.context.read import day_cutoff, disclosures
from lib.errors import BadDataError, SourceBlockedError, TransientSourceError
from lib.markets.krx import SEOUL
from lib.markets.krx.dart import DartReplay, DayQuery, DisclosuresReader, disclosures_reader
from lib.markets.krx.dart_client import DailyLimitError, OpenDartClient, check_status, unzip_corp_codes
from lib.spine.registry import registry
from lib.spine.watermark import Mark, item_history, items_known_at, stored_mark, watermark_job
from lib.storage import Storage, get_client
from tests.helpers import kill_at_write, restarted
from tests.markets.krx.dart_stub import MARKET_DAY, SAMSUNG_DAY, FakeDart, recorded, serve_dart

DISCLOSURES = next(d for d in registry() if d.key == "krx.disclosures")
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample" / "dart"
KEY = "f3c9e1a0b2d4c6e8a0b1c2d3e4f5a6b7c8d9e0f1"  # a made-up 40-character key, as OpenDART's look
D = SAMSUNG_DAY


@pytest.fixture
def settings(make_settings):
    return make_settings()


def seoul(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SEOUL)


def universe(storage: Storage, *tickers: str) -> None:
    storage.universe.apply_universe((t, {"$set": {"ticker": t, "name": t, "is_active": True, "market_cap": 1}})
                                    for t in tickers)


def run(storage, settings, clock, as_of, source, first_days=1, network=False, sleeps=None) -> int:
    reader = DisclosuresReader(source, first_days, network=network)
    sleep = sleeps.append if sleeps is not None else (lambda _s: None)
    code = watermark_job(settings, storage, as_of, clock, DISCLOSURES, reader, sleep=sleep)
    clock.advance(minutes=1)
    return code


def items(storage) -> list:
    return items_known_at(storage, DISCLOSURES.key, dt.datetime(2100, 1, 1))


def stored(storage) -> dict[str, list[dict]]:
    """Everything the datasets database and the bad-data store hold, by collection, ordered by `_id`."""
    db = storage.datasets_db
    held = {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}
    return held | {"bad_data": sorted(storage.bad_data.bad_data.find({}), key=lambda d: d["_id"])}


# --- what a row becomes ----------------------------------------------------------------------------------


def test_a_recorded_day_becomes_one_disclosure_item_per_filing_dated_by_its_receipt_day():
    reader = DisclosuresReader(FakeDart({}))
    reader.tickers = frozenset({"005930"})
    rows = recorded("samsung_20220428.json")
    page = reader.normalise(FakeDart({D: rows}, size=100).list_day(D, 1), DayQuery(D, 1, D + dt.timedelta(days=1)))

    assert len(page.items) == 17 and not page.rejected
    dividend = next(i for i in page.items if i.key == "20220428800081")
    assert dividend.data == {
        "ticker": "005930", "company": "삼성전자", "title": "현금ㆍ현물배당결정", "filer": "삼성전자", "flags": "유",
        "url": "https://dart.fss.or.kr/dsaf001/main.do?rcpNo=20220428800081", "source": "dart",
        "corp_code": "00126380",
    }
    assert dividend.at == seoul(D, 0)
    assert dividend.known_at == day_cutoff(D, SEOUL)  # a date only: known at the day's end in Seoul
    assert {i.data["filer"] for i in page.items if i.key == "20220428000592"} == {"이정배"}
    assert {i.data["flags"] for i in page.items} == {"유", "공", ""}
    # The day has ended and its last page is read: the mark moves to the next day's start.
    assert page.mark == Mark(seoul(D + dt.timedelta(days=1), 0)) and page.more


def test_rows_of_companies_outside_the_universe_are_skipped_and_counted_in_the_day_s_line(caplog):
    reader = DisclosuresReader(FakeDart({}))
    reader.tickers = frozenset({"005930"})
    raw = FakeDart({MARKET_DAY: recorded("market_20200701.json")}, size=100).list_day(MARKET_DAY, 1)
    with caplog.at_level(logging.INFO, logger="pipeline"):
        page = reader.normalise(raw, DayQuery(MARKET_DAY, 1, MARKET_DAY + dt.timedelta(days=1)))
    assert page.items == () and page.rejected == ()
    assert "OpenDART 2020-07-01: 5 filing(s), 0 of the universe's stocks kept, 5 of other companies skipped" \
        in caplog.text

    reader.tickers = frozenset({"005930", "036200"})
    page = reader.normalise(raw, DayQuery(MARKET_DAY, 1, MARKET_DAY + dt.timedelta(days=1)))
    assert [(i.key, i.data["ticker"], i.data["flags"]) for i in page.items] == [("20200701900516", "036200", "코")]


def test_the_corp_code_map_fills_a_blank_stock_code_refuses_a_contradicting_one_and_is_refreshed_weekly(storage):
    universe(storage, "005930", "036200")
    source = FakeDart({})
    reader = DisclosuresReader(source)
    reader.prepare(storage, seoul(D, 9))
    assert source.corp_calls == 1
    assert storage.corp_codes.corp_map("dart")["036200"]["corp_code"] == "00260569"
    assert len(storage.corp_codes.corp_map("dart")) == 3  # 다코, unlisted (stock_code " "), is left out

    unisem = recorded("market_20200701.json")[0]
    blank = dict(unisem, stock_code="")
    wrong = dict(unisem, stock_code="005930", rcept_no="20200701900517")
    page = reader.normalise({"rows": [blank, wrong], "total_page": 1}, DayQuery(MARKET_DAY, 1, D))
    assert [(i.key, i.data["ticker"]) for i in page.items] == [("20200701900516", "036200")]
    assert [r.reason for r in page.rejected] == [
        "stock_code 005930 but corp_code 00260569 is 036200 in CORPCODE.xml"]

    DisclosuresReader(source).prepare(storage, seoul(D + dt.timedelta(days=6), 9))
    assert source.corp_calls == 1  # less than a week old: kept
    DisclosuresReader(source).prepare(storage, seoul(D + dt.timedelta(days=7), 9))
    assert source.corp_calls == 2


class _CodesFail(FakeDart):
    def __init__(self, error: Exception) -> None:
        super().__init__({})
        self.error = error

    def corp_codes(self):
        raise self.error


def test_a_failed_company_code_download_goes_on_with_the_stored_map_but_a_refused_key_stops(storage, caplog):
    universe(storage, "005930")
    DisclosuresReader(FakeDart({})).prepare(storage, seoul(D, 9))
    later = seoul(D + dt.timedelta(days=8), 9)
    reader = DisclosuresReader(_CodesFail(TransientSourceError("OpenDART did not answer in time")))
    with caplog.at_level(logging.WARNING, logger="pipeline"):
        reader.prepare(storage, later)
    assert "going on with the map stored 2022-04-28" in caplog.text
    assert reader.stock_of_corp["00260569"] == "036200"
    with pytest.raises(SourceBlockedError):
        DisclosuresReader(_CodesFail(SourceBlockedError("OpenDART refused"))).prepare(storage, later)


def test_a_row_without_rcept_no_or_with_an_impossible_date_is_rejected_and_the_rest_stored(storage, settings,
                                                                                              clock):
    universe(storage, "005930")
    rows = recorded("samsung_20220428.json")
    rows[0] = {k: v for k, v in rows[0].items() if k != "rcept_no"}
    rows[1] = dict(rows[1], rcept_dt="20220230")
    rows[2] = dict(rows[2], rcept_no="2022042800075")
    assert run(storage, settings, clock, seoul(D, 20), FakeDart({D: rows})) == 0

    assert len(items(storage)) == 14
    reasons = sorted(r["reason"] for r in storage.bad_data.bad_data.find({"dataset": "krx.disclosures"}))
    assert reasons == ["no rcept_no (OpenDART's 14-digit receipt number)",
                       "rcept_dt '20220230' is not a date (YYYYMMDD)", "rcept_no '2022042800075' is not 14 digits"]


# --- the watermark by KST day ------------------------------------------------------------------------------


def test_a_first_run_reads_back_from_the_first_days_page_by_page_and_an_empty_day_is_no_error(storage, settings,
                                                                                                 clock):
    universe(storage, "005930")
    source = FakeDart({D: recorded("samsung_20220428.json")}, size=5)
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 10), source, first_days=2) == 0

    before, after = D - dt.timedelta(days=1), D + dt.timedelta(days=1)
    # The day before answers 013 (no filings): read and passed; today is read last and is not finished.
    assert source.calls == [(before, 1), (D, 1), (D, 2), (D, 3), (D, 4), (after, 1)]
    assert len(items(storage)) == 17
    mark = stored_mark(storage, DISCLOSURES.key)
    assert mark == Mark(seoul(after, 0).astimezone(dt.UTC).replace(tzinfo=None), None)
    assert storage.jobs.latest_run("krx_disclosures")["status"] == "completed"


def test_today_is_read_again_on_every_run_so_its_later_filings_are_found(storage, settings, clock):
    universe(storage, "005930")
    rows = recorded("samsung_20220428.json")
    morning = FakeDart({D: rows[:10]})
    assert run(storage, settings, clock, seoul(D, 12), morning) == 0
    assert len(items(storage)) == 10

    evening = FakeDart({D: rows})
    assert run(storage, settings, clock, seoul(D, 18), evening) == 0
    assert evening.calls[0] == (D, 1) and len(items(storage)) == 17

    next_day = FakeDart({D: rows})
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 8), next_day) == 0
    assert next_day.calls[:4] == [(D, 1), (D, 2), (D, 3), (D, 4)]  # the ended day is read whole once more
    assert stored_mark(storage, DISCLOSURES.key).read_through == seoul(D + dt.timedelta(days=1), 0).astimezone(
        dt.UTC).replace(tzinfo=None)


def test_a_flag_added_to_a_filing_is_stored_as_a_revision_and_the_past_keeps_the_first_value(storage, settings,
                                                                                              clock):
    universe(storage, "005930")
    rows = recorded("samsung_20220428.json")
    corrected = [dict(rows[0], rm="유정")] + rows[1:]  # a correction was filed later: OpenDART adds 정
    assert run(storage, settings, clock, seoul(D, 12), FakeDart({D: rows})) == 0
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 8), FakeDart({D: corrected})) == 0

    history = item_history(storage, DISCLOSURES.key, rows[0]["rcept_no"])
    assert [i.data["flags"] for i in history] == ["유", "유정"]
    at_cutoff = disclosures(storage, registry(), "005930", day_cutoff(D, SEOUL))
    assert next(i for i in at_cutoff if i.key == rows[0]["rcept_no"]).data["flags"] == "유"


@pytest.mark.parametrize(("status", "calls"), [("800", 6), ("900", 6)])
def test_maintenance_is_transient_and_retried_within_the_run(storage, settings, clock, status, calls):
    universe(storage, "005930")
    source = FakeDart({D: recorded("samsung_20220428.json")}, failures={2: status})
    assert run(storage, settings, clock, seoul(D, 20), source, network=True) == 0
    assert len(source.calls) == calls and len(items(storage)) == 17


def test_the_day_s_request_limit_stops_the_run_and_the_next_run_resumes_to_the_same_store(storage, settings,
                                                                                            clock):
    rows = recorded("samsung_20220428.json")
    universe(storage, "005930")
    limited = FakeDart({D: rows}, failures={3: "020"})
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 9), limited, network=True) == 1
    assert len(limited.calls) == 3  # stopped at once: retrying cannot help before tomorrow
    assert len(items(storage)) == 10
    assert "request limit" in storage.jobs.latest_run("krx_disclosures")["error"]

    resumed = FakeDart({D: rows})
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 13), resumed) == 0
    assert resumed.calls[0] == (D, 3) and len(items(storage)) == 17

    clean = Storage(mongomock_ng.MongoClient(), prefix="test_")
    universe(clean, "005930")
    assert run(clean, settings, clock, seoul(D + dt.timedelta(days=1), 13), FakeDart({D: rows})) == 0
    assert [(i.key, i.data) for i in items(clean)] == [(i.key, i.data) for i in items(storage)]


def _scenario(storage, settings, clock, crash_at: int | None) -> int:
    """A day read at noon (10 filings) and whole the next morning; with crash_at, the process dies at that
    write and cron starts it again."""
    rows = recorded("samsung_20220428.json")
    writes = kill_at_write(storage, crash_at)
    for as_of, day_rows in ((seoul(D, 12), rows[:10]), (seoul(D + dt.timedelta(days=1), 8), rows)):
        restarted(lambda as_of=as_of, day_rows=day_rows: run(storage, settings, clock, as_of,
                                                             FakeDart({D: day_rows})), clock, settings)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    universe(storage, "005930")
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert len(expected["items"]) == 17 and total > 10
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        universe(crashed, "005930")
        _scenario(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"


def test_a_filing_is_not_known_before_the_end_of_its_receipt_day(storage, settings, clock):
    universe(storage, "005930")
    assert run(storage, settings, clock, seoul(D + dt.timedelta(days=1), 9),
               FakeDart({D: recorded("samsung_20220428.json")})) == 0
    assert disclosures(storage, registry(), "005930", day_cutoff(D - dt.timedelta(days=1), SEOUL)) == []
    assert disclosures(storage, registry(), "005930", seoul(D, 15)) == []  # a date only: not before the day's end
    found = disclosures(storage, registry(), "005930", day_cutoff(D, SEOUL))
    assert len(found) == 17 and disclosures(storage, registry(), "000660", day_cutoff(D, SEOUL)) == []


# --- OpenDART over HTTP: status codes and the key ----------------------------------------------------------


def test_the_client_reads_a_day_over_http_with_pacing_and_the_key_as_a_query_parameter(storage, settings, clock):
    universe(storage, "005930")
    sleeps: list[float] = []
    with serve_dart({D: recorded("samsung_20220428.json")}, size=10) as stub:
        source = OpenDartClient(KEY, stub.url)
        assert run(storage, settings, clock, seoul(D, 20), source, network=True, sleeps=sleeps) == 0
    assert len(items(storage)) == 17
    assert len(sleeps) == 2 and all(0 < s <= 0.2 for s in sleeps)  # each request 0.2 s after the one before
    assert stub.requests[0].startswith(f"/api/corpCode.xml?crtfc_key={KEY}")
    assert [p.split("?")[0] for p in stub.requests[1:]] == ["/api/list.json"] * 3  # the day before, 2 pages
    assert "bgn_de=20220428&end_de=20220428&page_no=2&page_count=100" in stub.requests[3]


def test_a_refused_key_is_source_blocked_and_the_key_is_in_no_log_line_or_stored_record(storage, settings, clock,
                                                                                          caplog):
    universe(storage, "005930")
    with serve_dart({}) as stub, caplog.at_level(logging.DEBUG):
        stub.statuses.append("010")
        code = run(storage, settings, clock, seoul(D, 20), OpenDartClient(KEY, stub.url), network=True)
    assert code == 1
    assert any(KEY in path for path in stub.requests)  # it was sent, so its absence below means something
    latest = storage.jobs.latest_run("krx_disclosures")
    assert "OpenDART refused" in latest["error"] and "DART_API_KEY" in latest["error"]
    assert latest["blocked_sources"] == {"opendart": latest["error"]}  # the alerts' source_blocked
    assert KEY not in caplog.text
    everything = [storage.client[db][name].find({}) for db in storage.client.list_database_names()
                  for name in storage.client[db].list_collection_names()]
    assert all(KEY not in json.dumps(list(docs), default=str) for docs in everything)


@pytest.mark.parametrize(("status", "error"), [
    ("010", SourceBlockedError), ("011", SourceBlockedError), ("012", SourceBlockedError), ("901", SourceBlockedError),
    ("020", DailyLimitError), ("800", TransientSourceError), ("100", BadDataError), ("", BadDataError)])
def test_each_opendart_status_is_the_pipeline_s_error(status, error):
    with pytest.raises(error):
        check_status({"status": status, "message": "m"}, "a test")
    assert not issubclass(DailyLimitError, TransientSourceError)  # not retried within the run
    assert check_status({"status": "000"}, "x") is True and check_status({"status": "013"}, "x") is False


def test_a_refused_key_on_the_company_code_download_comes_as_xml_and_is_source_blocked():
    refused = '<?xml version="1.0" encoding="UTF-8"?><result><status>010</status><message>등록되지 않은 키입니다.' \
              '</message></result>'.encode()
    with pytest.raises(SourceBlockedError, match="DART_API_KEY"):
        unzip_corp_codes(refused)


def test_an_unreachable_server_s_error_names_the_url_without_the_key():
    client = OpenDartClient(KEY, "http://127.0.0.1:9/api")  # the discard port: nothing listens there
    with pytest.raises(Exception) as raised:
        client.list_day(D, 1)
    message = str(raised.value)
    assert type(raised.value).__name__ == "TransientSourceError"
    assert KEY not in message and "<DART_API_KEY>" in message


# --- the builder and collect.py ------------------------------------------------------------------------------


def test_the_builder_replays_a_folder_when_set_else_asks_opendart_with_the_key(make_settings, tmp_path):
    replay = disclosures_reader(make_settings(krx_disclosures_replay_dir=SAMPLE))
    assert isinstance(replay.source, DartReplay) and not replay.network
    live = disclosures_reader(make_settings(dart_api_key=KEY, krx_dart_url="http://127.0.0.1:1/api"))
    assert isinstance(live.source, OpenDartClient) and live.network and live.min_gap_seconds == pytest.approx(0.2)
    assert live.source.base_url == "http://127.0.0.1:1/api"


def test_collect_reads_the_recorded_sample_end_to_end(make_settings, monkeypatch):
    monkeypatch.delenv("DART_API_KEY", raising=False)
    storage = Storage(get_client("mongomock://"))
    universe(storage, "005930", "000860")
    settings = make_settings(krx_disclosures_replay_dir=SAMPLE, krx_disclosures_first_days=40)
    assert collect.main(["krx.disclosures", "--today", "2025-06-16"], settings=settings) == 0

    found = disclosures(storage, registry(), "005930", day_cutoff(dt.date(2025, 6, 16), SEOUL))
    assert [(i.key, i.data["title"]) for i in found] == [
        ("20250509800786", "최대주주등소유주식변동신고서"), ("20250515001922", "분기보고서 (2025.03)"),
        ("20250530801005", "기업지배구조보고서공시"), ("20250604800428", "최대주주등소유주식변동신고서")]
    assert storage.watermarks.item_count(DISCLOSURES.key) == 5  # the other recorded companies are not in it
    assert storage.jobs.latest_run("krx_disclosures")["status"] == "completed"
    # The demo's --today is not over yet: read through its start, to be read again.
    assert stored_mark(storage, DISCLOSURES.key).read_through == dt.datetime(2025, 6, 15, 15, 0)


def test_collect_without_a_key_or_a_replay_folder_says_off_in_one_line_and_exits_0(make_settings, monkeypatch,
                                                                                   capsys):
    monkeypatch.delenv("DART_API_KEY", raising=False)
    monkeypatch.delenv("KRX_DISCLOSURES_REPLAY_DIR", raising=False)
    assert collect.main(["krx.disclosures", "--today", "2025-06-16"], settings=make_settings()) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "krx.disclosures is off: DART_API_KEY is blank" in lines[0]


def test_collect_with_a_replay_folder_without_recorded_answers_says_what_to_fix(make_settings, tmp_path, capsys):
    storage = Storage(get_client("mongomock://"))
    universe(storage, "005930")
    settings = make_settings(krx_disclosures_replay_dir=tmp_path)
    assert collect.main(["krx.disclosures", "--today", "2025-06-16"], settings=settings) == 2
    assert f"KRX_DISCLOSURES_REPLAY_DIR={tmp_path} has no CORPCODE.xml" in capsys.readouterr().err


def test_an_empty_universe_stops_the_run_with_what_to_do(storage, settings, clock):
    assert run(storage, settings, clock, seoul(D, 20), FakeDart({})) == 2
    assert "run `python manual_setup.py` first" in storage.jobs.latest_run("krx_disclosures")["error"]

