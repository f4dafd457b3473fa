"""GET /stocks/{ticker}/disclosures, /stocks/{ticker}/news, /macro and /macro/{series}: what a trader reads
beside the chart, point in time, from what the collectors stored (items written here through the watermark
store, in lib/context/items.py's shapes).

The filings are real (receipt numbers, days and titles as OpenDART lists them and public repositories cite
them); their remark flags are set by the test to exercise each meaning. The headlines restate real events of
those days (SK hynix's 5.3 tn KRW M15X fab in Cheongju, announced 2024-04-24) and are test-only stand-ins, as
are their links. Macro values are the published ones: the effective federal funds rate (DFF) 4.58 % before the
2024-12-18 cut and 4.33 % after; the Bank of Korea's base rate 3.25 % from 2024-10-11 and 3.00 % from
2024-11-28."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import mongomock_ng
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.context.items import article_key
from lib.log import KST
from lib.spine.watermark import Item, Mark, Page
from lib.spine.watermark_page import store_page
from lib.storage import Storage
from tests.api.conftest import KEY, api_settings

UTC = dt.UTC
NEW_YORK = ZoneInfo("America/New_York")
NOW = dt.datetime(2024, 12, 23, 12, 0, tzinfo=KST)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=KST)


def filing(rcept_no: str, ticker: str, company: str, title: str, flags: str = "") -> Item:
    """An OpenDART list.json row as the collector stores it: dated its receipt day, known at that day's end."""
    day = dt.date(int(rcept_no[:4]), int(rcept_no[4:6]), int(rcept_no[6:8]))
    return Item(rcept_no, _day_start(day), {
        "ticker": ticker, "company": company, "title": title, "filer": company, "flags": flags,
        "url": f"https://dart.fss.or.kr/dsaf001/main.do?rcpNo={rcept_no}", "source": "dart",
        "corp_code": {"005930": "00126380", "000660": "00164779"}[ticker],
    }, _day_start(day + dt.timedelta(days=1)) - dt.timedelta(milliseconds=1))


def article(ticker: str, at: dt.datetime, title: str, url: str, publisher: str, feed: str) -> Item:
    """One feed's article about one stock, known when published."""
    return Item(article_key(ticker, url), at, {
        "ticker": ticker, "title": title, "snippet": f"{title} (summary)", "url": url, "publisher": publisher,
        "feed": feed, "lang": "ko" if ticker[0].isdigit() else "en",
    }, at)


def observation(series: str, day: dt.date, value: float, known: dt.datetime, source: str) -> Item:
    names = {"DFF": ("Effective federal funds rate", "%", "daily"),
             "CPIAUCSL": ("US CPI, % change from a year ago", "%", "monthly"),
             "722Y001/0101000": ("Bank of Korea base rate", "%", "daily")}
    name, unit, frequency = names[series]
    return Item(f"{series}:{day}", dt.datetime.combine(day, dt.time(0), tzinfo=UTC), {
        "series": series, "name": name, "value": value, "unit": unit, "frequency": frequency, "source": source,
    }, known)


FILINGS = [
    filing("20240312000736", "005930", "삼성전자", "사업보고서 (2023.12)", "연"),
    filing("20241025000551", "005930", "삼성전자", "주식등의대량보유상황보고서(일반)", "정"),
    filing("20240424800596", "000660", "SK하이닉스", "신규시설투자등", "유"),
]
M15X = "SK하이닉스, 청주 M15X에 5.3조 투자…HBM 생산 늘린다"
NEWS = [
    # one headline from two publishers (the second with the press's [속보] tag): one story, two sources
    article("000660", dt.datetime(2024, 4, 24, 17, 5, tzinfo=KST), M15X,
            "https://www.hankyung.com/article/2024042400001", "한국경제", "hankyung"),
    article("000660", dt.datetime(2024, 4, 24, 17, 40, tzinfo=KST), f"[속보] {M15X}",
            "https://n.news.naver.com/mnews/article/009/0005290001", "매일경제", "naver"),
    article("000660", dt.datetime(2024, 4, 25, 9, 30, tzinfo=KST), "SK하이닉스 M15X, 2025년 11월 준공 목표",
            "https://www.mk.co.kr/news/stock/2024042500002", "매일경제", "maeil"),
]
MACRO = [
    observation("DFF", dt.date(2024, 12, 18), 4.58, dt.datetime(2024, 12, 19, 14, 0, tzinfo=UTC), "fred"),
    observation("DFF", dt.date(2024, 12, 19), 4.33, dt.datetime(2024, 12, 20, 14, 0, tzinfo=UTC), "fred"),
    observation("722Y001/0101000", dt.date(2024, 11, 27), 3.25, _day_start(dt.date(2024, 11, 28)), "ecos"),
    observation("722Y001/0101000", dt.date(2024, 11, 28), 3.00, _day_start(dt.date(2024, 11, 29)), "ecos"),
]


