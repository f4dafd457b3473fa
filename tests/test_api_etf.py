"""The ETF routes read what etf_pipeline and monthly_rebalance stored."""

from __future__ import annotations

import datetime as dt

import mongomock_ng
import pytest
from fastapi.testclient import TestClient

from api import deps
from lib.config import load_settings
from lib.storage import Storage
from main import app
from tests.conftest import US_SAMPLE, FakeClock
from tests.helpers import new_york, run_etf, run_rebalance

D = dt.date


@pytest.fixture(scope="module")
def client():
    settings = load_settings(
        env_file=None, mongodb_uri="mongomock://", us_sources=["replay"], us_replay_dir=US_SAMPLE,
        us_min_request_gap_seconds=0, us_first_run_sessions=3,
    )
    storage = Storage(mongomock_ng.MongoClient(), prefix="api_")
    clock = FakeClock(dt.datetime(2025, 10, 1, tzinfo=dt.UTC))
    assert run_etf(storage, settings, new_york(D(2025, 8, 29)), clock) == 0
    assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), clock) == 0
    assert run_etf(storage, settings, new_york(D(2025, 9, 3)), clock) == 0
    app.dependency_overrides[deps.get_settings] = lambda: settings
    app.dependency_overrides[deps.get_storage] = lambda: storage
    try:
        yield TestClient(app)
    finally:
        app.dependency_overrides.clear()


def test_trending_serves_the_latest_table_of_a_period(client):
    body = client.get("/etf/trending", params={"period": 10}).json()
    assert body["as_of_date"] == "2025-09-03" and body["valid_from"] == "2025-09-04" and body["period_days"] == 10
    assert len(body["etfs"]) == 15 and body["etfs"][0]["rank_by_outperformance"] == 1
    assert body["trending"] == [e["etf_ticker"] for e in body["etfs"] if e["is_trending"]]
    past = client.get("/etf/trending", params={"period": 20, "date": "2025-08-29"}).json()
    assert past["trending"] == ["IWM", "XLY", "XLB", "SCHD", "XLF", "XLC", "XLV", "DIA"]


def test_holdings_of_a_trending_etf(client):
    body = client.get("/etf/xlf/holdings").json()
    assert body["etf_ticker"] == "XLF" and body["source"] == "replay"
    assert [h["stock_ticker"] for h in body["holdings"]] == ["BRK-B", "JPM", "V", "MA", "BAC"]
    assert body["holdings"][0]["holding_percent"] == pytest.approx(12.560904)


def test_daily_portfolios_with_their_performance(client):
    body = client.get("/portfolio", params={"period": 5, "date": "2025-08-28"}).json()
    assert body["as_of_date"] == "2025-08-28" and body["valid_until"] == "2025-09-05"
    assert sum(p["weight"] for p in body["positions"]) == pytest.approx(1.0)
    assert body["performance"]["status"] == "open" and body["performance"]["through"] == "2025-09-03"
    latest = client.get("/portfolio").json()
    assert latest["as_of_date"] == "2025-09-03" and latest["period_days"] == 20


def test_the_monthly_portfolio(client):
    body = client.get("/portfolio/monthly").json()
    assert body["month"] == "2025-08" and body["valid_from"] == "2025-09-02"
    assert body["positions"][0]["final_rank"] == 1 and body["performance"]["through"] == "2025-09-03"
    assert client.get("/portfolio/monthly", params={"month": "2025-08"}).json() == body


def test_past_portfolios_of_a_period_newest_first_with_their_performance(client):
    everything = {"period": 5, "include_lookahead": "true"}
    body = client.get("/portfolio/history", params=everything).json()
    assert body["period"] == "5" and body["benchmark"] == "SPY" and body["include_lookahead"] is True
    days = [item["as_of_date"] for item in body["items"]]
    assert days == sorted(days, reverse=True) and days[0] == "2025-09-03"
    for item in body["items"]:
        stored = client.get("/portfolio", params={"period": 5, "date": item["as_of_date"]}).json()
        assert item["positions"] == len(stored["positions"]) and item["performance"] == stored["performance"]
        assert item["holdings_known"] == stored["holdings_known"]
        assert item["concentration"] == stored["concentration"]
    limited = client.get("/portfolio/history", params={**everything, "limit": 2}).json()
    assert limited["items"] == body["items"][:2]


