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
    for path in ("/etf/trending", "/etf/{ticker}/holdings", "/portfolio", "/portfolio/monthly", "/sectors",
                 "/sectors/{sector}"):
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


# --- sectors (api/sectors.py) ----------------------------------------------------------------------------------


def test_sectors_list_every_sector_etf_with_its_periods_and_its_month(client):
    body = client.get("/sectors").json()
    assert body["as_of_date"] == "2025-09-03" and body["benchmark"] == "SPY"
    assert [s["etf_ticker"] for s in body["sectors"]] == ["QQQ", "XLF", "XLV", "XLY", "XLC", "XLI", "XLP", "XLU",
                                                           "XLRE", "XLB"]
    trending = {e["etf_ticker"]: e for e in client.get("/etf/trending", params={"period": 10}).json()["etfs"]}
    xlf = next(s for s in body["sectors"] if s["etf_ticker"] == "XLF")
    ten = next(p for p in xlf["periods"] if p["period_days"] == 10)
    assert ten["return_nd"] == trending["XLF"]["return_nd"] and ten["rank_by_outperformance"] == trending["XLF"][
        "rank_by_outperformance"]
    # August 2025's month runs from the close of 07-25 (before July's last Sunday) to that of 08-29; XLC led.
    month = {s["etf_ticker"]: s["month"] for s in body["sectors"]}
    assert month["XLC"]["month"] == "2025-08" and month["XLC"]["start_session"] == "2025-07-25"
    assert month["XLC"]["rank"] == 1 and month["XLC"]["is_trending"] is True
    ranks = sorted(m["rank"] for m in month.values())
    assert ranks == list(range(1, 11))
    assert client.get("/sectors", params={"date": "2025-08-29"}).json()["as_of_date"] == "2025-08-29"


def test_a_sector_by_name_slug_or_etf_shows_its_trend_members_held_and_top_holdings(client):
    body = client.get("/sectors/Financial").json()
    assert client.get("/sectors/xlf").json() == body and body["etf_ticker"] == "XLF"
    assert [t["as_of_date"] for t in body["trend"]] == ["2025-09-03", "2025-09-02", "2025-08-29", "2025-08-28",
                                                        "2025-08-27"]
    assert [m["month"] for m in body["months"]] == ["2025-08"]
    for member in body["members_held"]:
        held = client.get("/portfolio", params={"period": member["period_days"]}).json()["positions"]
        position = next(p for p in held if p["ticker"] == member["ticker"])
        assert "XLF" in position["source_etfs"] and member["weight"] == position["weight"]
        assert member["rank_20d"] >= 1 and member["sector_avg_20d"] is not None
    # XLF's only snapshot is dated 2025-11-30, after the session: no holding row, the reason says so.
    assert [r["stock_ticker"] for r in body["top_holdings"]] == ["TOP5", "TOP5", "TOP5"]
    assert "dated after it (2025-11-30)" in body["top_holdings"][0]["reason"]
    assert client.get("/sectors/consumer-cyclical").json()["sector"] == "Consumer Cyclical"


def test_the_technology_etf_s_top_holdings_come_from_its_2022_snapshot_known_on_the_day(client):
    body = client.get("/sectors/technology").json()
    five = [r for r in body["top_holdings"] if r["period_days"] == 5]
    assert {r["holdings_as_of"] for r in five} == {"2022-08-25"}
    assert [r["rank_position"] for r in five] == [1, 2, 3, 4, 5, 0]
    figured = [r for r in five if r["reason"] is None]
    assert figured and all(r["volatility"] > 0 for r in figured)
    for r in five:
        if r["stock_ticker"] != "TOP5" and r["reason"] is not None:
            assert r["total_return"] is None and "not stored" in r["reason"]  # never a made-up 0


def test_an_unknown_sector_is_404_listing_the_known_ones_and_a_bad_date_is_422(client):
    missing = client.get("/sectors/energy")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert "financial" in missing.json()["error"]["details"]["known"]
    assert client.get("/sectors", params={"date": "2025-09-06"}).status_code == 422  # a Saturday
    assert client.get("/sectors/financial", params={"date": "2025-9-3"}).status_code == 422
    unprocessed = client.get("/sectors", params={"date": "2025-06-02"})
    assert unprocessed.status_code == 404 and "has not processed it" in unprocessed.json()["error"]["message"]


def test_positions_carry_their_sector_average_and_rank_for_each_period(client):
    positions = client.get("/portfolio", params={"period": 20, "date": "2025-09-03"}).json()["positions"]
    assert positions
    for p in positions:
        for n in (5, 10, 20):
            assert 1 <= p[f"rank_{n}d"] <= p[f"sector_size_{n}d"] <= len(p["sector_peers"])
        assert p["ticker"] in p["sector_peers"] and p["return_20d"] == pytest.approx(p["return_nd"])
    # Home Depot's 5-session peers on 2025-09-03 are the consumer-discretionary top holdings known that day.
    hd = next(p for p in positions if p["ticker"] == "HD")
    assert hd["sector_peers"] == ["HD", "MCD", "TJX"] and hd["rank_5d"] == 3


def test_a_rebalance_run_again_rewrites_no_sector_month_nor_top_holdings_row(client):
    storage = client.app.dependency_overrides[deps.get_storage]()
    settings = client.app.dependency_overrides[deps.get_settings]()
    before = list(storage.etf_db["analytics_sector_trending"].find({}))
    assert run_rebalance(storage, settings, new_york(D(2025, 8, 31), 10), FakeClock(dt.datetime(2025, 10, 1,
                                                                                                tzinfo=dt.UTC)),
                         force=True) == 0
    assert list(storage.etf_db["analytics_sector_trending"].find({})) == before
    rows = [{k: v for k, v in r.items() if k not in ("_id", "unit_size", "unit_digest")}
            for r in storage.etf_db["analytics_etf_top_holdings"].find({"analysis_date": "2025-09-03"})]
    assert rows and storage.etf.save_top_holdings(rows) == 0
