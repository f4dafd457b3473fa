"""krx.news: Naver Search API answers and the Hankyung/Maeil RSS as stored NewsData items, names matched to the
universe, a sweep resumed after a kill, refusals by kind, and `collect.py krx.news` over the recorded answers.

Answers are the recorded ones (tests/fixtures/news/README_krx.md); the few entries built inside a test are marked
STAND-IN there. No network: a loopback stub server stands in for Naver and the feeds."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import mongomock_ng
import pandas as pd
import pytest
import requests

import collect
from lib.context.items import NewsData, article_key
from lib.errors import BadDataError, ConfigError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.log import KST
from lib.markets.krx.news import KrxNewsReader, ReplayNewsReader
from lib.markets.krx.news_match import NameMatcher
from lib.markets.krx.news_naver import fetch_naver, naver_items
from lib.markets.krx.news_rss import fetch_feed, rss_items
from lib.markets.krx.news_text import published_at
from lib.ops.alerts import job_events
from lib.spine.registry import registry
from lib.spine.watermark import Mark, watermark_job
from lib.storage import Storage, get_client
from tests.conftest import FIXTURES
from tests.helpers import SimulatedKill, kill_at_write, restarted

NEWS = FIXTURES / "news"
SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"
RECORDED = SAMPLE / "news" / "krx"
DATASET = next(d for d in registry() if d.key == "krx.news")
SECRET = "n4verS3cretValue"
END_OF_DEMO_DAY = dt.datetime(2025, 6, 16, 23, 0, tzinfo=KST)


def universe_docs() -> list[tuple[str, dict]]:
    """The small real panel's last session as universe updates (삼성전자, 삼성전자우, SK하이닉스, 부방, ...)."""
    frame = pd.read_parquet(FIXTURES / "krx_panel_small.parquet")
    last = frame.loc[frame["date"] == frame["date"].max()]
    return [(r.ticker, {"$set": {"name": r.name, "market": r.market, "market_cap": int(r.market_cap),
                                 "is_active": True}}) for r in last.itertuples()]


def names() -> dict[str, str]:
    return {ticker: update["$set"]["name"] for ticker, update in universe_docs()}


@pytest.fixture
def krx_storage(storage: Storage) -> Storage:
    storage.universe.apply_universe(universe_docs())
    return storage


def stored(storage: Storage) -> dict[str, list[dict]]:
    db = storage.datasets_db
    return {name: sorted(db[name].find({}), key=lambda d: d["_id"]) for name in sorted(db.list_collection_names())}


def replay(top_n: int = 5) -> ReplayNewsReader:
    return ReplayNewsReader(RECORDED, {"hankyung": "https://www.hankyung.com/feed/finance",
                                       "maeil": "https://www.mk.co.kr/rss/50200011/"}, top_n)


def run(storage, settings, clock, reader, as_of=END_OF_DEMO_DAY) -> int:
    code = watermark_job(settings, storage, as_of, clock, DATASET, reader, sleep=lambda _s: None)
    clock.advance(minutes=1)
    return code


# --- normalising the recorded answers -----------------------------------------------------------------


def test_a_naver_answer_becomes_items_without_markup_with_decoded_entities_and_utc_times():
    raw = json.loads((NEWS / "krx_naver_000660.json").read_text(encoding="utf-8"))
    items, rejected, unrelated = naver_items(raw, "000660", NameMatcher(names()))
    assert (len(items), rejected, unrelated) == (4, [], 0)
    by_title = {i.data["title"]: i for i in items}
    newsis = by_title['"6만전자 반납 위기"…삼성전자 2.59% 하락(종합)']  # &quot; decoded
    assert newsis.at == newsis.known_at == dt.datetime(2025, 3, 28, 7, 19, 20, tzinfo=dt.UTC)  # 16:19:20 +0900
    assert newsis.key == article_key("000660", "https://newsis.com/view/NISX20250328_0003117821")
    data: NewsData = newsis.data  # type: ignore[assignment]
    assert data == {"ticker": "000660", "title": '"6만전자 반납 위기"…삼성전자 2.59% 하락(종합)',
                    "snippet": "[서울=뉴시스]이지영 기자 = 삼성전자가 2%대 하락하며 6만전자 반납 위기에 놓였다. "
                               "같은 반도체 대장주로 꼽히는 SK하이닉스도 3% 넘게 떨어지며 19만원대로 밀렸다.",
                    "url": "https://newsis.com/view/NISX20250328_0003117821", "publisher": "뉴시스",
                    "feed": "naver", "lang": "ko"}
    assert all("<b>" not in i.data["title"] + i.data["snippet"] for i in items)
    assert by_title["SK하이닉스, 6개월 만에 21만원 돌파...왜?"].data["publisher"] == "매일경제"  # mkbn.mk.co.kr


