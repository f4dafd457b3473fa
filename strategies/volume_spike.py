"""Volume spike: today's volume is a multiple of its 20-day average, on an up day."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy
from lib.display import shares


class Params(BaseModel):
    multiple: float = Field(3.0, ge=1.0, le=50, description="volume / 20-day average volume, at least")
    up_day_only: bool = Field(True, description="only days that closed above their open")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fired = rows["vol_ratio"] >= p.multiple
    if p.up_day_only:
        fired &= rows["close"] > rows["open"]
    return pd.DataFrame({"fired": fired, "score": rows["vol_ratio"]})


def reason(row: pd.Series, p: Params) -> str:
    return f"volume {shares(row['volume'])} is {row['vol_ratio']:.1f}x its 20-day average"


STRATEGY = Strategy(
    name="volume_spike",
    description="Volume at least 3x its 20-day average on a day that closed above its open",
    params=Params, lookback=25, columns=("close", "volume", "vol_sma_20", "vol_ratio"),
    signals=signals, reason=reason,
    score_meaning="volume as a multiple of its 20-day average",
)
