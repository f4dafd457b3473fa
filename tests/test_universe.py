"""target_tickers follows one day's market: joiners, leavers, delistings, rejoiners, preferred shares."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from lib.markets.krx.universe import is_common_stock, plan_universe

DAY = dt.date(2025, 6, 16)


def day(*rows):
    return pd.DataFrame(rows, columns=["ticker", "name", "market", "market_cap"])


def test_common_stock_codes():
    assert is_common_stock("005930") and is_common_stock("0126Z0")
    assert not is_common_stock("005935") and not is_common_stock("00088K")


def test_a_newcomer_joins_with_its_added_date():
    updates = dict(plan_universe({}, day(("005930", "삼성전자", "KOSPI", 3e14)), DAY, 10**11))
    assert updates["005930"]["$set"]["is_active"] is True
    assert updates["005930"]["$setOnInsert"] == {"added_date": "2025-06-16", "last_analyzed_date": None}


def test_below_threshold_preferred_and_delisted_do_not_stay_active():
    current = {t: {"ticker": t, "is_active": True} for t in ("000010", "000020")}
    frame = day(("000010", "작은회사", "KOSDAQ", 9.9e10), ("005935", "삼성전자우", "KOSPI", 4e13))
    updates = dict(plan_universe(current, frame, DAY, 10**11))
    assert updates["000010"]["$set"]["inactive_reason"] == "market cap below threshold"
    assert updates["000020"]["$set"]["inactive_reason"].startswith("absent from the day's market")
    assert "005935" not in updates


def test_a_rejoining_stock_is_reactivated_and_keeps_its_first_added_date():
    current = {"000010": {"ticker": "000010", "is_active": False, "added_date": "2024-01-02"}}
    update = dict(plan_universe(current, day(("000010", "회사", "KOSPI", 2e11)), DAY, 10**11))["000010"]
    assert update["$set"]["active_since"] == "2025-06-16" and "$setOnInsert" not in update
    assert set(update["$unset"]) == {"inactive_since", "inactive_reason"}
