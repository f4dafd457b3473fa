"""New 52-week high: today's high is the highest of the last 252 sessions, above the previous 52-week high."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy
from lib.display import money


class Params(BaseModel):
    close_near_high: float = Field(0.0, ge=0, le=1, description="close at least this share of the day's high")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fired = (rows["high"] >= rows["high_52w"]) & (rows["high"] > rows["high_52w"].shift(1))
    fired &= rows["close"] >= rows["high"] * p.close_near_high
    return pd.DataFrame({"fired": fired, "score": (rows["close"] / rows["low_52w"] - 1) * 100})


def reason(row: pd.Series, p: Params) -> str:
    # high_52w includes the day itself (it *is* the day's high when this fires), so it is not quoted as the
    # previous high.
    return (f"high {money(row['high'])} is a new 52-week high; close {money(row['close'])} is "
            f"{row['close'] / row['low_52w'] - 1:.0%} above the 52-week low {money(row['low_52w'])}")


STRATEGY = Strategy(
    name="new_52w_high",
    description="Today's high is above every high of the previous 252 sessions",
    params=Params, lookback=260, columns=("close", "high", "high_52w", "low_52w"),
    signals=signals, reason=reason,
    score_meaning="how far the close is above the 52-week low, in %",
)
