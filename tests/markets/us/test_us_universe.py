"""The US stock universe: plan_universe's joiners, leavers, rejoiners and floor; refresh_universe's weekly cadence
on the embedded store; the real symbol files of 2025-07-21 (data/sample/us_stocks) then 2025-10-20
(tests/fixtures/us_universe/later), between which Walgreens (WBA) was taken private and Figma (FIG) listed; the
replay and live sources without network."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from lib.errors import BadDataError, ConfigError, RateLimitedError, SourceBlockedError, TransientSourceError
from lib.markets.us.stocks.market_caps import MarketCaps
from lib.markets.us.stocks.symbols import Listing
from lib.markets.us.stocks.universe import (
    LISTED_NO_MORE,
    UNDER_FLOOR,
    build_universe_source,
    plan_universe,
    refresh_universe,
)
from lib.markets.us.stocks.universe_profiles import profile_fields, profile_queue
from lib.markets.us.stocks.universe_sources import LiveUniverseSource, Profiles, ReplayUniverseSource

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "us_stocks"
LATER = ROOT / "tests" / "fixtures" / "us_universe" / "later"
DAY = dt.date(2025, 7, 22)
FLOOR = 2e9
# Shaped by hand (no recorded profile of Walgreens was found): only its size relative to the floor matters.
WBA = {"name": "Walgreens Boots Alliance, Inc.", "market_cap": 1e10, "currency": "USD", "sector": "Consumer Staples"}


def listing(ticker: str, exchange: str = "Q") -> Listing:
    return Listing(ticker, ticker, f"{ticker} Inc.", exchange)


def quote(cap: float) -> dict[str, Any]:
    return {"name": "X Corp", "market_cap": cap, "shares_outstanding": 1e8}


def caps(found: dict[str, dict[str, Any]], complete: bool = True, **left_out: str) -> MarketCaps:
    return MarketCaps(found=found, complete=complete, left_out=dict(left_out))


def by_ticker(plan) -> dict[str, dict]:
    return {doc["ticker"]: doc for doc in plan.docs}


def test_a_stock_joins_at_the_floor_and_one_under_it_stays_out():
    plan = plan_universe([], [listing("BIG"), listing("EDGE"), listing("SMALL")],
                         caps({"BIG": quote(5e9), "EDGE": quote(FLOOR), "SMALL": quote(FLOOR - 1)}), DAY, FLOOR)
    assert plan.joiners == ["BIG", "EDGE"]
    doc = by_ticker(plan)["BIG"]
    assert doc == {"ticker": "BIG", "name": "X Corp", "exchange": "Q", "market_cap": 5e9, "currency": "USD",
                   "shares_outstanding": 1e8, "as_of_date": "2025-07-22", "first_seen": "2025-07-22",
                   "financial_status": None, "is_active": True}
    assert "SMALL" not in by_ticker(plan)


def test_a_field_missing_from_a_later_quote_keeps_its_known_value():
    first = plan_universe([], [listing("ABC")], caps({"ABC": quote(3e9)}), DAY, FLOOR)
    sparse = {"market_cap": 3.5e9, "name": None, "shares_outstanding": None}
    again = by_ticker(plan_universe(first.docs, [listing("ABC")], caps({"ABC": sparse}), DAY + dt.timedelta(7),
                                    FLOOR))
    assert (again["ABC"]["market_cap"], again["ABC"]["shares_outstanding"], again["ABC"]["name"]) == (
        3.5e9, 1e8, "X Corp")
    new = by_ticker(plan_universe([], [listing("NEW")], caps({"NEW": sparse}), DAY, FLOOR))["NEW"]
    assert new["name"] == "NEW Inc." and "sector" not in new  # the listing's name; the sector is the profiles'


def test_a_stock_under_the_floor_leaves_and_returns_as_a_rejoiner():
    first = plan_universe([], [listing("ABC")], caps({"ABC": quote(3e9)}), DAY, FLOOR)
    week2 = DAY + dt.timedelta(days=7)
    fell = plan_universe(first.docs, [listing("ABC")], caps({"ABC": quote(1e9)}), week2, FLOOR)
    doc = by_ticker(fell)["ABC"]
    assert fell.leavers == ["ABC"]
    assert (doc["is_active"], doc["left_on"], doc["left_reason"], doc["market_cap"]) == (
        False, "2025-07-29", UNDER_FLOOR, 1e9)
    still_out = plan_universe(fell.docs, [listing("ABC")], caps({"ABC": quote(1.5e9)}), week2 + dt.timedelta(7),
                              FLOOR)
    assert not still_out.leavers and by_ticker(still_out)["ABC"]["left_on"] == "2025-07-29"
    back = plan_universe(still_out.docs, [listing("ABC")], caps({"ABC": quote(4e9)}), week2 + dt.timedelta(14),
                         FLOOR)
    doc = by_ticker(back)["ABC"]
    assert back.rejoiners == ["ABC"] and not back.joiners
    assert doc["is_active"] and doc["first_seen"] == "2025-07-22" and "left_on" not in doc


def test_a_stock_absent_from_a_complete_answer_is_under_the_floor():
    first = plan_universe([], [listing("ABC"), listing("XYZ")], caps({"ABC": quote(3e9), "XYZ": quote(3e9)}), DAY,
                          FLOOR)
    again = plan_universe(first.docs, [listing("ABC"), listing("XYZ")], caps({"XYZ": quote(3e9)}),
                          DAY + dt.timedelta(7), FLOOR)
    doc = by_ticker(again)["ABC"]
    assert again.leavers == ["ABC"] and not again.unchanged
    assert (doc["is_active"], doc["left_reason"], doc["market_cap"]) == (False, UNDER_FLOOR, 3e9)  # last known cap


def test_a_stock_absent_from_an_incomplete_answer_or_with_an_unusable_quote_keeps_its_state():
    listings = [listing("ABC"), listing("XYZ"), listing("EUR")]
    first = plan_universe([], listings, caps({t: quote(3e9) for t in ("ABC", "XYZ", "EUR")}), DAY, FLOOR)
    week2 = DAY + dt.timedelta(7)
    short = plan_universe(first.docs, listings, caps({"XYZ": quote(3e9)}, complete=False), week2, FLOOR)
    assert sorted(short.unchanged) == ["ABC", "EUR"] and not short.leavers
    assert set(by_ticker(short)) == {"XYZ"}  # nothing written for the other two: their documents stay as they were
    odd = plan_universe(first.docs, listings, caps({"XYZ": quote(3e9), "ABC": quote(3e9)},
                                                   EUR="market cap in EUR, not USD"), week2, FLOOR)
    assert odd.unchanged == ["EUR"] and not odd.leavers


def test_a_stock_listed_no_more_leaves_with_its_figures_kept():
    first = plan_universe([], [listing("ABC")], caps({"ABC": quote(3e9)}), DAY, FLOOR)
    gone = plan_universe(first.docs, [], caps({}), DAY + dt.timedelta(7), FLOOR)
    doc = by_ticker(gone)["ABC"]
    assert gone.leavers == ["ABC"]
    assert (doc["is_active"], doc["left_on"], doc["left_reason"], doc["market_cap"]) == (
        False, "2025-07-29", LISTED_NO_MORE, 3e9)


class WithProfiles:
    """The replay source with some stocks added to its screener answer and profiles (a stock the recorded
    profiles.csv lacks), counting what it is asked."""

    def __init__(self, root: Path, extra: dict[str, dict[str, Any]]) -> None:
        self.replay, self.extra, self.name = ReplayUniverseSource(root), extra, "replay"
        self.asked: list[list[str]] = []
        self.screens = 0

    def symbol_files(self) -> tuple[str, str]:
        return self.replay.symbol_files()

    def market_caps(self, floor: float) -> MarketCaps:
        self.screens += 1
        out = self.replay.market_caps(floor)
        for ticker, found in self.extra.items():
            out.found[ticker] = {k: found.get(k) for k in ("market_cap", "name", "shares_outstanding")}
        return out

    def profiles(self, tickers) -> Profiles:
        tickers = list(tickers)
        self.asked.append(tickers)
        out = self.replay.profiles(tickers)
        for ticker, found in self.extra.items():
            if ticker in tickers:
                out.left_out.pop(ticker, None)
                out.found[ticker] = found
        return out


def test_real_snapshots_walgreens_leaves_and_figma_joins(storage, make_settings):
    us_storage = storage.scoped("us_")
    settings = make_settings()
    first = refresh_universe(us_storage, settings, DAY, WithProfiles(SAMPLE, {"WBA": WBA}))
    assert first is not None and len(first.joiners) == 65 and "WBA" in first.joiners
    later = refresh_universe(us_storage, settings, dt.date(2025, 10, 21), ReplayUniverseSource(LATER))
    assert later is not None
    assert (later.joiners, later.leavers, later.rejoiners, later.kept, later.active) == (("FIG",), ("WBA",), (), 64, 65)
    wba = us_storage.universe.ticker_doc("WBA")
    assert (wba["is_active"], wba["left_on"], wba["first_seen"]) == (False, "2025-10-21", "2025-07-22")
    assert wba["left_reason"] == LISTED_NO_MORE
    active = us_storage.universe.universe(active_only=True)
    assert [d["ticker"] for d in active[:2]] == ["NVDA", "AAPL"]  # largest market cap first
    assert {d["exchange"] for d in active} == {"Q", "N"} and all(d["currency"] == "USD" for d in active)
    assert us_storage.universe.ticker_doc("BRK-B")["name"] == "Berkshire Hathaway"
    assert storage.universe.universe() == []  # KRX's universe (namespace "") is untouched


def test_the_universe_is_refreshed_weekly_unless_forced(storage, make_settings):
    us_storage, settings = storage.scoped("us_"), make_settings()
    source = WithProfiles(SAMPLE, {})
    assert refresh_universe(us_storage, settings, DAY, source) is not None
    assert refresh_universe(us_storage, settings, DAY + dt.timedelta(days=6), source) is None
    assert len(source.asked) == 1 and source.screens == 1  # the week-old check costs no request
    forced = refresh_universe(us_storage, settings, DAY + dt.timedelta(days=6), source, force=True)
    assert forced is not None and forced.kept == 64 and not forced.joiners
    assert refresh_universe(us_storage, settings, DAY + dt.timedelta(days=13), source) is not None
    assert us_storage.universe.universe_as_of() == DAY + dt.timedelta(days=13)


def test_profiles_queue_joiners_first_then_the_missing_least_recently_tried_then_the_oldest():
    today = dt.date(2025, 10, 21)
    docs = [
        {"ticker": "FRESH", "is_active": True, "market_cap": 9e9, "profile_as_of": "2025-10-01"},
        {"ticker": "OLD", "is_active": True, "market_cap": 5e9, "profile_as_of": "2025-06-01"},
        {"ticker": "OLDER", "is_active": True, "market_cap": 4e9, "profile_as_of": "2025-05-01"},
        {"ticker": "TRIED", "is_active": True, "market_cap": 8e9, "profile_tried_on": "2025-10-14"},
        {"ticker": "NEVER", "is_active": True, "market_cap": 3e9},
        {"ticker": "JOINER", "is_active": True, "market_cap": 2e9},
        {"ticker": "GONE", "is_active": False, "market_cap": 7e9},
    ]
    assert profile_queue(docs, ["JOINER"], today, 10) == ["JOINER", "NEVER", "TRIED", "OLDER", "OLD"]
    assert profile_queue(docs, ["JOINER"], today, 2) == ["JOINER", "NEVER"]
    assert profile_queue(docs, ["JOINER"], today, 0) == []


def test_a_profile_without_a_sector_leaves_it_unknown_and_a_failed_one_is_only_marked_tried():
    day = dt.date(2025, 10, 21)
    known = {"sector": "Industrials", "industry": "Machinery", "shares_outstanding": 1e8}
    assert profile_fields({"sector": None, "industry": None, "shares_outstanding": 5e8}, {}, day) == {
        "profile_tried_on": "2025-10-21", "profile_as_of": "2025-10-21", "shares_outstanding": 5e8}
    assert profile_fields({"sector": None, "industry": "Tools", "shares_outstanding": None}, known, day) == {
        "profile_tried_on": "2025-10-21", "profile_as_of": "2025-10-21", "sector": "Industrials",
        "industry": "Tools", "shares_outstanding": 1e8}
    assert profile_fields(None, known, day) == {"profile_tried_on": "2025-10-21"}


def test_a_refresh_reads_at_most_the_set_number_of_profiles_and_the_rest_later(storage, make_settings):
    us_storage, settings = storage.scoped("us_"), make_settings(us_profiles_per_run=10)
    source = WithProfiles(SAMPLE, {})
    first = refresh_universe(us_storage, settings, DAY, source)
    assert first is not None and len(first.joiners) == 64 and first.profiled == 10 and first.active == 64
    with_sector = {d["ticker"] for d in us_storage.universe.universe() if d.get("sector")}
    assert with_sector == set(source.asked[0]) and len(with_sector) == 10
    unknown = us_storage.universe.ticker_doc(next(t for t in first.joiners if t not in with_sector))
    assert "sector" not in unknown and "profile_as_of" not in unknown  # unknown until read, never guessed
    second = refresh_universe(us_storage, settings, DAY + dt.timedelta(days=7), source)
    assert second is not None and second.profiled == 10 and not set(source.asked[1]) & with_sector
    assert sum(1 for d in us_storage.universe.universe() if d.get("sector")) == 20


class FailingScreener(WithProfiles):
    def market_caps(self, floor: float) -> MarketCaps:
        raise TransientSourceError("Yahoo screener offset 500: no answer within 20s")


def test_a_failed_screener_page_changes_nothing(storage, make_settings):
    us_storage, settings = storage.scoped("us_"), make_settings()
    refresh_universe(us_storage, settings, DAY, ReplayUniverseSource(SAMPLE))
    before = us_storage.universe.universe()
    failing = FailingScreener(SAMPLE, {})
    with pytest.raises(TransientSourceError, match="offset 500"):
        refresh_universe(us_storage, settings, DAY + dt.timedelta(days=7), failing)
    assert us_storage.universe.universe() == before and not failing.asked


def test_a_truncated_symbol_file_changes_nothing(storage, make_settings, tmp_path):
    us_storage, settings = storage.scoped("us_"), make_settings()
    refresh_universe(us_storage, settings, DAY, ReplayUniverseSource(SAMPLE))
    before = us_storage.universe.universe()
    for name in ("nasdaqlisted.txt", "profiles.csv"):
        (tmp_path / name).write_text((SAMPLE / name).read_text())
    lines = (SAMPLE / "otherlisted.txt").read_text().splitlines()
    (tmp_path / "otherlisted.txt").write_text("\n".join(lines[:20]))  # the download stopped mid-file
    with pytest.raises(BadDataError, match="otherlisted.txt"):
        refresh_universe(us_storage, settings, DAY + dt.timedelta(days=7), ReplayUniverseSource(tmp_path))
    assert us_storage.universe.universe() == before


def test_a_replay_folder_without_its_files_is_a_config_error(tmp_path, make_settings):
    with pytest.raises(ConfigError, match="is not a folder"):
        ReplayUniverseSource(tmp_path / "absent")
    with pytest.raises(ConfigError, match="nasdaqlisted.txt is missing"):
        ReplayUniverseSource(tmp_path).symbol_files()
    with pytest.raises(ConfigError, match="US_STOCKS_REPLAY_DIR"):
        build_universe_source(make_settings(us_stocks_sources=["replay"]))
    assert isinstance(build_universe_source(make_settings(us_stocks_sources=["replay"],
                                                          us_stocks_replay_dir=SAMPLE)), ReplayUniverseSource)
    assert isinstance(build_universe_source(make_settings()), LiveUniverseSource)  # builds without a request


class FakeResponse:
    def __init__(self, status: int, text: str = "") -> None:
        self.status_code, self.text = status, text


class FakeSession:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers, self.urls = answers, []

    def get(self, url: str, timeout: float, **kwargs: Any) -> FakeResponse:
        self.urls.append(url)
        answer = self.answers[url.rsplit("/", 1)[1]]
        if isinstance(answer, Exception):
            raise answer
        return answer


class FakeYahoo:
    """yfinance's `.info` answers per ticker, or the error the Yahoo source would raise."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def fetch_raw(self, query) -> Any:
        answer = self.answers[query.ticker]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_the_live_source_reads_both_files_and_says_which_failed():
    nasdaq, other = (SAMPLE / "nasdaqlisted.txt").read_text(), (SAMPLE / "otherlisted.txt").read_text()
    session = FakeSession({"nasdaqlisted.txt": FakeResponse(200, nasdaq), "otherlisted.txt": FakeResponse(200, other)})
    source = LiveUniverseSource(5.0, 0.0, FakeYahoo({}), session=session)
    assert source.symbol_files() == (nasdaq, other)
    assert session.urls == ["https://www.nasdaqtrader.com/dynamic/SymDir/nasdaqlisted.txt",
                            "https://www.nasdaqtrader.com/dynamic/SymDir/otherlisted.txt"]
    session.answers["otherlisted.txt"] = requests.Timeout("read timed out")
    with pytest.raises(TransientSourceError, match="NASDAQ Trader otherlisted.txt: no answer within 5s"):
        source.symbol_files()
    session.answers["otherlisted.txt"] = FakeResponse(503, "busy")
    with pytest.raises(TransientSourceError, match="HTTP 503, try again later"):
        source.symbol_files()
    session.answers["otherlisted.txt"] = FakeResponse(404, "not found")
    with pytest.raises(BadDataError, match="HTTP 404"):
        source.symbol_files()


