"""krx.macro on real published Korean figures: the recorded answers of data/sample/macro/ecos (replay), ECOS's
JSON and XML error answers served to the live client through a fake session, the publication rules that stand
in for vintages, and a kill at any write. No network."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path
from typing import Any

import mongomock_ng
import pytest
import requests

from lib.context.read import macro_history, macro_latest
from lib.errors import BadDataError, RateLimitedError, TransientSourceError
from lib.markets.krx.ecos import EcosMacroReader
from lib.markets.krx.ecos_client import EcosClient
from lib.markets.krx.ecos_replay import EcosReplay
from lib.markets.krx.ecos_series import SEOUL, SERIES, items_of, known_at
from lib.ops.alerts import job_events
from lib.spine.registry import registry
from lib.spine.watermark import item_history, watermark_job
from lib.storage import Storage
from tests.helpers import kill_at_write, restarted

ROOT = Path(__file__).resolve().parents[3]
ECOS_DIR = ROOT / "data" / "sample" / "macro" / "ecos"
KEY = "ABCD1234EFGH5678IJKL"  # an ECOS-shaped key: it must never show up in a log or a record
DATASET = "krx.macro"
CPI, KTB, BASE = SERIES["901Y009/0"], SERIES["817Y002/010200000"], SERIES["722Y001/0101000"]


def kst_evening(day: dt.date) -> dt.datetime:
    """20:40 in Seoul on that day (the crontab's evening run), aware UTC."""
    return dt.datetime.combine(day, dt.time(11, 40), tzinfo=dt.UTC)


def run(storage, settings, clock, as_of, reader) -> int:
    code = watermark_job(settings, storage, as_of, clock, registry().get(DATASET), reader, sleep=lambda _s: None)
    clock.advance(minutes=1)
    return code


def replay_reader(codes=("722Y001/0101000", "817Y002/010200000", "731Y001/0000001", "901Y009/0"), years=3,
                  reread=90, folder=ECOS_DIR):
    return EcosMacroReader(tuple(SERIES[c] for c in codes), EcosReplay(folder), years, reread)


def stored(storage) -> dict[str, list[dict]]:
    db = storage.datasets_db
    return {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self.body = body
        self.text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)

    def json(self) -> Any:
        if isinstance(self.body, str):
            raise ValueError("not JSON")
        return self.body


class FakeSession:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.urls: list[str] = []

    def get(self, url: str, timeout: float) -> FakeResponse:
        self.urls.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def settings(make_settings):
    return make_settings()


# --- normalising the recorded answers --------------------------------------------------------------------


def test_cpi_year_on_year_is_computed_from_the_index_and_matches_the_published_rates(storage, settings, clock):
    # June's index came out on 2025-07-02 and counts from the 7th (the stated publication rule)
    assert run(storage, settings, clock, kst_evening(dt.date(2025, 7, 8)), replay_reader(("901Y009/0",))) == 0
    [cpi] = macro_history(storage, registry(), kst_evening(dt.date(2025, 7, 31))).values()
    computed = {i.at.date().isoformat()[:7]: i.data["value"] for i in cpi}
    # Statistics Korea's published year-on-year rates (news of each release, see data/sample/macro/ecos/README.md)
    published = {"2023-06": 2.7, "2024-05": 2.7, "2024-06": 2.4, "2024-12": 1.9, "2025-05": 1.9, "2025-06": 2.2}
    assert {month: round(value, 1) for month, value in computed.items()} == published
    assert computed["2025-06"] == 2.17  # 116.31 / 113.84
    assert cpi[-1].data == {"series": "901Y009/0", "name": "Korea CPI, % change from a year ago", "value": 2.17,
                            "unit": "%", "frequency": "monthly", "source": "ecos"}


def test_the_demo_day_sees_the_base_rate_the_ktb_yield_and_the_cpi_published_by_then(storage, settings, clock):
    assert run(storage, settings, clock, kst_evening(dt.date(2025, 6, 16)), replay_reader(years=1)) == 0
    latest = {r.series: r for r in macro_latest(storage, registry(), kst_evening(dt.date(2025, 6, 16)) +
                                                dt.timedelta(hours=4))}
    assert set(latest) == {"722Y001/0101000", "817Y002/010200000", "901Y009/0"}  # KRW/USD is not recorded
    assert (latest["722Y001/0101000"].value, latest["722Y001/0101000"].unit) == (2.5, "%")  # cut on 2025-05-29
    ktb = latest["817Y002/010200000"]
    assert (ktb.date, ktb.value, ktb.previous_date, ktb.previous) == (
        dt.date(2025, 6, 16), 2.483, dt.date(2025, 6, 13), 2.462)
    cpi = latest["901Y009/0"]  # May's (released 2025-06-04); June's came on 2025-07-02
    assert (cpi.date, cpi.value) == (dt.date(2025, 5, 1), 1.911)
    base = macro_history(storage, registry(), kst_evening(dt.date(2025, 6, 16)), series="722Y001/0101000")
    rates = {i.at.date(): i.data["value"] for i in base["722Y001/0101000"]}
    assert (rates[dt.date(2025, 2, 24)], rates[dt.date(2025, 2, 25)], rates[dt.date(2025, 5, 29)]) == (3.0, 2.75, 2.5)


def test_a_value_counts_from_its_day_end_and_a_monthly_cpi_from_the_seventh_of_the_next_month():
    assert known_at(dt.date(2025, 6, 16), KTB) == dt.datetime(2025, 6, 16, 23, 59, 59, 999000, tzinfo=SEOUL)
    assert known_at(dt.date(2025, 5, 1), CPI) == dt.datetime(2025, 6, 7, 23, 59, 59, 999000, tzinfo=SEOUL)
    assert known_at(dt.date(2024, 12, 1), CPI).date() == dt.date(2025, 1, 7)


def test_blank_and_dash_are_missing_and_a_bad_row_is_rejected():
    rows = [{"TIME": "20250613", "DATA_VALUE": "2.462"}, {"TIME": "20250614", "DATA_VALUE": "-"},
            {"TIME": "20250615", "DATA_VALUE": ""}, {"TIME": "2025-06-16", "DATA_VALUE": "2.483"},
            {"TIME": "20250617", "DATA_VALUE": "1,234.5"}]
    items, rejected = items_of(rows, KTB)
    assert [(i.key, i.data["value"]) for i in items] == [
        ("817Y002/010200000:2025-06-13", 2.462), ("817Y002/010200000:2025-06-14", None),
        ("817Y002/010200000:2025-06-15", None), ("817Y002/010200000:2025-06-17", 1234.5)]
    [bad] = rejected
    assert bad.key == "817Y002/010200000:2025-06-16" and "is not a D period" in bad.reason


def test_a_changed_value_counts_from_the_run_that_read_it(storage, settings, clock, tmp_path):
    """ECOS keeps no vintages: an analysis dated before the run that read a corrected value sees the first."""
    folder = tmp_path / "ecos"
    folder.mkdir()
    path = folder / "817Y002_010200000.csv"
    path.write_text((ECOS_DIR / path.name).read_text())
    assert run(storage, settings, clock, kst_evening(dt.date(2025, 6, 16)),
               replay_reader(("817Y002/010200000",), folder=folder)) == 0
    path.write_text(path.read_text().replace("20250613,2.462", "20250613,2.470"))  # a correction, for the test
    assert run(storage, settings, clock, kst_evening(dt.date(2025, 6, 18)),
               replay_reader(("817Y002/010200000",), folder=folder)) == 0
    assert storage.jobs.latest_run("krx_macro")["items_revised"] == 1
    history = item_history(storage, DATASET, "817Y002/010200000:2025-06-13")
    assert [(h.data["value"], h.known_at) for h in history] == [
        (2.462, dt.datetime(2025, 6, 13, 14, 59, 59, 999000)),
        (2.47, kst_evening(dt.date(2025, 6, 18)).replace(tzinfo=None))]
    [before] = macro_history(storage, registry(), kst_evening(dt.date(2025, 6, 17)), dt.datetime(2025, 6, 13),
                             series="817Y002/010200000").values()
    assert before[0].data["value"] == 2.462


# --- crash safety -----------------------------------------------------------------------------------------


def _scenario(storage, settings, clock, crash_at):
    writes = kill_at_write(storage, crash_at)
    for day in (dt.date(2025, 6, 13), dt.date(2025, 7, 3)):
        restarted(lambda day=day: run(storage, settings, clock, kst_evening(day),
                                      replay_reader(("817Y002/010200000", "731Y001/0000001", "901Y009/0"))),
                  clock, settings)
    return writes["n"]


def test_a_run_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert len(expected["items"]) == 15 and total > 8
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _scenario(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"


# --- the live client: ECOS's answers and the key -------------------------------------------------------------

ROWS = {"StatisticSearch": {"list_total_count": 2, "row": [
    {"STAT_CODE": "817Y002", "STAT_NAME": "1.3.2.1. 시장금리(일별)", "ITEM_CODE1": "010200000",
     "ITEM_NAME1": "국고채(3년)", "UNIT_NAME": "연%", "TIME": "20250613", "DATA_VALUE": "2.462"},
    {"STAT_CODE": "817Y002", "STAT_NAME": "1.3.2.1. 시장금리(일별)", "ITEM_CODE1": "010200000",
     "ITEM_NAME1": "국고채(3년)", "UNIT_NAME": "연%", "TIME": "20250616", "DATA_VALUE": "2.483"}]}}


def test_the_client_asks_statisticsearch_for_the_series_and_range():
    session = FakeSession(FakeResponse(200, ROWS))
    answer = EcosClient(KEY, 5, session).search(KTB, dt.date(2025, 6, 1), dt.date(2025, 6, 16))
    assert session.urls == [f"https://ecos.bok.or.kr/api/StatisticSearch/{KEY}/json/kr/1/100000/817Y002/D/"
                            "20250601/20250616/010200000"]
    assert answer == ROWS
    month = FakeSession(FakeResponse(200, {"RESULT": {"CODE": "INFO-200", "MESSAGE": "해당하는 데이터가 없습니다."}}))
    assert EcosClient(KEY, 5, month).search(CPI, dt.date(2024, 6, 16), dt.date(2025, 6, 16)) == {
        "StatisticSearch": {"list_total_count": 0, "row": []}}
    assert month.urls[0].endswith("/901Y009/M/202406/202506/0")


def test_a_refused_key_is_a_source_blocked_alert_and_the_key_is_in_no_log_or_record(
    storage, make_settings, clock, caplog
):
    settings = make_settings(ecos_api_key=KEY)
    message = "인증키가 유효하지 않습니다. 인증키를 확인하십시오! 인증키가 없는 경우 인증키를 신청하십시오!"
    refused = FakeResponse(200, {"RESULT": {"CODE": "INFO-100", "MESSAGE": message}})
    reader = EcosMacroReader((KTB,), EcosClient(KEY, 5, FakeSession(refused)), 3, 90)
    with caplog.at_level(logging.DEBUG):
        assert run(storage, settings, clock, kst_evening(dt.date(2025, 6, 16)), reader) == 1
    record = storage.jobs.latest_run("krx_macro")
    assert "ECOS refused ECOS_API_KEY (INFO-100" in record["error"] and set(record["blocked_sources"]) == {"ecos"}
    alerts = job_events(storage, clock.now, dt.timedelta(days=1), registry())  # the alert step's job events
    assert f"source_blocked:ecos:krx_macro:{record['_id']}" in [a.key for a in alerts]
    # the key is in the URL's path: an exception of requests that quotes the URL keeps only its kind
    leaky = requests.ConnectionError(f"Max retries exceeded with url: /api/StatisticSearch/{KEY}/json/kr/1/100000")
    reader = EcosMacroReader((KTB,), EcosClient(KEY, 5, FakeSession(leaky)), 3, 90)
    with caplog.at_level(logging.DEBUG):
        assert run(storage, settings, clock, kst_evening(dt.date(2025, 6, 16)), reader) == 1
    error = storage.jobs.latest_run("krx_macro")["error"]
    assert error == "ECOS 817Y002/010200000: connection failed (ConnectionError)"
    everything = json.dumps([*storage.jobs.runs(limit=100), *[a.text for a in alerts]], default=str)
    assert KEY not in everything and KEY not in caplog.text


LIMITED = "과도한 API호출로 이용이 제한되었습니다. 잠시후 이용해주시기 바랍니다."


@pytest.mark.parametrize(("answer", "error"), [
    (FakeResponse(200, {"RESULT": {"CODE": "ERROR-602", "MESSAGE": LIMITED}}), RateLimitedError),
    (FakeResponse(200, f"<RESULT><CODE>ERROR-602</CODE><MESSAGE>{LIMITED}</MESSAGE></RESULT>"), RateLimitedError),
    (FakeResponse(200, {"RESULT": {"CODE": "ERROR-500", "MESSAGE": "서버 오류입니다."}}), TransientSourceError),
    (FakeResponse(502, "<html>Bad Gateway</html>"), TransientSourceError),
    (requests.Timeout("read timed out"), TransientSourceError),
    (FakeResponse(200, {"RESULT": {"CODE": "ERROR-101", "MESSAGE": "주기와 다른 형식의 날짜 형식입니다."}}),
     BadDataError),
])
def test_limits_and_server_errors_are_transient_and_a_bad_argument_is_bad_data(answer, error):
    with pytest.raises(error) as raised:
        EcosClient(KEY, 5, FakeSession(answer)).search(KTB, dt.date(2025, 6, 1), dt.date(2025, 6, 16))
    assert KEY not in str(raised.value)
    if error is RateLimitedError:
        assert raised.value.pause == 60.0



def test_an_unknown_ecos_series_is_one_line_naming_the_known_ones(make_settings):
    from lib.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_settings(krx_macro_series="722Y001/0101000,817Y002")
    assert str(raised.value).startswith("setting KRX_MACRO_SERIES: unknown ECOS series '817Y002'; choose from "
                                        "722Y001/0101000, 817Y002/010200000, 731Y001/0000001, 901Y009/0")
