"""RS leaders: the market's strongest stocks by relative strength rating, while they trade above their 50-day
average (leaders still leading, not ones already breaking down)."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy
from lib.display import money


class Params(BaseModel):
    min_rs_rating: int = Field(90, ge=1, le=99, description="relative strength rating (1-99) at least this")
    above_sma50: bool = Field(True, description="only stocks closing above their 50-day simple moving average")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    fired = rows["rs_rating"] >= p.min_rs_rating
    if p.above_sma50:
        fired &= rows["close"] > rows["sma_50"]
    # rs_return (the weighted return) breaks ties between equal ratings
    return pd.DataFrame({"fired": fired, "score": rows["rs_rating"] + rows["rs_return"].clip(-1, 10) / 100})


def reason(row: pd.Series, p: Params) -> str:
    return (f"RS {row['rs_rating']:.0f}: weighted 3/6/9/12-month return {row['rs_return']:+.0%}, "
            f"close {money(row['close'])} vs SMA50 {money(row['sma_50'])}")


STRATEGY = Strategy(
    name="rs_leaders",
    description="Relative strength rating 90+ across the whole market, closing above the 50-day average",
    params=Params, lookback=5, columns=("close", "sma_50", "rs_rating", "rs_return"),
    signals=signals, reason=reason,
    score_meaning="relative strength rating 1-99 (decimals break ties by the weighted return)",
)
