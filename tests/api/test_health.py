"""GET/HEAD /health judges the markets this install runs, each against its own calendar: KRX only, US only,
both; a market named in MARKETS but never collected is stale."""

from __future__ import annotations

import datetime as dt
import socket

from fastapi.testclient import TestClient

import etf_pipeline
import hourly_analysis
import manual_setup
from api.app import create_app
from lib.storage import Storage, get_client
from tests.api.conftest import api_settings

NEW_YORK = dt.timezone(dt.timedelta(hours=-4))  # EDT, all of these days


def _client(settings, moment: dt.datetime, storage: Storage | None = None) -> TestClient:
    store = storage or Storage(get_client("mongomock://"))
    return TestClient(create_app(settings, storage=store, clock=lambda: moment), raise_server_exceptions=False)


def test_a_krx_only_install_is_judged_by_krx_alone_and_head_answers_too(make_client):
    client = make_client()
    body = client.get("/health").json()
    assert body["status"] == "ok" and set(body["markets"]) == {"krx"}
    krx = body["markets"]["krx"]
    assert krx["job"] == "daily_update" and krx["last_collected_day"] == krx["expected_collected_day"] == "2024-12-20"
    assert set(body["jobs"]) == {"manual_setup", "hourly_analysis"}  # what has run here, nothing more
    head = client.head("/health")
    assert head.status_code == 200 and head.content == b""
    # MARKETS names the US too: never collected, so /health is stale, saying which market
    named = make_client(markets="krx,us").get("/health").json()
    assert named["status"] == "stale" and named["collection_stale"] is True
    assert named["markets"]["us"]["last_collected_day"] is None and named["markets"]["us"]["stale"] is True
    assert named["markets"]["krx"]["stale"] is False


def test_a_us_only_install_is_ok_when_its_us_days_are_fresh_and_stale_when_they_fall_behind(make_settings):
    assert etf_pipeline.main(["--today", "2025-07-31"], settings=make_settings(us_first_run_sessions=2)) == 0
    settings = api_settings()
    friday_afternoon = dt.datetime(2025, 8, 1, 15, 0, tzinfo=NEW_YORK)  # Saturday 04:00 in Seoul
    body = _client(settings, friday_afternoon).get("/health").json()
    assert body["status"] == "ok" and set(body["markets"]) == {"us"}
    us = body["markets"]["us"]
    assert us["job"] == "etf_pipeline" and us["last_collected_day"] == us["expected_collected_day"] == "2025-07-31"
    assert us["dataset"] == "us.etf_bars" and body["watermarks"] == {}  # from the registry of datasets
    assert body["last_collected_day"] is None and body["analysis_stale"] is False
    assert set(body["jobs"]) == {"etf_pipeline"}
    assert _client(settings, friday_afternoon).head("/health").status_code == 200

    next_wednesday = dt.datetime(2025, 8, 6, 15, 0, tzinfo=NEW_YORK)
    late = _client(settings, next_wednesday).get("/health").json()
    assert late["status"] == "stale" and late["markets"]["us"]["expected_collected_day"] == "2025-08-05"


def test_an_install_running_both_markets_is_ok_only_while_both_are_fresh(make_settings):
    krx = make_settings(analysis_quota_per_run=5000)
    assert manual_setup.main(["--today", "2025-06-16", "--sessions", "3"], settings=krx) == 0
    assert hourly_analysis.main(["--today", "2025-06-16"], settings=krx) == 0
    settings = api_settings()
    tuesday_noon_seoul = dt.datetime(2025, 6, 17, 3, 0, tzinfo=dt.UTC)  # Monday 23:00 in New York
    alone = _client(settings, tuesday_noon_seoul).get("/health").json()
    assert alone["status"] == "ok" and set(alone["markets"]) == {"krx"}

    assert etf_pipeline.main(["--today", "2025-06-13"], settings=make_settings(us_first_run_sessions=2)) == 0
    both = _client(settings, tuesday_noon_seoul).get("/health").json()
    assert both["status"] == "ok" and set(both["markets"]) == {"krx", "us"}
    assert both["markets"]["krx"]["last_collected_day"] == "2025-06-16" == both["last_collected_day"]
    assert both["markets"]["us"]["last_collected_day"] == "2025-06-13"
    assert set(both["jobs"]) == {"manual_setup", "hourly_analysis", "etf_pipeline"}

    # a day later the KRX side is still judged by KRX, the US side by New York: the US one session behind
    wednesday_noon_seoul = dt.datetime(2025, 6, 18, 3, 0, tzinfo=dt.UTC)  # Tuesday 23:00 in New York
    later = _client(settings, wednesday_noon_seoul).get("/health").json()
    assert later["status"] == "stale"
    assert later["markets"]["us"] == {**both["markets"]["us"], "expected_collected_day": "2025-06-16", "stale": True}
    assert later["markets"]["krx"]["stale"] is True  # 06-17 not collected either


def test_head_health_answers_503_without_a_body_when_the_database_is_down():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings = api_settings(mongodb_uri=f"mongodb://127.0.0.1:{closed}/", api_db_timeout_seconds=1)
    client = TestClient(create_app(settings, clock=lambda: dt.datetime.now(dt.UTC)), raise_server_exceptions=False)
    head = client.head("/health")
    assert head.status_code == 503 and head.content == b""