@pytest.fixture(scope="module")
def store() -> Storage:
    """Three stocks (two KRX, one US holding) with their filings, articles and two macro series stored."""
    storage = Storage(mongomock_ng.MongoClient(), prefix="context_")
    storage.universe.apply_universe([
        ("005930", {"$set": {"name": "삼성전자", "market": "KOSPI", "is_active": True}}),
        ("000660", {"$set": {"name": "SK하이닉스", "market": "KOSPI", "is_active": True}}),
    ])
    storage.etf.save_stock_profiles({"AAPL": {"name": "Apple Inc.", "sector": "Technology"}})
    storage.etf.save_etf_meta([{"_id": "SPY", "ticker": "SPY", "name": "SPDR S&P 500 ETF Trust"}])
    as_of = NOW.astimezone(UTC)
    for dataset, items, vintages in (("krx.disclosures", FILINGS, False), ("krx.news", NEWS, False),
                                     ("us.macro", MACRO[:2], True), ("krx.macro", MACRO[2:], False)):
        store_page(storage, dataset, Page(tuple(items), Mark()), lambda _item: None, as_of, vintages)
        storage.watermarks.save_watermark(dataset, max(i.at for i in items), None, as_of)
    store_page(storage, "us.news", Page((article("AAPL", dt.datetime(2024, 12, 20, 16, 0, tzinfo=NEW_YORK),
                                                 "Apple shares close at a record", "https://finance.yahoo.com/a1",
                                                 "Reuters", "yahoo"),), Mark()), lambda _item: None, as_of, False)
    return storage


@pytest.fixture
def client(store):
    return TestClient(create_app(api_settings(), storage=store, clock=lambda: NOW), raise_server_exceptions=False)


def test_filings_come_newest_first_with_their_flags_meaning_and_the_viewer_link(client):
    body = client.get("/stocks/005930/disclosures").json()  # a year up to today by default
    assert [(f["date"], f["title"]) for f in body["items"]] == [
        ("2024-10-25", "주식등의대량보유상황보고서(일반)"), ("2024-03-12", "사업보고서 (2023.12)")]
    newest = body["items"][0]
    assert newest["flags"] == [{"code": "정", "meaning": newest["flags"][0]["meaning"]}]
    assert newest["flags"][0]["meaning"].startswith("corrected")
    assert newest["url"] == "https://dart.fss.or.kr/dsaf001/main.do?rcpNo=20241025000551"
    assert newest["company"] == "삼성전자" and body["total"] == 2 and body["ticker"] == "005930"
    # a filing counts as known at its receipt day's end, KST
    assert newest["known_at_utc"] == "2024-10-25T14:59:59.999000Z"


def test_limit_since_and_until_bound_the_filings(client):
    def ids(**params):
        return [f["id"] for f in client.get("/stocks/005930/disclosures", params=params).json()["items"]]

    assert ids(limit=1) == ["20241025000551"]
    assert ids(until="2024-03-11") == []  # a year before `until` by default: after 2023-03-11
    assert ids(since="2024-06-01") == ["20241025000551"]
    assert ids(since="2024-01-01", until="2024-10-24") == ["20240312000736"]
    assert ids(since="2024-03-13", until="2024-10-25") == ["20241025000551"]


def test_a_filing_known_after_the_dates_cutoff_is_absent(client):
    def ids(day):
        return [f["id"] for f in client.get("/stocks/000660/disclosures", params={"date": day}).json()["items"]]

    assert ids("2024-04-23") == []  # filed the next day
    assert ids("2024-04-24") == ["20240424800596"]  # known at that day's end
    body = client.get("/stocks/000660/disclosures", params={"date": "2024-04-23"}).json()
    assert body["known_at_utc"] == "2024-04-23T14:59:59.999000Z" and body["until"] == "2024-04-23"


def test_a_story_two_feeds_carried_shows_both_sources_newest_story_first(client):
    body = client.get("/stocks/000660/news", params={"date": "2024-04-25", "days": 3}).json()
    assert body["articles"] == 3 and body["total"] == 2
    newest, m15x = body["stories"]
    assert newest["title"] == "SK하이닉스 M15X, 2025년 11월 준공 목표" and len(newest["sources"]) == 1
    assert m15x["title"] == M15X
    assert [(s["publisher"], s["feed"]) for s in m15x["sources"]] == [("한국경제", "hankyung"), ("매일경제", "naver")]
    assert m15x["sources"][1]["url"] == "https://n.news.naver.com/mnews/article/009/0005290001"
    assert m15x["published_utc"] == "2024-04-24T08:05:00Z"