def test_tags_are_removed_before_entities_are_decoded_so_an_escaped_bracket_stays_text():
    raw = {"items": [{  # STAND-IN: the recorded newsis article with an escaped tag-like prefix in its title
        "title": "&lt;특징주&gt; <b>삼성전자</b> 2.59% 하락", "description": "<b>삼성전자</b>가 2%대 하락",
        "originallink": "https://newsis.com/view/NISX20250328_0003117821", "link": "",
        "pubDate": "Fri, 28 Mar 2025 16:19:20 +0900"}]}
    items, _, _ = naver_items(raw, "005930", NameMatcher(names()))
    assert items[0].data["title"] == "<특징주> 삼성전자 2.59% 하락"


def test_a_search_hit_that_names_only_another_stock_is_left_out():
    raw = {"items": [  # STAND-IN titles: what a search for 삼성전자 also returns
        {"title": "<b>삼성전자</b>우 배당 확대", "description": "우선주 강세", "originallink": "https://a.kr/1",
         "link": "", "pubDate": "Fri, 13 Jun 2025 09:00:00 +0900"},
        {"title": "반도체 강세", "description": "<b>삼성전자</b>가 2%대 상승", "originallink": "https://a.kr/2",
         "link": "", "pubDate": "Fri, 13 Jun 2025 09:00:00 +0900"},
    ]}
    items, rejected, unrelated = naver_items(raw, "005930", NameMatcher(names()))
    assert [i.data["url"] for i in items] == ["https://a.kr/2"] and unrelated == 1 and not rejected


def test_an_entry_without_a_link_or_a_readable_time_is_refused_with_its_reason():
    raw = {"items": [  # STAND-IN entries: broken copies of the recorded newsis item
        {"title": "<b>삼성전자</b> 하락", "description": "", "originallink": "", "link": "", "pubDate":
         "Fri, 28 Mar 2025 16:19:20 +0900"},
        {"title": "<b>삼성전자</b> 하락", "description": "", "originallink": "https://newsis.com/view/X",
         "link": "", "pubDate": "yesterday"},
    ]}
    items, rejected, _ = naver_items(raw, "005930", NameMatcher(names()))
    assert not items and [r.reason for r in rejected] == ["naver entry without a link",
                                                          "naver entry without a readable time"]


def test_an_rss_feed_gives_one_item_per_stock_its_headline_names():
    items, rejected, unmatched = rss_items((NEWS / "krx_rss_hankyung.xml").read_bytes(), "hankyung",
                                           NameMatcher(names()))
    assert not rejected and unmatched == 2  # two trade-policy headlines name no stock of the universe
    assert [(i.data["ticker"], i.data["publisher"], i.data["feed"]) for i in items] == [
        ("005930", "한국경제", "hankyung")]
    assert items[0].at == dt.datetime(2020, 1, 13, 6, 0, tzinfo=dt.UTC)
    assert items[0].data["snippet"] == "삼성전자가 13일 오후 액면분할 이후 처음으로 장중 주가 6만 원선을 돌파했다."


def test_an_rss_entry_without_a_time_is_refused_and_a_page_that_is_not_a_feed_fails_the_run():
    xml = (NEWS / "krx_rss_hankyung.xml").read_text(encoding="utf-8").replace(  # STAND-IN: the 2020 entry, undated
        "<pubDate>Mon, 13 Jan 2020 15:00:00 +0900</pubDate>", "")
    items, rejected, _ = rss_items(xml.encode(), "hankyung", NameMatcher(names()))
    assert not items and [(r.reason, r.key) for r in rejected] == [
        ("hankyung entry without a readable time", "https://www.hankyung.com/article/2020011332495")]
    with pytest.raises(BadDataError, match="RSS feed hankyung: not a feed"):
        rss_items(b"<html><body>503 Service Unavailable", "hankyung", NameMatcher(names()))


