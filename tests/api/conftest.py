"""An analysed database built once per session (the small real panel, 260 sessions to 2024-12-20), and an
app on it with a fixed clock."""

from __future__ import annotations

import datetime as dt

import mongomock_ng
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lib.config import load_settings
from lib.storage import Storage
from tests.conftest import PANEL, FakeClock
from tests.helpers import evening, run_analysis, run_collection

LAST_DAY = dt.date(2024, 12, 20)
NOW = dt.datetime(2024, 12, 23, 3, 0, tzinfo=dt.UTC)  # Monday 12:00 KST: Friday is collected and analysed
KEY = "test-key-0123456789"


def api_settings(**overrides):
    """Settings of an API under test (no LLM key unless given)."""
    values = {"mongodb_uri": "mongomock://", "api_keys": KEY, "krx_sources": ["replay"], "krx_replay_path": PANEL}
    values.update(overrides)
    return load_settings(env_file=None, **values)


@pytest.fixture(scope="session")
def analysed() -> Storage:
    """The small panel collected (260 sessions) and analysed through 2024-12-20, picks precomputed."""
    settings = load_settings(
        env_file=None, mongodb_uri="mongomock://", krx_sources=["replay"], krx_replay_path=PANEL,
        krx_min_request_gap_seconds=0, krx_retry_backoff_seconds=0, setup_history_sessions=260,
        analysis_quota_per_run=5000,
    )
    storage = Storage(mongomock_ng.MongoClient(), prefix="api_")
    clock = FakeClock(dt.datetime(2024, 12, 20, 10, 0, tzinfo=dt.UTC))
    assert run_collection("manual_setup", storage, settings, evening(LAST_DAY), clock) == 0
    assert run_analysis(storage, settings, evening(LAST_DAY, 20), clock) == 0
    return storage


@pytest.fixture
def make_client(analysed):
    """A TestClient on the analysed database; AI results and rate-limit counters start empty."""

    def make(storage: Storage | None = None, **overrides) -> TestClient:
        store = storage or analysed
        store.ai.ai_results.delete_many({})
        store.access.rate_limits.delete_many({})
        llm_factory = overrides.pop("llm_factory", None)
        app = create_app(api_settings(**overrides), storage=store, clock=lambda: NOW, llm_factory=llm_factory)
        return TestClient(app, raise_server_exceptions=False)

    return make


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()