def test_news_published_after_the_cutoff_or_outside_the_window_is_absent(client):
    def titles(**params):
        return [s["title"] for s in client.get("/stocks/000660/news", params=params).json()["stories"]]

    assert titles(date="2024-04-24", days=3) == [M15X]  # the next morning's article is not known yet
    assert titles(date="2024-04-23") == []
    assert titles() == []  # now (2024-12-23): older than the default 7 days
    assert len(titles(date="2024-04-25", limit=1)) == 1


def test_a_us_holding_has_its_news_in_new_york_days(client):
    body = client.get("/stocks/aapl/news", params={"date": "2024-12-20"}).json()
    assert body["ticker"] == "AAPL" and [s["title"] for s in body["stories"]] == ["Apple shares close at a record"]
    assert body["known_at_utc"] == "2024-12-21T04:59:59.999000Z"  # the end of 2024-12-20 in New York


def test_a_followed_etf_has_its_news_and_an_unknown_us_symbol_is_a_404_naming_the_us_side(client, store):
    store_page(store, "us.news", Page((article("SPY", dt.datetime(2024, 12, 20, 9, 0, tzinfo=NEW_YORK),
                                               "Stock futures rise before the Fed", "https://finance.yahoo.com/s1",
                                               "Reuters", "yahoo"),), Mark()), lambda _item: None, NOW, False)
    body = client.get("/stocks/SPY/news", params={"date": "2024-12-20"}).json()  # us.news reads the ETFs' own
    assert [s["title"] for s in body["stories"]] == ["Stock futures rise before the Fed"]
    answer = client.get("/stocks/NVDA/news")
    error = answer.json()["error"]
    assert answer.status_code == 404 and "SPY" in error["message"] and "/etf/{etf}/holdings" in error["message"]
    assert "005930" not in error["message"]  # not the KRX universe's codes
    assert client.get("/stocks/999999/news").json()["error"]["message"].endswith("lists the KRX universe)")


def test_macro_gives_each_series_latest_value_its_change_and_when_it_became_known(client):
    body = client.get("/macro").json()
    readings = {r["series"]: r for r in body["readings"]}
    dff = readings["DFF"]
    assert (dff["date"], dff["value"], dff["previous"], dff["unit"], dff["source"]) == (
        "2024-12-19", 4.33, 4.58, "%", "fred")
    assert dff["change"] == pytest.approx(-0.25) and dff["known_at_utc"] == "2024-12-20T14:00:00Z"
    bok = readings["722Y001/0101000"]
    assert bok["key"] == "722Y001-0101000" and bok["value"] == 3.0 and bok["change"] == pytest.approx(-0.25)
    # at an earlier day's end the later value was not known yet: the one before is the latest
    before = {r["series"]: r for r in client.get("/macro", params={"date": "2024-12-19"}).json()["readings"]}
    assert (before["DFF"]["value"], before["DFF"]["previous"], before["DFF"]["change"]) == (4.58, None, None)


def test_a_series_history_is_read_by_its_key_and_an_unknown_series_is_a_404_naming_the_known(client):
    body = client.get("/macro/722Y001-0101000", params={"since": "2024-11-01"}).json()
    assert body["series"] == "722Y001/0101000" and body["name"] == "Bank of Korea base rate"
    assert [(p["date"], p["value"]) for p in body["points"]] == [("2024-11-27", 3.25), ("2024-11-28", 3.0)]
    dff = client.get("/macro/dff", params={"date": "2024-12-19", "since": "2024-12-01"}).json()
    assert [p["value"] for p in dff["points"]] == [4.58]
    answer = client.get("/macro/CPIAUCSL")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "not_found" and "DFF" in error["message"] and "722Y001-0101000" in error["message"]


