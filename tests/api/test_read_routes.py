"""GET /health, /stocks, /stocks/{ticker}, /strategies: what a trader and a monitor rely on."""

from __future__ import annotations

import datetime as dt
import socket
import time

import pandas as pd
from fastapi.testclient import TestClient

from api.app import create_app
from lib.storage import close_clients
from lib.storage.dates import from_stored
from tests.api.conftest import KEY, NOW, api_settings
from tests.fake_mongo import StalledMongo, within


def test_health_reports_collected_and_analysed_days(client):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["last_collected_day"] == body["last_analysed_day"] == "2024-12-20"
    assert body["jobs"]["hourly_analysis"]["status"] == "completed"


def test_health_says_stale_when_collection_falls_behind_the_calendar(analysed):
    later = dt.datetime(2025, 1, 10, 3, 0, tzinfo=dt.UTC)  # Friday noon KST, weeks after the last collected day
    client = TestClient(create_app(api_settings(), storage=analysed, clock=lambda: later))
    body = client.get("/health").json()
    assert body["status"] == "stale" and body["collection_stale"] is True
    assert body["expected_collected_day"] == "2025-01-09"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_database_that_is_down_is_a_quick_503_without_internal_text():
    settings = api_settings(mongodb_uri=f"mongodb://127.0.0.1:{_closed_port()}/", api_db_timeout_seconds=1)
    client = TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False)
    started = time.monotonic()
    anonymous = client.get("/health")
    assert time.monotonic() - started < 5
    assert anonymous.status_code == 503 and anonymous.json()["error"]["code"] == "unavailable"
    assert "127.0.0.1" not in anonymous.text and "Timeout" not in anonymous.text
    with_key = client.get("/health", headers={"X-API-Key": KEY})
    assert with_key.status_code == 503
    assert "ServerSelectionTimeoutError" in with_key.json()["error"]["details"]["reason"]
    other = client.get("/stocks")
    assert other.status_code == 503 and other.json()["error"]["message"].startswith("the database is not reachable")
    assert "127.0.0.1" not in other.text


def test_a_database_that_stops_answering_is_a_503_within_the_api_timeout_not_a_hang():
    with StalledMongo() as stalled:
        try:
            settings = api_settings(mongodb_uri=stalled.uri, api_db_timeout_seconds=1)
            client = TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False)
            for path, message in [("/health", "the database is not reachable"),
                                  ("/stocks", "the database is not reachable; try again shortly")]:
                answer, seconds = within(10, lambda path=path: client.get(path))
                assert seconds < 1 + 1.5, (path, seconds)  # API_DB_TIMEOUT_SECONDS and a little work
                assert answer.status_code == 503, (path, answer.text)
                assert answer.json() == {"error": {"code": "unavailable", "message": message, "details": None}}
            assert {"ping", "find"} <= set(stalled.unanswered)  # each route waited on a command, then gave up
            keyed, _ = within(10, lambda: client.get("/health", headers={"X-API-Key": KEY}))
            assert "MongoDB did not answer in time: NetworkTimeout" in keyed.json()["error"]["details"]["reason"]
        finally:
            close_clients()


def test_an_srv_name_dns_cannot_look_up_is_a_503_and_the_next_request_looks_again(monkeypatch):
    import dns.resolver

    asked = []

    def outage(qname, rdtype, **_kwargs):
        asked.append(str(qname))
        raise dns.resolver.LifetimeTimeout(timeout=1.0, errors=[])

    monkeypatch.setattr(dns.resolver, "resolve", outage)
    settings = api_settings(mongodb_uri="mongodb+srv://app:s3cret@cluster0.example.invalid/")
    client = TestClient(create_app(settings, clock=lambda: NOW), raise_server_exceptions=False)
    for path in ("/stocks", "/stocks"):
        answer = client.get(path)
        assert answer.status_code == 503 and answer.json()["error"] == {
            "code": "unavailable", "message": "the database is not reachable; try again shortly", "details": None}
        assert "example.invalid" not in answer.text and "s3cret" not in answer.text
    assert asked == ["_mongodb._tcp.cluster0.example.invalid"] * 2  # not a setting to fix: asked again


