"""Daily bars as stored in stock_data: one document per ticker and KST trading day."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pandas as pd

from lib.calendar import to_utc_midnight
from lib.universe import is_common_stock


def _int_or_none(value: float) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def bars_from_day(frame: pd.DataFrame, day: dt.date) -> dict[str, dict[str, Any]]:
    """A validated market day as stock_data documents by ticker (common stocks only).

    A halted stock keeps its close, volume and market cap, with open/high/low stored as null so that
    nothing downstream can read the zeros KRX sends as prices."""
    stamp = to_utc_midnight(day)
    bars: dict[str, dict[str, Any]] = {}
    for row in frame.itertuples(index=False):
        if not is_common_stock(row.ticker):
            continue
        halted = bool(row.halted)
        bars[row.ticker] = {
            "date": stamp,
            "open": None if halted else int(row.open),
            "high": None if halted else int(row.high),
            "low": None if halted else int(row.low),
            "close": int(row.close),
            "volume": int(row.volume),
            "value": _int_or_none(row.value),
            "market_cap": _int_or_none(row.market_cap),
            "shares": _int_or_none(row.shares),
            "halted": halted,
            "source": frame.attrs.get("source"),
        }
    return bars
