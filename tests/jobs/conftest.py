"""Fixtures of the collection tests: five-session settings on the small real panel, and its replay source."""

from __future__ import annotations

import pytest

from lib.markets.krx.replay import ReplaySource
from tests.conftest import PANEL


@pytest.fixture
def settings(make_settings):
    return make_settings(setup_history_sessions=5)


@pytest.fixture
def replay() -> ReplaySource:
    return ReplaySource(PANEL)