def test_health_shows_a_failed_runs_error_only_to_a_caller_with_a_key(make_client, analysed):
    started = dt.datetime(2030, 1, 1, 10, 0)
    analysed.jobs.start_run("test-failed-run", {"job_name": "daily_update", "start_time_utc": started})
    analysed.jobs.finish_run("test-failed-run", {"status": "failed", "end_time_utc": started,
                                             "error": "ServerSelectionTimeoutError: db-internal.corp:27017"})
    try:
        client = make_client()
        anonymous = client.get("/health").json()["jobs"]["daily_update"]
        assert anonymous["status"] == "failed" and anonymous["error"] is None
        keyed = client.get("/health", headers={"X-API-Key": KEY}).json()["jobs"]["daily_update"]
        assert keyed["error"] == "ServerSelectionTimeoutError: db-internal.corp:27017"
    finally:
        analysed.job_status.delete_one({"_id": "test-failed-run"})


def test_stocks_pages_cover_the_universe_once(client, analysed):
    everyone = client.get("/stocks", params={"status": "all", "limit": 500}).json()
    pages = [client.get("/stocks", params={"status": "all", "limit": 4, "offset": o}).json() for o in range(0, 40, 4)]
    seen = [item["ticker"] for page in pages for item in page["items"]]
    assert everyone["total"] == len(analysed.universe.universe()) == len(seen) == len(set(seen))
    assert seen == [item["ticker"] for item in everyone["items"]]
    caps = [item["market_cap"] for item in everyone["items"]]
    assert caps == sorted(caps, reverse=True)


def test_stocks_filters_by_market_cap_name_code_and_membership(client, analysed):
    kosdaq = client.get("/stocks", params={"market": "KOSDAQ", "min_market_cap": 2e11}).json()["items"]
    assert kosdaq and all(i["market"] == "KOSDAQ" and i["market_cap"] >= 2e11 and i["is_active"] for i in kosdaq)
    assert client.get("/stocks", params={"market": "kosdaq", "min_market_cap": 2e11}).json()["items"] == kosdaq
    refused = client.get("/stocks", params={"market": "NASDAQ"})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "unknown market 'NASDAQ'; known: krx, us (GET /markets), or a KRX board: KOSPI, KOSDAQ")
    assert [i["ticker"] for i in client.get("/stocks", params={"q": "삼성"}).json()["items"]] == ["005930", "207940"]
    assert [i["ticker"] for i in client.get("/stocks", params={"q": "00593"}).json()["items"]] == ["005930"]
    assert client.get("/stocks", params={"q": ".*"}).json()["total"] == 0  # a regex is searched as text
    inactive = client.get("/stocks", params={"status": "inactive"}).json()["items"]
    assert {i["ticker"] for i in inactive} == {t["ticker"] for t in analysed.universe.universe() if not t["is_active"]}


def test_stocks_sort_by_the_latest_value_of_an_indicator(client, analysed):
    body = client.get("/stocks", params={"sort": "rsi_14", "order": "asc", "limit": 500}).json()
    day = dt.date(2024, 12, 20)
    rows = {r["ticker"]: r["rsi_14"] for r in analysed.analysis.screening_rows(day, day)}
    values = [i["sort_value"] for i in body["items"]]
    present = [v for v in values if v is not None]
    assert body["sort_day"] == "2024-12-20" and present == sorted(present) and len(present) == len(rows)
    assert values[: len(present)] == present  # stocks without a value that day come last
    assert all(rows[i["ticker"]] == i["sort_value"] for i in body["items"] if i["sort_value"] is not None)
    names = [i["name"] for i in client.get("/stocks", params={"sort": "name"}).json()["items"]]
    assert names == sorted(names)