def test_the_history_lists_and_summarises_only_portfolios_known_on_their_day_unless_asked(client):
    # The bundled sector funds' holdings are of 2025-11: the portfolios picked from them are look-ahead.
    everything = client.get("/portfolio/history", params={"period": 5, "include_lookahead": "true"}).json()
    marked = [i for i in everything["items"] if i["holdings_known"] is False]
    assert marked, "the bundled data has look-ahead portfolios"
    honest = client.get("/portfolio/history", params={"period": 5}).json()
    assert all(i["holdings_known"] is True for i in honest["items"])
    assert honest["include_lookahead"] is False and honest["left_out"] == len(marked)
    assert len(honest["items"]) + len(marked) == len(everything["items"])
    assert honest["summary"]["includes_lookahead"] is False
    assert honest["summary"]["counted"] == honest["summary"]["finished"] - honest["summary"]["lookahead"]
    assert everything["summary"]["includes_lookahead"] is True and everything["left_out"] == 0
    assert everything["summary"]["counted"] == everything["summary"]["finished"]


def test_a_portfolio_says_whether_its_holdings_were_known_and_how_concentrated_it_is(client):
    body = client.get("/portfolio", params={"period": 20, "date": "2025-08-29"}).json()
    assert body["holdings_known"] is False and body["holdings_as_of"] == "2025-11-30"
    late = {s["etf"] for s in body["holdings_snapshots"] if s["age_days"] < 0}
    assert late and late <= {"IWM", "XLB", "XLC", "XLF", "XLI", "XLP", "XLRE", "XLU", "XLV", "XLY"}
    weights = [p["weight"] for p in body["positions"]]
    assert body["concentration"]["largest_weight"] == pytest.approx(max(weights))
    assert body["concentration"]["effective_holdings"] == pytest.approx(1 / sum(w * w for w in weights))
    monthly = client.get("/portfolio/monthly").json()
    assert monthly["holdings_known"] is False and monthly["concentration"]["positions"] == len(monthly["positions"])


def test_holdings_say_the_date_they_were_known(client):
    late = client.get("/etf/XLF/holdings").json()
    assert late["holdings_as_of"] == "2025-11-30" and late["holdings_known"] is False and late["age_days"] < 0
    dated = client.get("/etf/DIA/holdings", params={"date": "2025-09-03"}).json()
    assert dated["source_as_of"] == dated["holdings_as_of"] == "2022-07-20" and dated["holdings_known"] is True
    assert dated["age_days"] == (D(2025, 9, 3) - D(2022, 7, 20)).days


def test_past_monthly_portfolios(client):
    body = client.get("/portfolio/history", params={"period": "monthly", "include_lookahead": "true"}).json()
    monthly = client.get("/portfolio/monthly").json()
    assert [i["month"] for i in body["items"]] == ["2025-08"]
    assert body["items"][0]["as_of_date"] == monthly["base_session"]
    assert body["items"][0]["performance"] == monthly["performance"]
    assert body["items"][0]["positions"] == len(monthly["positions"])


def test_no_past_portfolio_yet_is_an_empty_list_not_an_error():
    from api.app import create_app

    settings = load_settings(env_file=None, mongodb_uri="mongomock://")
    client = TestClient(create_app(settings, storage=Storage(mongomock_ng.MongoClient(), prefix="empty_")))
    for period in ("5", "monthly"):
        body = client.get("/portfolio/history", params={"period": period}).json()
        assert body["items"] == [] and body["left_out"] == 0 and body["summary"]["finished"] == 0