@pytest.mark.parametrize(("text", "utc"), [
    ("Mon, 16 Jun 2025 09:33:00 +0900", dt.datetime(2025, 6, 16, 0, 33, tzinfo=dt.UTC)),
    ("2025-06-16 09:33:00", dt.datetime(2025, 6, 16, 0, 33, tzinfo=dt.UTC)),  # a bare time is Seoul's
    ("2025-06-16T09:33:00+09:00", dt.datetime(2025, 6, 16, 0, 33, tzinfo=dt.UTC)),
    ("16일 오전", None),
])
def test_publication_times_are_read_to_utc(text, utc):
    assert published_at(text) == utc


def test_a_feed_setting_that_is_not_name_equals_url_is_one_line_to_fix(make_settings):
    with pytest.raises(ConfigError) as caught:
        make_settings(krx_news_rss_feeds="https://www.hankyung.com/feed/finance")
    assert str(caught.value).startswith("setting KRX_NEWS_RSS_FEEDS: 'https://www.hankyung.com/feed/finance' is "
                                        "not name=URL")


# --- names --------------------------------------------------------------------------------------------

UNIVERSE = {"003550": "LG", "066570": "LG전자", "034730": "SK", "000660": "SK하이닉스", "005930": "삼성전자",
            "005935": "삼성전자우", "001680": "대상", "035420": "NAVER", "030200": "KT", "033780": "KT&G",
            "014470": "부방"}


@pytest.mark.parametrize(("headline", "tickers"), [
    ("LG전자, 2분기 영업이익 감소", ["066570"]),  # "LG" inside "LG전자": the longer name
    ("LG, 자회사 배당 확대", ["003550"]),
    ("SK, 리밸런싱 속도", ["034730"]),  # "SK" standing alone is the holding company
    ("SK그룹 계열사 인사", []),  # the group, not a listed name
    ("SKT 해킹 여파", []),
    ("SK하이닉스가 신고가", ["000660"]),  # a particle right after the name
    ("삼성전자우 급등", ["005935"]),  # the preferred share, not the common
    ("삼성전자는 하락", ["005930"]),
    ("[특징주]삼성전자·SK하이닉스 동반 강세", ["005930", "000660"]),
    ("정부 지원 대상 확대", []),  # 대상 is a listed company and an ordinary word
    ("부방 주가", []),
    ("네이버, AI 투자", ["035420"]),  # NAVER by its Korean name
    ("네이버웹툰 상장", []),
    ("kt&g 배당", ["033780"]),  # Latin letters in any case
    ("KT는 하락", ["030200"]),
])
def test_a_headline_names_the_longest_listed_name_standing_on_its_own(headline, tickers):
    assert NameMatcher(UNIVERSE).find(headline) == tickers


def test_a_common_word_name_is_matched_in_the_answer_to_a_search_for_it():
    matcher = NameMatcher(UNIVERSE)
    assert matcher.find("대상 주가 반등", allow_common=frozenset({"001680"})) == ["001680"]


# --- the reader's sweep -------------------------------------------------------------------------------


def test_the_sweep_asks_about_the_picks_then_the_largest_caps_then_reads_the_feeds(krx_storage):
    krx_storage.picks.save_daily_picks([{"strategy": "rsi_oversold", "date": "2025-06-13", "picks": [
        {"ticker": "014470"}, {"ticker": "999999"}]}])  # 999999 is not in the universe: not asked about
    krx_storage.picks.save_picks_state(dt.date(2025, 6, 13), dt.date(2025, 6, 13), ["rsi_oversold"])
    reader = replay(top_n=3)
    reader.prepare(krx_storage, END_OF_DEMO_DAY)  # a Monday: the picks of Friday the 13th
    assert [(s.kind, s.key, s.text) for s in reader.steps] == [
        ("naver", "014470", "부방 주가"),  # an ordinary word is asked with 주가 (share price)
        ("naver", "005930", "삼성전자"), ("naver", "000660", "SK하이닉스"), ("naver", "207940", "삼성바이오로직스"),
        ("rss", "hankyung", "https://www.hankyung.com/feed/finance"),
        ("rss", "maeil", "https://www.mk.co.kr/rss/50200011/"),
    ]


