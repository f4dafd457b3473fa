"""GET /health tells whether collection is current."""

from __future__ import annotations

from fastapi.testclient import TestClient

import daily_update
import manual_setup
from api import deps
from main import app


def test_health_reports_the_last_collected_day_and_runs(make_settings):
    settings = make_settings(setup_history_sessions=3)
    assert manual_setup.main(["--today", "2024-08-30"], settings=settings) == 0
    assert daily_update.main(["--today", "2024-09-02"], settings=settings) == 0
    app.dependency_overrides[deps.get_settings] = lambda: settings
    try:
        body = TestClient(app).get("/health").json()
    finally:
        app.dependency_overrides.clear()
    assert body["last_collected_day"] == "2024-09-02"
    assert body["jobs"]["daily_update"]["status"] == "completed" and body["active_tickers"] > 5


def test_screener_serves_picks_with_reasons_and_the_track_record(make_settings):
    import hourly_analysis

    settings = make_settings(setup_history_sessions=260)
    assert manual_setup.main(["--today", "2024-12-20"], settings=settings) == 0
    assert hourly_analysis.main(["--today", "2024-12-20"], settings=settings) == 0
    app.dependency_overrides[deps.get_settings] = lambda: settings
    client = TestClient(app)
    try:
        listing = client.get("/strategies").json()
        body = client.get("/screener", params={"strategy_name": "rsi_oversold_rebound", "oversold": 40}).json()
        past = client.get("/screener", params={"strategy_name": "volume_spike", "date": "2024-08-05"})
        bad = client.get("/screener", params={"strategy_name": "golden_cross", "slow": 33})
        unknown = client.get("/screener", params={"strategy_name": "nope"})
        holiday = client.get("/screener", params={"strategy_name": "volume_spike", "date": "2024-09-17"})
    finally:
        app.dependency_overrides.clear()
    assert len(listing["strategies"]) >= 11 and listing["skipped"] == []
    assert body["date"] == "2024-12-20" and body["params"]["oversold"] == 40
    assert set(body["track_record"]["horizons"]) == {"5", "10", "20"}
    for pick in body["picks"]:
        assert pick["name"] and pick["reason"] and 40 <= pick["values"]["rsi_14"] < 50
    assert past.status_code == 200 and past.json()["date"] == "2024-08-05"
    assert bad.status_code == 422 and "parameter slow" in bad.json()["detail"]
    assert unknown.status_code == 404 and "unknown strategy 'nope'" in unknown.json()["detail"]
    assert holiday.status_code == 422 and "not a KRX session" in holiday.json()["detail"]
