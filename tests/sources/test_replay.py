"""The replay source knows its range and reads parquet or CSV panels."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.errors import ConfigError, EmptyAnswerError, OutsideRangeError
from lib.sources.base import Query
from lib.sources.replay import ReplaySource
from tests.conftest import PANEL


def test_days_before_the_file_are_outside_its_range_and_after_it_never_published():
    replay = ReplaySource(PANEL)
    assert replay.first_day() == dt.date(2023, 12, 5)
    with pytest.raises(OutsideRangeError):
        replay.fetch_raw(Query(dt.date(2023, 12, 4), "KOSPI"))
    assert replay.available_at(dt.date(2025, 6, 17)) is None
    with pytest.raises(EmptyAnswerError):
        replay.fetch_raw(Query(dt.date(2024, 9, 16), "KOSPI"))  # a holiday inside the range


def test_a_csv_panel_keeps_tickers_as_text(tmp_path):
    panel = pd.read_parquet(PANEL)
    csv = tmp_path / "history.csv"
    panel.to_csv(csv, index=False)
    replay = ReplaySource(csv)
    query = Query(dt.date(2024, 9, 2), "KOSPI")
    frame = replay.normalise(replay.fetch_raw(query), query)
    assert "005930" in set(frame["ticker"]) and "00088K" in set(frame["ticker"])


def test_a_file_missing_columns_says_which(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("date,ticker,close\n2024-01-02,005930,100\n")
    with pytest.raises(ConfigError, match=r"lacks columns \['open'"):
        ReplaySource(bad)


def test_a_base_price_column_is_served_and_a_file_without_one_is_taken_as_adjusted(tmp_path):
    panel = pd.read_parquet(PANEL)
    query = Query(dt.date(2024, 9, 2), "KOSPI")
    plain = ReplaySource(PANEL)
    assert plain.normalise(plain.fetch_raw(query), query)["base_price"].isna().all()
    with_base = tmp_path / "with_base.csv"
    panel.assign(base_price=panel["close"] - 100).to_csv(with_base, index=False)
    replay = ReplaySource(with_base)
    frame = replay.normalise(replay.fetch_raw(query), query).set_index("ticker")
    assert frame.loc["005930", "base_price"] == 74_400 - 100