def test_a_value_revised_later_is_shown_as_it_was_known_on_an_earlier_day():
    # November 2024's CPI change (2.7 %, published 2024-12-11) and a revision read at the 2025-02-12 seasonal
    # update: the revised figure 2.8 is a test-only stand-in
    storage = Storage(mongomock_ng.MongoClient(), prefix="revised_")
    day = dt.date(2024, 11, 1)
    for value, known in ((2.7, dt.datetime(2024, 12, 11, 13, 30, tzinfo=UTC)),
                         (2.8, dt.datetime(2025, 2, 12, 13, 30, tzinfo=UTC))):
        page = Page((observation("CPIAUCSL", day, value, known, "fred"),), Mark())
        store_page(storage, "us.macro", page, lambda _item: None, known, True)
    later = dt.datetime(2025, 3, 1, 12, 0, tzinfo=KST)
    client = TestClient(create_app(api_settings(), storage=storage, clock=lambda: later))

    def history(**params):
        body = client.get("/macro/CPIAUCSL", params={"since": "2024-11-01", **params}).json()
        return [(p["value"], p["known_at_utc"]) for p in body["points"]]

    assert history() == [(2.8, "2025-02-12T13:30:00Z")]
    assert history(date="2025-01-31") == [(2.7, "2024-12-11T13:30:00Z")]
    unknown = client.get("/macro/CPIAUCSL", params={"date": "2024-12-10"})  # not published yet
    assert unknown.status_code == 404 and "as known at 2024-12-10T23:59:59" in unknown.json()["error"]["message"]
    assert client.get("/macro", params={"date": "2025-01-31"}).json()["readings"][0]["value"] == 2.7


def test_an_unknown_ticker_is_a_404_as_for_the_stock_itself(client):
    for path in ("/stocks/999999/disclosures", "/stocks/999999/news", "/stocks/ZZZZ/news"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["message"].startswith("unknown ticker")
    assert client.get("/stocks/AAPL/disclosures").status_code == 422  # filings are KRX codes only


@pytest.mark.parametrize(("path", "params"), [
    ("/stocks/005930/disclosures", {"limit": 0}),
    ("/stocks/005930/disclosures", {"limit": 201}),
    ("/stocks/005930/disclosures", {"date": "2024-13-01"}),
    ("/stocks/005930/disclosures", {"date": "20240101"}),
    ("/stocks/005930/disclosures", {"since": "2024-06-01", "until": "2024-05-01"}),
    ("/stocks/005930/disclosures", {"since": "0001-01-01"}),
    ("/stocks/000660/news", {"limit": 101}),
    ("/stocks/000660/news", {"days": 0}),
    ("/stocks/000660/news", {"date": "yesterday"}),
    ("/macro", {"date": "0001-01-01"}),
    ("/macro/DFF", {"since": "2024-02-30"}),
])
def test_a_bad_limit_or_date_is_a_422_naming_the_parameter(client, path, params):
    answer = client.get(path, params=params)
    assert answer.status_code == 422, answer.text
    name = next(iter(params)) if "until" not in params else "since"
    assert answer.json()["error"]["message"].startswith(name)


def test_a_date_after_today_answers_as_of_todays_end(client):
    body = client.get("/macro", params={"date": "9999-12-31"}).json()
    assert body["known_at_utc"] == "2024-12-23T14:59:59.999000Z"  # 2024-12-23's end in Seoul
    assert client.get("/macro").json()["known_at_utc"] == body["known_at_utc"]


def test_a_filing_collected_today_is_listed_before_the_day_ends(store):
    # Known at its receipt day's end (a date only): an answer as of noon must still list it, as the evening
    # analysis of that day will cite it.
    today = filing("20241223000123", "005930", "삼성전자", "자기주식처분결과보고서")
    store_page(store, "krx.disclosures", Page((today,), Mark()), lambda _item: None, NOW.astimezone(UTC), False)
    try:
        noon = TestClient(create_app(api_settings(), storage=store, clock=lambda: NOW))
        assert noon.get("/stocks/005930/disclosures").json()["items"][0]["id"] == "20241223000123"
        assert "20241223000123" not in [f["id"] for f in noon.get(
            "/stocks/005930/disclosures", params={"date": "2024-12-22"}).json()["items"]]
    finally:
        store.watermarks.wm_items.delete_one({"_id": "krx.disclosures|20241223000123"})


def test_an_empty_answer_says_whether_its_dataset_runs_and_what_turns_it_on(store):
    off = TestClient(create_app(api_settings(dart_api_key=""), storage=store, clock=lambda: NOW))
    body = off.get("/stocks/005930/disclosures", params={"date": "2023-01-01"}).json()
    assert body["items"] == []
    (source,) = body["sources"]
    assert source["dataset"] == "krx.disclosures" and "DART_API_KEY" in source["off"]
    assert source["setup"] == "run `python collect.py krx.disclosures`"
    assert source["read_through_utc"] == "2024-10-24T15:00:00Z"


def test_the_read_key_is_required_when_the_server_asks_for_it(store):
    guarded = TestClient(create_app(api_settings(api_keys_for_reads=True), storage=store, clock=lambda: NOW))
    for path in ("/stocks/005930/disclosures", "/stocks/000660/news", "/macro", "/macro/DFF"):
        assert guarded.get(path).status_code == 401, path
        assert guarded.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
