"""The stock and screener routes on any market (`market=`): a second screened market (US stocks, a few real ones
analysed in their own collections) next to KRX's, each answer with its market and currency."""

from __future__ import annotations

import csv
import datetime as dt

import mongomock_ng
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.storage import Storage
from tests.api.conftest import api_settings
from tests.conftest import US_SAMPLE, FakeClock, make_settings  # noqa: F401 - make_settings is a fixture
from tests.us_scope import LAST_US_DAY, NEW_YORK, US_TICKERS, run_us_analysis, seed_us, two_markets

NOW = dt.datetime(2025, 10, 1, 3, 0, tzinfo=dt.UTC)  # Wednesday 12:00 KST: Tuesday's New York session is analysed


@pytest.fixture(scope="module")
def us_store() -> Storage:
    """A store whose `us_` scope holds three real US stocks analysed through 2025-09-30 (KRX's is empty)."""
    settings = api_settings(us_sources=["replay"], us_replay_dir=US_SAMPLE, analysis_quota_per_run=100)
    storage = Storage(mongomock_ng.MongoClient(), prefix="markets_")
    seed_us(storage)
    clock = FakeClock(NOW)
    as_of = dt.datetime.combine(LAST_US_DAY, dt.time(20), tzinfo=NEW_YORK)
    assert run_us_analysis(storage, settings, as_of, clock) == 0
    return storage


def client_on(storage: Storage, off=None) -> TestClient:
    app = create_app(api_settings(), storage=storage, clock=lambda: NOW, datasets=two_markets(off))
    return TestClient(app, raise_server_exceptions=False)


def test_the_screener_of_the_us_market_serves_its_stored_picks_in_usd(us_store):
    fired = us_store.scoped("us_").picks.daily_picks.find_one({"count": {"$gt": 0}}, sort=[("date", -1)])
    answer = client_on(us_store).get("/screener", params={"market": "us", "strategy_name": fired["strategy"],
                                                          "date": fired["date"]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["market"], body["currency"], body["source"], body["date"]) == ("us", "USD", "stored", fired["date"])
    assert body["count"] == fired["count"] and {p["ticker"] for p in body["picks"]} <= set(US_TICKERS)
    latest = client_on(us_store).get("/screener", params={"market": "US", "strategy_name": "rs_leaders"}).json()
    assert latest["date"] == "2025-09-30" and latest["market"] == "us"


def test_a_custom_screen_of_the_us_market_computes_on_its_stocks_only(us_store):
    body = client_on(us_store).get("/screener", params={"market": "us", "strategy_name": "volume_spike",
                                                        "multiple": 1, "up_day_only": "false"}).json()
    assert (body["source"], body["market"], body["currency"], body["date"]) == ("computed", "us", "USD", "2025-09-30")
    us = us_store.scoped("us_")
    expected = {t for t in US_TICKERS if us.analysis.recent_analysis(t, 1, end=LAST_US_DAY)[0]["vol_ratio"] >= 1}
    assert {p["ticker"] for p in body["picks"]} == expected
    # each pick says where it is listed, as /stocks and the stored picks do (a US stock's exchange)
    assert expected and {p["market"] for p in body["picks"]} <= {"Q", "N"}


def test_a_us_symbol_is_found_in_the_us_universe_with_its_currency_and_bars(us_store):
    answer = client_on(us_store).get("/stocks/aapl", params={"days": 5})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["ticker"], body["market_id"], body["currency"], body["market"]) == ("AAPL", "us", "USD", "Q")
    with (US_SAMPLE / "us_stocks" / "AAPL.csv").open() as handle:
        last = next(r for r in csv.DictReader(handle) if r["date"] == "2025-09-30")
    assert body["rows"][-1]["date"] == "2025-09-30" and len(body["rows"]) == 5
    assert body["rows"][-1]["close"] == pytest.approx(float(last["close"]))
    assert body["rows"][-1]["indicators"]["sma_20"] is not None


def test_the_us_stock_list_says_its_market_and_currency(us_store):
    body = client_on(us_store).get("/stocks", params={"market": "us"}).json()
    assert (body["market"], body["currency"], body["total"]) == ("us", "USD", len(US_TICKERS))
    caps = [i["market_cap"] for i in body["items"]]
    assert caps == sorted(caps, reverse=True) and {i["market"] for i in body["items"]} == {"Q", "N"}
    assert client_on(us_store).get("/stocks").json()["market"] == "krx"  # the default is still KRX's universe


def test_an_unknown_market_is_a_422_naming_the_known_ones(us_store):
    client = client_on(us_store)
    for path, params in (("/screener", {"strategy_name": "rs_leaders"}), ("/stocks", {}), ("/strategies", {}),
                         ("/stocks/AAPL", {})):
        answer = client.get(path, params={**params, "market": "jp"})
        assert answer.status_code == 422, path
        assert "unknown market 'jp'; known: krx, us" in answer.json()["error"]["message"]
    missing = client.get("/stocks/ZZZZ").json()["error"]
    assert missing["code"] == "not_found" and "looked in all markets (krx, us)" in missing["message"]


def test_a_market_off_on_this_server_is_a_503_saying_what_turns_it_on(us_store):
    client = client_on(us_store, off=lambda _settings: "US_STOCKS is false")
    answer = client.get("/screener", params={"market": "us", "strategy_name": "rs_leaders"})
    assert answer.status_code == 503
    assert answer.json()["error"]["message"] == (
        "market us (US stocks (XNYS)) is off on this server: US_STOCKS is false; turn it on, then run "
        "`python us_stocks_update.py --setup`")
    assert client.get("/stocks/AAPL").status_code == 404  # an off market's stocks are not looked in
    us = client.get("/markets").json()["markets"][1]
    assert (us["market"], us["on"], us["off"]) == ("us", False, "US_STOCKS is false")


def test_markets_lists_each_screened_market_with_its_currency_and_progress(us_store):
    krx, us = client_on(us_store).get("/markets").json()["markets"]
    assert (krx["market"], krx["currency"], krx["default"]) == ("krx", "KRW", True)
    assert (us["market"], us["currency"], us["default"], us["on"]) == ("us", "USD", False, True)
    assert us["stocks"] == len(US_TICKERS) and us["analysed_through"] == "2025-09-30"


def test_a_market_with_nothing_analysed_says_which_command_fills_it():
    answer = client_on(Storage(mongomock_ng.MongoClient(), prefix="empty_")).get(
        "/screener", params={"market": "us", "strategy_name": "rs_leaders"})
    assert answer.status_code == 409 and answer.json()["error"]["message"] == (
        "nothing is analysed yet: `python hourly_analysis.py --market us` has not completed a day")
