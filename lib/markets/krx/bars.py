"""Daily bars as stored in stock_data: one document per ticker and KST trading day."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from lib.markets.krx.universe import is_common_stock
from lib.spine.records import MarketDay
from lib.storage.dates import to_utc_midnight


def _int_or_none(value: float) -> int | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else int(value)


def _price_or_none(value: float | None) -> int | None:
    return None if value is None or math.isnan(value) else int(round(value))


def bars_from_day(frame: pd.DataFrame, day: dt.date, source: str) -> dict[str, dict[str, Any]]:
    """A validated market day as stock_data documents by ticker (common stocks only).

    A halted stock keeps its close, volume and market cap, with open/high/low stored as null so that
    nothing downstream can read the zeros KRX sends as prices. `base_price` is KRX's base price of the day
    (null when the source did not say): corporate actions are derived from it (lib/analysis/corporate_actions.py)."""
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
            "base_price": _price_or_none(getattr(row, "base_price", None)),
            "source": source,
        }
    return bars


def bars_by_ticker(days: Iterable[tuple[dt.date, Iterable[MarketDay]]]) -> dict[str, list[dict[str, Any]]]:
    """Validated market days (oldest first) as stock_data documents by ticker, in date order."""
    by_ticker: dict[str, list[dict[str, Any]]] = {}
    for day, answers in days:
        for answer in answers:
            for ticker, bar in bars_from_day(answer.frame, day, answer.source).items():
                by_ticker.setdefault(ticker, []).append(bar)
    return by_ticker
