"""Minervini's trend template: price above rising long averages, near its high and well off its low."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.screener import Strategy


class Params(BaseModel):
    above_low: float = Field(0.30, ge=0, le=5, description="close at least this much above the 52-week low")
    within_high: float = Field(0.25, ge=0, le=1, description="close at most this much below the 52-week high")
    rising_days: int = Field(21, ge=1, le=120, description="SMA200 higher than this many sessions ago")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    close, s50, s150, s200 = rows["close"], rows["sma_50"], rows["sma_150"], rows["sma_200"]
    fired = (
        (close > s150) & (close > s200)
        & (s150 > s200)
        & (s200 > s200.shift(p.rising_days))
        & (s50 > s150) & (s50 > s200)
        & (close > s50)
        & (close >= rows["low_52w"] * (1 + p.above_low))
        & (close >= rows["high_52w"] * (1 - p.within_high))
    )
    return pd.DataFrame({"fired": fired, "score": close / rows["high_52w"] * 100})


def reason(row: pd.Series, p: Params) -> str:
    return (f"close {row['close']:.0f} > SMA50 {row['sma_50']:.0f} > SMA150 {row['sma_150']:.0f} > "
            f"SMA200 {row['sma_200']:.0f}, {row['close'] / row['low_52w'] - 1:.0%} above the 52-week low, "
            f"{1 - row['close'] / row['high_52w']:.0%} below the high")


STRATEGY = Strategy(
    name="minervini_trend_template",
    description="Trend template: close above rising SMA150/200, SMA50 above both, near the 52-week high",
    params=Params, lookback=230, columns=("close", "sma_50", "sma_150", "sma_200", "high_52w", "low_52w"),
    signals=signals, reason=reason,
    score_meaning="close in % of the 52-week high (100 = at the high)",
)