@pytest.mark.parametrize(
    ("url", "params", "status", "detail"),
    [
        ("/etf/trending", {"period": 7}, 422, None),
        ("/portfolio", {"period": 15}, 422, None),
        ("/portfolio", {"date": "2025-09-01"}, 422, "2025-09-01 is not a New York Stock Exchange (XNYS) trading day"),
        ("/portfolio", {"date": "2025-06-02"}, 404, "no 20-session portfolio for 2025-06-02"),
        ("/etf/trending", {"date": "2025-13-01"}, 422, None),
        ("/etf/XLK/holdings", {}, 404, "XLK is not a followed ETF"),
        ("/etf/SPY/holdings", {}, 404, "holdings are collected only for ETFs that trend"),
        ("/etf/XL$/holdings", {}, 422, None),
        ("/portfolio/monthly", {"month": "2025-07"}, 404, "no monthly portfolio for 2025-07"),
        ("/portfolio/monthly", {"month": "July"}, 422, None),
        ("/portfolio/history", {"period": 7}, 422, None),
        ("/portfolio/history", {"limit": 0}, 422, None),
        ("/portfolio/history", {"include_lookahead": "maybe"}, 422, "include_lookahead"),
    ],
)
def test_bad_requests_get_a_status_and_a_reason(client, url, params, status, detail):
    response = client.get(url, params=params)
    assert response.status_code == status
    if detail:
        assert detail in response.json()["error"]["message"]


@pytest.mark.parametrize("url", ["/etf/trending", "/etf/XLF/holdings", "/portfolio"])
@pytest.mark.parametrize("day", ["1700000000", "2025-09-03T00:00", "20250903", "2025-02-30"])
def test_a_date_that_is_not_yyyy_mm_dd_is_a_422_saying_the_format(client, url, day):
    # pydantic alone would read Unix seconds and datetimes as dates and answer 200 for another day
    response = client.get(url, params={"date": day})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and set(response.json()) == {"error"}
    assert error["message"] == "date: not a calendar date in the form YYYY-MM-DD, e.g. 2025-09-03"
    assert error["details"][0]["loc"] == ["query", "date"]


def test_every_etf_route_and_status_is_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/etf/trending", "/etf/{ticker}/holdings", "/portfolio", "/portfolio/monthly"):
        assert {"200", "404", "422", "503"} <= set(paths[path]["get"]["responses"]), path
    assert {"200", "422", "503"} <= set(paths["/portfolio/history"]["get"]["responses"])
    assert "include_lookahead" in {p["name"] for p in paths["/portfolio/history"]["get"]["parameters"]}


def test_a_portfolio_stored_before_its_performance_is_served_with_performance_null():
    # A rebalance that catches up several months stores each before their performance is evaluated (and a later
    # month may not be ready); a run killed between stage 5 and the performance leaves daily ones the same way.
    # Those answered 500 (a response missing `performance`).
    from api.app import create_app

    storage = Storage(mongomock_ng.MongoClient(), prefix="perf_")
    storage.etf.save_monthly("2025-09", {
        "rebalance_date": "2025-09-28", "base_session": "2025-09-26", "valid_from": "2025-09-29",
        "valid_until": "2025-10-24", "benchmark": "SPY", "positions": [], "note": "nothing to hold",
    })
    storage.etf.save_portfolios([{
        "as_of_date": "2025-09-26", "period_days": 5, "benchmark": "SPY", "valid_from": "2025-09-29",
        "valid_until": "2025-10-03", "positions": [], "excluded": [], "note": "nothing to hold",
    }])
    settings = load_settings(env_file=None, mongodb_uri="mongomock://")
    client = TestClient(create_app(settings, storage=storage))
    monthly = client.get("/portfolio/monthly", params={"month": "2025-09"})
    assert monthly.status_code == 200 and monthly.json()["performance"] is None
    daily = client.get("/portfolio", params={"period": 5})
    assert daily.status_code == 200 and daily.json()["performance"] is None
    for period in ("5", "monthly"):
        history = client.get("/portfolio/history", params={"period": period, "include_lookahead": "true"})
        assert history.status_code == 200 and history.json()["items"][0]["performance"] is None
        assert history.json()["items"][0]["holdings_known"] is None  # stored before portfolios were marked
        assert client.get("/portfolio/history", params={"period": period}).json()["left_out"] == 1