def test_the_replay_serves_only_what_was_published_by_the_run_and_reads_through_the_sweep(
        krx_storage, make_settings, clock):
    assert run(krx_storage, make_settings(), clock, replay()) == 0
    titles = {d["data"]["title"] for d in stored(krx_storage)["items"]}
    assert "SK하이닉스, 6개월 만에 21만원 돌파...왜?" in titles
    assert "[특징주] SK하이닉스, 장중 26만원 돌파…신고가 경신" not in titles  # published 2025-06-17
    mark = krx_storage.watermarks.watermark(DATASET.key)
    assert (mark["read_through"], mark["cursor"]) == (END_OF_DEMO_DAY.astimezone(dt.UTC).replace(tzinfo=None), None)
    record = krx_storage.jobs.latest_run(DATASET.job)
    assert (record["pages"], record["items_new"], record["rejected"]) == (7, 5, 0)


def test_an_article_naver_and_a_feed_both_carry_stays_one_item_without_revisions(krx_storage, make_settings, clock):
    for _ in range(3):  # Naver's copy of Maeil's article comes first; the feed's copy never replaces it
        assert run(krx_storage, make_settings(), clock, replay()) == 0
    items = {d["key"]: d for d in stored(krx_storage)["items"]}
    mk = items[article_key("000660", "https://mkbn.mk.co.kr/news/business/11214909")]
    assert (mk["data"]["feed"], mk["revisions"]) == ("naver", 0)
    assert krx_storage.watermarks.vintage_count(DATASET.key) == 0


def test_the_same_article_read_again_with_new_tracking_parameters_is_one_item(krx_storage, make_settings, clock,
                                                                               tmp_path):
    folder = tmp_path / "news"
    (folder / "naver").mkdir(parents=True)
    answer = json.loads((NEWS / "krx_naver_000660.json").read_text(encoding="utf-8"))
    (folder / "naver" / "000660.json").write_text(json.dumps(answer), encoding="utf-8")
    reader = ReplayNewsReader(folder, {}, 2)
    assert run(krx_storage, make_settings(), clock, reader) == 0
    before = stored(krx_storage)["items"]
    for item in answer["items"]:  # STAND-IN: the same links as a feed hands them out with campaign tags
        item["originallink"] = item["originallink"].replace("http://", "https://www.") + "?utm_source=naver#top"
    (folder / "naver" / "000660.json").write_text(json.dumps(answer), encoding="utf-8")
    assert run(krx_storage, make_settings(), clock, ReplayNewsReader(folder, {}, 2)) == 0
    record = krx_storage.jobs.latest_run(DATASET.job)
    assert (record["items_new"], record["items_revised"], record["items_unchanged"]) == (0, 0, 3)
    assert stored(krx_storage)["items"] == before


def test_an_item_published_in_the_future_is_refused(krx_storage):
    reader = replay()
    reader.prepare(krx_storage, END_OF_DEMO_DAY)
    reader.build_query(Mark(), END_OF_DEMO_DAY)
    raw = json.loads((NEWS / "krx_naver_000660.json").read_text(encoding="utf-8"))
    items, _, _ = naver_items(raw, "000660", NameMatcher(names()))
    late = next(i for i in items if i.at.date() == dt.date(2025, 6, 17))
    assert reader.validate(late) == ("published at 2025-06-17T01:01:58+00:00, after this run's time "
                                     "2025-06-16T14:00:00+00:00")
    assert all(reader.validate(i) is None for i in items if i is not late)


# --- a kill mid-sweep ---------------------------------------------------------------------------------


def _two_runs(storage, settings, clock, crash_at: int | None) -> int:
    writes = kill_at_write(storage, crash_at)
    for as_of in (dt.datetime(2025, 6, 13, 23, 0, tzinfo=KST), END_OF_DEMO_DAY):
        restarted(lambda as_of=as_of: run(storage, settings, clock, replay(), as_of), clock, settings)
    return writes["n"]


def test_a_sweep_killed_at_any_write_then_rerun_gives_the_same_store(storage, make_settings, clock):
    settings = make_settings()
    storage.universe.apply_universe(universe_docs())
    total = _two_runs(storage, settings, clock, None)
    expected = stored(storage)
    assert len(expected["items"]) == 5 and total > 20
    for crash_at in range(1, total + 1):
        crashed = Storage(mongomock_ng.MongoClient(), prefix="test_")
        crashed.universe.apply_universe(universe_docs())
        _two_runs(crashed, settings, clock, crash_at)
        assert stored(crashed) == expected, f"differs after a kill at write {crash_at}"


