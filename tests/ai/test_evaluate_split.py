"""The evaluation's prices are adjusted: 005930's real 50:1 split of 2018-05-04, stored unadjusted with KRX's base
prices (tests/test_corporate_actions.py), gives the forward return of Naver's adjusted series, not a fake -98 %."""

from __future__ import annotations

import datetime as dt

import pytest

from lib.ai.evaluate_prices import AdjustedCloses
from tests.test_corporate_actions import SPLIT, market_days, reference, store, unadjusted_005930


def test_a_split_between_the_two_days_makes_no_fake_return(storage):
    bars = unadjusted_005930(start="2018-03-02", end="2018-06-29")
    store(storage, market_days(bars))
    sessions = list(bars["date"])
    prices = AdjustedCloses.read(storage, sessions)
    day, end = dt.date(2018, 4, 26), dt.date(2018, 5, 15)
    assert day < SPLIT < end
    adjusted = reference(bars).set_index(bars["date"])["close"]
    forward = prices.forward("005930", day, end)
    assert forward.forward_return == pytest.approx(adjusted[end] / adjusted[day] - 1, abs=1e-12)
    unadjusted = bars.set_index("date")["close"]
    assert unadjusted[end] / unadjusted[day] - 1 < -0.95  # what reading the stored closes as they are would say
    assert forward.median_return == forward.forward_return and forward.universe == 1
