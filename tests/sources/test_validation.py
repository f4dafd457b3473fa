"""Validation of a normalised market day: what counts as empty, as broken, and what is kept as sent."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.errors import BadDataError, EmptyAnswerError
from lib.markets.krx.replay import ReplaySource
from lib.markets.krx.source_base import Query, validate_market_day
from tests.conftest import PANEL

QUERY = Query(dt.date(2024, 2, 28), "KOSPI")


@pytest.fixture(scope="module")
def real_day() -> pd.DataFrame:
    replay = ReplaySource(PANEL)
    return replay.normalise(replay.fetch_raw(QUERY), QUERY)


def test_halted_rows_are_flagged_and_real_rounding_quirks_kept_as_sent(real_day):
    answer = validate_market_day(real_day, QUERY, "replay")
    frame = answer.frame.set_index("ticker")
    assert bool(frame.loc["000040", "halted"]) and frame.loc["000040", "close"] > 0
    # 001530 on 2024-02-28 really has high 27274 below close 27275 (adjusted-price rounding).
    assert frame.loc["001530", "high"] == 27274 and frame.loc["001530", "close"] == 27275
    assert "001530" in answer.inconsistent


def test_rows_without_a_close_are_dropped_and_counted(real_day):
    broken = real_day.copy()
    broken.loc[broken.index[0], ["open", "high", "low", "close"]] = [0, 0, 0, 0]
    answer = validate_market_day(broken, QUERY, "replay")
    assert answer.dropped == 1 and len(answer.frame) == len(real_day) - 1


@pytest.mark.parametrize(
    ("mangle", "error", "message"),
    [
        (lambda f: f.iloc[0:0], EmptyAnswerError, "no rows"),
        (lambda f: f.assign(close=0), EmptyAnswerError, "every close is zero"),
        (lambda f: pd.concat([f, f.iloc[:1]]), BadDataError, "tickers listed twice"),
        (lambda f: f.assign(ticker="5930"), BadDataError, "malformed tickers"),
        (lambda f: f.assign(volume="many"), BadDataError, "volume is not a number"),
        (lambda f: f.assign(volume=-1), BadDataError, "negative"),
        (lambda f: f.drop(columns=["market_cap"]), BadDataError, "lacks columns"),
    ],
)
def test_broken_answers_are_refused_with_a_reason(real_day, mangle, error, message):
    with pytest.raises(error, match=message):
        validate_market_day(mangle(real_day.copy()), QUERY, "replay")
