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