def test_one_stock_has_its_recent_bars_with_that_days_indicators(client, analysed):
    body = client.get("/stocks/005930", params={"days": 5}).json()
    bars = analysed.bars.read_bars("005930")[-5:]
    assert [r["date"] for r in body["rows"]] == [from_stored(b["date"]).isoformat() for b in bars]
    assert [r["close"] for r in body["rows"]] == [b["close"] for b in bars]
    last = pd.DataFrame(analysed.analysis.read_analysis("005930")).iloc[-1]
    assert body["rows"][-1]["indicators"]["macd"] == last["macd"] and body["analysis_date"] == "2024-12-20"
    assert body["name"] == "삼성전자" and body["last_analyzed_date"] == "2024-12-20"


def test_a_bad_ticker_is_422_and_an_unknown_one_404_listing_similar_ones(client):
    for bad in ("12345", "%24where", "0059301"):
        response = client.get(f"/stocks/{bad}")
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request", bad
    unknown = client.get("/stocks/005931")
    assert unknown.status_code == 404
    error = unknown.json()["error"]
    assert "005930" in error["details"]["known"] and "GET /stocks" in error["message"]
    # The counts match what the two listings show (GET /stocks lists only the active stocks).
    active = client.get("/stocks").json()["total"]
    everyone = client.get("/stocks", params={"status": "all"}).json()["total"]
    assert active < everyone
    assert f"GET /stocks lists the {active} active, GET /stocks?status=all all {everyone}" in error["message"]


def test_strategies_list_their_parameters_and_track_records(client):
    listing = client.get("/strategies").json()
    assert len(listing["strategies"]) >= 11 and listing["skipped"] == []
    golden = client.get("/strategies/golden_cross").json()
    assert golden["params_schema"]["properties"]["fast"]["enum"] == [5, 20, 50, 60, 120, 150, 200]
    assert golden["track_record"]["as_of_date"] == "2024-12-20"
    unknown = client.get("/strategies/nope")
    assert unknown.status_code == 404 and "golden_cross" in unknown.json()["error"]["message"]
    names = client.get("/openapi.json").json()["paths"]["/screener"]["get"]["parameters"][0]["schema"]["enum"]
    assert set(names) == {s["name"] for s in listing["strategies"]}


def test_no_redirect_and_no_cors_unless_configured(client, make_client):
    slash = client.get("/stocks/", follow_redirects=False)
    assert slash.status_code == 404 and "location" not in slash.headers
    preflight = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    assert "access-control-allow-origin" not in client.options("/stocks", headers=preflight).headers
    allowed = make_client(cors_origins="https://example.org").options("/stocks", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://example.org"


def test_read_routes_can_require_a_key(make_client):
    client = make_client(api_keys_for_reads=True)
    assert client.get("/stocks").status_code == 401
    assert client.get("/stocks", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/stocks", headers={"X-API-Key": KEY}).status_code == 200
    assert client.get("/health").status_code == 200  # monitoring stays open


def test_every_json_read_route_needs_the_key_when_reads_require_one(make_client):
    client = make_client(api_keys_for_reads=True)
    paths = client.get("/openapi.json", headers={"X-API-Key": KEY}).json()["paths"]  # the document too needs it
    samples = {"{ticker}": "005930", "{name}": "macd_golden_cross"}
    checked = []
    for path, operations in paths.items():
        if "get" not in operations or path == "/health":
            continue
        url = path
        for placeholder, value in samples.items():
            url = url.replace(placeholder, value)
        response = client.get(url)
        assert response.status_code == 401, f"{url} answered {response.status_code} without a key"
        assert response.json()["error"]["code"] == "unauthorized"
        assert "401" in operations["get"]["responses"], f"{path} does not document its 401"
        checked.append(path)
    assert {"/stocks", "/etf/trending", "/portfolio", "/portfolio/monthly", "/status"} <= set(checked)
