"""us.news on the recorded Yahoo answers of data/sample/news/us (WBD's recorded get_news answer of May 2025 and
real September 2025 headlines in its shape), run as a user runs it: the collector's sweep under the runner on
the embedded MongoDB, yfinance's own get_news code over a local Yahoo stub, and `python collect.py us.news`."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import mongomock_ng
import pandas as pd
import pytest
import requests

import collect
from lib.config import PROJECT_ROOT
from lib.context.items import article_key
from lib.markets.us.news import NewsQuery, UsNewsReader, article_item, news_reader, news_tickers
from lib.markets.us.news_sources import RecordedNews, YahooNews
from lib.spine.registry import registry
from lib.spine.watermark import Item, Rejected, items_known_at, watermark_job
from lib.storage import Storage, get_client
from tests.helpers import kill_at_write, restarted
from tests.yahoo_stub import US_SAMPLE, YahooStub

REPLAY = PROJECT_ROOT / "data" / "sample" / "news" / "us"
KEY = "us.news"
END = dt.datetime(2025, 10, 1, 3, 59, 59, tzinfo=dt.UTC)  # --today 2025-09-30: its end in New York
WBD_Q1 = "https://finance.yahoo.com/news/warner-bros-discovery-first-quarter-122314711.html"


def recorded(ticker: str) -> list[dict]:
    return json.loads((REPLAY / f"{ticker}.json").read_text(encoding="utf-8"))


def seed_holdings(storage: Storage, etfs: tuple[str, ...] = ("XLC", "XLY"), day: dt.date = dt.date(2025, 9, 2)):
    """The real top holdings of data/sample/us/etf_holdings, stored as etf_pipeline.py stores a snapshot."""
    for etf in etfs:
        frame = pd.read_csv(US_SAMPLE / "etf_holdings" / f"{etf}.csv").sort_values("weight", ascending=False)
        rows = [{"ticker": r.ticker, "name": r.name, "holding_percent": float(r.weight)} for r in frame.head(10)
                .itertuples()]
        storage.etf.save_holdings(etf, day, rows, {"source": "replay", "source_as_of": None,
                                                  "holdings_as_of": day.isoformat()})


def stored(storage: Storage) -> dict[str, list[dict]]:
    """The items, the watermark and the refused items, ordered by `_id` (no run ids or wall-clock times)."""
    db = storage.datasets_db
    held = {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}
    for doc in held.get("watermarks", []):
        doc.pop("updated_at", None)
    return held | {"bad_data": sorted(storage.bad_data.bad_data.find({}), key=lambda d: d["_id"])}


@pytest.fixture
def settings(make_settings):
    return make_settings(us_news_replay_dir=REPLAY, us_news_etfs=False)


def run(storage, settings, clock, as_of, reader=None, sleep=lambda _s: None) -> int:
    code = watermark_job(settings, storage, as_of, clock, registry().get(KEY), reader or news_reader(settings),
                         sleep=sleep)
    clock.advance(minutes=1)
    return code


def query(ticker: str = "WBD", now: dt.datetime = END) -> NewsQuery:
    return NewsQuery(ticker, ticker, now, now, True)


# --- an answer as items ----------------------------------------------------------------------------------


def test_a_recorded_answer_is_one_item_per_article_with_its_link_time_and_publisher():
    page = UsNewsReader(RecordedNews(REPLAY, 20), lambda *_: ["WBD"]).normalise(recorded("WBD"), query())
    assert len(page.items) == 7 and not page.rejected
    q1 = next(i for i in page.items if i.data["url"] == WBD_Q1)
    assert q1.key == article_key("WBD", WBD_Q1)
    assert q1.at == q1.known_at == dt.datetime(2025, 5, 10, 12, 23, 14, tzinfo=dt.UTC)
    assert q1.data == {
        "ticker": "WBD", "title": "Warner Bros. Discovery First Quarter 2025 Earnings: Misses Expectations",
        "snippet": "Warner Bros. Discovery ( NASDAQ:WBD ) First Quarter 2025 Results Key Financial Results Revenue: "
                   "US$8.98b (down 9.8...",
        "url": WBD_Q1, "publisher": "Simply Wall St.", "feed": "yahoo", "lang": "en",
    }


def test_an_article_missing_content_fields_falls_back_or_is_refused_with_its_reason():
    article = recorded("WBD")[-1]  # the recorded Q1 revenue story
    content = article["content"]
    no_canonical = {**article, "content": {**content, "canonicalUrl": None, "summary": None}}
    item = article_item("WBD", no_canonical)
    assert isinstance(item, Item)
    assert item.data["url"] == content["clickThroughUrl"]["url"] and item.data["snippet"] == ""

    reader = UsNewsReader(RecordedNews(REPLAY, 20), lambda *_: ["WBD"])
    no_link = article_item("WBD", {**article, "content": {**content, "canonicalUrl": None, "clickThroughUrl": None}})
    assert no_link.key == article_key("WBD", f"yahoo:{article['id']}")  # known by Yahoo's id, then refused
    assert reader.validate(no_link) == "no link (neither a canonical nor a click-through URL)"
    assert reader.validate(article_item("WBD", {**article, "content": {**content, "title": "  "}})) == "no title"
    no_time = article_item("WBD", {**article, "content": {**content, "pubDate": None}})
    assert isinstance(no_time, Rejected) and "no publication time" in no_time.reason
    assert isinstance(article_item("WBD", "an ad"), Rejected)


def test_the_old_flat_shape_of_yfinance_0_2_reads_as_the_same_article():
    article = recorded("WBD")[-1]
    content = article["content"]
    flat = {"uuid": article["id"], "title": content["title"], "publisher": content["provider"]["displayName"],
            "link": content["canonicalUrl"]["url"], "type": "STORY", "relatedTickers": ["WBD"],
            "providerPublishTime": int(dt.datetime.fromisoformat(content["pubDate"]).timestamp())}
    old, new = article_item("WBD", flat), article_item("WBD", article)
    assert (old.key, old.at, old.data["title"], old.data["url"], old.data["publisher"]) == (
        new.key, new.at, new.data["title"], new.data["url"], new.data["publisher"])


def test_an_article_published_after_the_runs_clock_is_refused(storage):
    reader = UsNewsReader(RecordedNews(REPLAY, 20), lambda *_: ["WBD"])
    reader.prepare(storage, dt.datetime(2025, 9, 12, 11, 0, tzinfo=dt.UTC))
    [item] = [i for i in reader.normalise(recorded("WBD"), query()).items if i.data["publisher"] == "NDTV Profit"]
    assert "after the run's clock" in reader.validate(item)  # published 12:00, the clock says 11:00


def test_a_recorded_answer_serves_only_what_was_published_by_the_runs_time():
    source = RecordedNews(REPLAY, 2)
    served = source.fetch(query("WBD", dt.datetime(2025, 9, 1, tzinfo=dt.UTC)))
    assert [a["content"]["pubDate"] for a in served] == ["2025-05-10T12:23:14Z", "2025-05-09T16:01:58Z"]
    assert source.fetch(query("HD")) == []  # no file: no news


# --- which tickers ---------------------------------------------------------------------------------------


def test_a_sweep_reads_the_top_holdings_of_the_snapshot_known_at_the_run(storage):
    seed_holdings(storage, ("XLC",), dt.date(2025, 9, 2))
    storage.etf.save_holdings("XLC", dt.date(2025, 10, 1), [{"ticker": "EA", "name": "EA", "holding_percent": 9.0}],
                              {"source": "replay"})
    assert news_tickers(storage, ["SPY", "XLC"], 5, dt.date(2025, 9, 30), True) == [
        "GOOG", "GOOGL", "META", "NFLX", "SPY", "WBD", "XLC"]
    assert news_tickers(storage, ["SPY", "XLC"], 2, dt.date(2025, 10, 1), False) == ["EA"]
    assert news_tickers(storage, ["SPY"], 5, dt.date(2025, 9, 30), False) == []


def test_with_no_holdings_stored_and_no_etf_news_a_run_reads_nothing_and_claims_nothing(
    storage, settings, clock
):
    clock.now = END
    assert run(storage, settings, clock, END) == 0
    assert storage.watermarks.item_count(KEY) == 0
    assert storage.watermarks.watermark(KEY)["read_through"] is None  # stays stale in check_db


# --- the sweep under the runner --------------------------------------------------------------------------


def test_a_sweep_stores_each_article_once_per_ticker_and_a_reread_adds_nothing(storage, settings, clock, tmp_path):
    folder = tmp_path / "news"
    shutil.copytree(REPLAY, folder)
    # The market story Yahoo listed under WBD in May is listed under TSLA too: one item for each stock.
    trade = next(a for a in recorded("WBD") if a["content"]["provider"]["displayName"] == "TipRanks")
    (folder / "TSLA.json").write_text(json.dumps([*recorded("TSLA"), trade]))
    settings = settings.updated(us_news_replay_dir=folder)
    seed_holdings(storage)
    clock.now = END
    assert run(storage, settings, clock, END) == 0
    record = storage.jobs.latest_run("us_news")
    # 10 holdings; the recorded files of WBD (7), TSLA (3 + the shared one), AMZN (3), GOOGL (2) and GOOG (1)
    assert (record["pages"], record["items_new"], record["rejected"]) == (10, 17, 0)
    trade_url = trade["content"]["canonicalUrl"]["url"]
    assert {i.data["ticker"] for i in items_known_at(storage, KEY, END) if i.data["url"] == trade_url} == {
        "WBD", "TSLA"}
    watermark = storage.watermarks.watermark(KEY)
    assert (watermark["read_through"], watermark["cursor"]) == (END.replace(tzinfo=None), None)

    later = END + dt.timedelta(hours=12)
    clock.now = later
    assert run(storage, settings, clock, later) == 0
    again = storage.jobs.latest_run("us_news")
    assert (again["items_new"], again["items_unchanged"]) == (0, 17)
    assert storage.watermarks.item_count(KEY) == 17
    assert storage.watermarks.watermark(KEY)["read_through"] == later.replace(tzinfo=None)


def test_point_in_time_a_run_before_the_news_does_not_see_it(storage, settings, clock):
    seed_holdings(storage)
    before = dt.datetime(2025, 9, 21, 12, 0, tzinfo=dt.UTC)  # the day before Piper Sandler's Tesla note
    clock.now = before
    assert run(storage, settings, clock, before) == 0
    assert items_known_at(storage, KEY, END, fields={"ticker": "TSLA"}) == []
    assert len(items_known_at(storage, KEY, END, fields={"ticker": "WBD"})) == 7


def _scenario(storage, settings, clock, crash_at: int | None) -> int:
    """Two runs (a morning and an evening sweep); with crash_at the process dies at that write and cron runs it
    again after the lock's timeout. Returns the writes counted."""
    seed_holdings(storage)
    writes = kill_at_write(storage, crash_at)
    for as_of in (dt.datetime(2025, 9, 12, 10, 40, tzinfo=dt.UTC), END):
        clock.now = as_of
        restarted(lambda as_of=as_of: run(storage, settings, clock, as_of), clock, settings)
    return writes["n"]


