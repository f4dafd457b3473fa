"""Shared fixtures: a fresh embedded MongoDB per test, the real sample panel, settings and a fake clock."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import mongomock_ng
import pytest

# yfinance reads this when imported: through requests, its answers can be served offline (tests/yahoo_stub.py).
os.environ["YF_DISABLE_CURL_CFFI"] = "1"

from lib.config import load_settings  # noqa: E402
from lib.storage import Storage, reset_embedded_client  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures"
PANEL = FIXTURES / "krx_panel_small.parquet"
US_SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "us"


# A developer's settings that must not reach a test (credentials, sources, the database).
DEVELOPER_ENV = ("KRX_ID", "KRX_PW", "MONGODB_URI", "KRX_SOURCES", "KRX_OPENAPI_KEY", "KRX_REPLAY_PATH",
                 "US_SOURCES", "US_REPLAY_DIR", "GOOGLE_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL",
                 "GEMINI_BASE_URL", "LLM_PROVIDER", "LLM_MODEL", "API_KEYS", "API_KEYS_FOR_READS", "CORS_ORIGINS")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    """No test sees a developer's KRX or LLM credentials or the embedded database of another test."""
    for name in DEVELOPER_ENV:
        monkeypatch.delenv(name, raising=False)
    reset_embedded_client()
    yield
    reset_embedded_client()
    # Scripts install their own stderr handler; give later tests' caplog the records again.
    pipeline = logging.getLogger("pipeline")
    pipeline.handlers.clear()
    pipeline.propagate = True


@pytest.fixture
def storage() -> Storage:
    """Storage on a private embedded MongoDB."""
    return Storage(mongomock_ng.MongoClient(), prefix="test_")


def replay_settings(**overrides):
    """Settings for the replay panel on the embedded database, with overrides (what `make_settings` makes)."""
    values = {
        "mongodb_uri": "mongomock://",
        "krx_sources": ["replay"],
        "krx_replay_path": PANEL,
        "krx_min_request_gap_seconds": 0,
        "krx_retry_backoff_seconds": 0,
        "us_sources": ["replay"],
        "us_replay_dir": US_SAMPLE,
        "us_min_request_gap_seconds": 0,
        "us_retry_backoff_seconds": 0,
        "us_rate_limit_backoff_seconds": 0,
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


@pytest.fixture
def make_settings():
    """Settings for the replay panel on the embedded database, with overrides."""
    return replay_settings


@contextlib.contextmanager
def isolated_env() -> Iterator[None]:
    """What `_isolated` gives a test, for a module-scoped fixture that is built before any test's own fixtures."""
    with pytest.MonkeyPatch.context() as patch:
        for name in DEVELOPER_ENV:
            patch.delenv(name, raising=False)
        yield


class FakeClock:
    """A wall clock the test moves by hand (aware UTC)."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


CLOCK_START = dt.datetime(2025, 6, 16, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(CLOCK_START)


def real_mongodb_uri() -> str | None:
    """MONGODB_TEST_URI, when a real server is configured for the conformance tests."""
    return os.environ.get("MONGODB_TEST_URI")
