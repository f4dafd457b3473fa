"""RSI oversold rebound: RSI(14) climbed back above the oversold line within the last N sessions."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy, within


class Params(BaseModel):
    oversold: float = Field(30.0, ge=5, le=50, description="the oversold RSI level")
    within_days: int = Field(3, ge=1, le=20, description="sessions in which the rebound may have happened")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    rsi = rows["rsi_14"]
    rebound = (rsi >= p.oversold) & (rsi.shift(1) < p.oversold)
    fired = within(rebound, p.within_days) & (rsi >= p.oversold) & (rsi < 50)
    low = rsi.rolling(p.within_days + 1, min_periods=1).min()
    return pd.DataFrame({"fired": fired, "score": rsi - low})


def reason(row: pd.Series, p: Params) -> str:
    return f"RSI {row['rsi_14']:.1f} back above {p.oversold:g} after being oversold"


STRATEGY = Strategy(
    name="rsi_oversold_rebound",
    description="RSI(14) rose back above 30 within the last N sessions and is still below 50",
    params=Params, lookback=40, columns=("close", "rsi_14"), signals=signals, reason=reason,
    score_meaning="RSI points regained from its low of the last sessions",
)
