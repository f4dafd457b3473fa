"""Bollinger breakout: the close broke above the upper band (20, 2) today, on at least normal volume."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy, crossed_above
from lib.display import money


class Params(BaseModel):
    min_volume_ratio: float = Field(1.0, ge=0, le=20, description="volume / its 20-day average, at least")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fired = crossed_above(rows["close"], rows["bb_upper"]) & (rows["vol_ratio"] >= p.min_volume_ratio)
    return pd.DataFrame({"fired": fired, "score": (rows["close"] / rows["bb_upper"] - 1) * 100})


def reason(row: pd.Series, p: Params) -> str:
    return (f"close {money(row['close'])} broke above the upper band {money(row['bb_upper'])} "
            f"on {row['vol_ratio']:.1f}x average volume")


STRATEGY = Strategy(
    name="bollinger_breakout",
    description="Close crossed above the upper Bollinger band (20 days, 2 deviations) today on normal volume or more",
    params=Params, lookback=30, columns=("close", "bb_upper", "bb_middle", "vol_ratio"),
    signals=signals, reason=reason,
    score_meaning="how far the close is above the upper band, in % of the band",
)