def test_a_rerun_after_a_kill_resumes_at_the_next_stock_of_the_sweep(krx_storage, make_settings, clock):
    class Dies(ReplayNewsReader):
        def fetch_raw(self, query):
            if query.position == 3:
                raise SimulatedKill  # the process is killed while asking about the fourth stock
            return super().fetch_raw(query)

    with pytest.raises(SimulatedKill):
        run(krx_storage, make_settings(), clock, Dies(RECORDED, {}, 5))
    sweep = krx_storage.watermarks.watermark(DATASET.key)["cursor"]
    assert sweep.endswith("|3")
    asked: list[int] = []

    class Counts(ReplayNewsReader):
        def fetch_raw(self, query):
            asked.append(query.position)
            return super().fetch_raw(query)

    clock.advance(minutes=make_settings().lock_timeout_minutes + 1)
    assert run(krx_storage, make_settings(), clock, Counts(RECORDED, {}, 5)) == 0
    assert asked == [3, 4]


# --- errors by kind -----------------------------------------------------------------------------------


class Answer:
    def __init__(self, status: int, body: str = "{}", headers: dict | None = None) -> None:
        self.status_code, self.text, self.headers = status, body, headers or {}
        self.content = body.encode()

    def json(self):
        return json.loads(self.text)


class Session:
    """A requests session that answers from a script, or raises."""

    def __init__(self, *answers) -> None:
        self.answers = list(answers)
        self.calls: list[dict] = []

    def get(self, url, **kwargs):
        self.calls.append({"url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.mark.parametrize(("answer", "error", "words"), [
    (Answer(401, '{"errorMessage": "Authentication failed", "errorCode": "024"}'), SourceBlockedError,
     "HTTP 401 024 Authentication failed, the key was refused; check NAVER_CLIENT_ID/NAVER_CLIENT_SECRET"),
    (Answer(429, '{"errorMessage": "Rate limit exceeded", "errorCode": "012"}', {"Retry-After": "3"}),
     RateLimitedError, "HTTP 429 012 Rate limit exceeded"),
    (Answer(503, "busy"), TransientSourceError, "HTTP 503"),
    (requests.Timeout("read timed out"), TransientSourceError, "Timeout"),
    (Answer(200, "<html>"), BadDataError, "the answer is not JSON"),
])
def test_naver_errors_are_told_apart_and_never_carry_the_secret(answer, error, words):
    session = Session(answer)
    with pytest.raises(error) as caught:
        fetch_naver(session, "https://openapi.naver.com/v1/search/news.json", "my-id", SECRET, "삼성전자", 5)
    assert words in str(caught.value) and SECRET not in str(caught.value)
    assert session.calls[0]["headers"]["X-Naver-Client-Secret"] == SECRET  # only ever sent as a header
    assert SECRET not in session.calls[0]["url"] + json.dumps(session.calls[0]["params"], ensure_ascii=False)
    if error is RateLimitedError:
        assert caught.value.pause == 3.0


@pytest.mark.parametrize(("answer", "error", "words"), [
    (Answer(404, "not found"), BadDataError, "HTTP 404; check its URL in KRX_NEWS_RSS_FEEDS"),
    (Answer(502, "bad gateway"), TransientSourceError, "HTTP 502"),
    (requests.ConnectionError("refused"), TransientSourceError, "ConnectionError"),
])
def test_feed_errors_are_told_apart(answer, error, words):
    with pytest.raises(error, match=words):
        fetch_feed(Session(answer), "hankyung", "https://www.hankyung.com/feed/finance", 5)


def test_blank_naver_keys_skip_naver_in_one_info_line_and_the_feeds_still_run(krx_storage, make_settings, clock,
                                                                                caplog):
    feed = (NEWS / "krx_rss_hankyung.xml").read_bytes()
    session = Session(Answer(200, feed.decode()))
    reader = KrxNewsReader(None, None, {"hankyung": "https://feed.test/finance"}, 5, 5, session=session)
    reader.backoff_seconds = 0
    with caplog.at_level(logging.INFO):
        assert run(krx_storage, make_settings(), clock, reader) == 0
    assert [c["url"] for c in session.calls] == ["https://feed.test/finance"]
    skipped = [r.getMessage() for r in caplog.records if "Naver is skipped" in r.getMessage()]
    assert skipped == ["krx.news: NAVER_CLIENT_ID or NAVER_CLIENT_SECRET is blank, so Naver is skipped; "
                       "reading the RSS feeds only"]
    assert [d["data"]["feed"] for d in stored(krx_storage)["items"]] == ["hankyung"]


