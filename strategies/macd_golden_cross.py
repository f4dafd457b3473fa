"""MACD golden cross: the MACD line crossed above its signal line within the last N sessions (seed 4.2)."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy, crossed_above, within
from lib.display import money


class Params(BaseModel):
    within_days: int = Field(3, ge=1, le=20, description="sessions in which the cross may have happened")
    below_zero_only: bool = Field(False, description="only crosses that happen while MACD is below zero")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    cross = crossed_above(rows["macd"], rows["macd_signal"])
    if p.below_zero_only:
        cross &= rows["macd"] < 0
    fired = within(cross, p.within_days) & (rows["macd"] > rows["macd_signal"])
    return pd.DataFrame({"fired": fired, "score": rows["macd_hist"] / rows["close"] * 100})


def reason(row: pd.Series, p: Params) -> str:
    return (f"MACD {money(row['macd'])} above its signal {money(row['macd_signal'])} after crossing it "
            f"within {p.within_days} sessions")


STRATEGY = Strategy(
    name="macd_golden_cross",
    description="MACD (12/26/9) crossed above its signal line within the last N sessions",
    params=Params, lookback=60, columns=("close", "macd", "macd_signal", "macd_hist"),
    signals=signals, reason=reason,
    score_meaning="MACD histogram in % of the close",
)
