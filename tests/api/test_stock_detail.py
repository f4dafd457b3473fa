"""GET /stocks/{ticker}'s fundamentals and options blocks: a US stock's profile, latest known quarter and TTM, and
its latest options summary, over what `collect.py us.financials` and `collect.py us.options` stored from the
recorded data/sample/us_financials and data/sample/us_options; point in time by `date=`; null for a stock with
nothing known and for a KRX stock."""

from __future__ import annotations

import csv
import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.storage import Storage
from tests.api.conftest import KEY, api_settings
from tests.conftest import isolated_env
from tests.us_detail import FINANCIALS, OPTIONS, collected_store

NOW = dt.datetime(2026, 6, 2, 3, 0, tzinfo=dt.UTC)  # after every read below
HEADERS = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def store() -> Storage:
    with isolated_env():
        return collected_store()


@pytest.fixture(scope="module")
def client(store) -> TestClient:
    app = create_app(api_settings(us_stocks=True), storage=store, clock=lambda: NOW)
    return TestClient(app, raise_server_exceptions=False, headers=HEADERS)


def _recorded(ticker: str, end: str, metric: str) -> float:
    with (FINANCIALS / "income_quarterly.csv").open() as handle:
        return next(float(r["Value"]) for r in csv.DictReader(handle)
                    if (r["Ticker"], r["Date"], r["Metric"]) == (ticker, end, metric))


def test_a_us_stock_shows_its_profile_latest_quarter_ttm_and_options(client):
    answer = client.get("/stocks/AAPL")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    known = body["fundamentals"]
    assert (known["currency"], known["sector"], known["industry"]) == ("USD", "Information Technology",
                                                                       "Consumer Electronics")
    assert known["shares_outstanding"] > 1e10 and known["profile_as_of"] == "2025-09-30"
    quarter = known["latest_quarter"]
    assert quarter["period_end"] == "2026-03-31"
    assert quarter["total_revenue"] == _recorded("AAPL", "2026-03-31", "Total Revenue")
    assert quarter["known_at_utc"].startswith("2026-06-02")  # read on 06-01 (New York): known at its end
    ttm = known["ttm"]
    assert ttm["through"] == "2026-03-31"
    assert ttm["total_revenue"] == sum(_recorded("AAPL", e, "Total Revenue")
                                       for e in ("2026-03-31", "2025-12-31", "2025-09-30", "2025-06-30"))
    # the latest options session within 10 days of the cutoff: none by 2026-06 (only 2025-09 is recorded)
    assert body["options"] is None
    snapshot = client.get("/stocks/AAPL", params={"date": "2025-09-30"}).json()["options"]
    recorded = json.loads((OPTIONS / "AAPL.json").read_text())
    assert recorded and snapshot["session"] == "2025-09-30" and snapshot["underlying_price"] == 254.63
    assert (snapshot["atm_expiry"], snapshot["atm_strike"]) == ("2025-10-10", 255.0)
    assert 0 < snapshot["atm_iv"] < 1 and snapshot["put_call_volume"] == pytest.approx(
        snapshot["put_volume"] / snapshot["call_volume"], abs=1e-4)
    assert snapshot["dropped"]["expiries_outside"] == 1


def test_a_date_before_the_quarters_lag_shows_the_quarter_before_it(client):
    # 2025-06-30 + 45 days = 2025-08-14 (New York): read on 08-12, not known before that day's end
    before = client.get("/stocks/AAPL", params={"date": "2025-08-13"}).json()["fundamentals"]
    assert before["latest_quarter"]["period_end"] == "2025-03-31"
    assert before["ttm"] is None  # Yahoo's 2024-09-30 quarter is blank: three quarters, no TTM
    after = client.get("/stocks/AAPL", params={"date": "2025-08-14"}).json()["fundamentals"]
    assert after["latest_quarter"]["period_end"] == "2025-06-30"
    assert after["latest_quarter"]["net_income"] == _recorded("AAPL", "2025-06-30", "Net Income")
    first_read = client.get("/stocks/AAPL", params={"date": "2025-08-11"}).json()
    assert first_read["fundamentals"]["latest_quarter"] is None and first_read["options"] is None


def test_a_stock_without_statements_or_options_has_its_profile_and_nulls(client):
    body = client.get("/stocks/JPM").json()
    assert body["fundamentals"]["sector"] == "Financials"
    assert (body["fundamentals"]["latest_quarter"], body["fundamentals"]["ttm"], body["options"]) == (None, None, None)


def test_a_krx_stock_has_both_blocks_null(client):
    body = client.get("/stocks/005930").json()
    assert (body["market_id"], body["fundamentals"], body["options"]) == ("krx", None, None)


def test_a_date_before_1990_is_a_422_naming_the_parameter(client):
    answer = client.get("/stocks/AAPL", params={"date": "0001-01-01"})
    assert answer.status_code == 422 and "date: 0001-01-01 is before 1990-01-01" in answer.json()["error"]["message"]
