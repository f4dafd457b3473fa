"""GET /status: check_db's report for the dashboard and monitors, as of the app's clock."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient

from api.app import create_app
from tests.api.conftest import KEY, api_settings


def test_status_reports_each_market_the_analysis_and_the_last_runs(client):
    body = client.get("/status").json()
    krx = next(m for m in body["markets"] if m["job_name"] == "daily_update")
    assert krx["label"] == "KRX (KOSPI, KOSDAQ)" and krx["last_day"] == "2024-12-20" and krx["stale"] is False
    assert krx["holes"] == [] and krx["behind"] == 0
    assert body["analysis"]["analysed_through"] == "2024-12-20" and body["analysis"]["stale"] is False
    jobs = {j["job_name"]: j for j in body["jobs"]}
    assert jobs["manual_setup"]["status"] == jobs["hourly_analysis"]["status"] == "completed"
    assert jobs["hourly_analysis"]["started_utc"].endswith("Z") or "+00:00" in jobs["hourly_analysis"]["started_utc"]
    assert body["attention"] == [] and body["exit_code"] == 0 and body["sizes"] == []


def test_status_says_what_needs_attention_when_the_clock_has_moved_on(analysed):
    later = dt.datetime(2025, 1, 10, 3, 0, tzinfo=dt.UTC)  # weeks after the last collected day
    client = TestClient(create_app(api_settings(), storage=analysed, clock=lambda: later))
    body = client.get("/status").json()
    krx = next(m for m in body["markets"] if m["job_name"] == "daily_update")
    assert krx["stale"] is True and krx["behind"] > 2
    assert body["exit_code"] == 1 and any(line.startswith("KRX (KOSPI, KOSDAQ): stale") for line in body["attention"])


def test_status_can_measure_the_database_for_a_caller_with_a_key(client):
    sizes = client.get("/status", params={"sizes": "true"}, headers={"X-API-Key": KEY}).json()["sizes"]
    assert any(s["name"].startswith("stock_data") and s["documents"] > 0 for s in sizes)


def test_measuring_the_database_needs_a_key_even_when_reads_are_open(client, make_client):
    missing = client.get("/status", params={"sizes": "true"})
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in missing.json()["error"]["message"]
    wrong = client.get("/status", params={"sizes": "true"}, headers={"X-API-Key": "not-a-key"})
    assert wrong.status_code == 401
    assert client.get("/status").status_code == 200  # the plain report stays open
    keyless = make_client(api_keys=None).get("/status", params={"sizes": "true"}, headers={"X-API-Key": KEY})
    assert keyless.status_code == 403 and "API_KEYS" in keyless.json()["error"]["message"]


def test_status_is_documented_with_the_common_error_shape(client):
    responses = client.get("/openapi.json").json()["paths"]["/status"]["get"]["responses"]
    assert {"200", "401", "403", "422", "503"} <= set(responses)
    assert responses["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")
