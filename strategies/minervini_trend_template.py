"""Minervini's trend template: price above rising long averages, near its 52-week high and well off its low,
and (the eighth criterion) a relative strength rating of at least 70 across the whole market."""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy
from lib.display import money


class Params(BaseModel):
    above_low: float = Field(0.30, ge=0, le=5, description="close at least this much above the 52-week low")
    within_high: float = Field(0.25, ge=0, le=1, description="close at most this much below the 52-week high")
    rising_days: int = Field(21, ge=1, le=120, description="SMA200 higher than this many sessions ago")
    min_rs_rating: int = Field(
        70, ge=0, le=99, description="relative strength rating (1-99) at least this; 0 turns the criterion off"
    )
    range_basis: Literal["close", "intraday"] = Field(
        "close", description="52-week high/low from closes (as published screeners do) or intraday highs/lows"
    )


def _range(rows: pd.DataFrame, p: Params) -> tuple[pd.Series, pd.Series]:
    if p.range_basis == "close":
        return rows["close_high_52w"], rows["close_low_52w"]
    return rows["high_52w"], rows["low_52w"]


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    close, s50, s150, s200 = rows["close"], rows["sma_50"], rows["sma_150"], rows["sma_200"]
    high, low = _range(rows, p)
    fired = (
        (close > s150) & (close > s200)
        & (s150 > s200)
        & (s200 > s200.shift(p.rising_days))
        & (s50 > s150) & (s50 > s200)
        & (close > s50)
        & (close >= low * (1 + p.above_low))
        & (close >= high * (1 - p.within_high))
    )
    if p.min_rs_rating > 0:
        fired &= rows["rs_rating"] >= p.min_rs_rating  # no rating yet (a year of history needed): no pick
    return pd.DataFrame({"fired": fired, "score": close / high * 100})


def reason(row: pd.Series, p: Params) -> str:
    high, low = (row["close_high_52w"], row["close_low_52w"]) if p.range_basis == "close" else (
        row["high_52w"], row["low_52w"])
    rs = "" if pd.isna(row.get("rs_rating")) else f", RS {row['rs_rating']:.0f}"
    return (f"close {money(row['close'])} > SMA50 {money(row['sma_50'])} > SMA150 {money(row['sma_150'])} > "
            f"SMA200 {money(row['sma_200'])}, {row['close'] / low - 1:.0%} above the 52-week low, "
            f"{1 - row['close'] / high:.0%} below the high{rs}")


STRATEGY = Strategy(
    name="minervini_trend_template",
    description="Trend template: close above rising SMA150/200, SMA50 above both, near the 52-week high, RS 70+",
    params=Params, lookback=230,
    columns=("close", "sma_50", "sma_150", "sma_200", "close_high_52w", "close_low_52w", "high_52w", "low_52w",
             "rs_rating"),
    signals=signals, reason=reason,
    score_meaning="close in % of the 52-week high (100 = at the high)",
)