def test_a_sweep_killed_at_any_write_then_rerun_gives_the_same_store(storage, settings, clock):
    total = _scenario(storage, settings, clock, crash_at=None)
    expected = stored(storage)
    assert len(expected["items"]) == 16 and total > 20
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        _scenario(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"
        assert all(r["status"] != "running" for r in crashed.jobs.runs(limit=100))


# --- yfinance's get_news over a local Yahoo ---------------------------------------------------------------


class NewsStub(YahooStub):
    """The Yahoo stub with the news endpoint yfinance 1.7.0's get_news posts to (finance.yahoo.com/xhr/ncp),
    answering the recorded articles; `news_failures[symbol]` answers that HTTP status instead."""

    def __init__(self) -> None:
        super().__init__()
        self.news_failures: dict[str, int] = {}

    def send(self, request: requests.PreparedRequest, **kwargs) -> requests.Response:
        if not request.url.startswith("https://finance.yahoo.com/xhr/ncp"):
            return super().send(request, **kwargs)
        config = json.loads(request.body)["serviceConfig"]
        symbol = config["s"][0]
        self.calls[(symbol, "news")] += 1
        status = self.news_failures.get(symbol, 200)
        path = REPLAY / f"{symbol}.json"
        stream = json.loads(path.read_text()) if path.is_file() else []
        body = {"data": {"tickerStream": {"stream": stream[: config["snippetCount"]]}}}
        response = requests.Response()
        response.status_code = status
        response.url = request.url
        response.request = request
        if status == 429:
            response._content = b"Too Many Requests"
        else:  # a server error with a JSON body, which yfinance reads as an answer without news
            response._content = json.dumps(body if status == 200 else {"error": "Internal Server Error"}).encode()
        return response


def yahoo_reader(settings, stub: NewsStub, tmp_path: Path, tickers: list[str]) -> UsNewsReader:
    source = YahooNews(20, 10, 60.0, http="requests", cache_dir=tmp_path / "yf", transport=stub)
    return UsNewsReader(source, lambda *_: tickers, max_attempts=3, backoff_seconds=5.0)


def test_yfinance_get_news_is_asked_once_per_ticker_on_a_fresh_ticker(settings, storage, clock, tmp_path):
    stub = NewsStub()
    clock.now = END
    assert run(storage, settings, clock, END, yahoo_reader(settings, stub, tmp_path, ["SPY", "WBD"])) == 0
    assert (stub.calls[("SPY", "news")], stub.calls[("WBD", "news")]) == (1, 1)
    assert storage.watermarks.item_count(KEY) == 9
    assert run(storage, settings, clock, END, yahoo_reader(settings, stub, tmp_path, ["SPY", "WBD"])) == 0
    assert stub.calls[("WBD", "news")] == 2  # a new run asks again: nothing cached on an old Ticker


def test_a_rate_limited_ticker_is_retried_then_the_run_fails_with_exit_1_keeping_what_was_stored(
    settings, storage, clock, tmp_path
):
    stub = NewsStub()
    stub.news_failures["TSLA"] = 429
    pauses: list[float] = []
    clock.now = END
    reader = yahoo_reader(settings, stub, tmp_path, ["SPY", "TSLA", "WBD"])
    assert run(storage, settings, clock, END, reader, sleep=pauses.append) == 1
    # Three attempts, paced by Yahoo's pause doubled (never less); yfinance posts twice per attempt (on any
    # status >= 400 it retries once with its other cookie strategy).
    assert stub.calls[("TSLA", "news")] == 3 * 2 and pauses == [60.0, 120.0]
    failed = storage.jobs.latest_run("us_news")
    assert failed["status"] == "failed" and "429" in failed["error"]
    assert {i.data["ticker"] for i in items_known_at(storage, KEY, END)} == {"SPY"}  # stored before the 429
    assert storage.watermarks.watermark(KEY)["cursor"] == f"{END.isoformat()}|SPY"

    del stub.news_failures["TSLA"]
    later = END + dt.timedelta(hours=1)
    clock.now = later
    assert run(storage, settings, clock, later, yahoo_reader(settings, stub, tmp_path, ["SPY", "TSLA", "WBD"])) == 0
    assert stub.calls[("SPY", "news")] == 1  # the sweep resumed after SPY
    assert {i.data["ticker"] for i in items_known_at(storage, KEY, later)} == {"SPY", "TSLA", "WBD"}
    assert storage.watermarks.watermark(KEY)["read_through"] == END.replace(tzinfo=None)  # the sweep's start


def test_a_server_error_is_not_read_as_a_ticker_without_news(settings, storage, clock, tmp_path):
    stub = NewsStub()
    stub.news_failures["WBD"] = 502
    clock.now = END
    assert run(storage, settings, clock, END, yahoo_reader(settings, stub, tmp_path, ["WBD"])) == 1
    assert "HTTP 502 from Yahoo" in storage.jobs.latest_run("us_news")["error"]
    assert storage.watermarks.watermark(KEY) is None  # nothing claimed read


# --- the script ------------------------------------------------------------------------------------------


def test_collect_us_news_replays_the_recorded_answers_end_to_end(make_settings, capsys):
    settings = make_settings(us_news_replay_dir=REPLAY, markets=["us"])
    storage = Storage(get_client("mongomock://"), settings.mongodb_db_prefix)
    seed_holdings(storage)
    assert collect.main(["us.news", "--today", "2025-09-30"], settings=settings) == 0
    found = items_known_at(storage, KEY, END)
    # The top holdings of XLC and XLY with a recorded file, and SPY (a followed ETF); AAPL and NVDA are in no
    # stored snapshot's top 5, so they are not read.
    assert {t: sum(1 for i in found if i.data["ticker"] == t) for t in ("WBD", "TSLA", "AMZN", "GOOGL", "GOOG",
                                                                         "SPY")} == {
        "WBD": 7, "TSLA": 3, "AMZN": 3, "GOOGL": 2, "GOOG": 1, "SPY": 2}
    assert len(found) == 18
    assert "us_news completed" in capsys.readouterr().err


def test_us_news_false_says_off_in_one_line_and_exits_0(make_settings, capsys):
    settings = make_settings(us_news=False)
    assert collect.main(["us.news"], settings=settings) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "us.news is off: US_NEWS is false" in lines[0]


def test_a_broken_recorded_file_stops_the_run_with_exit_2_and_names_it(make_settings, tmp_path, capsys):
    (tmp_path / "SPY.json").write_text("{not json")
    settings = make_settings(us_news_replay_dir=tmp_path)
    assert collect.main(["us.news", "--today", "2025-09-30"], settings=settings) == 2
    assert f"{tmp_path / 'SPY.json'} is not readable JSON" in capsys.readouterr().err
