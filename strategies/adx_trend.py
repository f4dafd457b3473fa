"""ADX trend: a strong (ADX at or above the level) and strengthening up-trend (+DI above -DI)."""

from __future__ import annotations

import pandas as pd
from pydantic import BaseModel, Field

from lib.analysis.screener import Strategy


class Params(BaseModel):
    min_adx: float = Field(25.0, ge=10, le=60, description="ADX(14) at least this")
    rising_days: int = Field(5, ge=1, le=30, description="ADX higher than this many sessions ago")


def signals(rows: pd.DataFrame, p: Params) -> pd.DataFrame:
    adx = rows["adx_14"]
    fired = (adx >= p.min_adx) & (rows["plus_di_14"] > rows["minus_di_14"]) & (adx > adx.shift(p.rising_days))
    return pd.DataFrame({"fired": fired, "score": adx})


def reason(row: pd.Series, p: Params) -> str:
    return f"ADX {row['adx_14']:.1f} rising, +DI {row['plus_di_14']:.1f} over -DI {row['minus_di_14']:.1f}"


STRATEGY = Strategy(
    name="adx_trend",
    description="ADX(14) at least 25 and rising over 5 sessions with +DI above -DI",
    params=Params, lookback=60, columns=("close", "adx_14", "plus_di_14", "minus_di_14"),
    signals=signals, reason=reason,
    score_meaning="ADX(14): trend strength in points, 0-100",
)