# --- the script, end to end ---------------------------------------------------------------------------


@pytest.fixture
def stub() -> Iterator[str]:
    """Naver refusing every key (its real 401 body) and a feed serving the recorded Hankyung XML."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            if url.path == "/v1/search/news.json":
                assert parse_qs(url.query)["sort"] == ["date"]
                status, body = 401, json.dumps({"errorMessage": "Authentication failed (인증에 실패했습니다.)",
                                                "errorCode": "024"}).encode()
            else:
                status, body = 200, (NEWS / "krx_rss_hankyung.xml").read_bytes()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_collect_over_the_recorded_answers_stores_the_demo_day_s_news(make_settings, capsys):
    settings = make_settings(krx_news_replay_dir=RECORDED, krx_news_top_n=40)
    Storage(get_client("mongomock://")).universe.apply_universe(universe_docs())
    assert collect.main(["krx.news", "--today", "2025-06-16"], settings=settings) == 0
    storage = Storage(get_client("mongomock://"))
    items = stored(storage)["items"]
    assert {d["data"]["ticker"] for d in items} == {"005930", "000660"}  # of the panel's stocks, those in the news
    assert {d["data"]["feed"] for d in items} == {"naver", "hankyung"}
    assert storage.jobs.latest_run("krx_news")["status"] == "completed"
    assert "krx.news: this run made 23 replayed Naver answer(s) and read 2 RSS feed(s)" in capsys.readouterr().err


def test_without_a_universe_the_run_stops_in_one_line_saying_what_to_run(make_settings, capsys):
    settings = make_settings(krx_news_replay_dir=RECORDED)
    assert collect.main(["krx.news", "--today", "2025-06-16"], settings=settings) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and errors[0].endswith(
        "krx.news: the KRX universe is empty, so no headline can be matched to a stock; run `python "
        "manual_setup.py` first (or KRX_NEWS=false)")


def test_a_refused_naver_key_exits_as_a_blocked_source_without_the_secret_anywhere(make_settings, stub, capsys):
    settings = make_settings(naver_client_id="my-client-id", naver_client_secret=SECRET,
                             krx_news_naver_url=f"{stub}/v1/search/news.json",
                             krx_news_rss_feeds={"hankyung": f"{stub}/feed/finance"}, krx_retry_backoff_seconds=0)
    Storage(get_client("mongomock://")).universe.apply_universe(universe_docs())
    assert collect.main(["krx.news", "--today", "2025-06-16"], settings=settings) == 1
    err = capsys.readouterr().err
    assert "check NAVER_CLIENT_ID/NAVER_CLIENT_SECRET" in err and SECRET not in err
    storage = Storage(get_client("mongomock://"))
    record = storage.jobs.latest_run("krx_news")
    assert record["status"] == "failed" and "NAVER_CLIENT_ID" in record["error"]
    assert record["blocked_sources"] == {"naver_news": record["error"]}
    events = job_events(storage, dt.datetime.now(dt.UTC), dt.timedelta(hours=1), registry())
    blocked = [e for e in events if e.kind == "source_blocked"]
    assert [e.title for e in blocked] == ["naver_news is refusing krx_news"]
    assert "for Naver: NAVER_CLIENT_ID/NAVER_CLIENT_SECRET" in blocked[0].text
    assert SECRET not in json.dumps([record, [e.text for e in events]], default=str, ensure_ascii=False)


def test_on_36_real_headlines_the_matcher_finds_every_listed_name_but_a_bare_group_name_and_nothing_else():
    frame = pd.read_parquet(SAMPLE / "krx_sample.parquet", columns=["date", "ticker", "name"])
    last = frame.loc[frame["date"] == frame["date"].max()]
    universe = dict(zip(last["ticker"], last["name"], strict=True))  # the demo's 213 stocks
    matcher, ticker_of = NameMatcher(universe), {name: t for t, name in universe.items()}
    labelled = pd.read_csv(NEWS / "krx_headlines_labelled.csv", keep_default_na=False)
    found = missed = false = 0
    for row in labelled.itertuples():
        want = {ticker_of[name] for name in row.stocks.split(";") if name}
        got = set(matcher.find(row.headline))
        found, missed, false = found + len(got & want), missed + len(want - got), false + len(got - want)
    # The one miss: "'4만전자' 삼성, ..." names the group (삼성), which no listed name spells.
    assert (len(labelled), found, missed, false) == (36, 30, 1, 0)
