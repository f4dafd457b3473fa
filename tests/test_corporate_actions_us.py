"""A US split read like a KRX ex-date: the collection stores base_price = previous close / Yahoo's split ratio on the
split day, and the analysis derives the factor, the kind and the prices in cents from it."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.analysis.corporate_actions import back_adjust, derive_actions

# NVIDIA's 10-for-1 split, effective 2024-06-10: it printed 1,208.88 on Friday 2024-06-07 and 121.79 on Monday
# (as traded, before any adjustment); the collection stores the day's split ratio and 1,208.88 / 10.
NVDA = pd.DataFrame({
    "date": [dt.datetime(2024, 6, 7), dt.datetime(2024, 6, 10)],
    "close": [1208.88, 121.79],
    "splits": [0.0, 10.0],
    "base_price": [None, 120.888],
})


def test_a_us_split_is_derived_with_its_kind_and_prices_in_cents():
    (action,) = derive_actions("NVDA", NVDA)
    assert action["kind"] == "split" and action["factor"] == pytest.approx(0.1)
    assert action["base_price"] == pytest.approx(120.888) and action["previous_close"] == pytest.approx(1208.88)
    adjusted = back_adjust(NVDA, [action])
    assert adjusted["close"].tolist() == pytest.approx([120.888, 121.79])  # no fake -90% day in the indicators