def test_live_profiles_are_paced_and_a_failed_ticker_is_left_out():
    sleeps: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    yahoo = FakeYahoo({
        "AAPL": {"longName": "Apple Inc.", "marketCap": 3.7e12, "sharesOutstanding": 1.47e10, "sector": "Technology",
                 "industry": "Consumer Electronics", "currency": "USD"},
        "EMPTY": {"longName": "Empty Corp", "currency": "USD"},
        "BUSY": RateLimitedError("yfinance BUSY profile: HTTP 429", pause=60.0),
        "GONE": TransientSourceError("yfinance GONE profile: HTTP 502"),
    })
    source = LiveUniverseSource(5.0, 2.0, yahoo, session=FakeSession({}), sleep=sleep, clock=lambda: now[0])
    found = source.profiles(["AAPL", "EMPTY", "BUSY", "GONE"])
    assert found.found == {"AAPL": {"name": "Apple Inc.", "sector": "Technology", "industry": "Consumer Electronics",
                                    "shares_outstanding": 1.47e10, "market_cap": 3.7e12, "currency": "USD"}}
    assert found.left_out == {"EMPTY": "empty profile", "BUSY": "rate limited (HTTP 429)",
                              "GONE": "TransientSourceError"}
    assert sleeps == [2.0, 2.0, 60.0, 2.0]  # the gap between requests, and the 429's pause
    yahoo.answers["AAPL"] = SourceBlockedError("yfinance AAPL profile: HTTP 403")
    with pytest.raises(SourceBlockedError):
        source.profiles(["AAPL"])
